"""Capture adapter for the bundled shapes ViT (hooks on its named ``attend`` softmax modules)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..shapes import SHAPE_CLASSES
from .bundled import Attention, ShapesViT
from .capture import CapturableViT, Preprocessing


class BundledViT(CapturableViT):
    class_names = SHAPE_CLASSES

    def __init__(self, model: ShapesViT, key: str = "vit/bundled-shapes", title: str = "Bundled shapes ViT"):
        self.model = model.eval()
        self.key, self.title = key, title
        self._ood_calibration = None  # measured on held-out shapes at the first image

    def unfamiliar_image_warning(self, seen: np.ndarray, logits: torch.Tensor | None) -> str:
        from ..shapes_ood import assess, calibrate

        if logits is None or seen.shape[:2] != (self.model.cfg.image_size,) * 2:
            return ""  # calibrated at the training size only
        if self._ood_calibration is None:
            self._ood_calibration = calibrate(self.model)
        return assess(self.model, self.title, seen, self._ood_calibration).message

    @property
    def module(self) -> nn.Module:
        return self.model

    @property
    def patch_size(self) -> int:
        return self.model.cfg.patch_size  # total stride of the conv stem

    def preprocessing(self, size: int | None) -> Preprocessing:
        # the model standardises each image itself: feed plain [0, 1] pixels
        return Preprocessing(self.model.cfg.image_size if size is None else size, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

    def prefix_tokens(self) -> tuple[str, ...]:
        return ("CLS",)

    def blocks(self, size: int) -> list[nn.Module]:
        return list(self.model.blocks)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        attn: list[torch.Tensor] = []
        hooks = [m.attend.register_forward_hook(lambda _m, _i, out: attn.append(out.detach()))
                 for m in self.model.modules() if isinstance(m, Attention)]
        try:
            logits = self.model(x)
        finally:
            for h in hooks:
                h.remove()
        return logits, attn

    def plain_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def embedding_filters(self) -> np.ndarray:
        return self.model.stem.convs[0].weight.detach().float().cpu().numpy()  # (32, 3, 3, 3): first stem conv

    def position_embeddings(self, grid: tuple[int, int]) -> np.ndarray:
        with torch.no_grad():
            return self.model.position_embeddings(*grid).float().cpu().numpy()

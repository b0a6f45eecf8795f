"""Capture adapter for timm VisionTransformer models (with or without CLS token, with register tokens).

timm fuses attention by default and its hooks then see nothing: during capture each block's attention
runs unfused (``fused_attn = False``) and a forward hook on ``attn_drop`` (identity at eval) reads the
softmax weights. Other input sizes run on a copy with ``set_input_size`` (position embeddings resampled).
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ..config_checks import check_module_finite
from ..errors import CheckpointError, WeightsUnavailableError
from .capture import CapturableViT, Preprocessing, interpolate_grid


class TimmViT(CapturableViT):
    def __init__(self, model: nn.Module, key: str, title: str):
        if not hasattr(model, "blocks") or not hasattr(model, "patch_embed"):
            raise CheckpointError(f"timm model '{title}' is not a VisionTransformer.")
        self.model = model.eval()
        self.key, self.title = key, title
        self._resized: dict[int, nn.Module] = {}
        self.class_names = _imagenet_names() if getattr(model, "num_classes", 0) == 1000 else None
        if getattr(model, "num_classes", 0) == 0:
            self.class_names = None

    @property
    def module(self) -> nn.Module:
        return self.model

    @property
    def patch_size(self) -> int:
        return int(self.model.patch_embed.patch_size[0])

    @property
    def native_size(self) -> int:
        return int(self.model.patch_embed.img_size[0])

    def preprocessing(self, size: int | None) -> Preprocessing:
        cfg = getattr(self.model, "pretrained_cfg", None) or {}
        mean = tuple(cfg.get("mean", (0.485, 0.456, 0.406)))
        std = tuple(cfg.get("std", (0.229, 0.224, 0.225)))
        return Preprocessing(self.native_size if size is None else size, mean, std)

    def prefix_tokens(self) -> tuple[str, ...]:
        cls = ("CLS",) if getattr(self.model, "has_class_token", getattr(self.model, "cls_token", None) is not None) else ()
        return cls + tuple(f"REG{i}" for i in range(getattr(self.model, "num_reg_tokens", 0)))

    def to(self, device: str) -> "TimmViT":
        self.model.to(device)
        for m in self._resized.values():
            m.to(device)
        return self

    def model_for(self, size: int) -> nn.Module:
        if size == self.native_size:
            return self.model
        if size not in self._resized:
            resized = copy.deepcopy(self.model)
            resized.set_input_size(img_size=(size, size))
            self._resized[size] = resized.eval()
        return self._resized[size]

    def blocks(self, size: int) -> list[nn.Module]:
        return list(self.model_for(size).blocks)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        model = self.model_for(x.shape[-1])
        attn: list[torch.Tensor] = []
        fused, hooks = [], []
        for block in model.blocks:
            fused.append(block.attn.fused_attn)
            block.attn.fused_attn = False
            hooks.append(block.attn.attn_drop.register_forward_hook(lambda _m, _i, out: attn.append(out.detach())))
        try:
            logits = model(x)
        finally:
            for h in hooks:
                h.remove()
            for block, f in zip(model.blocks, fused):
                block.attn.fused_attn = f
        return (logits if model.num_classes else None), attn

    def plain_forward(self, x: torch.Tensor) -> torch.Tensor | None:
        model = self.model_for(x.shape[-1])
        out = model(x)
        return out if model.num_classes else None

    def embedding_filters(self) -> np.ndarray:
        return self.model.patch_embed.proj.weight.detach().float().cpu().numpy()

    def position_embeddings(self, grid: tuple[int, int]) -> np.ndarray | None:
        pos = getattr(self.model, "pos_embed", None)
        if pos is None:
            return None
        pos = pos.detach()[0].float().cpu()
        gh, gw = self.model.patch_embed.grid_size
        return interpolate_grid(pos[pos.shape[0] - gh * gw:], (gh, gw), grid).numpy()


def _imagenet_names() -> tuple[str, ...] | None:
    try:
        from timm.data import ImageNetInfo

        return tuple(d.split(",")[0] for d in ImageNetInfo().label_descriptions())
    except Exception:  # older timm without ImageNetInfo: show class indices instead
        return None


def load_timm_vit(name: str, key: str, pretrained: bool, device: str = "cpu", progress=None) -> TimmViT:
    try:
        import timm
    except ImportError as exc:
        raise WeightsUnavailableError("timm is not installed: pip install 'vision-explorer[timm]'.") from exc
    name = name.strip()
    if name not in timm.list_models():
        raise CheckpointError(f"timm has no model named '{name}' (try e.g. vit_small_patch16_224).")
    if progress:
        progress(None, f"Loading timm {name}")
    try:
        model = timm.create_model(name, pretrained=pretrained)
    except (OSError, RuntimeError) as exc:
        raise WeightsUnavailableError(
            f"The pretrained weights of timm '{name}' are not cached and could not be downloaded (offline?).") from exc
    if pretrained:
        check_module_finite(model, f"timm '{name}'")
    return TimmViT(model.to(device), key, f"timm {name}{'' if pretrained else ' (random weights)'}")

"""Capture adapter for torchvision's VisionTransformer (ViT-B/16, B/32, L/16, ...).

torchvision's ``EncoderBlock`` calls ``self_attention(..., need_weights=False)``. A forward pre-hook
(``with_kwargs=True``) switches on ``need_weights=True, average_attn_weights=False``, and a forward hook
reads the per-head weights from the output; the block still uses only the first output, so the logits
are unchanged. Other input sizes run on a copy of the model with interpolated position embeddings.
"""
from __future__ import annotations


import numpy as np
import torch
from torch import nn
from torchvision.models.vision_transformer import VisionTransformer, interpolate_embeddings

from .capture import CapturableViT, Preprocessing, interpolate_grid


class TorchvisionViT(CapturableViT):
    def __init__(self, model: VisionTransformer, key: str, title: str, class_names: tuple[str, ...] | None):
        self.model = model.eval()
        self.key, self.title, self.class_names = key, title, class_names
        self._resized: dict[int, VisionTransformer] = {}

    @property
    def module(self) -> nn.Module:
        return self.model

    @property
    def patch_size(self) -> int:
        return self.model.patch_size

    def preprocessing(self, size: int | None) -> Preprocessing:
        return Preprocessing(self.model.image_size if size is None else size)

    def prefix_tokens(self) -> tuple[str, ...]:
        return ("CLS",)

    def to(self, device: str) -> "TorchvisionViT":
        self.model.to(device)
        for m in self._resized.values():
            m.to(device)
        return self

    def model_for(self, size: int) -> VisionTransformer:
        """The model at input side `size`: itself, or a cached copy with interpolated position embeddings."""
        if size == self.model.image_size:
            return self.model
        if size not in self._resized:
            m = self.model
            resized = VisionTransformer(
                image_size=size, patch_size=m.patch_size, num_layers=len(m.encoder.layers),
                num_heads=m.encoder.layers[0].num_heads, hidden_dim=m.hidden_dim, mlp_dim=m.mlp_dim,
                num_classes=m.num_classes, representation_size=m.representation_size)
            state = interpolate_embeddings(size, m.patch_size, {k: v.cpu() for k, v in m.state_dict().items()})
            resized.load_state_dict(state)
            self._resized[size] = resized.eval().to(next(m.parameters()).device)
        return self._resized[size]

    def blocks(self, size: int) -> list[nn.Module]:
        return list(self.model_for(size).encoder.layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        model = self.model_for(x.shape[-1])
        attn: list[torch.Tensor] = []

        def want_weights(_m, args, kwargs):
            kwargs["need_weights"] = True
            kwargs["average_attn_weights"] = False
            return args, kwargs

        def read_weights(_m, _args, out):
            attn.append(out[1].detach())  # (B, heads, N, N); returning None keeps the output as is

        hooks = []
        for block in model.encoder.layers:
            hooks.append(block.self_attention.register_forward_pre_hook(want_weights, with_kwargs=True))
            hooks.append(block.self_attention.register_forward_hook(read_weights))
        try:
            logits = model(x)
        finally:
            for h in hooks:
                h.remove()
        return logits, attn

    def plain_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model_for(x.shape[-1])(x)

    def embedding_filters(self) -> np.ndarray:
        return self.model.conv_proj.weight.detach().float().cpu().numpy()  # (D, 3, p, p)

    def position_embeddings(self, grid: tuple[int, int]) -> np.ndarray:
        g = self.model.image_size // self.model.patch_size
        pos = self.model.encoder.pos_embedding.detach()[0, 1:].float().cpu()  # (g*g, D), CLS entry dropped
        return interpolate_grid(pos, (g, g), grid).numpy()



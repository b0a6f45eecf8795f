"""The plain ViT of the ViT paper (Dosovitskiy et al. 2021): a linear patch embedding, nothing convolutional.

Each 8x8 patch is flattened and projected linearly (a Conv2d with kernel = stride = 8 is exactly that),
then the same CLS token, position embeddings and encoder blocks as the bundled conv-stem ViT
(models/vit/bundled.py), whose stem it replaces. Same width, depth and heads, so the two differ only in
how pixels become tokens: the comparison behind "ViTs need lots of data".
"""
from __future__ import annotations

from torch import nn

from ..vit.bundled import ShapesViT, ViTConfig


class LinearPatchEmbed(nn.Module):
    def __init__(self, patch: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)  # one linear map per flattened patch

    def forward(self, x):
        return self.proj(x)  # (B, D, H / p, W / p)


class PlainViT(ShapesViT):
    """ShapesViT with the linear patch embedding (ViTConfig.stem_channels only sets the patch size 2^len)."""

    def __init__(self, cfg: ViTConfig = ViTConfig()):
        super().__init__(cfg)
        self.stem = LinearPatchEmbed(cfg.patch_size, cfg.dim)

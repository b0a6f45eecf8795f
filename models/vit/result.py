"""What one captured ViT forward gives the Attention and Patch embeddings tabs (one forward serves both).

CPU numpy arrays only, in a frozen dataclass, so the GUI can redraw any view from it without torch.
N = number of prefix tokens + gh * gw patch tokens; prefix tokens come first in token order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ViTForwardResult:
    model_key: str  # registry key of the model that produced it
    model_title: str
    image: np.ndarray  # (H, W, 3) uint8: the image as the model saw it (resized/cropped), patch grid lies over it
    patch_size: int  # pixels per patch side in `image` (for a conv stem: its total stride)
    grid: tuple[int, int]  # (gh, gw) patch grid
    prefix_tokens: tuple[str, ...]  # names of the non-patch tokens, e.g. ("CLS",), ("CLS", "DIST"), ("CLS", "REG0", ...), ()
    attentions: np.ndarray  # (L, heads, N, N) float32, softmax rows, every layer from the same forward
    hidden_states: np.ndarray  # (L + 1, N, D) float32: [0] = embedded input tokens, [l] = output of block l
    logits: np.ndarray | None  # (C,) float32, None when the model has no classifier
    class_names: tuple[str, ...] | None
    embedding_filters: np.ndarray | None  # (K, 3, kh, kw) float32: patch projection (or first stem conv) weights
    position_embeddings: np.ndarray | None  # (gh * gw, D) float32 for the current grid (interpolated if needed)
    ood_warning: str = ""  # a model trained on shapes only: why this image is unlike its data ("" if it is not)

    @property
    def num_prefix(self) -> int:
        return len(self.prefix_tokens)

    @property
    def has_cls(self) -> bool:
        return "CLS" in self.prefix_tokens

    @property
    def num_layers(self) -> int:
        return int(self.attentions.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.attentions.shape[1])

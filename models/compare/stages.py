"""Stages of any classifier, found by a shape trace, and their outputs turned into (B, C, h, w) maps.

A `StageModel` is a classifier plus the module paths of its stages (a CNN's stages, a ViT's blocks, a
hybrid's convolution and attention stages): the only per-architecture knowledge, kept on the model's
registry entry. One forward with hooks records each stage's output shape (`trace_stages`), and
`to_map` turns any stage output into a feature map automatically:

- (B, C, h, w) convolution maps as they are;
- (B, h, w, C) channels-last maps (torchvision Swin, ConvNeXt blocks) permuted;
- (B, N, C) tokens: the prefix tokens (CLS, distillation, registers) are the leading N - h*w tokens,
  where h x w is the grid with the input's aspect ratio at an integer stride; non-square grids work.
This is the `reshape_transform` that pytorch-grad-cam asks users to write by hand for every ViT.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

MAX_PREFIX_TOKENS = 16  # CLS + distillation + up to 14 registers


@dataclass(frozen=True)
class StageInfo:
    index: int
    path: str  # module path inside the model, e.g. "stages.2" or "encoder.layers.encoder_layer_3"
    layout: str  # "nchw" | "nhwc" | "tokens"
    channels: int
    grid: tuple[int, int]  # (h, w) of the stage's map
    stride: int  # input pixels per map cell
    prefix_tokens: int  # tokens before the grid (CLS, distillation, registers); 0 for maps
    relative_depth: float  # 0 for the first stage .. 1 for the last

    @property
    def kind(self) -> str:
        """"conv" for feature maps, "tokens" for token sequences."""
        return "tokens" if self.layout == "tokens" else "conv"


@dataclass
class StageModel:
    """A classifier taking (B, 3, H, W) in [0, 1] and returning logits (B, classes) as a tensor (real models
    are wrapped so: normalisation inside, `.logits` taken out), with its stage module paths."""

    model: nn.Module
    stage_paths: tuple[str, ...]
    class_names: tuple[str, ...]
    image_size: tuple[int, int] = (64, 64)  # (H, W) it is run at
    title: str = ""
    # how rollout reads the attention weights (models.compare.rollout_capture); None: softmax modules named
    # "attend" (the bundled ViTs)
    attention: object | None = None

    def module(self, path: str) -> nn.Module:
        return self.model.get_submodule(path)


def _first_tensor(out) -> torch.Tensor:
    while isinstance(out, (tuple, list)):
        out = out[0]
    if hasattr(out, "last_hidden_state"):
        out = out.last_hidden_state
    return out


def _grid_for(n: int, size: tuple[int, int]) -> tuple[int, int, int] | None:
    """(h, w, stride) with h * w == n, h / w == H / W and an integer stride, or None."""
    H, W = size
    for stride in range(1, max(H, W) + 1):
        if H % stride == 0 and W % stride == 0 and (H // stride) * (W // stride) == n:
            return H // stride, W // stride, stride
    # grids that do not divide the input evenly (ceil division, as padded patch embeddings do)
    for stride in range(1, max(H, W) + 1):
        h, w = math.ceil(H / stride), math.ceil(W / stride)
        if h * w == n:
            return h, w, stride
    return None


def describe_output(t: torch.Tensor, size: tuple[int, int]) -> tuple[str, int, tuple[int, int], int, int]:
    """(layout, channels, (h, w), stride, prefix tokens) of one stage output for an input of `size`."""
    H, W = size
    if t.ndim == 4:
        _, a, b, c = t.shape
        if H % b == 0 and W % c == 0 and H // b == W // c:
            return "nchw", a, (b, c), H // b, 0
        if H % a == 0 and W % b == 0 and H // a == W // b:
            return "nhwc", c, (a, b), H // a, 0
        raise ValueError(f"cannot tell the layout of a stage output of shape {tuple(t.shape)} for a {H}x{W} input")
    if t.ndim == 3:
        _, n, c = t.shape
        for prefix in range(0, min(MAX_PREFIX_TOKENS, n - 1) + 1):
            found = _grid_for(n - prefix, size)
            if found is not None:
                h, w, stride = found
                return "tokens", c, (h, w), stride, prefix
        raise ValueError(f"{n} tokens do not form a grid with the input's aspect ({H}x{W}) after up to "
                         f"{MAX_PREFIX_TOKENS} prefix tokens")
    raise ValueError(f"a stage output of shape {tuple(t.shape)} is neither a map nor a token sequence")


def trace_stages(sm: StageModel) -> list[StageInfo]:
    """One forward on a blank image with hooks on the stage modules: each stage's layout and shape."""
    outputs: dict[str, torch.Tensor] = {}
    hooks = [sm.module(p).register_forward_hook(lambda _m, _i, out, p=p: outputs.__setitem__(p, _first_tensor(out)))
             for p in sm.stage_paths]
    param = next(sm.model.parameters())
    try:
        with torch.no_grad():
            sm.model(torch.full((1, 3, *sm.image_size), 0.5, device=param.device, dtype=param.dtype))
    finally:
        for h in hooks:
            h.remove()
    infos = []
    last = max(len(sm.stage_paths) - 1, 1)
    for i, path in enumerate(sm.stage_paths):
        if path not in outputs:
            raise ValueError(f"stage {path!r} did not run in the forward pass")
        layout, channels, grid, stride, prefix = describe_output(outputs[path], sm.image_size)
        infos.append(StageInfo(i, path, layout, channels, grid, stride, prefix, i / last))
    return infos


def to_map(t: torch.Tensor, info: StageInfo) -> torch.Tensor:
    """A stage output as a (B, C, h, w) map (prefix tokens dropped)."""
    t = _first_tensor(t)
    if info.layout == "nchw":
        return t
    if info.layout == "nhwc":
        return t.permute(0, 3, 1, 2)
    h, w = info.grid
    grid_tokens = t[:, info.prefix_tokens:info.prefix_tokens + h * w]  # (B, h*w, C)
    return grid_tokens.transpose(1, 2).reshape(t.shape[0], -1, h, w)


def reshape_transform(info: StageInfo) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """pytorch-grad-cam's reshape_transform for this stage (None for NCHW maps)."""
    return None if info.layout == "nchw" else (lambda t: to_map(t, info))


def stage_at_depth(infos: list[StageInfo], relative_depth: float) -> StageInfo:
    """The stage nearest to a relative depth in 0..1 (the depth slider links columns this way)."""
    return min(infos, key=lambda s: (abs(s.relative_depth - relative_depth), -s.index))


def capture_stage_outputs(sm: StageModel, images: torch.Tensor, keep_grad: bool = False) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Logits and every stage's raw output for `images` (B, 3, H, W)."""
    outputs: dict[str, torch.Tensor] = {}
    hooks = [sm.module(p).register_forward_hook(lambda _m, _i, out, p=p: outputs.__setitem__(p, _first_tensor(out)))
             for p in sm.stage_paths]
    try:
        with torch.set_grad_enabled(keep_grad):
            logits = sm.model(images)
    finally:
        for h in hooks:
            h.remove()
    return logits, outputs

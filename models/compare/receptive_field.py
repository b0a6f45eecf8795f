"""Receptive fields: the effective one (Luo et al. 2016) measured, the theoretical one computed.

Effective receptive field (ERF) of a stage: set the gradient of the stage's centre unit (summed over its
channels; the central 2x2 cells of an even-sized map) to 1, everything else 0, back-propagate to the input, take |grad| summed over the colour
channels, average over images. `erf_radius` is the radius around the centre that holds 50% of that
gradient mass. The theoretical receptive field of a convolutional stage composes kernel sizes, strides
and dilations of every convolution and pooling layer run up to the stage's output (r += (k - 1) * j;
j *= s); a layer that mixes all tokens (attention) makes it the whole image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .rollout_capture import capture_of
from .stages import StageInfo, StageModel, to_map

SPATIAL_LAYERS = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


@dataclass(frozen=True)
class ReceptiveField:
    stage: int
    erf: np.ndarray  # (H, W) float32, mean |d centre / d input|, normalised to max 1
    radius_px: float  # radius holding 50% of the gradient mass, in input pixels
    theoretical_px: float | None  # side of the theoretical field; None where attention makes it global


def effective_rf(sm: StageModel, images: torch.Tensor, stage: StageInfo) -> np.ndarray:
    """(H, W) mean |gradient| of the stage's centre unit w.r.t. the input, over the images (B, 3, H, W)."""
    captured: dict[str, torch.Tensor] = {}
    hook = sm.module(stage.path).register_forward_hook(lambda _m, _i, out: captured.__setitem__("out", out))
    was_training = sm.model.training
    sm.model.eval()
    x = images.detach().clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            sm.model(x)
            fmap = to_map(captured["out"], stage)  # (B, C, h, w)
            h, w = fmap.shape[-2:]
            # the centre unit; on an even-sized map the 2x2 (or 2x1) cells around the centre, so the
            # field stays centred (a 2x2 map has no middle cell)
            fmap[:, :, (h - 1) // 2:h // 2 + 1, (w - 1) // 2:w // 2 + 1].sum().backward()
    finally:
        hook.remove()
        sm.model.train(was_training)
    erf = x.grad.abs().sum(dim=1).mean(dim=0).numpy()  # (H, W)
    return (erf / erf.max()).astype(np.float32) if erf.max() > 0 else erf.astype(np.float32)


def erf_radius(erf: np.ndarray, centre: tuple[float, float] | None = None, mass: float = 0.5) -> float:
    """Smallest radius (px) around the centre whose disc holds `mass` of the map's total."""
    h, w = erf.shape
    cy, cx = centre if centre is not None else ((h - 1) / 2, (w - 1) / 2)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - cy, xx - cx).ravel()
    order = np.argsort(r)
    cum = np.cumsum(erf.ravel()[order])
    if cum[-1] <= 0:
        return 0.0
    return float(r[order][np.searchsorted(cum, mass * cum[-1])])


def _pair(v) -> int:
    return int(v[0] if isinstance(v, tuple) else v)


def theoretical_rf(sm: StageModel, stage: StageInfo) -> float | None:
    """Side (px) of the theoretical receptive field at the stage's output, or None when a global attention
    layer (a softmax module, or an attention layer of a real model: its capture's global_attention) ran
    before the stage ended: then every output sees the whole input."""
    order: list[nn.Module] = []
    attention_seen: list[bool] = []
    stop = {"done": False}

    def record(m, _i, _o):
        if not stop["done"]:
            order.append(m)

    def soft(_m, _i, _o):
        if not stop["done"]:
            attention_seen.append(True)

    hooks = [m.register_forward_hook(record) for m in sm.model.modules() if isinstance(m, SPATIAL_LAYERS)]
    hooks += [m.register_forward_hook(soft) for m in sm.model.modules() if isinstance(m, nn.Softmax)]
    hooks += [m.register_forward_hook(soft) for m in capture_of(sm.attention).global_attention(sm.model)]
    hooks.append(sm.module(stage.path).register_forward_hook(lambda *_: stop.__setitem__("done", True)))
    try:
        with torch.no_grad():
            sm.model(torch.zeros(1, 3, *sm.image_size, device=next(sm.model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
    if attention_seen:
        return None
    rf, jump = 1.0, 1.0
    for m in order:
        k, s = _pair(m.kernel_size), _pair(m.stride)
        d = _pair(getattr(m, "dilation", 1))
        rf += (k - 1) * d * jump
        jump *= s
    return rf


def receptive_fields(sm: StageModel, images: torch.Tensor, stages: list[StageInfo]) -> list[ReceptiveField]:
    out = []
    for st in stages:
        erf = effective_rf(sm, images, st)
        out.append(ReceptiveField(st.index, erf, erf_radius(erf), theoretical_rf(sm, st)))
    return out

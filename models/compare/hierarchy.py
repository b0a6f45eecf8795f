"""A model's hierarchy read from the model itself: per stage its output shape, parameters, FLOPs and time.

The shapes come from the shape trace (models.compare.stages), FLOPs from `torch.utils.flop_counter`
(per module, so per stage), the time from forward pre-/post-hooks on the stage modules over a few runs
on the model's device. Stage features for display: the 16 most active channels of a map, or the first
three principal components of the tokens as RGB (models.vit.tokens.pca_rgb).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..vit.tokens import pca_rgb
from .stages import StageInfo, StageModel, capture_stage_outputs, to_map


@dataclass(frozen=True)
class StageCost:
    stage: int
    path: str
    kind: str  # "conv" | "tokens"
    shape_text: str  # e.g. "16x16 x 32 ch" or "64 tokens x 96 (+1 CLS)"
    grid: tuple[int, int]
    channels: int
    parameters: int
    flops: int  # multiply-adds x 2 for one image
    milliseconds: float  # median time of the stage for one image on the model's device


def shape_text(info: StageInfo) -> str:
    h, w = info.grid
    if info.kind == "tokens":
        extra = f" (+{info.prefix_tokens} prefix)" if info.prefix_tokens else ""
        return f"{h * w} tokens x {info.channels}{extra}"
    return f"{h}x{w} x {info.channels} ch"


def stage_flops(sm: StageModel, image: torch.Tensor, stages: list[StageInfo]) -> list[int]:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        sm.model(image)
    counts = counter.get_flop_counts()  # {module name: {op: flops}}; names carry the root module's class
    root = type(sm.model).__name__
    out = []
    for st in stages:
        key = f"{root}.{st.path}"
        out.append(int(sum(counts.get(key, {}).values())))
    return out


def stage_times(sm: StageModel, image: torch.Tensor, stages: list[StageInfo], runs: int = 5) -> list[float]:
    """Median milliseconds per stage over `runs` forwards (after one warm-up)."""
    starts: dict[str, float] = {}
    times: dict[str, list[float]] = {st.path: [] for st in stages}
    sync = torch.cuda.synchronize if image.is_cuda else (lambda: None)

    def pre(path):
        def hook(_m, _i):
            sync()
            starts[path] = time.perf_counter()
        return hook

    def post(path):
        def hook(_m, _i, _o):
            sync()
            times[path].append((time.perf_counter() - starts[path]) * 1000)
        return hook

    hooks = []
    for st in stages:
        m = sm.module(st.path)
        hooks += [m.register_forward_pre_hook(pre(st.path)), m.register_forward_hook(post(st.path))]
    try:
        with torch.no_grad():
            for _ in range(runs + 1):
                sm.model(image)
    finally:
        for h in hooks:
            h.remove()
    return [float(np.median(times[st.path][1:])) if len(times[st.path]) > 1 else float("nan") for st in stages]


def hierarchy(sm: StageModel, image: torch.Tensor, stages: list[StageInfo], runs: int = 5) -> list[StageCost]:
    flops = stage_flops(sm, image, stages)
    ms = stage_times(sm, image, stages, runs)
    out = []
    for st, f, t in zip(stages, flops, ms):
        params = sum(p.numel() for p in sm.module(st.path).parameters())
        out.append(StageCost(st.index, st.path, st.kind, shape_text(st), st.grid, st.channels, params, f, t))
    return out


def stage_features(sm: StageModel, image: torch.Tensor, stage: StageInfo, top: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """What the stage sees in one image (1, 3, H, W).

    Maps: (top, h, w) of the most active channels (highest mean activation), scaled to [0, 1] each,
    and their channel indices. Token stages: ((h, w, 3) RGB of the tokens' first three principal
    components, the empty index array)."""
    _, outs = capture_stage_outputs(sm, image)
    fmap = to_map(outs[stage.path], stage)[0].float().cpu()  # (C, h, w)
    if stage.kind == "tokens":
        tokens = fmap.flatten(1).T.numpy()  # (h*w, C)
        return pca_rgb(tokens, stage.grid), np.zeros(0, np.int64)
    order = fmap.mean(dim=(1, 2)).argsort(descending=True)[:top]
    chans = fmap[order].numpy()
    lo = chans.min(axis=(1, 2), keepdims=True)
    span = np.maximum(chans.max(axis=(1, 2), keepdims=True) - lo, 1e-8)
    return ((chans - lo) / span).astype(np.float32), order.numpy()

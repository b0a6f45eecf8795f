"""Views computed from captured attention: head fusion, attention rollout, per-patch maps. numpy only.

Attention rollout (Abnar & Zuidema 2020): per layer fuse the heads (mean / max / min), optionally zero
the lowest ``discard_ratio`` of the weights (never the CLS column), add the residual path
``A' = 0.5 A + 0.5 I``, renormalise the rows, and multiply the layers from first to last.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

FUSIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": lambda a: a.mean(axis=-3),
    "max": lambda a: a.max(axis=-3),
    "min": lambda a: a.min(axis=-3),
}


def fuse_heads(attn: np.ndarray, fusion: str = "mean") -> np.ndarray:
    """(..., heads, N, N) -> (..., N, N)."""
    try:
        return FUSIONS[fusion](attn)
    except KeyError:
        raise ValueError(f"Unknown head fusion '{fusion}' (choose from {', '.join(FUSIONS)}).") from None


def discard_lowest(a: np.ndarray, ratio: float, keep_col: int | None) -> np.ndarray:
    """Zero the lowest `ratio` of each (N, N) map's entries, never those in column keep_col (the CLS token)."""
    n = a.shape[-1]
    free = n * n - (n if keep_col is not None else 0)  # entries that may be discarded
    k = min(int(n * n * ratio), free)
    if k <= 0:
        return a
    flat = a.reshape(-1, n * n).copy()  # (B, N*N)
    scores = flat.copy()
    if keep_col is not None:
        scores[:, keep_col::n] = np.inf  # protected entries are never among the k lowest
    idx = np.argpartition(scores, k - 1, axis=-1)[:, :k]
    np.put_along_axis(flat, idx, 0.0, axis=-1)
    return flat.reshape(a.shape)


def rollout(attentions: np.ndarray, fusion: str = "mean", discard_ratio: float = 0.0,
            keep_col: int | None = 0, upto: int | None = None) -> np.ndarray:
    """Attention rollout over layers [0, upto] (all by default).

    attentions: (L, heads, N, N) or batched (B, L, heads, N, N). Returns (N, N) or (B, N, N): row i is how
    much token i's final representation draws on each input token through all residual and attention paths.
    keep_col: the CLS token's column, never discarded (None when there is no CLS token).
    """
    batched = attentions.ndim == 5
    att = attentions if batched else attentions[None]
    L = att.shape[1] if upto is None else upto + 1
    n = att.shape[-1]
    eye = np.eye(n, dtype=np.float64)
    result = np.broadcast_to(eye, (att.shape[0], n, n)).copy()
    for layer in range(L):
        a = fuse_heads(att[:, layer].astype(np.float64), fusion)  # (B, N, N)
        a = discard_lowest(a, discard_ratio, keep_col)
        a = 0.5 * a + 0.5 * eye
        a = a / a.sum(axis=-1, keepdims=True)
        result = a @ result
    out = result.astype(np.float32)
    return out if batched else out[0]


def cls_map(attn_nn: np.ndarray, num_prefix: int, grid: tuple[int, int], source: int = 0) -> np.ndarray:
    """Row `source` of an (N, N) map over the patch tokens, as a (gh, gw) grid."""
    return attn_nn[source, num_prefix:].reshape(grid)


def received_map(attn_nn: np.ndarray, num_prefix: int, grid: tuple[int, int]) -> np.ndarray:
    """Mean attention each patch receives from all patch tokens: the map for models without a CLS token."""
    return attn_nn[num_prefix:, num_prefix:].mean(axis=0).reshape(grid)


def patch_map(attn_nn: np.ndarray, num_prefix: int, grid: tuple[int, int], patch: int,
              reverse: bool = False) -> np.ndarray:
    """What patch `patch` (row-major index in the grid) attends to, or (reverse) which patches attend to it."""
    t = num_prefix + patch
    vec = attn_nn[num_prefix:, t] if reverse else attn_nn[t, num_prefix:]
    return vec.reshape(grid)


def box_density_ratio(maps: np.ndarray, boxes: np.ndarray, image_size: int) -> float:
    """Mean attention density inside the object's box / mean density outside it, over images.

    maps: (B, gh, gw) non-negative maps; boxes: (B, 4) COCO [x, y, w, h] in pixels of a square image.
    Each map is upsampled blockwise to pixels and normalised to sum 1; density = mass / area.
    """
    B, gh, gw = maps.shape
    up = np.repeat(np.repeat(maps, image_size // gh, axis=1), image_size // gw, axis=2)  # (B, S, S)
    up = up / up.sum(axis=(1, 2), keepdims=True)
    yy, xx = np.mgrid[0:image_size, 0:image_size] + 0.5
    inside_d, outside_d = [], []
    for m, (x, y, w, h) in zip(up, boxes):
        inside = (xx >= x) & (xx <= x + w) & (yy >= y) & (yy <= y + h)
        inside_d.append(m[inside].sum() / max(inside.sum(), 1))
        outside_d.append(m[~inside].sum() / max((~inside).sum(), 1))
    return float(np.mean(inside_d) / max(np.mean(outside_d), 1e-12))

"""Images as uint8 and batches as one tiled grid: one version of each for every task.

numpy only (a torch batch is converted through its own methods, so this module imports neither torch
nor Qt). Used by the diffusion samplers and session, the GAN trainer and data, and the ViT token views.
"""
from __future__ import annotations

import numpy as np


def to_uint8(x: np.ndarray, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """Values in [lo, hi] -> uint8 0..255 (clipped, rounded to the nearest level)."""
    y = (np.asarray(x, dtype=np.float32) - lo) * (255.0 / (hi - lo))
    return np.rint(np.clip(y, 0.0, 255.0)).astype(np.uint8)


def tensor_to_uint8_hwc(x, lo: float = -1.0, hi: float = 1.0, rgb: bool = False) -> np.ndarray:
    """A torch batch (B, C, H, W) in [lo, hi] -> (B, H, W, C) uint8 numpy; rgb: 1 channel repeated to 3."""
    out = to_uint8(x.detach().float().permute(0, 2, 3, 1).cpu().numpy(), lo, hi)  # (B, H, W, C)
    return np.repeat(out, 3, axis=3) if rgb and out.shape[3] == 1 else out


def grid_columns(n: int) -> int:
    """Columns of a near-square grid of n tiles."""
    return max(1, int(np.ceil(np.sqrt(n))))


def mosaic(images: np.ndarray, columns: int | None = None, gap: int = 1, fill: float = 40,
           rows: int | None = None, border: int = 0, dtype=None) -> np.ndarray:
    """(B, H, W[, C]) -> one (2*border + rows*(H+gap)-gap, 2*border + cols*(W+gap)-gap[, C]) image.

    Tiles go row by row in `columns` columns (near-square by default), or, given `rows`, column by column
    in that many rows. Gaps and the border are `fill`; the result has `dtype` (default: the images')."""
    b, h, w = images.shape[:3]
    extra = images.shape[3:]
    if rows:
        cols = int(np.ceil(b / rows))
        place = [divmod(i, rows)[::-1] for i in range(b)]  # (row, col) of tile i
    else:
        cols = columns or grid_columns(b)
        rows = int(np.ceil(b / cols))
        place = [divmod(i, cols) for i in range(b)]
    shape = (2 * border + rows * (h + gap) - gap, 2 * border + cols * (w + gap) - gap) + extra
    out = np.full(shape, fill, dtype or images.dtype)
    for i, (r, q) in enumerate(place):
        y, x = border + r * (h + gap), border + q * (w + gap)
        out[y:y + h, x:x + w] = images[i]
    return out

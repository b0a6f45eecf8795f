"""Images as uint8 and batches as one tiled grid: numpy only (no torch, no Qt), so the Diffusion tab's
session, the exports and the samplers share one version of each."""
from __future__ import annotations

import numpy as np


def to_uint8(x: np.ndarray, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """Values in [lo, hi] -> uint8 0..255 (clipped, rounded to the nearest level)."""
    y = (np.asarray(x, dtype=np.float32) - lo) * (255.0 / (hi - lo))
    return np.rint(np.clip(y, 0.0, 255.0)).astype(np.uint8)


def grid_columns(n: int) -> int:
    """Columns of a near-square grid of n tiles."""
    return max(1, int(np.ceil(np.sqrt(n))))


def mosaic(images: np.ndarray, columns: int | None = None, gap: int = 1, fill: int = 40,
           rows: int | None = None) -> np.ndarray:
    """(B, H, W, C) uint8 -> one (rows*(H+gap)-gap, cols*(W+gap)-gap, C) image. Tiles go row by row in
    `columns` columns (near-square by default), or, given `rows`, column by column in that many rows."""
    b, h, w, c = images.shape
    if rows:
        cols = int(np.ceil(b / rows))
        place = [divmod(i, rows)[::-1] for i in range(b)]  # (row, col) of tile i
    else:
        cols = columns or grid_columns(b)
        rows = int(np.ceil(b / cols))
        place = [divmod(i, cols) for i in range(b)]
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, c), fill, np.uint8)
    for i, (r, q) in enumerate(place):
        out[r * (h + gap): r * (h + gap) + h, q * (w + gap): q * (w + gap) + w] = images[i]
    return out

"""Saving a sampling run: the trajectory as an animated GIF or a strip PNG, the final images as PNG.
Numpy + PIL only (no torch), so the GUI thread can call it."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ..errors import UserFacingError


def frame_positions(num_positions: int, max_frames: int) -> np.ndarray:
    """Up to max_frames evenly spaced positions, always including the first and the last."""
    n = max(1, min(num_positions, max_frames))
    return np.unique(np.round(np.linspace(0, num_positions - 1, n)).astype(int))


def _upscale(img: np.ndarray, min_side: int) -> np.ndarray:
    """Nearest-neighbour enlargement so 32 px sprites stay crisp in a GIF/PNG."""
    k = max(1, int(np.ceil(min_side / max(1, min(img.shape[:2])))))
    return img.repeat(k, 0).repeat(k, 1) if k > 1 else img


def save_gif(frame: Callable[[int], np.ndarray], num_positions: int, path: str | Path,
             max_frames: int = 120, frame_ms: int = 80, min_side: int = 256) -> Path:
    """An animated GIF of frame(pos) over the run; the last frame is held a second."""
    positions = frame_positions(num_positions, max_frames)
    images = [Image.fromarray(_upscale(frame(int(p)), min_side)) for p in positions]
    durations = [frame_ms] * (len(images) - 1) + [1000]
    path = Path(path)
    try:
        images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=False)
    except OSError as exc:
        raise UserFacingError(f"Could not write {path}: {exc.strerror or exc}.") from None
    return path


def save_strip(frame: Callable[[int], np.ndarray], num_positions: int, path: str | Path, count: int = 8,
               gap: int = 4) -> Path:
    """count frames side by side (first to last) in one PNG."""
    positions = frame_positions(num_positions, count)
    frames = [frame(int(p)) for p in positions]
    h = max(f.shape[0] for f in frames)
    spacer = np.full((h, gap, 3), 255, np.uint8)
    parts = []
    for f in frames:
        if f.shape[0] < h:
            f = np.concatenate([f, np.full((h - f.shape[0], f.shape[1], 3), 255, np.uint8)])
        parts += [f, spacer]
    strip = np.concatenate(parts[:-1], axis=1)
    return save_png(strip, path)


def save_png(image: np.ndarray, path: str | Path, min_side: int = 0) -> Path:
    path = Path(path)
    try:
        Image.fromarray(_upscale(image, min_side) if min_side else image).save(path)
    except (OSError, ValueError) as exc:
        raise UserFacingError(f"Could not write {path}: {exc}.") from None
    return path

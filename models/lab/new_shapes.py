"""Four shape classes the bundled models never saw, drawn in the widened style: the fine-tuning task.

pentagon, ellipse (aspect 0.45-0.65), arrow and crescent, as polygons of circumradius ~1 handed to
`models.shapes_wide.render_wide`, so backgrounds, colours, outlines, hard edges, border cuts and noise are
exactly those of the data the bundled models were trained on; only the shapes are new.
"""
from __future__ import annotations

import math

import numpy as np

from ..shapes_wide import WIDE, render_wide

NEW_SHAPE_CLASSES = ("pentagon", "ellipse", "arrow", "crescent")


def _pentagon(rng: np.random.Generator) -> np.ndarray:
    ang = np.arange(5) * 2 * np.pi / 5 - np.pi / 2
    return np.stack([np.cos(ang), np.sin(ang)], 1)


def _ellipse(rng: np.random.Generator) -> np.ndarray:
    ang = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    return np.stack([np.cos(ang), rng.uniform(0.45, 0.65) * np.sin(ang)], 1)


def _arrow(rng: np.random.Generator) -> np.ndarray:
    return np.array([(-1.0, -0.18), (0.2, -0.18), (0.2, -0.5), (1.0, 0.0), (0.2, 0.5), (0.2, 0.18), (-1.0, 0.18)])


def _crescent(rng: np.random.Generator, d: float = 0.45, r: float = 0.85) -> np.ndarray:
    """The unit disc minus a disc of radius r centred at (d, 0): outer arc, then the inner arc back."""
    x = (1 - r * r + d * d) / (2 * d)  # where the two circles cross
    y = math.sqrt(1 - x * x)
    a0, b0 = math.atan2(y, x), math.atan2(y, x - d)
    outer = np.linspace(a0, 2 * np.pi - a0, 40)  # the far side of the unit circle
    inner = np.linspace(2 * np.pi - b0, b0, 40)  # the near side of the cut-out circle, going back
    return np.concatenate([np.stack([np.cos(outer), np.sin(outer)], 1),
                           np.stack([d + r * np.cos(inner), r * np.sin(inner)], 1)])


_POLYGONS = (_pentagon, _ellipse, _arrow, _crescent)  # in NEW_SHAPE_CLASSES order


def render_new_shape(rng: np.random.Generator, cls: int) -> np.ndarray:
    """One (64, 64, 3) uint8 image of new class `cls`."""
    image, _, _ = render_wide(rng, WIDE, cls=cls, polygon=_POLYGONS[cls](rng))
    return image


def new_shape_arrays(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """per_class images of each new class, classes interleaved (so the first 4k images hold k per class, and a
    smaller set is the start of a bigger one with the same seed): images (4n, 64, 64, 3) uint8, labels (4n,) int64."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(len(NEW_SHAPE_CLASSES), dtype=np.int64), per_class)
    images = np.stack([render_new_shape(rng, int(c)) for c in labels]) if per_class else np.zeros((0, 64, 64, 3), np.uint8)
    return images, labels

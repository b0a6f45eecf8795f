"""The data lab's images: a fixed pool of widened training images and a fixed held-out set, cached as .npz.

The pool holds max(SIZES) = 16,000 images of `models.shapes_wide.wide_arrays` (seed POOL_SEED); a run on N
images takes a seed-dependent choice of N of them (`train_subset`), so two seeds differ in their data as
well as in their initialisation. The held-out set is 2,000 images from another seed (HELD_OUT_SEED); a run
with a smaller `eval_size` uses its first `eval_size` images. Neither seed is one models.compare.train uses
(11 for training, 777_011 for validation), so the lab never evaluates on what the bundled models saw.

Both sets are generated once (about 1 ms an image) and cached in a folder the caller passes (the app: its
data folder; the command line: runs/lab). A cache file is never trusted: np.load without pickles, then
shapes, dtypes and label range are checked; a wrong or unreadable file is regenerated and rewritten.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..loading import atomic_write
from ..shapes import SHAPE_CLASSES
from ..shapes_wide import WIDE_VERSION, wide_arrays
from .records import SIZES

POOL_SEED = 20_261_201
HELD_OUT_SEED = 20_261_202
POOL_SIZE = max(SIZES)
HELD_OUT_SIZE = 2_000
IMAGE_SHAPE = (64, 64, 3)


@dataclass(frozen=True, eq=False)
class LabData:
    """Training pool and held-out images of one task: images (N, H, W, 3) uint8, labels (N,) int64."""

    pool_images: np.ndarray  # (P, H, W, 3) uint8
    pool_labels: np.ndarray  # (P,) int64
    eval_images: np.ndarray  # (E, H, W, 3) uint8
    eval_labels: np.ndarray  # (E,) int64
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        for images, labels in ((self.pool_images, self.pool_labels), (self.eval_images, self.eval_labels)):
            _check(images, labels, len(images), len(self.class_names))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _check(images: np.ndarray, labels: np.ndarray, n: int, num_classes: int) -> None:
    if (images.dtype != np.uint8 or images.shape != (n, *IMAGE_SHAPE) or labels.dtype != np.int64
            or labels.shape != (n,) or (n and (labels.min() < 0 or labels.max() >= num_classes))):
        raise ValueError(f"lab data: want {n} images {IMAGE_SHAPE} uint8 and int64 labels in [0, {num_classes}), "
                         f"got {images.dtype} {images.shape} and {labels.dtype} {labels.shape}")


def cached_arrays(path: Path, n: int, num_classes: int,
                  make: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) from the .npz at `path` if it is exactly what `make` would give in shape and type,
    else make() them and write the file atomically. Unreadable or crafted files are regenerated, never trusted."""
    try:
        with np.load(path, allow_pickle=False) as d:
            images, labels = np.asarray(d["images"]), np.asarray(d["labels"])
        _check(images, labels, n, num_classes)
        return images, labels
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass  # absent, truncated, pickled, wrong shapes or dtypes: make it again
    images, labels = make()
    _check(images, labels, n, num_classes)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a name
            np.savez(f, images=images, labels=labels)

    atomic_write(path, write)
    return images, labels


def _wide(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels, _ = wide_arrays(n, seed)
    return images, labels


def load_lab_data(cache_dir: Path) -> LabData:
    """The data-hunger task: 16,000 pool images and 2,000 held-out images (generated once, ~20 s)."""
    cache_dir = Path(cache_dir)
    pool = cached_arrays(cache_dir / f"lab_pool_v{WIDE_VERSION}_{POOL_SIZE}_s{POOL_SEED}.npz", POOL_SIZE, len(SHAPE_CLASSES),
                         lambda: _wide(POOL_SIZE, POOL_SEED))
    held = cached_arrays(cache_dir / f"lab_held_out_v{WIDE_VERSION}_{HELD_OUT_SIZE}_s{HELD_OUT_SEED}.npz", HELD_OUT_SIZE,
                         len(SHAPE_CLASSES), lambda: _wide(HELD_OUT_SIZE, HELD_OUT_SEED))
    return LabData(*pool, *held, tuple(SHAPE_CLASSES))


def subset_indices(pool_size: int, n: int, seed: int) -> np.ndarray:
    """Indices (n,) of a seed-dependent choice of n distinct pool images (all of them if n >= pool_size)."""
    if n < 1:
        raise ValueError(f"a run needs at least one training image, not {n}")
    rng = np.random.default_rng((POOL_SEED, int(seed), int(n)))
    return np.sort(rng.permutation(pool_size)[:min(n, pool_size)])


def train_subset(pool: LabData, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The n training images (n, H, W, 3) uint8 and labels (n,) of a run with this seed."""
    idx = subset_indices(len(pool.pool_images), n, seed)
    return pool.pool_images[idx], pool.pool_labels[idx]

"""The sprite judge during training: the judge's class of each fixed-noise sample and the "Judge FD".

Runs in the training job (worker thread) each time a sample grid is made: ~14 ms for 36 sprites. The judge
and the judge features of the real reference sprites are loaded once per process and kept. When there is
no judge file (or the run's images are not sprite-sized RGB), `LiveJudge.load()` returns None and the
run trains without coverage figures.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..errors import UserFacingError
from ..judge.model import JUDGE_CLASSES, JudgeVerdict, SpriteJudgeNet, judge_images, load_judge
from .coverage import class_shares, judge_fd, real_reference

REFERENCE_SPRITES = 256  # real sprites of the live FD reference (the evaluate script uses 1,000)
COVERAGE_WIDTH = 2 + len(JUDGE_CLASSES)  # one row per judged grid: [step, judge FD, share of each class]


@dataclass(frozen=True)
class Coverage:
    """The judge's view of one fixed-noise grid. CPU numpy only."""

    step: int
    classes: np.ndarray  # (K,) int: index into JUDGE_CLASSES of each sample, in grid order
    shares: np.ndarray  # (len(JUDGE_CLASSES),) float32 share of samples per class
    judge_fd: float  # Fréchet distance between the samples' judge features and the real sprites'
    names: tuple[str, ...] = JUDGE_CLASSES  # the class names, in shares' order

    def row(self) -> np.ndarray:
        return np.concatenate([[self.step, self.judge_fd], self.shares]).astype(np.float32)  # (COVERAGE_WIDTH,)


class LiveJudge:
    """The judge and its real reference, ready to score a grid of samples."""

    _cache: "LiveJudge | None" = None
    _lock = threading.Lock()

    def __init__(self, model: SpriteJudgeNet, reference: JudgeVerdict):
        self.model = model
        self.reference = reference

    @classmethod
    def load(cls) -> "LiveJudge | None":
        """The process's judge (built once), or None when no judge file can be loaded."""
        with cls._lock:
            if cls._cache is None:
                try:
                    model = load_judge()
                except (UserFacingError, OSError):
                    return None
                cls._cache = cls(model, real_reference(model, REFERENCE_SPRITES))
            return cls._cache

    def assess(self, step: int, samples: np.ndarray) -> Coverage:
        """samples (K, S, S, 3) uint8, K >= 2 -> the Coverage of that grid."""
        verdict = judge_images(self.model, samples)
        shares = class_shares(verdict.classes).astype(np.float32)
        return Coverage(int(step), verdict.classes.astype(np.int64), shares,
                        judge_fd(verdict.features, self.reference.features))

"""Coverage and collapse of a sprite GAN, as seen by the sprite judge (``models.judge``): pure functions.

- ``class_shares``: the share of samples the judge puts in each of its 7 classes (6 shapes + "not a shape").
- ``judge_fd``: the Fréchet distance between judge features of samples and of real sprites, "Judge FD"
  (FID's formula with the small judge instead of Inception: comparable between runs of this app only).
- ``collapse_warnings``: plain-language warnings from the histories of class shares and diversity: one
  shape above half of the samples, a shape absent for a stretch of grids, or the diversity falling.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from ..judge.model import JUDGE_CLASSES, REJECT, JudgeVerdict, SpriteJudgeNet, judge_images, model_range_to_uint8
from ..shapes import sprite_arrays
from .health import HealthWarning


def class_shares(classes: np.ndarray, num_classes: int = len(JUDGE_CLASSES)) -> np.ndarray:
    """classes (N,) int -> (num_classes,) share of samples per class (zeros when N = 0)."""
    counts = np.bincount(np.asarray(classes, np.int64), minlength=num_classes)[:num_classes].astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def judge_fd(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between two feature sets (N, F), (M, F): |mu_a - mu_b|^2 + Tr(Sa + Sb - 2 (Sa Sb)^1/2).
    With few samples (a grid of 36 against 64 features) it is biased upward (real vs real: ~2-4 instead of
    ~0.07 with 1,000): compare values computed from the same number of samples."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("judge_fd needs at least two feature vectors on each side")
    eye = 1e-6 * np.eye(a.shape[1])  # dead ReLU features make the covariances singular
    s1, s2 = np.cov(a, rowvar=False) + eye, np.cov(b, rowvar=False) + eye
    covmean = np.real(linalg.sqrtm(s1 @ s2))
    return float(max(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean), 0.0))


@dataclass(frozen=True)
class CoverageSummary:
    shares: tuple[float, ...]  # per judge class, in JUDGE_CLASSES order
    accepted: float  # share named a shape with calibrated confidence >= 0.9
    judge_fd: float  # vs real sprites

    @property
    def min_shape_share(self) -> float:
        return float(min(self.shares[:REJECT]))

    def lines(self) -> list[str]:
        return [", ".join(f"{n} {s:.1%}" for n, s in zip(JUDGE_CLASSES, self.shares)),
                f"accepted (a shape, confidence >= 0.9): {self.accepted:.1%}; judge FD {self.judge_fd:.3f}"]


def summarise(samples: JudgeVerdict, real: JudgeVerdict) -> CoverageSummary:
    """The coverage figures of samples, with real sprites' judge features as the FD reference."""
    return CoverageSummary(tuple(float(s) for s in class_shares(samples.classes)),
                           float(samples.accepted.mean()) if len(samples.probs) else 0.0,
                           judge_fd(samples.features, real.features))


REAL_SEEDS = (99, 98)  # the real sprites of the FD reference, and a second set (their FD is the floor)


def summarise_samples(judge: SpriteJudgeNet, samples, reference: JudgeVerdict) -> CoverageSummary:
    """The live figures of a generator's grid: samples (B, C, S, S) in [-1, 1] (a torch tensor), reference
    from real_reference (computed once). ~15-30 ms for 36 sprites on one CPU thread."""
    return summarise(judge_images(judge, model_range_to_uint8(samples)), reference)


def real_reference(judge: SpriteJudgeNet, n: int = 1000, seed: int = REAL_SEEDS[0]) -> JudgeVerdict:
    """The judge's view of n real sprites: the reference of the judge FD (compute once, keep it)."""
    return judge_images(judge, sprite_arrays(n, seed)[0])


def coverage_report(judge: SpriteJudgeNet, samples: np.ndarray, n_real: int = 1000) -> dict[str, dict]:
    """Figures of generated sprites (N, S, S, 3) uint8 and of real sprites, as a JSON-ready dict:
    per-class shares, accepted share and judge FD against the same reference set of real sprites."""
    ref = real_reference(judge, n_real)
    other = real_reference(judge, n_real, REAL_SEEDS[1])

    def as_dict(s: CoverageSummary) -> dict:
        return {"shares": dict(zip(JUDGE_CLASSES, (round(x, 4) for x in s.shares))),
                "accepted": round(s.accepted, 4), "judge_fd": round(s.judge_fd, 4)}

    return {"samples": as_dict(summarise(judge_images(judge, samples), ref)),
            "real_sprites": as_dict(summarise(other, ref))}


def plural(name: str) -> str:
    """'circle' -> 'circles', 'cross' -> 'crosses'."""
    return name + ("es" if name.endswith(("s", "x", "sh", "ch")) else "s")


@dataclass(frozen=True)
class CollapseConfig:
    min_step: int = 100  # an untrained G draws near-identical noise: no warning before this step
    dominant_share: float = 0.5  # one shape class above this share of the samples
    absent_points: int = 5  # a shape class at 0 for this many grids in a row
    not_shape_share: float = 0.5  # "not a shape" above this share ...
    not_shape_min_step: int = 2000  # ... this late in training
    diversity_floor: float = 0.35  # diversity ratio (samples / real) below this
    diversity_drop: float = 0.5  # or below this fraction of its best value since min_step


def collapse_warnings(steps: np.ndarray, shares: np.ndarray, diversity: np.ndarray,
                      cfg: CollapseConfig = CollapseConfig()) -> tuple[HealthWarning, ...]:
    """steps (M,) and shares (M, 7): the judge's class shares of the fixed-noise grid at each step;
    diversity (K, 2): [step, diversity ratio] points (models.gan.health.diversity_ratio)."""
    out: list[HealthWarning] = []
    steps = np.asarray(steps)
    shares = np.asarray(shares, np.float64).reshape(len(steps), -1 if len(steps) else len(JUDGE_CLASSES))
    keep = steps >= cfg.min_step
    steps, shares = steps[keep], shares[keep]
    if len(steps):
        last = shares[-1]
        top = int(last[:REJECT].argmax())
        if last[top] > cfg.dominant_share:
            out.append(HealthWarning(
                "class_dominates",
                f"{last[top]:.0%} of the samples are {plural(JUDGE_CLASSES[top])}: G is collapsing onto one shape. "
                "Try spectral normalisation, the hinge loss, a lower G learning rate or a new seed."))
        recent = shares[-cfg.absent_points:]
        if len(recent) == cfg.absent_points:
            gone = [JUDGE_CLASSES[c] for c in range(REJECT) if float(recent[:, c].max()) == 0.0]
            if gone:
                what = "recognisable shape" if len(gone) == REJECT else ", no ".join(plural(g) for g in gone)
                out.append(HealthWarning(
                    "class_absent",
                    f"No {what} in the last {cfg.absent_points} sample grids: "
                    "G has dropped part of the data (missing modes)."))
        if steps[-1] >= cfg.not_shape_min_step and last[REJECT] > cfg.not_shape_share:
            out.append(HealthWarning(
                "not_shapes",
                f"{last[REJECT]:.0%} of the samples are not recognisable shapes (blobs, merged or cut shapes) "
                f"after {int(steps[-1]):,} steps."))
    div = np.asarray(diversity, np.float64).reshape(-1, 2)
    div = div[div[:, 0] >= cfg.min_step]
    if len(div):
        now, best = float(div[-1, 1]), float(div[:, 1].max())
        if now < cfg.diversity_floor or now < cfg.diversity_drop * best:
            out.append(HealthWarning(
                "diversity_falling",
                f"The fixed-noise samples are only {now:.0%} as varied as real sprites (best so far {best:.0%}): "
                "G is drawing the same few images for different noise (mode collapse)."))
    return tuple(out)

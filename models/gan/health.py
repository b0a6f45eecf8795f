"""Health checks of a GAN run, computed from its metric history: plain-language warnings for the view."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class HealthConfig:
    d_win_steps: int = 400  # D separating real from fake this long counts as overpowering
    d_win_accuracy: float = 0.98
    explode_factor: float = 50.0  # grad norm this many times its recent median
    explode_absolute: float = 1e3
    collapse_ratio: float = 0.35  # sample diversity / real diversity below this: mode collapse
    collapse_points: int = 3  # ... for this many measurements in a row
    collapse_min_step: int = 300  # an untrained G makes near-identical images: no warning before this step


@dataclass(frozen=True)
class HealthWarning:
    key: str  # "d_overpowers", "exploding_gradients", "mode_collapse"
    text: str


def check_health(d_accuracy: np.ndarray, grad_norms: np.ndarray, diversity: np.ndarray,
                 cfg: HealthConfig = HealthConfig()) -> tuple[HealthWarning, ...]:
    """d_accuracy (N,) per step, grad_norms (N, 2) [G, D] per step, diversity (M, 2) [step, ratio] points."""
    out: list[HealthWarning] = []
    if len(d_accuracy) >= cfg.d_win_steps and float(d_accuracy[-cfg.d_win_steps:].min()) >= cfg.d_win_accuracy:
        out.append(HealthWarning(
            "d_overpowers",
            f"D has told real from fake almost perfectly for {cfg.d_win_steps}+ steps: G gets little useful "
            "signal. Try a lower D learning rate, fewer D steps, or the hinge / WGAN-GP loss."))
    if len(grad_norms) >= 100:
        peak = grad_norms[-10:].max(0)  # (2,) G, D
        usual = np.median(grad_norms[-500:-10], axis=0)  # (2,)
        hit = (peak > cfg.explode_factor * usual) | (peak > cfg.explode_absolute)
        if hit.any():
            who = " and ".join(n for n, h in zip(("G", "D"), hit) if h)
            out.append(HealthWarning(
                "exploding_gradients",
                f"Gradients of {who} jumped far above their usual size: training may blow up. "
                "Lower the learning rates or raise Adam's beta2."))
    recent = diversity[-cfg.collapse_points:]
    if len(recent) == cfg.collapse_points and recent[0, 0] >= cfg.collapse_min_step and \
            float(recent[:, 1].max()) < cfg.collapse_ratio:
        out.append(HealthWarning(
            "mode_collapse",
            f"The fixed-noise samples are only {float(recent[-1, 1]):.0%} as varied as real images: G may be collapsing "
            "onto a few outputs. Try a lower G learning rate, a different loss or a new seed."))
    return tuple(out)


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean L2 distance between all pairs of images (B, C, S, S), compared at 16x16 so fine noise counts less."""
    x = F.adaptive_avg_pool2d(images.float(), 16).flatten(1)  # (B, C*256)
    d = torch.cdist(x, x)  # (B, B)
    b = x.shape[0]
    return float(d.sum() / max(b * (b - 1), 1))


def diversity_ratio(samples: torch.Tensor, real: torch.Tensor) -> float:
    """How varied the samples are relative to real images: ~1 healthy, near 0 collapsed to one image."""
    return mean_pairwise_distance(samples) / max(mean_pairwise_distance(real), 1e-8)

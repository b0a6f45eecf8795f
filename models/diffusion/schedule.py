"""Noise schedules and the closed-form forward process q(x_t | x_0) (Ho et al. 2020).

No torch import at module level: the tab's forward view uses the numpy parts on the GUI thread.
Timesteps are 0-based: t = 0 is the first noising step, t = T - 1 the last. ``alpha_bar[t]`` is the
product of (1 - beta_s) for s <= t; ``alpha_bar_prev(t)`` is 1 for t = 0 (the clean image).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class NoiseSchedule:
    name: str
    betas: np.ndarray  # (T,) float64

    @property
    def num_steps(self) -> int:
        return int(self.betas.shape[0])

    @property
    def alphas(self) -> np.ndarray:  # (T,)
        return 1.0 - self.betas

    @property
    def alpha_bar(self) -> np.ndarray:  # (T,)
        return np.cumprod(self.alphas)

    def alpha_bar_prev(self, t: int) -> float:
        return 1.0 if t <= 0 else float(self.alpha_bar[t - 1])

    @property
    def snr(self) -> np.ndarray:  # (T,) signal-to-noise ratio alpha_bar / (1 - alpha_bar)
        ab = self.alpha_bar
        return ab / np.maximum(1.0 - ab, 1e-20)

    def tensors(self, device="cpu") -> "ScheduleTensors":
        import torch
        return ScheduleTensors(
            betas=torch.tensor(self.betas, dtype=torch.float32, device=device),
            alpha_bar=torch.tensor(self.alpha_bar, dtype=torch.float32, device=device),
        )


@dataclass(frozen=True)
class ScheduleTensors:
    betas: "torch.Tensor"  # (T,)  # noqa: F821
    alpha_bar: "torch.Tensor"  # (T,)  # noqa: F821


def linear_schedule(num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                    scale_to_steps: bool = True) -> NoiseSchedule:
    """Ho et al.'s linear betas. With scale_to_steps the 1000-step endpoints are scaled by 1000 / T
    (Nichol & Dhariwal 2021), so a shorter chain still ends in (almost) pure noise."""
    scale = 1000.0 / num_steps if scale_to_steps else 1.0
    betas = np.linspace(beta_start * scale, beta_end * scale, num_steps, dtype=np.float64)
    return NoiseSchedule("linear", betas)


def cosine_schedule(num_steps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
    """Nichol & Dhariwal 2021: alpha_bar(t) = cos^2(((t/T + s) / (1 + s)) * pi/2), betas clipped."""
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    betas = [min(1 - f((i + 1) / num_steps) / f(i / num_steps), max_beta) for i in range(num_steps)]
    return NoiseSchedule("cosine", np.asarray(betas, dtype=np.float64))


SCHEDULES: dict[str, Callable[[int], NoiseSchedule]] = {
    "linear": linear_schedule,
    "cosine": cosine_schedule,
}


def make_schedule(name: str, num_steps: int) -> NoiseSchedule:
    try:
        return SCHEDULES[name](num_steps)
    except KeyError:
        raise ValueError(f"Unknown schedule '{name}' (known: {', '.join(SCHEDULES)}).") from None


def schedule_from_alpha_bar(name: str, alpha_bar: np.ndarray) -> NoiseSchedule:
    """A schedule given by its cumulative products (e.g. a diffusers scheduler's alphas_cumprod)."""
    ab = np.asarray(alpha_bar, dtype=np.float64)
    prev = np.concatenate([[1.0], ab[:-1]])
    return NoiseSchedule(name, 1.0 - ab / prev)


def q_sample(x0, t, noise, alpha_bar):
    """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps.  x0, noise: (B, C, H, W); t: (B,) long."""
    ab = alpha_bar[t].view(-1, 1, 1, 1)  # (B, 1, 1, 1)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def predict_x0(x_t, eps_hat, alpha_bar_t):
    """x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t). Tensors (or arrays) of any shape."""
    import torch
    ab = torch.as_tensor(alpha_bar_t, dtype=x_t.dtype, device=x_t.device)
    return (x_t - (1 - ab).sqrt() * eps_hat) / ab.sqrt()


def forward_noising(image01: np.ndarray, schedule: NoiseSchedule, t: int, seed: int = 0):
    """The forward view for any image size: (x_t, noise) as float32 arrays of the image's shape,
    x_t in model units ([-1, 1] signal plus noise). image01: (H, W, C) floats in [0, 1]."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(image01.shape).astype(np.float32)
    ab = float(schedule.alpha_bar[t])
    x0 = image01.astype(np.float32) * 2 - 1
    return (math.sqrt(ab) * x0 + math.sqrt(1 - ab) * noise).astype(np.float32), noise

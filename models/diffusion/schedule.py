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


MAX_BETA = 0.999  # no step may destroy all of the signal: alpha_bar stays > 0 (Nichol & Dhariwal 2021)


def linear_schedule(num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                    scale_to_steps: bool = True, max_beta: float = MAX_BETA) -> NoiseSchedule:
    """Ho et al.'s linear betas. With scale_to_steps the 1000-step endpoints are scaled by 1000 / T
    (Nichol & Dhariwal 2021), so a shorter chain still ends in (almost) pure noise. For T < 20 the scaled
    betas would pass 1 (alpha_bar negative or exactly 0): they are clipped to max_beta, as the cosine ones."""
    scale = 1000.0 / num_steps if scale_to_steps else 1.0
    betas = np.linspace(beta_start * scale, beta_end * scale, num_steps, dtype=np.float64)
    return NoiseSchedule("linear", np.minimum(betas, max_beta))


def cosine_schedule(num_steps: int = 1000, s: float = 0.008, max_beta: float = MAX_BETA) -> NoiseSchedule:
    """Nichol & Dhariwal 2021: alpha_bar(t) = cos^2(((t/T + s) / (1 + s)) * pi/2), betas clipped."""
    f = np.cos((np.arange(num_steps + 1, dtype=np.float64) / num_steps + s) / (1 + s) * math.pi / 2) ** 2  # (T+1,)
    return NoiseSchedule("cosine", np.minimum(1.0 - f[1:] / f[:-1], max_beta))


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


def noised(x0, noise, alpha_bar):
    """q(x_t | x_0) in closed form: x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps. The one place
    this formula is written; works on floats, numpy arrays and torch tensors (alpha_bar broadcast)."""
    return alpha_bar ** 0.5 * x0 + (1 - alpha_bar) ** 0.5 * noise


def q_sample(x0, t, noise, alpha_bar):
    """Training batches: x0, noise (B, C, H, W) tensors; t (B,) long 0-based timesteps; alpha_bar (T,)."""
    return noised(x0, noise, alpha_bar[t].view(-1, 1, 1, 1))  # alpha_bar_t as (B, 1, 1, 1)


def predict_x0(x_t, eps_hat, alpha_bar_t):
    """x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t). Tensors (or arrays) of any shape."""
    import torch
    ab = torch.as_tensor(alpha_bar_t, dtype=x_t.dtype, device=x_t.device)
    return (x_t - (1 - ab).sqrt() * eps_hat) / ab.sqrt()


def forward_noising(x0: np.ndarray, noise: np.ndarray, schedule: NoiseSchedule, steps_taken: int) -> np.ndarray:
    """The forward view: x0 (any shape, model units [-1, 1]) after ``steps_taken`` noising steps (0..T;
    0 is x0 itself, T the last step), with the given noise of x0's shape. Returns float32."""
    steps_taken = min(max(int(steps_taken), 0), schedule.num_steps)
    return np.asarray(noised(x0, noise, np.float32(schedule.alpha_bar_prev(steps_taken))), dtype=np.float32)

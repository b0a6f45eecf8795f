"""DDPM (Ho et al. 2020) and DDIM (Song et al. 2021) sampling as a job that keeps every step.

The step functions are pure tensor formulas (tested against independent computations). The job
``sample_job`` preallocates the whole trajectory as uint8 arrays (x_t, predicted noise, x0_hat for
every step and image) and streams it: each partial result points at the same arrays plus the number of
steps filled so far, so capture costs one small copy per step and the view can scrub any finished step.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..errors import UserFacingError
from ..imaging import tensor_to_uint8_hwc
from ..jobs import JobContext, Progress
from .model import DiffusionModel
from .results import NOISE_RANGE, SamplingPartial, SamplingRequest, SamplingResult, Trajectory, step_text
from .schedule import predict_x0

MAX_TRAJECTORY_BYTES = 2 * 2**30


# ---- the step formulas ---------------------------------------------------------------------------

def ddpm_step(x_t: torch.Tensor, eps_hat: torch.Tensor, alpha_bar_t: float, alpha_bar_prev: float,
              z: torch.Tensor | None, clip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One ancestral step x_t -> x_{t-1} with the posterior q(x_{t-1} | x_t, x0_hat). Returns (x_prev, x0_hat).
    No noise is added when z is None (the last step)."""
    beta_t = 1.0 - alpha_bar_t / alpha_bar_prev
    alpha_t = 1.0 - beta_t
    x0_hat = predict_x0(x_t, eps_hat, alpha_bar_t)
    if clip:
        x0_hat = x0_hat.clamp(-1, 1)
    c0 = beta_t * math.sqrt(alpha_bar_prev) / (1 - alpha_bar_t)
    ct = (1 - alpha_bar_prev) * math.sqrt(alpha_t) / (1 - alpha_bar_t)
    mean = c0 * x0_hat + ct * x_t
    if z is None:
        return mean, x0_hat
    var = beta_t * (1 - alpha_bar_prev) / (1 - alpha_bar_t)
    return mean + math.sqrt(max(var, 0.0)) * z, x0_hat


def ddim_step(x_t: torch.Tensor, eps_hat: torch.Tensor, alpha_bar_t: float, alpha_bar_s: float,
              eta: float, z: torch.Tensor | None, clip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One DDIM step x_t -> x_s (s < t). eta = 0 is deterministic, eta = 1 matches DDPM's variance.
    With clip, x0_hat is clamped and eps recomputed from it so the step stays consistent."""
    x0_hat = predict_x0(x_t, eps_hat, alpha_bar_t)
    if clip:
        x0_hat = x0_hat.clamp(-1, 1)
        eps_hat = (x_t - math.sqrt(alpha_bar_t) * x0_hat) / math.sqrt(1 - alpha_bar_t)
    sigma = eta * math.sqrt((1 - alpha_bar_s) / (1 - alpha_bar_t)) * math.sqrt(max(1 - alpha_bar_t / alpha_bar_s, 0.0))
    x_s = math.sqrt(alpha_bar_s) * x0_hat + math.sqrt(max(1 - alpha_bar_s - sigma**2, 0.0)) * eps_hat
    if z is not None and sigma > 0:
        x_s = x_s + sigma * z
    return x_s, x0_hat


# ---- samplers: which timesteps, and how to step ---------------------------------------------------

@dataclass(frozen=True)
class SamplerSpec:
    title: str
    description: str
    uses_steps: bool  # False: always every timestep of the schedule
    uses_eta: bool
    timesteps: Callable[[int, int], np.ndarray]  # (T, requested steps) -> descending 0-based timesteps
    step: Callable  # (x_t, eps_hat, alpha_bar_t, alpha_bar_s, eta, z, clip) -> (x_s, x0_hat)


def _all_timesteps(T: int, steps: int) -> np.ndarray:
    return np.arange(T - 1, -1, -1, dtype=np.int64)


def _spaced_timesteps(T: int, steps: int) -> np.ndarray:
    steps = max(1, min(int(steps), T))
    return np.unique(np.round(np.linspace(0, T - 1, steps)).astype(np.int64))[::-1].copy()


def _ddpm(x_t, eps_hat, ab_t, ab_s, eta, z, clip):
    return ddpm_step(x_t, eps_hat, ab_t, ab_s, z, clip)


SAMPLERS: dict[str, SamplerSpec] = {
    "ddpm": SamplerSpec("DDPM", "Ancestral sampling through every timestep, fresh noise each step.",
                        False, False, _all_timesteps, _ddpm),
    "ddim": SamplerSpec("DDIM", "Jumps over timesteps; eta 0 is deterministic, eta 1 behaves like DDPM.",
                        True, True, _spaced_timesteps, ddim_step),
}


def to_uint8(x: torch.Tensor, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """(B, C, H, W) model-range tensor -> (B, H, W, C) uint8."""
    return tensor_to_uint8_hwc(x, lo, hi)


def _labels(model: DiffusionModel, req: SamplingRequest) -> np.ndarray | None:
    if not model.conditional or req.class_ids is None:
        return None
    ids = np.asarray(req.class_ids, dtype=np.int64)
    if ids.size == 0 or ids.min() < 0 or ids.max() >= len(model.class_names):
        raise UserFacingError(f"Class ids must be between 0 and {len(model.class_names) - 1}.")
    return np.resize(ids, req.batch)


def _allocate(model: DiffusionModel, req: SamplingRequest, timesteps: np.ndarray, labels) -> Trajectory:
    s, b, hw, c = len(timesteps), req.batch, model.image_size, model.channels
    nbytes = (3 * s + 1) * b * hw * hw * c
    if nbytes > MAX_TRAJECTORY_BYTES:
        raise UserFacingError(f"Keeping every step would need {nbytes / 2**30:.1f} GB: use fewer steps "
                              f"(DDIM) or a smaller batch.")
    shape = (b, hw, hw, c)
    return Trajectory(timesteps=timesteps, x_t=np.zeros((s + 1, *shape), np.uint8),
                      eps_hat=np.zeros((s, *shape), np.uint8), x0_hat=np.zeros((s, *shape), np.uint8),
                      labels=labels, class_names=model.class_names, sampler=req.sampler, guidance=req.guidance)


def plan(model: DiffusionModel, req: SamplingRequest) -> np.ndarray:
    try:
        spec = SAMPLERS[req.sampler]
    except KeyError:
        raise UserFacingError(f"Unknown sampler '{req.sampler}' (known: {', '.join(SAMPLERS)}).") from None
    if req.batch < 1:
        raise UserFacingError("The batch needs at least one image.")
    return spec.timesteps(model.schedule.num_steps, req.steps)


def sample_job(ctx: JobContext, model: DiffusionModel, req: SamplingRequest, capture: bool = True):
    """The reverse process as a job. Yields Progress and SamplingPartial; returns SamplingResult.
    No-grad mode is entered per step, never held across a yield (other jobs share the worker thread)."""
    start = time.perf_counter()
    timesteps = plan(model, req)
    labels_np = _labels(model, req)
    traj = _allocate(model, req, timesteps if capture else timesteps[:0], labels_np)
    dev = torch.device(model.device)
    ab = model.schedule.alpha_bar
    clip = model.clip_sample if req.clip is None else req.clip
    step_fn = SAMPLERS[req.sampler].step
    gen = torch.Generator().manual_seed(int(req.seed))
    shape = (req.batch, model.channels, model.image_size, model.image_size)
    with torch.inference_mode():
        x = torch.randn(shape, generator=gen).to(dev)  # (B, C, H, W)
        labels = torch.as_tensor(labels_np, device=dev) if labels_np is not None else None
        if capture:
            traj.x_t[0] = to_uint8(x)
    last_stream = time.perf_counter()
    n = len(timesteps)
    for i, t in enumerate(timesteps):
        ctx.check_cancelled()
        t = int(t)
        ab_t = float(ab[t])
        ab_s = float(ab[timesteps[i + 1]]) if i + 1 < n else 1.0
        last = i + 1 == n
        with torch.inference_mode():
            eps = model.eps(x, t, labels, req.guidance, torch.tensor(ab_t, device=dev))
            z = None if last else torch.randn(shape, generator=gen).to(dev)
            x_next, x0 = step_fn(x, eps, ab_t, ab_s, req.eta, z, clip)
            if capture:
                traj.eps_hat[i] = to_uint8(eps, -NOISE_RANGE, NOISE_RANGE)
                traj.x0_hat[i] = to_uint8(x0)
                traj.x_t[i + 1] = to_uint8(x_next)
        x = x_next
        now = time.perf_counter()
        if capture and (last or now - last_stream >= req.stream_interval_s):
            last_stream = now
            yield Progress((i + 1) / n, f"{SAMPLERS[req.sampler].title} {step_text(i + 1, n, t)}")
            yield SamplingPartial(traj, i + 1)
    with torch.inference_mode():
        final = to_uint8(x)
    return SamplingResult(trajectory=traj, final=final, seconds=time.perf_counter() - start)


def sample_final(model: DiffusionModel, req: SamplingRequest) -> np.ndarray:
    """Just the final images (B, H, W, C) uint8, no trajectory kept (evaluation, scripts)."""
    from ..jobs import run_to_completion
    result, _ = run_to_completion(sample_job, model, req, capture=False)
    return result.final

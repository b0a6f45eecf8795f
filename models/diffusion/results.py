"""What diffusion jobs send to the GUI: requests and frozen results of CPU numpy arrays. No torch, no Qt,
so the tab can import these types before torch is loaded."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOISE_RANGE = 3.0  # predicted noise is stored from -3 to 3 sigma as 0..255


def step_text(step: int, num_steps: int, t: int) -> str:
    """How a sampling step is named everywhere (status bar, scrubber): 1-based step, the timestep it starts from."""
    return f"step {step}/{num_steps} (t = {t})"


@dataclass(frozen=True)
class SamplingRequest:
    sampler: str = "ddim"
    steps: int = 50  # DDIM only
    eta: float = 0.0  # DDIM only
    seed: int = 0
    batch: int = 16
    class_ids: tuple[int, ...] | None = None  # per image (cycled), None: unconditional
    guidance: float = 2.5  # classifier-free guidance scale (1: plain conditional)
    clip: bool | None = None  # None: the model's default
    stream_interval_s: float = 0.05  # at most one partial result per interval


@dataclass(frozen=True)
class Trajectory:
    """Every step of a run. Arrays are preallocated; while the run goes on, a partial result shares them.
    Position k (0..S) shows x_t[k]; eps_hat/x0_hat of position k are those of step min(k, S - 1)."""

    timesteps: np.ndarray  # (S,) int64, the timestep each step starts from (descending)
    x_t: np.ndarray  # (S + 1, B, H, W, C) uint8; [0] is the starting noise, [S] the final images
    eps_hat: np.ndarray  # (S, B, H, W, C) uint8, noise from -3 to 3 mapped to 0..255
    x0_hat: np.ndarray  # (S, B, H, W, C) uint8
    labels: np.ndarray | None  # (B,) int64
    class_names: tuple[str, ...]
    sampler: str
    guidance: float

    @property
    def num_steps(self) -> int:
        return int(self.timesteps.shape[0])

    @property
    def num_positions(self) -> int:
        return self.num_steps + 1


@dataclass(frozen=True)
class SamplingPartial:
    trajectory: Trajectory
    steps_done: int  # x_t[0 .. steps_done] and eps/x0 [0 .. steps_done - 1] are filled


@dataclass(frozen=True)
class SamplingResult:
    trajectory: Trajectory
    final: np.ndarray  # (B, H, W, C) uint8
    seconds: float


@dataclass(frozen=True)
class TrainingPartial:
    """A live-training report: the latest losses since the previous report and, sometimes, previews."""

    step: int
    steps: np.ndarray  # (K,) int64, the steps these losses belong to
    loss: np.ndarray  # (K,) float32, overall (unweighted MSE) per step
    loss_quarters: np.ndarray  # (K, 4) float32, per quarter of the timestep range (NaN where none sampled)
    previews: np.ndarray | None  # (P, H, W, 3) uint8 sample previews, or None
    preview_labels: tuple[str, ...]
    seconds: float  # training time so far
    paused: bool = False


# registry keys, here so the GUI can name models before torch is loaded
BUNDLED_KEY = "diffusion/bundled-shapes"
DIFFUSERS_KEY = "diffusion/diffusers"


@dataclass(frozen=True)
class ModelInfo:
    """What the tab needs to know about a loaded model to set up its controls."""

    title: str
    class_names: tuple[str, ...]
    num_train_steps: int
    image_size: int
    schedule_name: str

"""The training job: runs a GanTrainer in the worker thread and streams frozen updates to the view.

`train_job(ctx, trainer, control, max_steps)` yields a GanUpdate at most every
`control.min_update_interval_s` (so the GUI never slows training down), plus one whenever a new
sample grid is made, and returns a GanRunEnd saying why it stopped (paused, stopped, single step
done, NaN). Pausing ends the job; resuming starts a new job on the same trainer.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..jobs import JobContext, Progress
from .checkpoint import save_run
from .health import HealthWarning, check_health
from .history import METRICS
from .trainer import GanTrainer, NonFiniteError, StepTimer


# While training, a thread waiting for the GIL takes it after this long (Python's default: 5 ms). The training
# step releases the GIL in every torch op and needs it back between ops; while the GUI thread draws (Python),
# each of those waits would last the full interval and the step would stall for as long as the GUI draws.
GIL_SWITCH_S = float(os.environ.get("VE_GIL_SWITCH_S", "0.0005"))


@dataclass(frozen=True)
class GanUpdate:
    """What changed since the previous update. CPU numpy only."""

    first_step: int  # step number of metrics[0] (steps count from 1)
    metrics: np.ndarray  # (K, len(METRICS)) float32, one row per new step
    diversity: np.ndarray  # (M, 2) float32 new [step, ratio] points
    grid: np.ndarray | None  # (H, W, 3) uint8 fixed-noise samples, when a new one was made
    grid_step: int
    step: int  # current step
    steps_per_s: float
    elapsed_s: float
    health: tuple[HealthWarning, ...]
    message: str = ""  # e.g. "saved to ..."
    saved_step: int = -1  # the step just saved to a file (-1: none saved since the previous update)

    @property
    def steps(self) -> np.ndarray:
        return np.arange(self.first_step, self.first_step + len(self.metrics))


@dataclass(frozen=True)
class GanRunEnd:
    reason: str  # "paused", "stopped", "steps_done", "non_finite"
    step: int
    message: str
    rolled_back_to: int | None = None  # the step the trainer went back to after a NaN/Inf


def _update(trainer: GanTrainer, sent_metrics: int, sent_div: int, grid, timer: StepTimer, message="",
            saved_step: int = -1) -> GanUpdate:
    m = trainer.metrics.view()
    d = trainer.diversity.view()
    tail = m[-600:]  # the checks look at recent steps only: constant cost however long the run
    health = check_health(tail[:, METRICS.index("d_acc")],
                          tail[:, [METRICS.index("grad_g"), METRICS.index("grad_d")]], d)
    return GanUpdate(
        first_step=sent_metrics + 1, metrics=m[sent_metrics:].copy(), diversity=d[sent_div:].copy(),
        grid=grid, grid_step=trainer.step, step=trainer.step, steps_per_s=timer.steps_per_s(),
        elapsed_s=timer.elapsed, health=health, message=message, saved_step=saved_step)


def train_job(ctx: JobContext, trainer: GanTrainer, control, max_steps: int | None = None):
    """Train until paused/stopped/cancelled, NaN, or max_steps more steps are done."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is fastest, and spinning threads hurt on busy CPUs
    switch = sys.getswitchinterval()
    sys.setswitchinterval(min(switch, GIL_SWITCH_S))
    try:
        return (yield from _train(ctx, trainer, control, max_steps))
    finally:
        torch.set_num_threads(threads)
        sys.setswitchinterval(switch)


def _train(ctx: JobContext, trainer: GanTrainer, control, max_steps: int | None):
    timer = StepTimer(trainer.elapsed_s)
    timer.tick(trainer.step)
    sent_m, sent_d = len(trainer.metrics), len(trainer.diversity)
    target = None if max_steps is None else trainer.step + max_steps
    if not trainer.grids.items or sent_m == 0:  # show the starting point at once
        grid, _ = trainer.make_samples()
        upd = _update(trainer, sent_m, sent_d, grid, timer)
        sent_m, sent_d = len(trainer.metrics), len(trainer.diversity)
        yield upd
    last_yield = time.perf_counter()
    reason, message, rolled = "stopped", "", None
    try:
        while True:
            ctx.check_cancelled()
            if control.pause_requested or (target is not None and trainer.step >= target):
                reason = "stopped" if control.stop_requested else ("paused" if control.pause_requested else "steps_done")
                break
            changes = control.take_hparams()
            if changes:
                trainer.set_hparams(**changes)
            save_path = control.take_save()
            saved, saved_step = "", -1
            if save_path:
                trainer.elapsed_s = timer.elapsed
                save_run(trainer, save_path, timer.elapsed)
                saved, saved_step = f"Saved step {trainer.step} to {save_path}", trainer.step
            trainer.train_step()
            timer.tick(trainer.step)
            grid = None
            if trainer.step % trainer.config.sample_every == 0:
                grid, _ = trainer.make_samples()
            now = time.perf_counter()
            if grid is not None or saved or now - last_yield >= control.min_update_interval_s:
                upd = _update(trainer, sent_m, sent_d, grid, timer, saved, saved_step)
                sent_m, sent_d = len(trainer.metrics), len(trainer.diversity)
                last_yield = now
                yield upd
    except NonFiniteError as exc:
        reason, message, rolled = "non_finite", str(exc), trainer.step
        sent_m = min(sent_m, len(trainer.metrics))
        sent_d = min(sent_d, len(trainer.diversity))
        control.request_pause()
    trainer.elapsed_s = timer.elapsed
    if len(trainer.metrics) > sent_m or reason != "non_finite":
        yield _update(trainer, sent_m, sent_d, trainer.make_samples()[0] if reason == "steps_done" else None, timer)
    yield Progress(1.0, f"GAN training {reason} at step {trainer.step}")
    return GanRunEnd(reason, trainer.step, message, rolled)

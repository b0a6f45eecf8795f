"""The training job: runs a GanTrainer in the worker thread and streams frozen updates to the view.

`train_job(ctx, trainer, control, max_steps)` yields a GanUpdate at most every
`control.min_update_interval_s` (so the GUI never slows training down), plus one whenever a new
sample grid is made, and returns a GanRunEnd saying why it stopped (paused, stopped, single step
done, NaN). Pausing ends the job; resuming starts a new job on the same trainer.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..jobs import JobContext, Progress
from .checkpoint import save_run
from .coverage import collapse_warnings
from .data import to_uint8_hwc
from .health import HealthWarning, check_health
from .history import METRICS
from .live_judge import Coverage, LiveJudge
from .trainer import GanTrainer, NonFiniteError, StepTimer




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
    coverage: Coverage | None = None  # the judge's view of the newest grid, when one was judged since the last update
    judge_fd: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))  # (J, 2) new [step, FD]

    @property
    def steps(self) -> np.ndarray:
        return np.arange(self.first_step, self.first_step + len(self.metrics))


@dataclass(frozen=True)
class GanRunEnd:
    reason: str  # "paused", "stopped", "steps_done", "non_finite"
    step: int
    message: str
    rolled_back_to: int | None = None  # the step the trainer went back to after a NaN/Inf


def _health(trainer: GanTrainer) -> tuple[HealthWarning, ...]:
    """The metric checks and the judge's collapse checks (class shares and diversity of the recent grids)."""
    tail = trainer.metrics.view()[-600:]  # the checks look at recent steps only: constant cost however long the run
    d = trainer.diversity.view()
    health = check_health(tail[:, METRICS.index("d_acc")],
                          tail[:, [METRICS.index("grad_g"), METRICS.index("grad_d")]], d)
    cov = trainer.coverage.view()[-50:]  # (J, 2 + classes)
    collapse = collapse_warnings(cov[:, 0], cov[:, 2:], d[-50:])
    if any(w.key == "diversity_falling" for w in collapse):  # the same finding, said once
        health = tuple(w for w in health if w.key != "mode_collapse")
    return health + collapse


def _judge(trainer: GanTrainer, judge: LiveJudge | None) -> Coverage | None:
    """Score the newest grid's samples (recorded in trainer.coverage); None without a judge."""
    if judge is None or trainer.last_samples is None or len(trainer.last_samples) < 2:
        return None
    cov = judge.assess(trainer.step, trainer.last_samples)
    trainer.coverage.extend(cov.row()[None])
    return cov


def _update(trainer: GanTrainer, sent_metrics: int, sent_div: int, grid, timer: StepTimer, message="",
            saved_step: int = -1, coverage: Coverage | None = None, sent_cov: int = 0) -> GanUpdate:
    m = trainer.metrics.view()
    d = trainer.diversity.view()
    fd = trainer.coverage.view()[sent_cov:, :2].copy()  # (J, 2) [step, judge FD]
    return GanUpdate(
        first_step=sent_metrics + 1, metrics=m[sent_metrics:].copy(), diversity=d[sent_div:].copy(),
        grid=grid, grid_step=trainer.step, step=trainer.step, steps_per_s=timer.steps_per_s(),
        elapsed_s=timer.elapsed, health=_health(trainer), message=message, saved_step=saved_step,
        coverage=coverage, judge_fd=fd)


def train_job(ctx: JobContext, trainer: GanTrainer, control, max_steps: int | None = None, judge_on: bool = True):
    """Train until paused/stopped/cancelled, NaN, or max_steps more steps are done. judge_on: score each new
    sample grid with the sprite judge (coverage histogram, judge FD, collapse warnings)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is fastest, and spinning threads hurt on busy CPUs
    try:  # (the worker service shortens the GIL switch interval while jobs run, see app/worker_service.py)
        return (yield from _train(ctx, trainer, control, max_steps, judge_on))
    finally:
        torch.set_num_threads(threads)


def _train(ctx: JobContext, trainer: GanTrainer, control, max_steps: int | None, judge_on: bool):
    judge = LiveJudge.load() if judge_on else None
    timer = StepTimer(trainer.elapsed_s)
    timer.tick(trainer.step)
    sent_m, sent_d, sent_c = len(trainer.metrics), len(trainer.diversity), len(trainer.coverage)
    target = None if max_steps is None else trainer.step + max_steps
    if not trainer.grids.items or sent_m == 0:  # show the starting point at once
        grid, _ = trainer.make_samples()
        upd = _update(trainer, sent_m, sent_d, grid, timer, coverage=_judge(trainer, judge), sent_cov=sent_c)
        sent_m, sent_d, sent_c = len(trainer.metrics), len(trainer.diversity), len(trainer.coverage)
        yield upd
    elif judge is not None and trainer.last_samples is None:  # a loaded run: judge G as it is now
        trainer.last_samples = to_uint8_hwc(trainer.sample())
        upd = _update(trainer, sent_m, sent_d, None, timer, coverage=_judge(trainer, judge), sent_cov=sent_c)
        sent_m, sent_d, sent_c = len(trainer.metrics), len(trainer.diversity), len(trainer.coverage)
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
            grid, cov = None, None
            if trainer.step % trainer.config.sample_every == 0:
                grid, _ = trainer.make_samples()
                cov = _judge(trainer, judge)
            now = time.perf_counter()
            if grid is not None or saved or now - last_yield >= control.min_update_interval_s:
                upd = _update(trainer, sent_m, sent_d, grid, timer, saved, saved_step, cov, sent_c)
                sent_m, sent_d, sent_c = len(trainer.metrics), len(trainer.diversity), len(trainer.coverage)
                last_yield = now
                yield upd
    except NonFiniteError as exc:
        reason, message, rolled = "non_finite", str(exc), trainer.step
        sent_m = min(sent_m, len(trainer.metrics))
        sent_d = min(sent_d, len(trainer.diversity))
        sent_c = min(sent_c, len(trainer.coverage))
        control.request_pause()
    trainer.elapsed_s = timer.elapsed
    if len(trainer.metrics) > sent_m or reason != "non_finite":
        grid, cov = None, None
        if reason == "steps_done":
            grid = trainer.make_samples()[0]
            cov_steps = trainer.coverage.view()[:, 0]
            cov = None if len(cov_steps) and cov_steps[-1] == trainer.step else _judge(trainer, judge)
        yield _update(trainer, sent_m, sent_d, grid, timer, coverage=cov, sent_cov=sent_c)
    yield Progress(1.0, f"GAN training {reason} at step {trainer.step}")
    return GanRunEnd(reason, trainer.step, message, rolled)

"""The data lab's jobs for the worker service (models.jobs protocol): build a run's trainer, train a run live.

`make_trainer_job` yields its slow part (generating or reading the cached images, building the model) as a
`Load`, so the window never waits on it. `lab_run_job` trains an existing trainer step by step: between two
steps it checks cancellation and the pause flag, yields a `Progress` at most every `min_update_s` and the
run's `RunRecord` after each evaluation (the curve grows live), and returns the final record. Pausing ends
the job; a new `lab_run_job` on the same trainer resumes it exactly where it was (same steps, same result as
an uninterrupted run). The per-step overhead is a clock read and two flag checks.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

from ..jobs import JobContext, Load, Progress
from .cache import RunCache
from .control import LabControl
from .data import load_lab_data
from .records import LabRunSpec, RunRecord
from .trainer import LabTrainer
from .unfinished import drop_unfinished, save_unfinished


def lab_run_job(ctx: JobContext, trainer: LabTrainer, control: LabControl, cache: RunCache | None = None,
                min_update_s: float = 0.1) -> Iterator[Progress | RunRecord]:
    """Train `trainer` until done, paused or cancelled; returns its RunRecord (finished ones go to `cache`)."""
    spec = trainer.spec
    last_update = time.monotonic()
    try:
        while not trainer.done:
            ctx.check_cancelled()
            if control.pause_requested:
                break
            if trainer.eval_due:
                trainer.evaluate()
                yield trainer.record
                last_update = time.monotonic()
                continue
            trainer.train(1)
            now = time.monotonic()
            if now - last_update >= min_update_s:
                last_update = now
                yield Progress(trainer.step / spec.steps, f"step {trainer.step}/{spec.steps}")  # the title names the run
    finally:  # stopped (the window closes, or Cancel): keep the run so far, Start continues it
        if control.stop_requested and cache is not None:
            save_unfinished(cache.folder, trainer)
    record = trainer.record
    if record.finished and cache is not None:
        cache.put(record)
        drop_unfinished(cache.folder, spec)
    return record


def make_trainer_job(ctx: JobContext, spec: LabRunSpec, cache_dir: Path,
                     device: str = "cpu") -> Iterator[Load | Progress]:
    """A LabTrainer for `spec` on the lab's data (generated once into cache_dir, ~20 s; then read in ~1 s)."""
    data = yield Load(lambda: load_lab_data(Path(cache_dir)), "Preparing the lab's images")
    ctx.check_cancelled()
    trainer = yield Load(lambda: LabTrainer(spec, data, device), f"Building {spec.arch}")
    return trainer

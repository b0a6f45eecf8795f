"""Runs that were still training when the window closed: kept so that Start continues them, nothing lost.

`save_unfinished(cache_dir, trainer)` writes `<cache_dir>/unfinished/<key>.pt` (weights, optimizer, random-number
state, step; tensors and plain numbers only, read back with `torch.load(weights_only=True)`) and `<key>.json` (the
curve so far). `build_trainer(spec, data, device, cache_dir)` builds the run's trainer and puts it back where it stopped; a file
that is crafted or does not fit is deleted and the run starts from step 0 (the log says so). `drop_unfinished`
removes them once the run has finished.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..loading import atomic_write
from .cache import read_json, write_json
from .records import LabRecordError, LabRunSpec, RunRecord
from .trainer import LabTrainer

log = logging.getLogger(__name__)
FOLDER = "unfinished"


def _paths(cache_dir: Path, spec: LabRunSpec) -> tuple[Path, Path]:
    folder = Path(cache_dir) / FOLDER
    return folder / f"{spec.key}.pt", folder / f"{spec.key}.json"


def save_unfinished(cache_dir: Path, trainer: LabTrainer) -> bool:
    """Keep a run that has trained some steps and is not done; False when there is nothing to keep."""
    if trainer.done or trainer.step == 0 or trainer.error is not None:
        return False
    weights, curve = _paths(cache_dir, trainer.spec)
    atomic_write(weights, lambda tmp: torch.save(trainer.checkpoint(), tmp))
    write_json(curve, trainer.record.to_json())
    return True


def resume_unfinished(cache_dir: Path, trainer: LabTrainer) -> bool:
    """Continue `trainer` (just built, step 0) from its kept state: True; False when nothing is kept. Raises when
    a kept state does not fit (the trainer may then be half restored: build_trainer builds a fresh one)."""
    weights, curve = _paths(cache_dir, trainer.spec)
    if not weights.is_file() or not curve.is_file():
        return False
    state = torch.load(weights, map_location=trainer.device, weights_only=True)
    if not isinstance(state, dict):
        raise LabRecordError("not a checkpoint")
    trainer.restore(state, RunRecord.from_json(read_json(curve)))
    return True


def build_trainer(spec: LabRunSpec, data, device: str, cache_dir: Path | None) -> LabTrainer:
    """A trainer for `spec`: where it stopped when the window closed mid-run, else from step 0."""
    trainer = LabTrainer(spec, data, device)
    if cache_dir is None:
        return trainer
    try:
        resume_unfinished(cache_dir, trainer)
        return trainer
    except Exception as exc:  # a crafted or broken file: start again from step 0
        log.warning("Ignored the unfinished run %s (%s); it starts again.", spec.key, exc)
        drop_unfinished(cache_dir, spec)
        return LabTrainer(spec, data, device)


def drop_unfinished(cache_dir: Path, spec: LabRunSpec) -> None:
    for path in _paths(cache_dir, spec):
        path.unlink(missing_ok=True)

"""Live training of the sprite DDPM inside the app: a session that survives pauses, and its job.

Pausing ends the job after the current step (the worker thread is then free for sampling); resuming
starts a new job on the same session, so model, EMA, optimiser and curves carry on. Save writes a full
resumable checkpoint (.pt, weights only) plus the EMA weights as safetensors for sampling.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from ..jobs import JobContext, Progress
from ..shapes import SHAPE_CLASSES, sprite_arrays
from .bundled import WEIGHTS_PATH, load_unet_file, save_unet
from .results import TrainingPartial
from .samplers import SamplingRequest, sample_final
from .training import TrainConfig, Trainer, loss_by_quarter, sprites_to_tensor


@dataclass(frozen=True)
class LiveSettings:
    start_from: str = "scratch"  # "scratch" or "bundled" (fine-tune the bundled weights)
    lr: float = 1e-3
    batch: int = 32
    dataset_size: int = 6000
    report_interval_s: float = 0.25
    preview_every_steps: int = 100
    preview_steps: int = 20  # DDIM steps of the previews


class LiveSession:
    """Lives as long as the tab; touched by the worker thread only, except request_pause()."""

    def __init__(self) -> None:
        self.trainer: Trainer | None = None
        self.data: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None
        self._pause = threading.Event()
        self.settings: LiveSettings | None = None

    def request_pause(self) -> None:
        self._pause.set()

    @property
    def started(self) -> bool:
        return self.trainer is not None

    def _ensure(self, settings: LiveSettings, device: str) -> None:
        if self.trainer is not None:
            return
        cfg = TrainConfig(lr=settings.lr, batch=settings.batch, dataset_size=settings.dataset_size, warmup_steps=50,
                          decay_steps=0)
        trainer = Trainer(cfg, device=device)
        if settings.start_from == "bundled":
            bundled = load_unet_file(WEIGHTS_PATH, device)
            trainer.model.load_state_dict(bundled.module.state_dict())
            trainer.ema.load_state_dict(bundled.module.state_dict())
        self.trainer = trainer
        self.settings = settings
        images, labels = sprite_arrays(cfg.dataset_size, seed=cfg.data_seed + 1)
        self.data, self.labels = sprites_to_tensor(images), torch.as_tensor(labels)

    def save(self, path: str | Path) -> Path:
        """path.pt: full resumable state; path.safetensors next to it: the EMA weights for sampling."""
        if self.trainer is None:
            raise CheckpointError("Nothing to save yet: start training first.")
        path = Path(path).with_suffix(".pt")
        self.trainer.save(path)
        save_unet(self.trainer.ema, path.with_suffix(".safetensors"), self.trainer.config.schedule,
                  self.trainer.config.timesteps, extra={"train_steps": self.trainer.step})
        return path

    def load(self, path: str | Path, device: str) -> int:
        path = Path(path)
        try:
            state = torch.load(path, map_location=device, weights_only=True)
            config = TrainConfig.from_dict(state["config"])
        except Exception as exc:  # noqa: BLE001 - unreadable or foreign file
            raise CheckpointError(f"{path.name} is not a training checkpoint of this app ({type(exc).__name__}).") from None
        trainer = Trainer(config, device=device)
        trainer.load_state_dict(state)
        self.trainer = trainer
        self.settings = LiveSettings(lr=config.lr, batch=config.batch, dataset_size=config.dataset_size)
        images, labels = sprite_arrays(config.dataset_size, seed=config.data_seed + 1)
        self.data, self.labels = sprites_to_tensor(images), torch.as_tensor(labels)
        return trainer.step


def _previews(trainer: Trainer, steps: int, seed: int) -> np.ndarray:
    model = trainer.diffusion_model(use_ema=True)
    req = SamplingRequest(sampler="ddim", steps=steps, seed=seed, batch=len(SHAPE_CLASSES),
                          class_ids=tuple(range(len(SHAPE_CLASSES))), guidance=2.5)
    return sample_final(model, req)


def train_job(ctx: JobContext, session: LiveSession, settings: LiveSettings, max_steps: int | None = None):
    """Train until paused, cancelled or max_steps more steps; yields TrainingPartial reports."""
    yield Progress(None, "Preparing training data")
    session._pause.clear()
    session._ensure(settings, ctx.device)
    tr = session.trainer
    gen = torch.Generator().manual_seed(tr.step)
    steps, losses, quarters = [], [], []
    last_report = time.perf_counter()
    first = tr.step
    preview = None
    while not session._pause.is_set() and (max_steps is None or tr.step - first < max_steps):
        ctx.check_cancelled()
        idx = torch.randint(0, len(session.data), (tr.config.batch,), generator=gen)
        _, mse, t = tr.train_step(session.data[idx], session.labels[idx])
        steps.append(tr.step)
        losses.append(float(mse.mean()))
        quarters.append(loss_by_quarter(mse, t, tr.config.timesteps))
        if tr.step % settings.preview_every_steps == 0:
            preview = _previews(tr, settings.preview_steps, seed=0)
        now = time.perf_counter()
        if now - last_report >= settings.report_interval_s or preview is not None:
            last_report = now
            yield _report(tr, steps, losses, quarters, preview, paused=False)
            steps, losses, quarters, preview = [], [], [], None
    final = _previews(tr, settings.preview_steps, seed=0)
    return _report(tr, steps, losses, quarters, final, paused=True)


def _report(tr: Trainer, steps, losses, quarters, preview, paused: bool) -> TrainingPartial:
    return TrainingPartial(step=tr.step, steps=np.asarray(steps, np.int64), loss=np.asarray(losses, np.float32),
                           loss_quarters=np.asarray(quarters, np.float32).reshape(-1, 4), previews=preview,
                           preview_labels=SHAPE_CLASSES, seconds=tr.train_seconds, paused=paused)


def save_job(ctx: JobContext, session: LiveSession, path: str):
    yield Progress(None, "Saving the training checkpoint")
    return str(session.save(path))


def load_job(ctx: JobContext, session: LiveSession, path: str):
    yield Progress(None, f"Loading {Path(path).name}")
    return session.load(path, ctx.device)

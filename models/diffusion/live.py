"""Live training of the sprite DDPM inside the app: a session that survives pauses, and its job.

Pausing ends the job after the current step (the worker thread is then free for sampling); resuming
starts a new job on the same session, so model, EMA, optimiser and curves carry on. Save writes a full
resumable checkpoint (weights only, EMA included) to exactly the path the user confirmed.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..config_checks import ConfigReader, check_finite
from ..errors import CheckpointError
from ..jobs import JobContext, Load, Progress
from ..loading import atomic_write, load_into, read_torch_weights
from ..shapes import SHAPE_CLASSES, sprite_arrays
from .bundled import MAX_TIMESTEPS, WEIGHTS_PATH, load_unet_file, unet_config_from_dict
from .results import TrainingPartial
from .samplers import SamplingRequest, sample_final
from .schedule import SCHEDULES
from .training import TrainConfig, Trainer, loss_by_quarter, sprites_to_tensor

MAX_DATASET_SIZE = 60_000  # sprites drawn for training (the command-line default); ~12 s to draw on 2 cores


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
            load_into(trainer.model, bundled.module.state_dict(), "the DDPM to fine-tune")
            load_into(trainer.ema, bundled.module.state_dict(), "the DDPM to fine-tune")
        self.trainer = trainer
        self.settings = settings
        images, labels = sprite_arrays(cfg.dataset_size, seed=cfg.data_seed + 1)
        self.data, self.labels = sprites_to_tensor(images), torch.as_tensor(labels)

    def save(self, path: str | Path) -> Path:
        """Exactly `path` (the name the user confirmed): the full resumable state, EMA weights included.
        Written through a private temp file beside it; nothing else is written, overwritten or deleted,
        except temp files a crash of an earlier save of this path left behind."""
        if self.trainer is None:
            raise CheckpointError("Nothing to save yet: start training first.")
        state = self.trainer.state_dict()
        return atomic_write(Path(path), lambda tmp: torch.save(state, tmp))

    def load(self, path: str | Path, device: str) -> int:
        return self.adopt(read_checkpoint(path, device))

    def adopt(self, loaded: LoadedCheckpoint) -> int:
        """Take over a checkpoint read by read_checkpoint (on the job's thread); returns its step."""
        self.trainer, self.settings, self.data, self.labels = loaded
        return self.trainer.step


LoadedCheckpoint = tuple  # (Trainer, LiveSettings, data (N, 3, S, S), labels (N,))


def read_checkpoint(path: str | Path, device: str) -> LoadedCheckpoint:
    """A training checkpoint rebuilt as (trainer, settings, data, labels), touching no session: it runs off the
    GPU job queue (``yield Load``), and the job hands the result to LiveSession.adopt."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"'{path}' does not exist.")
    state = read_torch_weights(path)
    where = f"'{path.name}'"
    if not isinstance(state, dict) or not {"config", "model", "ema", "opt"} <= set(state):
        raise CheckpointError(f"{where} is not a training checkpoint of this app (save one with 'Save checkpoint').")
    config = train_config_from_dict(state["config"], where)  # checked before any tensor is built
    r = ConfigReader(state, where)
    step, seconds = r.integer("step", 0, 10**9), r.number("train_seconds", 0.0, 1e9, 0.0)
    trainer = Trainer(config, device=device)
    load_into(trainer.model, _tensors(state["model"], where), f"the DDPM being trained ({path.name})")
    load_into(trainer.ema, _tensors(state["ema"], where), f"the EMA weights ({path.name})")
    try:
        opt_state = state["opt"]["state"]
        check_finite({f"opt.{i}.{k}": v for i, s in opt_state.items() for k, v in s.items()}, where)
        trainer.opt.load_state_dict(state["opt"])
        trainer.gen.set_state(state["gen"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise CheckpointError(f"{where} is incomplete: its optimiser or random state does not fit "
                              f"({type(exc).__name__}).") from None
    trainer.step, trainer.train_seconds = step, seconds
    settings = LiveSettings(lr=config.lr, batch=config.batch, dataset_size=config.dataset_size)
    images, labels = sprite_arrays(config.dataset_size, seed=config.data_seed + 1)
    return trainer, settings, sprites_to_tensor(images), torch.as_tensor(labels)


def _tensors(obj: object, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{where} is not a training checkpoint of this app (its weights are not tensors).")
    return obj


def train_config_from_dict(data: object, where: str) -> TrainConfig:
    """The training settings of a checkpoint, every field checked (CheckpointError) before anything is built."""
    r, d = ConfigReader(data, where), TrainConfig()
    unet = unet_config_from_dict(data.get("unet") if isinstance(data, dict) else None, where)
    return TrainConfig(
        unet=unet, schedule=r.choice("schedule", SCHEDULES, d.schedule),
        timesteps=r.integer("timesteps", 1, MAX_TIMESTEPS, d.timesteps), lr=r.number("lr", 1e-8, 1.0, d.lr),
        warmup_steps=r.integer("warmup_steps", 0, 10**7, d.warmup_steps),
        decay_start=r.integer("decay_start", 0, 10**9, d.decay_start),
        decay_steps=r.integer("decay_steps", 0, 10**9, d.decay_steps),
        min_lr_ratio=r.number("min_lr_ratio", 0.0, 1.0, d.min_lr_ratio),
        weight_decay=r.number("weight_decay", 0.0, 1.0, d.weight_decay), batch=r.integer("batch", 1, 1024, d.batch),
        ema_decay=r.number("ema_decay", 0.0, 1.0, d.ema_decay),
        label_dropout=r.number("label_dropout", 0.0, 1.0, d.label_dropout),
        min_snr_gamma=r.number("min_snr_gamma", 0.0, 1000.0, d.min_snr_gamma),
        grad_clip=r.number("grad_clip", 0.0, 1e6, d.grad_clip),
        dataset_size=r.integer("dataset_size", 1, MAX_DATASET_SIZE, d.dataset_size),
        data_seed=r.integer("data_seed", 0, 2**31 - 1, d.data_seed))


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
    """The checkpoint is read and rebuilt off the GPU job queue (a slow disk cannot hold other jobs); the
    session takes it over here, on the job's thread."""
    yield Progress(None, f"Loading {Path(path).name}")
    loaded = yield Load(partial(read_checkpoint, path, ctx.device), f"Loading {Path(path).name}")
    return session.adopt(loaded)

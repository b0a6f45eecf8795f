"""The jobs the Diffusion tab submits to the worker: load a model, sample with it, use live weights.
Models are cached per (spec, source, device) in models.model_cache."""
from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

from ..jobs import JobContext, Progress
from ..model_cache import MODEL_CACHE
from ..registry import ModelSource, SourceKind, get
from . import specs  # noqa: F401  (registers the diffusion models)
from .live import LiveSession
from .model import DiffusionModel
from .results import BUNDLED_KEY, ModelInfo, SamplingRequest
from .samplers import sample_job


def get_model(key: str, source: ModelSource, device: str, progress=None) -> DiffusionModel:
    spec = get(key)
    return MODEL_CACHE.get(("diffusion", key, source, device), device, lambda d: spec.load(source, d, progress))


def model_job(key: str, source: ModelSource, device: str):
    """Job step (``yield from``): the cached model, else loaded on the worker service's loader thread."""
    spec = get(key)
    return MODEL_CACHE.load_job(("diffusion", key, source, device), device, lambda d: spec.load(source, d),
                                "Loading the diffusion model")


def info_of(model: DiffusionModel) -> ModelInfo:
    return ModelInfo(title=model.title, class_names=tuple(model.class_names),
                     num_train_steps=model.schedule.num_steps, image_size=model.image_size,
                     schedule_name=model.schedule.name)


def load_model_job(ctx: JobContext, key: str, source: ModelSource):
    yield Progress(None, "Loading the diffusion model")
    return info_of((yield from model_job(key, source, ctx.device)))


def sample_with_job(ctx: JobContext, key: str, source: ModelSource, req: SamplingRequest):
    yield Progress(None, "Loading the diffusion model")
    model = yield from model_job(key, source, ctx.device)
    return (yield from sample_job(ctx, model, req))


class PrivateTempDir:
    """A folder only this user can read (mkdtemp: random name, mode 0700), made when first needed and
    removed when the process exits (or by remove())."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self._path: Path | None = None
        self._lock = threading.Lock()

    def path(self) -> Path:
        with self._lock:
            if self._path is None or not self._path.is_dir():
                self._path = Path(tempfile.mkdtemp(prefix=self.prefix))
            return self._path

    def remove(self) -> None:
        with self._lock:
            if self._path is not None:
                shutil.rmtree(self._path, ignore_errors=True)
                self._path = None


LIVE_WEIGHTS_DIR = PrivateTempDir("vision-explorer-live-")
atexit.register(LIVE_WEIGHTS_DIR.remove)


def live_weights_job(ctx: JobContext, session: LiveSession):
    """Save the live session's EMA weights to a private temporary file: a checkpoint source to sample from.
    Only the latest one is kept (the tab switches to it); the folder is removed when the app exits."""
    yield Progress(None, "Taking the trained weights")
    from .bundled import save_unet
    tr = session.trainer
    folder = LIVE_WEIGHTS_DIR.path()
    for old in folder.glob("live-ddpm-step*.safetensors"):
        old.unlink(missing_ok=True)
    path = folder / f"live-ddpm-step{tr.step}.safetensors"
    save_unet(tr.ema, path, tr.config.schedule, tr.config.timesteps, extra={"train_steps": tr.step})
    return ModelSource(SourceKind.CHECKPOINT, str(path))


BUNDLED_SOURCE = ModelSource(SourceKind.BUNDLED)
__all__ = ["BUNDLED_KEY", "BUNDLED_SOURCE", "get_model", "load_model_job", "sample_with_job", "live_weights_job"]

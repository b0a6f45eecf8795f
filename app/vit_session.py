"""The ViT session: one captured forward per (image, model), shared by the Attention and Patches tabs.

Stable API (the Patch embeddings tab builds on it):

    session = shared_session(ctx)            # == ctx.service("vit_session", lambda: ViTSession(ctx))
    session.result_ready.connect(slot)       # slot(result: models.vit.result.ViTForwardResult), GUI thread
    session.result                           # the last ViTForwardResult, or None
    session.set_image(image)                 # (H, W, 3) uint8; same as request(image)
    session.request(image)                   # no-op if this image + model is already computed or running
    session.set_model(key, source=None, input_size=None)  # a registry key (task "vit"); re-runs the image
    session.is_busy()                        # True while a forward for the current request runs
    session.model_changed (str title), session.busy_changed (bool), session.failed (str message)

The forward runs through ``ctx.worker`` (channel "vit"): the model is loaded (and cached, see
models.model_cache) on a loader thread of the worker service, so a slow load or download never holds up
other tabs' jobs, and cancelling it (or choosing another model) takes effect at once; the result is a
frozen dataclass of numpy arrays, and every view redraws from ``session.result`` without running the model again.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from .context import AppContext

CHANNEL = "vit"
DEFAULT_MODEL = "vit/bundled-shapes"


@dataclass(frozen=True)
class ModelChoice:
    key: str  # registry key
    source_kind: str | None = None  # models.registry.SourceKind value; None: the spec's default source
    ref: str = ""  # hub id, folder, checkpoint path or timm name (when the source needs one)
    input_size: int | None = None  # square input side; None: the model's own

    def label(self) -> str:
        return f"{self.key} [{self.source_kind or 'default'}{': ' + self.ref if self.ref else ''}]"


def vit_forward_job(ctx, choice: ModelChoice, image: np.ndarray):
    """Job: load (or reuse) the chosen ViT on the worker thread, then one captured forward."""
    from models.jobs import Progress
    from models.model_cache import MODEL_CACHE
    from models.registry import ModelSource, SourceKind, get
    from models.vit import specs  # noqa: F401  (registers the ViT specs)
    from models.vit.capture import capture_job

    spec = get(choice.key)
    source = spec.default_source if choice.source_kind is None else ModelSource(
        SourceKind(choice.source_kind), choice.ref or spec.default_source.ref)
    yield Progress(None, f"Loading {spec.title}")
    # an uncached model loads on a loader thread (models.jobs.Load): other jobs keep stepping meanwhile
    model = yield from MODEL_CACHE.load_job(("vit", choice.key, source), ctx.device,
                                            lambda dev: spec.load(source, dev), f"Loading {spec.title}")
    ctx.check_cancelled()
    return (yield from capture_job(ctx, model, image, choice.input_size))


def image_digest(image: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).hexdigest() + str(image.shape)


class ViTSession(QObject):
    result_ready = Signal(object)  # ViTForwardResult
    model_changed = Signal(str)  # a short label of the chosen model
    busy_changed = Signal(bool)
    failed = Signal(str)  # the forward or the model load failed (message already shown to the user)

    def __init__(self, ctx: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent if parent is not None else ctx)
        self.ctx = ctx
        self.choice = ModelChoice(DEFAULT_MODEL)
        self.result = None
        self.image: np.ndarray | None = None
        self._done_key: tuple | None = None  # (digest, choice) of self.result
        self._running_key: tuple | None = None
        self._running_id: int | None = None
        ctx.worker.job_ended.connect(self._on_job_ended)

    # ---- requests ---------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        self.request(image)

    def request(self, image: np.ndarray) -> None:
        """Compute the forward of `image` with the chosen model, unless it is already done or running."""
        self.image = image
        key = (image_digest(image), self.choice)
        if key in (self._done_key, self._running_key):
            return
        self._running_key = key
        was_busy = self.is_busy()
        self._running_id = self.ctx.worker.submit(
            vit_forward_job, self.choice, image, channel=CHANNEL, title="Running the ViT",
            on_result=partial(self._on_result, key), on_error=partial(self._on_error, key))
        if self._running_id < 0:  # the worker is shutting down
            self._running_id = self._running_key = None
        elif not was_busy:
            self.busy_changed.emit(True)

    def set_model(self, key: str, source_kind: str | None = None, ref: str = "",
                  input_size: int | None = None) -> None:
        """Choose the model (a registry key of task "vit"); re-runs the current image."""
        choice = ModelChoice(key, source_kind, ref, input_size)
        if choice == self.choice:
            return
        self.choice = choice
        self.model_changed.emit(choice.label())
        if self.image is not None:
            self.request(self.image)

    def rerun(self) -> None:
        """Run the current image again (e.g. after the device changed)."""
        self._done_key = None
        self._running_key = None
        if self.image is not None:
            self.request(self.image)

    def is_busy(self) -> bool:
        return self._running_key is not None

    # ---- delivery (GUI thread) ----------------------------------------------------------------
    @Slot(int)
    def _on_job_ended(self, request_id: int) -> None:
        """Our request finished, failed or was cancelled (its result, if any, is delivered right after)."""
        if request_id == self._running_id:
            self._running_id = None
            self._running_key = None
            self.busy_changed.emit(False)

    def _on_result(self, key: tuple, result) -> None:
        self._done_key = key
        self.result = result
        self.result_ready.emit(result)

    def _on_error(self, key: tuple, message: str) -> None:
        self.ctx.show_error(message)
        self.failed.emit(message)


def shared_session(ctx: AppContext) -> ViTSession:
    """The one ViTSession of this window (the Attention and Patches tabs both use it)."""
    return ctx.service("vit_session", lambda: ViTSession(ctx))

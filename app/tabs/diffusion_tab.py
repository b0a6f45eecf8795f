"""The Diffusion tab: the forward (noising) process, step-by-step sampling with a scrubber, live training.

torch is never imported here: model work runs in jobs (models/diffusion/app_jobs.py, live.py) that are
imported on the worker thread; the views get frozen numpy results. The forward view is plain numpy.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QTabWidget, QVBoxLayout,
                               QWidget)

from models.diffusion.export import save_gif, save_png, save_strip
from models.diffusion.results import (BUNDLED_KEY, DIFFUSERS_KEY, ModelInfo, SamplingPartial, SamplingRequest,
                                      SamplingResult, TrainingPartial)
from models.diffusion.schedule import make_schedule
from models.errors import UserFacingError
from models.registry import ModelSource, SourceKind
from widgets.diffusion_forward import ForwardPage
from widgets.diffusion_reverse import ReversePage
from widgets.diffusion_training import TrainingPage

from .base import TabPage

SAMPLE_CHANNEL = "diffusion"
TRAIN_CHANNEL = "diffusion-train"
FORWARD_MAX_SIDE = 256


# ---- job wrappers: the imports happen on the worker thread, where torch lives -------------------
def _load_model(ctx, key, source):
    from models.diffusion.app_jobs import load_model_job
    return (yield from load_model_job(ctx, key, source))


def _sample(ctx, key, source, req):
    from models.diffusion.app_jobs import sample_with_job
    return (yield from sample_with_job(ctx, key, source, req))


def _train(ctx, holder, settings):
    from models.diffusion.live import LiveSession, train_job
    if holder.get("session") is None:
        holder["session"] = LiveSession()
    return (yield from train_job(ctx, holder["session"], settings))


def _save_live(ctx, holder, path):
    from models.diffusion.live import save_job
    return (yield from save_job(ctx, holder["session"], path))


def _load_live(ctx, holder, path):
    from models.diffusion.live import LiveSession, load_job
    holder["session"] = holder.get("session") or LiveSession()
    return (yield from load_job(ctx, holder["session"], path))


def _live_weights(ctx, holder):
    from models.diffusion.app_jobs import live_weights_job
    return (yield from live_weights_job(ctx, holder["session"]))


def _live_settings(start_from: str):
    from models.diffusion.live import LiveSettings
    # fine-tuning trained weights with the from-scratch rate and a fresh optimiser raised the loss 3x
    return LiveSettings(start_from=start_from, lr=1e-4 if start_from == "bundled" else 1e-3)


PRESETS: tuple[tuple[str, str, ModelSource], ...] = (
    ("Sprite DDPM (bundled weights, 6 classes)", BUNDLED_KEY, ModelSource(SourceKind.BUNDLED)),
    ("Sprite DDPM (random weights)", BUNDLED_KEY, ModelSource(SourceKind.RANDOM)),
    ("diffusers: google/ddpm-cifar10-32 (cache or download)", DIFFUSERS_KEY,
     ModelSource(SourceKind.HUGGINGFACE, "google/ddpm-cifar10-32")),
)
OPEN_CHECKPOINT = "Open a sprite DDPM .safetensors..."
OPEN_DIFFUSERS = "Open a diffusers UNet folder or hub id..."


def resize_for_forward(image: np.ndarray, max_side: int) -> np.ndarray:
    """(H, W, 3) uint8 -> float32 in [-1, 1]; max_side 32 means the model's square 32 x 32 crop."""
    pil = Image.fromarray(image)
    if max_side <= 64:
        s = min(pil.size)
        left, top = (pil.width - s) // 2, (pil.height - s) // 2
        pil = pil.crop((left, top, left + s, top + s)).resize((max_side, max_side), Image.BICUBIC)
    elif max(pil.size) > max_side:
        k = max_side / max(pil.size)
        pil = pil.resize((max(1, round(pil.width * k)), max(1, round(pil.height * k))), Image.BICUBIC)
    return np.asarray(pil, np.float32) / 127.5 - 1.0


def to_uint8(x: np.ndarray, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    return np.clip((x - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


class DiffusionTab(TabPage):
    key = "diffusion"
    title = "Diffusion"

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._choice: tuple[str, ModelSource] = (PRESETS[0][1], PRESETS[0][2])
        self._info: ModelInfo | None = None
        self._sample_rid: int | None = None
        self._load_rid: int | None = None
        self._train_rid: int | None = None
        self._live: dict = {"session": None}
        self._live_started = False
        self._fwd_x0: np.ndarray | None = None
        self._fwd_noise: np.ndarray | None = None
        self._schedule = None

        self.model_box = QComboBox()
        for title, _, _ in PRESETS:
            self.model_box.addItem(title)
        self.model_box.addItem(OPEN_CHECKPOINT)
        self.model_box.addItem(OPEN_DIFFUSERS)
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.model_box)
        top.addWidget(self.model_label, 1)

        self.forward = ForwardPage()
        self.reverse = ReversePage()
        self.training = TrainingPage()
        self.pages = QTabWidget()
        self.pages.addTab(self.forward, "Forward process (noising)")
        self.pages.addTab(self.reverse, "Reverse process (sampling)")
        self.pages.addTab(self.training, "Training")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)

        self.model_box.activated.connect(self._model_chosen)
        self.forward.settings_changed.connect(self._forward_settings)
        self.forward.t_changed.connect(self._forward_t)
        self.reverse.sample_requested.connect(self.sample)
        self.reverse.stop_requested.connect(lambda: self.ctx.worker.cancel(SAMPLE_CHANNEL))
        self.reverse.export_requested.connect(self._export)
        self.training.start_requested.connect(self._start_training)
        self.training.pause_requested.connect(self._pause_training)
        self.training.save_requested.connect(self._save_training)
        self.training.load_requested.connect(self._load_training)
        self.training.use_requested.connect(self._use_training)
        self.ctx.worker.job_ended.connect(self._job_ended)
        self._forward_settings()
        self.reverse.set_model_info(("circle", "square", "triangle", "star", "hexagon", "cross"), 500)
        self._load_current_model()

    # ---- TabPage --------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        super().set_image(image)
        self._forward_settings()

    def is_busy(self) -> bool:
        return self._sample_rid is not None or self._load_rid is not None

    def export_widget(self) -> QWidget:
        return self.pages.currentWidget()

    def prepare_screenshot(self) -> None:
        """A finished short run: DDIM 50 steps of 16 sprites, every class in turn, guidance 2.5."""
        self.pages.setCurrentWidget(self.reverse)
        self.reverse.sampler_box.setCurrentIndex(0)
        self.reverse.steps_box.setValue(50)
        self.reverse.batch_box.setValue(18)
        self.sample(self.reverse.request())

    def shutdown(self) -> None:
        self.reverse.scrubber.pause()
        self.forward.scrubber.pause()
        session = self._live.get("session")
        if session is not None:
            session.request_pause()
        self.ctx.worker.cancel(SAMPLE_CHANNEL)
        self.ctx.worker.cancel(TRAIN_CHANNEL)

    # ---- models ---------------------------------------------------------------------------------
    @Slot(int)
    def _model_chosen(self, index: int) -> None:
        text = self.model_box.itemText(index)
        if index < len(PRESETS):
            self._choice = (PRESETS[index][1], PRESETS[index][2])
        elif text == OPEN_CHECKPOINT:
            path, _ = QFileDialog.getOpenFileName(self, "Sprite DDPM weights", "", "safetensors (*.safetensors)")
            if not path:
                return
            self._choice = (BUNDLED_KEY, ModelSource(SourceKind.CHECKPOINT, path))
        else:
            ref, ok = QInputDialog.getText(self, "diffusers UNet", "Hugging Face id or local folder "
                                           "(saved with save_pretrained):", text="google/ddpm-cifar10-32")
            if not ok or not ref.strip():
                return
            self._choice = (DIFFUSERS_KEY, ModelSource(SourceKind.HUGGINGFACE, ref.strip()))
        self._load_current_model()

    def use_model(self, key: str, source: ModelSource) -> None:
        """Switch to a model (also used by tests and by 'Sample with these weights')."""
        self._choice = (key, source)
        self._load_current_model()

    def _load_current_model(self) -> None:
        key, source = self._choice
        self.model_label.setText("Loading...")
        self._load_rid = self.ctx.worker.submit(_load_model, key, source, channel="diffusion-model",
                                                title="Loading diffusion model", on_result=self._on_model,
                                                on_error=self._on_model_error)

    def _on_model(self, info: ModelInfo) -> None:
        self._load_rid = None
        self._info = info
        self.reverse.set_model_info(info.class_names, info.num_train_steps)
        classes = f"{len(info.class_names)} classes" if info.class_names else "unconditional"
        self.model_label.setText(f"{info.title}: {info.image_size} x {info.image_size}, {classes}, "
                                 f"T = {info.num_train_steps} ({info.schedule_name} schedule)")

    def _on_model_error(self, message: str) -> None:
        self._load_rid = None
        if self._choice == (PRESETS[0][1], PRESETS[0][2]):  # no bundled weights (not trained yet): random ones
            self.model_box.setCurrentIndex(1)
            self.use_model(PRESETS[1][1], PRESETS[1][2])
            self.model_label.setText(f"<span style='color:#f28b82'>{message}</span> Using random weights.")
            return
        self.model_label.setText(f"<span style='color:#f28b82'>{message}</span>")
        self.ctx.show_error(message)

    # ---- forward process (numpy, GUI thread) ----------------------------------------------------
    @Slot()
    def _forward_settings(self) -> None:
        self._schedule = make_schedule(self.forward.schedule_name(), self.forward.num_steps())
        s = self._schedule
        self.forward.plots.set_schedule(s.betas, s.alpha_bar, s.snr)
        if self.image is not None:
            self._fwd_x0 = resize_for_forward(self.image, self.forward.max_side())
            rng = np.random.default_rng(self.forward.seed())
            self._fwd_noise = rng.standard_normal(self._fwd_x0.shape).astype(np.float32)
            self.forward.x0.set_image(to_uint8(self._fwd_x0))
            self.forward.noise.set_image(to_uint8(self._fwd_noise, -3, 3))
        labels = ["(clean)"] + [f"(t = {t})" for t in range(1, s.num_steps + 1)]
        pos = min(self.forward.scrubber.position(), s.num_steps) if self.forward.scrubber.maximum() else s.num_steps // 4
        self.forward.scrubber.reset(s.num_steps, labels)
        self.forward.scrubber.set_position(pos)
        self._forward_t(self.forward.scrubber.position())

    @Slot(int)
    def _forward_t(self, t: int) -> None:
        """Position t in 0..T: 0 is the clean image, t >= 1 uses alpha_bar of (0-based) step t - 1."""
        s = self._schedule
        if s is None:
            return
        self.forward.plots.set_cursor(t)
        if self._fwd_x0 is None:
            return
        ab = 1.0 if t == 0 else float(s.alpha_bar[t - 1])
        x_t = math.sqrt(ab) * self._fwd_x0 + math.sqrt(1 - ab) * self._fwd_noise
        self.forward.x_t.set_image(to_uint8(x_t))

    # ---- reverse process ------------------------------------------------------------------------
    @Slot(object)
    def sample(self, req: SamplingRequest) -> None:
        key, source = self._choice
        self.reverse.set_running(True)
        self._sample_rid = self.ctx.worker.submit(
            _sample, key, source, req, channel=SAMPLE_CHANNEL, title=f"Sampling ({req.sampler.upper()})",
            on_partial=self._on_partial, on_result=self._on_sampled, on_error=self._on_sample_error)

    def _on_partial(self, part: SamplingPartial) -> None:
        if self.reverse.trajectory is not part.trajectory:
            self.reverse.start_run(part.trajectory, part.steps_done)
        else:
            self.reverse.update_available(part.steps_done)

    def _on_sampled(self, result: SamplingResult) -> None:
        if self.reverse.trajectory is not result.trajectory:
            self.reverse.start_run(result.trajectory, result.trajectory.num_steps)
        self.reverse.finish_run(result.final, result.seconds)
        self.reverse.scrubber.set_position(result.trajectory.num_steps)
        self._sample_rid = None

    def _on_sample_error(self, message: str) -> None:
        self._sample_rid = None
        self.reverse.set_running(False)
        self.ctx.show_error(message)

    @Slot(int)
    def _job_ended(self, rid: int) -> None:
        if rid == self._sample_rid:  # cancelled (results and errors cleared it already)
            self._sample_rid = None
            self.reverse.set_running(False)
        if rid == self._load_rid:
            self._load_rid = None
        if rid == self._train_rid:
            self._train_rid = None
            self.training.set_running(False, self._live_started)

    @Slot(str)
    def _export(self, kind: str) -> None:
        tr, final = self.reverse.trajectory, self.reverse.final
        if tr is None or final is None:
            return
        filters = {"gif": "GIF (*.gif)", "strip": "PNG (*.png)", "final": "PNG (*.png)"}
        default = {"gif": "diffusion_trajectory.gif", "strip": "diffusion_strip.png", "final": "diffusion_final.png"}
        path, _ = QFileDialog.getSaveFileName(self, "Export", default[kind], filters[kind])
        if path:
            self.export_to(kind, path)

    def export_to(self, kind: str, path: str) -> Path:
        tr = self.reverse.trajectory
        try:
            if kind == "gif":
                out = save_gif(self.reverse.frame, tr.num_positions, path)
            elif kind == "strip":
                out = save_strip(self.reverse.frame, tr.num_positions, path)
            else:
                from widgets.diffusion_views import mosaic
                out = save_png(mosaic(self.reverse.final, self.reverse._columns), path, min_side=256)
        except UserFacingError as exc:
            self.ctx.show_error(str(exc))
            raise
        self.ctx.show_message(f"Saved {out}")
        return out

    # ---- live training ----------------------------------------------------------------------------
    @Slot(str)
    def _start_training(self, start_from: str) -> None:
        if not self._live_started:
            self.training.clear()
        self._live_started = True
        self.training.set_running(True, True)
        self.training.status.setText("Training... (pause to sample or save)")
        self._train_rid = self.ctx.worker.submit(
            _train, self._live, _live_settings(start_from), channel=TRAIN_CHANNEL, title="Training the DDPM",
            on_partial=self._on_train_report, on_result=self._on_train_paused, on_error=self._on_train_error)

    @Slot()
    def _pause_training(self) -> None:
        session = self._live.get("session")
        if session is not None:
            session.request_pause()
        self.training.pause_button.setEnabled(False)
        self.training.status.setText("Pausing after this step...")

    def _on_train_report(self, rep: TrainingPartial) -> None:
        self.training.add_report(rep.steps, rep.loss, rep.loss_quarters)
        if rep.previews is not None:
            self.training.set_previews(rep.previews)
        last = f", loss {rep.loss[-1]:.4f}" if len(rep.loss) else ""
        self.training.status.setText(f"Step {rep.step}{last}, {rep.seconds / 60:.1f} min of training"
                                     f"{' (paused)' if rep.paused else ''}")

    def _on_train_paused(self, rep: TrainingPartial) -> None:
        self._on_train_report(rep)
        self._train_rid = None
        self.training.set_running(False, True)

    def _on_train_error(self, message: str) -> None:
        self._train_rid = None
        self.training.set_running(False, self._live.get("session") is not None)
        self.training.status.setText(message)
        self.ctx.show_error(message)

    @Slot()
    def _save_training(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save training checkpoint", "ddpm_training.pt", "Checkpoint (*.pt)")
        if path:
            self.ctx.worker.submit(_save_live, self._live, path, channel="diffusion-io", title="Saving",
                                   on_result=lambda p: self.ctx.show_message(
                                       f"Saved {p} (and the EMA weights as .safetensors next to it)"))

    @Slot()
    def _load_training(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Resume training", "", "Checkpoint (*.pt)")
        if path:
            self.ctx.worker.submit(_load_live, self._live, path, channel="diffusion-io", title="Loading checkpoint",
                                   on_result=self._on_training_loaded)

    def _on_training_loaded(self, step: int) -> None:
        self._live_started = True
        self.training.clear()
        self.training.set_running(False, True)
        self.training.status.setText(f"Loaded a checkpoint at step {step}: press Resume training.")

    @Slot()
    def _use_training(self) -> None:
        self.ctx.worker.submit(_live_weights, self._live, channel="diffusion-io", title="Taking trained weights",
                               on_result=self._sample_with_live)

    def _sample_with_live(self, source: ModelSource) -> None:
        self.model_box.setCurrentIndex(-1)
        self.use_model(BUNDLED_KEY, source)
        self.pages.setCurrentWidget(self.reverse)

"""The Diffusion tab: the forward (noising) process, step-by-step sampling with a scrubber, live training.

A thin page: it builds the three sub-pages (widgets/diffusion_*.py), forwards what the user does to the
sessions in app/diffusion_session.py (state, schedule, x_t, grids, labels: no Qt, unit-tested) and draws
what they return. torch is never imported here: model work runs in jobs (models/diffusion/app_jobs.py,
live.py) imported on the worker thread.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QTabWidget, QVBoxLayout,
                               QWidget)

from models.diffusion.export import save_gif, save_png, save_strip
from models.diffusion.results import (BUNDLED_KEY, DIFFUSERS_KEY, ModelInfo, SamplingPartial, SamplingResult,
                                      TrainingPartial)
from models.errors import UserFacingError
from models.registry import ModelSource, SourceKind
from widgets.diffusion_forward import ForwardPage
from widgets.diffusion_reverse import ReversePage
from widgets.diffusion_training import TrainingPage

from .. import diffusion_jobs as jobs
from ..diffusion_session import (FORWARD_T_RANGE, ForwardSession, ForwardSettings, ReverseSession, ReverseSettings,
                                 RunView, preview_grid)
from .base import TabPage

SAMPLE_CHANNEL = "diffusion"
TRAIN_CHANNEL = "diffusion-train"


PRESETS: tuple[tuple[str, str, ModelSource], ...] = (
    ("Sprite DDPM (bundled weights, 6 classes)", BUNDLED_KEY, ModelSource(SourceKind.BUNDLED)),
    ("Sprite DDPM (random weights)", BUNDLED_KEY, ModelSource(SourceKind.RANDOM)),
    ("diffusers: google/ddpm-cifar10-32 (cache or download)", DIFFUSERS_KEY,
     ModelSource(SourceKind.HUGGINGFACE, "google/ddpm-cifar10-32")),
)
OPEN_CHECKPOINT = "Open a sprite DDPM .safetensors..."
OPEN_DIFFUSERS = "Open a diffusers UNet folder or hub id..."


class DiffusionTab(TabPage):
    key = "diffusion"
    title = "Diffusion"
    views = ("reverse", "forward", "training")

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._choice: tuple[str, ModelSource] = (PRESETS[0][1], PRESETS[0][2])
        self._info: ModelInfo | None = None
        self._sample_rid: int | None = None
        self._load_rid: int | None = None
        self._train_rid: int | None = None
        self._live: dict = {"session": None}
        self._live_started = False
        self._view_chosen = False
        self.fwd = ForwardSession()
        self.rev = ReverseSession()

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

        self.forward = ForwardPage(t_range=FORWARD_T_RANGE)
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
        self.reverse.position_changed.connect(self._show_position)
        self.reverse.grids_resized.connect(self._grids_resized)
        self.training.start_requested.connect(self._start_training)
        self.training.pause_requested.connect(self._pause_training)
        self.training.save_requested.connect(self._save_training)
        self.training.load_requested.connect(self._load_training)
        self.training.use_requested.connect(self._use_training)
        self.ctx.worker.job_ended.connect(self._job_ended)
        self._forward_settings()
        self._set_model_info(ModelInfo("", ("circle", "square", "triangle", "star", "hexagon", "cross"), 500, 32, ""))
        self._load_current_model()

    # ---- TabPage --------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        super().set_image(image)
        self._forward_settings()

    def is_busy(self) -> bool:
        return self._sample_rid is not None or self._load_rid is not None

    def export_widget(self) -> QWidget:
        return self.pages.currentWidget()

    def show_view(self, view: str) -> None:
        super().show_view(view)
        self._view_chosen = True
        self.pages.setCurrentWidget(self._pages()[view])

    def current_view(self) -> str:
        return next(name for name, page in self._pages().items() if page is self.pages.currentWidget())

    def _pages(self) -> dict[str, QWidget]:
        return {"reverse": self.reverse, "forward": self.forward, "training": self.training}

    def prepare_screenshot(self) -> None:
        """The reverse view (unless another was chosen): a finished run, DDIM 50 steps of 18 sprites, every
        class in turn, guidance 2.5. The forward view needs no work; training shows its idle state."""
        if not self._view_chosen:
            self.show_view(self.views[0])
        if self.current_view() != "reverse":
            return
        self.reverse.sampler_box.setCurrentIndex(0)
        self.reverse.steps_box.setValue(50)
        self.reverse.batch_box.setValue(18)
        self.sample()

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
        self._load_rid = self.ctx.worker.submit(jobs.load_model, key, source, channel="diffusion-model",
                                                title="Loading diffusion model", on_result=self._on_model,
                                                on_error=self._on_model_error)

    def _on_model(self, info: ModelInfo) -> None:
        self._load_rid = None
        self._info = info
        self._set_model_info(info)
        classes = f"{len(info.class_names)} classes" if info.class_names else "unconditional"
        self.model_label.setText(f"{info.title}: {info.image_size} x {info.image_size}, {classes}, "
                                 f"T = {info.num_train_steps} ({info.schedule_name} schedule)")

    def _set_model_info(self, info: ModelInfo) -> None:
        self.rev.set_model(info)
        self.reverse.set_model_info(info.class_names, info.num_train_steps)

    def _on_model_error(self, message: str) -> None:
        self._load_rid = None
        if self._choice == (PRESETS[0][1], PRESETS[0][2]):  # no bundled weights (not trained yet): random ones
            self.model_box.setCurrentIndex(1)
            self.use_model(PRESETS[1][1], PRESETS[1][2])
            self.model_label.setText(f"<span style='color:#f28b82'>{message}</span> Using random weights.")
            return
        self.model_label.setText(f"<span style='color:#f28b82'>{message}</span>")
        self.ctx.show_error(message)

    # ---- forward process (numpy, GUI thread, through the session) ------------------------------------
    @Slot()
    def _forward_settings(self) -> None:
        f = self.forward
        view = self.fwd.configure(ForwardSettings(f.schedule_name(), f.num_steps(), f.max_side(), f.seed()), self.image)
        f.plots.set_schedule(view.steps, view.betas, view.alpha_bar, view.snr)
        f.x0.set_image(self.fwd.clean_image())
        f.noise.set_image(self.fwd.noise_image())
        top = len(view.betas)
        pos = min(f.scrubber.position(), top) if f.scrubber.maximum() else top // 4
        f.scrubber.reset(top, view.labels)
        f.scrubber.set_position(pos)
        self._forward_t(f.scrubber.position())

    @Slot(int)
    def _forward_t(self, t: int) -> None:
        """Position t in 0..T: 0 is the clean image, t the image after t noising steps."""
        frame = self.fwd.frame(t)
        self.forward.plots.set_cursor(frame.position, frame.readout)
        if frame.x_t is not None:
            self.forward.x_t.set_image(frame.x_t)

    # ---- reverse process ------------------------------------------------------------------------
    @Slot()
    def sample(self) -> None:
        """Sample with the reverse page's settings."""
        req = self.rev.request(ReverseSettings(**self.reverse.settings()))
        key, source = self._choice
        self.reverse.set_running(True, False)
        self._sample_rid = self.ctx.worker.submit(
            jobs.sample, key, source, req, channel=SAMPLE_CHANNEL, title=f"Sampling ({req.sampler.upper()})",
            on_partial=self.on_sampling_partial, on_result=self.on_sampling_result, on_error=self._on_sample_error)

    def _draw_run(self, view: RunView) -> None:
        self.reverse.show_run(view.new_run, view.maximum, view.available, view.labels, view.info)

    def on_sampling_partial(self, part: SamplingPartial) -> None:
        """The worker computed more steps of the run (the scrubber follows them unless the user moved it)."""
        self._draw_run(self.rev.on_partial(part))

    def on_sampling_result(self, result: SamplingResult) -> None:
        """The run finished: every position, the final images and the exports become available."""
        self._draw_run(self.rev.on_result(result))
        self._sample_rid = None
        self.reverse.set_running(False, True)

    @Slot(int)
    def _show_position(self, pos: int) -> None:
        if self.rev.available == 0:
            return
        f = self.rev.frame(pos)
        self.reverse.show_grids(f.position, f.x_t, f.x0_hat, f.eps_hat)

    @Slot(float)
    def _grids_resized(self, aspect: float) -> None:
        if self.rev.set_panel_aspect(aspect):  # another grid layout fits better: redraw
            self._show_position(self.reverse.scrubber.position())
            self.reverse.info.setText(self.rev.info_text())

    def _on_sample_error(self, message: str) -> None:
        self._sample_rid = None
        self.reverse.set_running(False, self.rev.finished)
        self.ctx.show_error(message)

    @Slot(int)
    def _job_ended(self, rid: int) -> None:
        if rid == self._sample_rid:  # cancelled (results and errors cleared it already)
            self._sample_rid = None
            self.reverse.set_running(False, self.rev.finished)
        if rid == self._load_rid:
            self._load_rid = None
        if rid == self._train_rid:
            self._train_rid = None
            self.training.set_running(False, self._live_started)

    @Slot(str)
    def _export(self, kind: str) -> None:
        if not self.rev.finished:
            return
        filters = {"gif": "GIF (*.gif)", "strip": "PNG (*.png)", "final": "PNG (*.png)"}
        default = {"gif": "diffusion_trajectory.gif", "strip": "diffusion_strip.png", "final": "diffusion_final.png"}
        path, _ = QFileDialog.getSaveFileName(self, "Export", self.ctx.export_path(default[kind]), filters[kind])
        if path:
            self.export_to(kind, path)

    def export_to(self, kind: str, path: str) -> Path:
        positions = self.rev.trajectory.num_positions
        try:
            if kind == "gif":
                out = save_gif(self.rev.export_frame, positions, path)
            elif kind == "strip":
                out = save_strip(self.rev.export_frame, positions, path)
            else:
                out = save_png(self.rev.final_grid(), path, min_side=256)
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
            jobs.train, self._live, jobs.live_settings(start_from), channel=TRAIN_CHANNEL, title="Training the DDPM",
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
            self.training.set_previews(preview_grid(rep.previews))
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
        path, _ = QFileDialog.getSaveFileName(self, "Save training checkpoint", self.ctx.runs_path("ddpm_training.pt"),
                                              "Checkpoint (*.pt)")
        if path:
            self.ctx.remember_runs(path)
            self.ctx.worker.submit(jobs.save_live, self._live, path, channel="diffusion-io", title="Saving",
                                   on_result=lambda p: self.ctx.show_message(
                                       f"Saved {p}"))

    @Slot()
    def _load_training(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Resume training", self.ctx.runs_path(), "Checkpoint (*.pt)")
        if path:
            self.ctx.remember_runs(path)
            self.ctx.worker.submit(jobs.load_live, self._live, path, channel="diffusion-io", title="Loading checkpoint",
                                   on_result=self._on_training_loaded)

    def _on_training_loaded(self, step: int) -> None:
        self._live_started = True
        self.training.clear()
        self.training.set_running(False, True)
        self.training.status.setText(f"Loaded a checkpoint at step {step}: press Resume training.")

    @Slot()
    def _use_training(self) -> None:
        self.ctx.worker.submit(jobs.use_live_weights, self._live, channel="diffusion-io", title="Taking trained weights",
                               on_result=self._sample_with_live)

    def _sample_with_live(self, source: ModelSource) -> None:
        self.model_box.setCurrentIndex(-1)
        self.use_model(BUNDLED_KEY, source)
        self.pages.setCurrentWidget(self.reverse)

"""The GAN training tab: train a DCGAN live and watch its curves and samples move; a 2-D GAN Lab mode.

The training loop runs in the worker service (channel "gan"); this page only draws what the job
streams (models.gan.job.GanUpdate, at most ~20 per second) and drives the job through a
TrainingControl. torch is imported only inside jobs (on the worker thread).
"""
from __future__ import annotations

import importlib
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QFileDialog, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QPushButton, QRadioButton, QScrollArea, QSplitter,
                               QStackedWidget, QVBoxLayout, QWidget)

from models.gan.catalog import BUNDLED_RUN, DATASET_INFO, LOSS_INFO
from models.gan.control import TrainingControl
from models.gan.toy2d import REAL_SHAPES, ToyConfig, ToyGan, toy_job
from models.gan.toy_numpy import TOY_LOSSES
from widgets.gan_controls import GanSettingsForm
from widgets.gan_toy2d_view import Toy2DView
from widgets.live_curves import LiveCurves
from widgets.sample_grid_history import SampleGridHistory, ScaledImage

from .base import TabPage

CHANNEL = "gan"
TOY_CHANNEL = "gan2d"
METRIC_SERIES = (  # (series name, plot) in the order of models.gan.history.METRICS[:6]
    ("G loss", "Losses"), ("D loss", "Losses"), ("D(x)", "D on real and fake"), ("D(G(z))", "D on real and fake"),
    ("|grad G|", "Gradient norms"), ("|grad D|", "Gradient norms"))
DIVERSITY = ("diversity", "Sample diversity / real diversity")
DEFAULTS = dict(dataset="shapes", data_ref="", image_size=32, latent_size=64, loss="bce", batch_size=64, seed=0,
                d_steps=1, lr_g=2e-4, lr_d=2e-4, beta1_g=0.5, beta2_g=0.999, beta1_d=0.5, beta2_d=0.999,
                sample_every=25)

WHAT_CURVES = ("<b>What am I looking at?</b> Two networks train against each other: D learns to tell real images "
               "from G's fakes, G learns to fool D. Healthy runs look like a tug of war: losses wobble around a level "
               "instead of one side winning, and D(x) and D(G(z)) stay apart but do not reach 1 and 0.")
WHAT_SAMPLES = ("The grid always feeds G the same 36 noise vectors, so you see the same 'imaginary sprites' improve. "
                "Use the slider (or arrow keys) to go back in time. If every cell starts to look alike, G is collapsing "
                "onto a few modes: the diversity curve falls.")
WHAT_TOY = ("<b>What am I looking at?</b> Green points are real data, purple points are G's samples. The background "
            "is D's belief: red where it says 'real', blue where it says 'fake'. White lines show where G's gradient "
            "pushes each sample: uphill on D's map. Train only D to watch the map sharpen, only G to watch points slide.")


def lazy_job(module: str, name: str):
    """A job that imports its (torch-using) module on the worker thread, when it starts."""

    def job(ctx, *args, **kwargs):
        fn = getattr(importlib.import_module(module), name)
        return (yield from fn(ctx, *args, **kwargs))

    job.__name__ = name
    return job


def _fmt_time(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class GanTab(TabPage):
    key = "gan"
    title = "GAN training"

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.control = TrainingControl()
        self.toy_control = TrainingControl(min_update_interval_s=1 / 30)
        self._run: Any = None  # the trainer handle of models.gan.session.RunReady (worker side)
        self._state = "empty"  # empty | loading | ready | running | paused | stopped
        self._structure_dirty = False
        self._loaded_once = False
        self._screenshot_target: int | None = None
        self._grids_since_start = 0
        self._step = 0
        self._toy: ToyGan | None = None
        self._toy_running = False
        self._toy_frames = 0
        self._toy_job_active = False
        self._slow_timer = QTimer(self)
        self._slow_timer.setInterval(200)
        self._slow_timer.timeout.connect(self._toy_slow_tick)

        self.mode_images = QRadioButton("Images (DCGAN)")
        self.mode_toy = QRadioButton("2-D points (GAN Lab)")
        self.mode_images.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.mode_images)
        group.addButton(self.mode_toy)
        self.mode_toy.toggled.connect(self._on_mode)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Mode:</b>"))
        top.addWidget(self.mode_images)
        top.addWidget(self.mode_toy)
        top.addStretch(1)

        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_image_page())
        self.stack.addWidget(self._build_toy_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        self._update_buttons()

    # ================================================================ image mode: layout
    def _build_image_page(self) -> QWidget:
        self.start_btn = QPushButton("Start")
        self.pause_btn = QPushButton("Pause")
        self.step_btn = QPushButton("Step")
        self.stop_btn = QPushButton("Stop")
        self.reset_btn = QPushButton("Reset")
        self.start_btn.setToolTip("Start training, or resume a paused run")
        self.step_btn.setToolTip("Train exactly one step (one G update after the D updates)")
        self.stop_btn.setToolTip("End this run (it can still be saved); Start then begins a new one")
        self.reset_btn.setToolTip("Throw this run away and build a new one from the settings below")
        self.save_btn = QPushButton("Save run…")
        self.load_btn = QPushButton("Load run…")
        self.bundled_btn = QPushButton("Bundled run")
        self.bundled_btn.setToolTip("The DCGAN trained on shape sprites that ships with the app (continue training it)")
        self.start_btn.clicked.connect(self.start)
        self.pause_btn.clicked.connect(self.pause)
        self.step_btn.clicked.connect(self.single_step)
        self.stop_btn.clicked.connect(self.stop)
        self.reset_btn.clicked.connect(self.reset)
        self.save_btn.clicked.connect(self._ask_save)
        self.load_btn.clicked.connect(self._ask_load)
        self.bundled_btn.clicked.connect(self.load_bundled)
        buttons = QGridLayout()
        for i, b in enumerate((self.start_btn, self.pause_btn, self.step_btn, self.stop_btn, self.reset_btn)):
            buttons.addWidget(b, 0 if i < 3 else 1, i % 3)
        io = QHBoxLayout()
        for b in (self.save_btn, self.load_btn, self.bundled_btn):
            io.addWidget(b)

        self.run_label = QLabel("No run yet")
        self.run_label.setWordWrap(True)
        self.run_label.setStyleSheet("font-weight: bold;")
        self.stats_label = QLabel("step 0 · 0.0 steps/s · 0:00")
        self.state_label = QLabel("")
        self.state_label.setWordWrap(True)
        self.state_label.setStyleSheet("color: #9aa0a6;")
        run_box = QGroupBox("Run")
        rb = QVBoxLayout(run_box)
        rb.addLayout(buttons)
        rb.addLayout(io)
        rb.addWidget(self.run_label)
        rb.addWidget(self.stats_label)
        rb.addWidget(self.state_label)

        self.form = GanSettingsForm([(k, v[0]) for k, v in DATASET_INFO.items()],
                                    [(k, v[0]) for k, v in LOSS_INFO.items()], DEFAULTS)
        self.form.live_changed.connect(self._on_live_settings)
        self.form.structure_changed.connect(self._on_structure_settings)
        self.loss_help = QLabel()
        self.loss_help.setWordWrap(True)
        self.loss_help.setStyleSheet("color: #9aa0a6;")
        self.form.loss.currentIndexChanged.connect(self._show_loss_help)
        self._show_loss_help()

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)
        lv.addWidget(run_box)
        lv.addWidget(self.form)
        lv.addWidget(self.loss_help)
        lv.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(left.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)
        scroll.setMaximumWidth(400)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.health = QLabel("")
        self.health.setWordWrap(True)
        self.health.setStyleSheet("background: #5c3b00; color: #ffe0a3; padding: 4px; border-radius: 3px;")
        self.health.setVisible(False)
        self.curves = LiveCurves()
        for name, plot in METRIC_SERIES:
            self.curves.add_series(name, plot=plot)
        self.curves.add_series(DIVERSITY[0], plot=DIVERSITY[1], color=(0, 172, 193))
        what = QLabel(WHAT_CURVES)
        what.setWordWrap(True)
        centre = QWidget()
        cv = QVBoxLayout(centre)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.health)
        cv.addWidget(self.curves, 1)
        cv.addWidget(what)

        self.samples = SampleGridHistory("Samples from fixed noise")
        self.real_view = ScaledImage(min_side=100)
        real_title = QLabel("A real batch")
        real_title.setStyleSheet("font-weight: bold;")
        what_s = QLabel(WHAT_SAMPLES)
        what_s.setWordWrap(True)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.samples, 3)
        rv.addWidget(real_title)
        rv.addWidget(self.real_view, 2)
        rv.addWidget(what_s)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(centre)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        right.setMinimumWidth(260)
        page = QWidget()
        h = QHBoxLayout(page)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(scroll)
        h.addWidget(split, 1)
        self.image_page = page
        return page

    # ================================================================ image mode: actions
    def _config(self) -> Any:
        from models.gan.config import GanConfig, TrainConfig  # torch-free

        v = self.form.values()
        gan = GanConfig(image_size=v["image_size"], latent_size=v["latent_size"],
                        channels=DATASET_INFO[v["dataset"]][1], width=32)
        return TrainConfig(gan=gan, **{k: val for k, val in v.items() if k not in ("image_size", "latent_size")})

    def _submit(self, module: str, name: str, *args, title: str, on_result, **kwargs) -> None:
        self.ctx.worker.submit(lazy_job(module, name), *args, channel=CHANNEL, title=title, on_result=on_result,
                               on_partial=self._on_update, on_error=self._on_error, **kwargs)

    @Slot()
    def start(self) -> None:
        if self._state in ("running", "loading"):
            return
        if self._run is None or self._state == "stopped" or self._structure_dirty:
            self._new_run(then_start=True)
            return
        self.control.clear()
        self.control.set_hparams(**self.form.live_values())
        self._grids_since_start = 0
        self._submit("models.gan.job", "train_job", self._run, self.control, title="Training the GAN",
                     on_result=self._on_run_end)
        self._set_state("running")

    @Slot()
    def pause(self) -> None:
        if self._state == "running":
            self.control.request_pause()
            self.state_label.setText("Pausing after this step…")

    @Slot()
    def single_step(self) -> None:
        if self._state in ("running", "loading"):
            return
        if self._run is None or self._structure_dirty or self._state == "stopped":
            self._new_run(then_start=False)
            return
        self.control.clear()
        self.control.set_hparams(**self.form.live_values())
        self._submit("models.gan.job", "train_job", self._run, self.control, 1, title="One GAN step",
                     on_result=self._on_run_end)
        self._set_state("running")

    @Slot()
    def stop(self) -> None:
        if self._state == "running":
            self.control.request_stop()
        elif self._state in ("ready", "paused"):
            self._set_state("stopped")

    @Slot()
    def reset(self) -> None:
        self.ctx.worker.cancel(CHANNEL)
        self._new_run(then_start=False)

    def _new_run(self, then_start: bool) -> None:
        try:
            config = self._config()
        except Exception as exc:  # a UserFacingError from the config's checks
            self.ctx.show_error(str(exc))
            return
        self._start_after_load = then_start
        self._submit("models.gan.session", "new_run_job", config, title="Preparing a GAN run",
                     on_result=self._on_run_ready)
        self._set_state("loading")

    @Slot()
    def load_bundled(self) -> None:
        self._start_after_load = False
        self._submit("models.gan.session", "load_bundled_job", title="Loading the bundled GAN run",
                     on_result=self._on_run_ready)
        self._set_state("loading")

    def load_run_file(self, path: str, start: bool = False) -> None:
        self._start_after_load = start
        self._submit("models.gan.session", "load_run_job", path, title="Loading a GAN run",
                     on_result=self._on_run_ready)
        self._set_state("loading")

    def save_run_file(self, path: str) -> None:
        if self._run is None:
            self.ctx.show_error("There is no run to save yet: press Start or Reset first.")
            return
        if self._state == "running":
            self.control.request_save(path)  # the job saves between two steps
        else:
            self.ctx.worker.submit(lazy_job("models.gan.session", "save_run_job"), self._run, path, channel=CHANNEL,
                                   title="Saving the GAN run", on_result=self._on_saved, on_error=self._on_error)

    @Slot()
    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save GAN run", "gan_run.safetensors", "GAN runs (*.safetensors)")
        if path:
            self.save_run_file(path if path.endswith(".safetensors") else path + ".safetensors")

    @Slot()
    def _ask_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load GAN run", "", "GAN runs (*.safetensors);;All files (*)")
        if path:
            self.load_run_file(path)

    # ================================================================ image mode: results
    def _on_run_ready(self, ready) -> None:
        self._run = ready.trainer
        self._structure_dirty = False
        self._step = ready.step
        cfg = dict(ready.config)
        gan = cfg.pop("gan", {})
        self.form.set_values({**cfg, "image_size": gan.get("image_size", 32), "latent_size": gan.get("latent_size", 64)})
        self.curves.clear()
        m = ready.metrics
        if len(m):
            steps = np.arange(1, len(m) + 1)
            self.curves.append(steps, *[m[:, i] for i in range(len(METRIC_SERIES))])
        if len(ready.diversity):
            self.curves.append_series(DIVERSITY[0], ready.diversity[:, 0], ready.diversity[:, 1])
        self.samples.set_items(ready.grids, ready.grid_stride)
        if not ready.grids or ready.grids[-1][0] != ready.current_grid[0]:
            self.samples.add(*ready.current_grid)
        self.real_view.set_image(ready.real_grid)
        self.run_label.setText(ready.title)
        self.stats_label.setText(f"step {ready.step:,} · elapsed {_fmt_time(ready.elapsed_s)}")
        self.health.setVisible(False)
        self._set_state("ready")
        if getattr(self, "_start_after_load", False):
            self._start_after_load = False
            self.start()

    def _on_update(self, upd) -> None:
        if not hasattr(upd, "metrics"):
            return
        if len(upd.metrics):
            m = upd.metrics
            self.curves.append(upd.steps, *[m[:, i] for i in range(len(METRIC_SERIES))])
        if len(upd.diversity):
            self.curves.append_series(DIVERSITY[0], upd.diversity[:, 0], upd.diversity[:, 1])
        if upd.grid is not None:
            self.samples.add(upd.grid_step, upd.grid)
            self._grids_since_start += 1
        self._step = upd.step
        self.stats_label.setText(f"step {upd.step:,} · {upd.steps_per_s:.1f} steps/s · {_fmt_time(upd.elapsed_s)}")
        self._show_health(upd.health)
        if upd.message:
            self.ctx.show_message(upd.message)

    def _show_health(self, warnings) -> None:
        if warnings:
            self.health.setText("<br>".join(f"⚠ {w.text}" for w in warnings))
        self.health.setVisible(bool(warnings))

    def _on_run_end(self, end) -> None:
        if end.reason == "non_finite":
            self.curves.truncate(end.rolled_back_to)
            self.samples.truncate(end.rolled_back_to)
            self._step = end.step
            self.health.setText(f"⛔ {end.message}")
            self.health.setVisible(True)
            self._set_state("paused")
            return
        self._set_state({"paused": "paused", "stopped": "stopped", "steps_done": "paused"}.get(end.reason, "paused"))

    def _on_saved(self, message: str) -> None:
        self.ctx.show_message(message)
        self.state_label.setText(message)

    def _on_error(self, message: str) -> None:
        self.ctx.show_error(message)
        self._set_state("ready" if self._run is not None else "empty")

    # ================================================================ settings
    @Slot(object)
    def _on_live_settings(self, values: dict) -> None:
        if self._state == "running":
            self.control.set_hparams(**values)

    @Slot()
    def _on_structure_settings(self) -> None:
        if self._run is not None:
            self._structure_dirty = True
            self._update_buttons()

    @Slot()
    def _show_loss_help(self, *args) -> None:
        key = self.form.loss.currentData()
        self.loss_help.setText(LOSS_INFO[key][1] if key in LOSS_INFO else "")

    def _set_state(self, state: str) -> None:
        self._state = state
        self._update_buttons()

    def _update_buttons(self) -> None:
        s = self._state
        running, loading = s == "running", s == "loading"
        self.start_btn.setText("Resume" if s == "paused" and not self._structure_dirty else "Start")
        self.start_btn.setEnabled(not running and not loading)
        self.pause_btn.setEnabled(running)
        self.step_btn.setEnabled(not running and not loading)
        self.stop_btn.setEnabled(s in ("running", "paused", "ready") and self._run is not None)
        self.reset_btn.setEnabled(not loading)
        self.save_btn.setEnabled(self._run is not None and not loading)
        self.load_btn.setEnabled(not loading)
        self.bundled_btn.setEnabled(not loading)
        text = {"empty": "Press Start to train a new GAN.", "loading": "Preparing…", "running": "Training…",
                "paused": "Paused: Resume continues exactly where it stopped.",
                "stopped": "Stopped: save it, or Start a new run.", "ready": "Ready: press Start."}[s]
        if self._structure_dirty and s != "running":
            text += " Settings changed: Start/Reset begins a new run with them."
        elif self._structure_dirty:
            text += " (Changed data/model settings apply to the next run.)"
        self.state_label.setText(text)

    # ================================================================ 2-D mode
    def _build_toy_page(self) -> QWidget:
        self.toy_data = QComboBox()
        for key in REAL_SHAPES:
            self.toy_data.addItem({"ring": "Ring of 8 Gaussians", "moons": "Two moons"}.get(key, key), key)
        self.toy_data.addItem("Points I draw", "drawn")
        self.toy_loss = QComboBox()
        for key in TOY_LOSSES:
            self.toy_loss.addItem(LOSS_INFO[key][0], key)
        self.toy_both = QRadioButton("Train both")
        self.toy_d = QRadioButton("D only")
        self.toy_g = QRadioButton("G only")
        self.toy_both.setChecked(True)
        modes = QButtonGroup(self)
        for b in (self.toy_both, self.toy_d, self.toy_g):
            modes.addButton(b)
            b.toggled.connect(self._toy_mode_changed)
        self.toy_slow = QCheckBox("Slow motion (5 steps per second)")
        self.toy_slow.toggled.connect(self._toy_mode_changed)
        self.toy_play = QPushButton("Play")
        self.toy_play.clicked.connect(self._toy_toggle)
        self.toy_step = QPushButton("Step")
        self.toy_step.setToolTip("One training iteration")
        self.toy_step.clicked.connect(self._toy_single)
        self.toy_reset = QPushButton("Reset")
        self.toy_reset.clicked.connect(self.toy_reset_run)
        self.toy_draw = QCheckBox("Draw real points (click the view)")
        self.toy_draw.toggled.connect(self._toy_draw_toggled)
        self.toy_clear = QPushButton("Clear drawing")
        self.toy_data.currentIndexChanged.connect(self.toy_reset_run)
        self.toy_loss.currentIndexChanged.connect(self.toy_reset_run)
        self.toy_status = QLabel("iteration 0")
        self.toy_status.setWordWrap(True)

        box = QGroupBox("2-D GAN")
        f = QVBoxLayout(box)
        f.addWidget(QLabel("Real data"))
        f.addWidget(self.toy_data)
        f.addWidget(self.toy_draw)
        f.addWidget(self.toy_clear)
        f.addWidget(QLabel("Loss"))
        f.addWidget(self.toy_loss)
        for b in (self.toy_both, self.toy_d, self.toy_g, self.toy_slow):
            f.addWidget(b)
        row = QHBoxLayout()
        for b in (self.toy_play, self.toy_step, self.toy_reset):
            row.addWidget(b)
        f.addLayout(row)
        f.addWidget(self.toy_status)
        f.addStretch(1)
        box.setMaximumWidth(300)

        self.toy_view = Toy2DView()
        self.toy_clear.clicked.connect(self._toy_clear_drawn)
        self.toy_view.point_added.connect(self._toy_point_added)
        self.toy_curves = LiveCurves(max_fps=15, show_controls=False, smoothing=0.9)
        self.toy_curves.add_series("D loss", plot="2-D losses", color=(234, 67, 53))
        self.toy_curves.add_series("G loss", plot="2-D losses", color=(66, 133, 244))
        self.toy_curves.setMaximumHeight(170)
        what = QLabel(WHAT_TOY)
        what.setWordWrap(True)
        right = QVBoxLayout()
        right.addWidget(self.toy_view, 1)
        right.addWidget(self.toy_curves)
        right.addWidget(what)
        page = QWidget()
        h = QHBoxLayout(page)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(box)
        h.addLayout(right, 1)
        return page

    def _toy_config(self) -> ToyConfig:
        return ToyConfig(data=self.toy_data.currentData(), drawn=tuple(self.toy_view.drawn_points()),
                         loss=self.toy_loss.currentData())

    def _toy_mode(self) -> str:
        return "d" if self.toy_d.isChecked() else "g" if self.toy_g.isChecked() else "both"

    @Slot()
    def toy_reset_run(self, *args) -> None:
        self._toy_stop()
        try:
            self._toy = ToyGan(self._toy_config())
        except Exception as exc:  # e.g. too few drawn points
            self._toy = None
            self.toy_status.setText(str(exc))
            return
        self.toy_curves.clear()
        f = self._toy.frame()
        self._show_toy_frame(f)

    def _toy_stop(self) -> None:
        self.toy_control.request_pause()
        self.ctx.worker.cancel(TOY_CHANNEL)
        self._slow_timer.stop()
        self._toy_job_active = False
        self._toy_running = False
        self.toy_play.setText("Play")

    def _toy_start(self) -> None:
        self._toy_running = True
        self.toy_play.setText("Pause")
        if self.toy_slow.isChecked():
            self._slow_timer.start()
            self._toy_slow_tick()
        else:
            self._toy_submit()

    def _toy_submit(self, max_iterations: int | None = None) -> None:
        if self._toy is None:
            self.toy_reset_run()
            if self._toy is None:
                return
        self.toy_control.clear()
        self._toy_job_active = True
        self.ctx.worker.submit(toy_job, self._toy, self.toy_control, self._toy_mode(),
                               max_iterations=max_iterations, channel=TOY_CHANNEL, title="Training the 2-D GAN",
                               on_partial=self._show_toy_frame, on_result=self._toy_ended, on_error=self._on_toy_error)

    @Slot()
    def _toy_slow_tick(self) -> None:
        if not self._toy_job_active:  # one iteration per tick, each shown
            self._toy_submit(max_iterations=1)

    @Slot()
    def _toy_toggle(self) -> None:
        if self._toy_running:
            self._toy_stop()
        else:
            self._toy_start()

    @Slot()
    def _toy_single(self) -> None:
        self._toy_stop()
        self._toy_submit(max_iterations=1)

    @Slot()
    def _toy_mode_changed(self, *args) -> None:
        if self._toy_running:  # restart with the new mode / speed; the model is kept
            self._toy_stop()
            self._toy_start()

    def _toy_ended(self, iteration) -> None:
        self._toy_job_active = False
        if self.toy_control.pause_requested and not self._slow_timer.isActive():
            self._toy_running = False
            self.toy_play.setText("Play")

    def _on_toy_error(self, message: str) -> None:
        self._toy_stop()
        self.toy_status.setText(message)

    def _show_toy_frame(self, f) -> None:
        if not hasattr(f, "heatmap"):
            return
        self.toy_view.show_frame(f.real, f.fake, f.arrows, f.heatmap, f.extent)
        if f.iteration > 0:
            self.toy_curves.append(f.iteration, f.d_loss, f.g_loss)
        rate = f" · {f.iters_per_s:,.0f} it/s" if f.iters_per_s else ""
        self.toy_status.setText(f"iteration {f.iteration:,}{rate}\nD loss {f.d_loss:.3f} · G loss {f.g_loss:.3f}")
        self._toy_frames += 1

    @Slot(bool)
    def _toy_draw_toggled(self, on: bool) -> None:
        self.toy_view.set_drawing(on)
        if on and self.toy_data.currentData() != "drawn":
            self.toy_data.setCurrentIndex(self.toy_data.findData("drawn"))

    @Slot()
    def _toy_clear_drawn(self) -> None:
        self.toy_view.clear_drawn()
        if self.toy_data.currentData() == "drawn":
            self.toy_reset_run()

    @Slot(float, float)
    def _toy_point_added(self, x: float, y: float) -> None:
        n = len(self.toy_view.drawn_points())
        if n >= 3 and not self._toy_running:
            self.toy_reset_run()
        elif n < 3:
            self.toy_status.setText(f"{n} point(s) drawn: draw at least 3.")

    @Slot(bool)
    def _on_mode(self, toy: bool) -> None:
        self.stack.setCurrentIndex(1 if toy else 0)
        if toy:
            if self._state == "running":
                self.pause()
            if self._toy is None:
                self.toy_reset_run()
        else:
            self._toy_stop()

    # ================================================================ TabPage
    def on_shown(self) -> None:
        if not self._loaded_once:
            self._loaded_once = True
            self._load_initial()

    def _load_initial(self) -> None:
        if BUNDLED_RUN.is_file():
            self.load_bundled()
        else:
            self._new_run(then_start=False)

    def is_busy(self) -> bool:
        if self._state == "loading":
            return True
        if self._screenshot_target is not None:
            return self._state == "running" and (self._step < self._screenshot_target or self._grids_since_start < 2)
        return False

    def prepare_screenshot(self) -> None:
        self._loaded_once = True
        self._start_after_load = True
        self._screenshot_target = None
        if BUNDLED_RUN.is_file():
            self._submit("models.gan.session", "load_bundled_job", title="Loading the bundled GAN run",
                         on_result=self._on_screenshot_ready)
        else:
            self._submit("models.gan.session", "new_run_job", self._config(), title="Preparing a GAN run",
                         on_result=self._on_screenshot_ready)
        self._set_state("loading")

    def _on_screenshot_ready(self, ready) -> None:
        self._start_after_load = False
        self._on_run_ready(ready)
        self.form.set_values({"sample_every": 10})
        self._screenshot_target = ready.step + 40
        self.start()

    def export_widget(self) -> QWidget:
        return self.stack.currentWidget()

    def on_device_changed(self, device: str) -> None:
        """A run keeps its optimiser state on its own device; new runs use the new one."""
        run = getattr(self, "_run", None)
        if run is not None and str(run.device) != device:
            self.ctx.show_message(f"The current GAN run stays on {run.device}; Reset or Load starts runs on "
                                  f"{device}.", 8000)

    def shutdown(self) -> None:
        self._slow_timer.stop()
        self.control.request_stop()
        self.toy_control.request_stop()
        self.ctx.worker.cancel(CHANNEL)
        self.ctx.worker.cancel(TOY_CHANNEL)

"""The image (DCGAN) page of the GAN tab: train live and watch curves and samples move.

A thin Qt page: it builds the widgets, forwards actions to the GanImageSession (app/gan_session.py) and the
worker service (channel "gan"), and draws the frozen views the session returns. torch is imported only
inside jobs (on the worker thread). Imported only by gan_tab.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QScrollArea, QSplitter, QVBoxLayout, QWidget)

from models.errors import UserFacingError
from models.gan.catalog import BUNDLED_RUN, CONDITIONAL_RUN, DATASET_INFO, LOSS_INFO, NeedsFolder
from models.gan.control import TrainingControl
from widgets.gan_controls import GanSettingsForm
from widgets.live_curves import LiveCurves
from widgets.sample_grid_history import SampleGridHistory, ScaledImage

from ..context import AppContext
from ..gan_conditional import GanConditional
from ..gan_dialogs import ask_close_dialog, ask_data_folder, ask_save_path
from ..gan_insight import GanInsight
from ..gan_session import (DEFAULTS, DIVERSITY, JUDGE_FD, METRIC_SERIES, RECIPE, CloseChoice, CurveChunk,
                           GanImageSession, RunState, lazy_job)

CHANNEL = "gan"
CURVES_FPS = 4  # curves redraw at most 4 times a second while training (the job sends ~10 updates a second)
WHAT_CURVES = ("<b>What am I looking at?</b> Two networks train against each other: D learns to tell real images "
               "from G's fakes, G learns to fool D. Healthy runs look like a tug of war: losses wobble around a level "
               "instead of one side winning, and D(x) and D(G(z)) stay apart but do not reach 1 and 0.")
WHAT_SAMPLES = ("The grid always feeds G the same 36 noise vectors, so you see the same 'imaginary sprites' improve. "
                "Use the slider (or arrow keys) to go back in time: a dashed line marks that step on the curves. "
                "If every cell starts to look alike, G is collapsing onto a few modes: the diversity curve falls.")


class GanImagePage(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.session = GanImageSession()
        self.control = TrainingControl()
        # hooks (tests answer them without a modal): the close question and the save-file chooser
        self.ask_close: Callable[[str], CloseChoice] = lambda q: ask_close_dialog(self, q)
        self.ask_save_path: Callable[[], str] = lambda: ask_save_path(
            self, self.ctx.runs_path("gan_run.safetensors"), self.ctx.show_error)
        # and, resuming a run trained on a folder of images, which folder (a run file never names it)
        self.ask_data_folder: Callable[[str], str] = lambda name: ask_data_folder(
            self, name, self.form.values().get("data_ref", ""))
        self._close_after_save: str | None = None  # a save path: save it, then close the window
        self._screenshot_classes = False  # the screenshot shows the conditional run's class panel

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
        self.conditional_btn = QPushButton("Bundled conditional run")
        self.conditional_btn.setToolTip("The class-conditional GAN that ships with the app: ask it for a shape")
        for button, slot in ((self.start_btn, self.start), (self.pause_btn, self.pause), (self.step_btn, self.single_step),
                             (self.stop_btn, self.stop), (self.reset_btn, self.reset), (self.save_btn, self._ask_save),
                             (self.load_btn, self._ask_load), (self.bundled_btn, self.load_bundled),
                             (self.conditional_btn, self.load_conditional)):
            button.clicked.connect(slot)
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
        rb.addWidget(self.conditional_btn)
        for w in (self.run_label, self.stats_label, self.state_label):
            rb.addWidget(w)

        self.form = GanSettingsForm([(k, v[0]) for k, v in DATASET_INFO.items()],
                                    [(k, v[0]) for k, v in LOSS_INFO.items()], DEFAULTS, recipe=RECIPE)
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
        for w in (run_box, self.form, self.loss_help):
            lv.addWidget(w)
        lv.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(left.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)
        scroll.setMaximumWidth(400)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.samples = SampleGridHistory("Samples from fixed noise")
        self.samples.index_changed.connect(self._on_grid_chosen)
        self.insight = GanInsight(ctx, self.samples, lambda: self.session.run, self)
        self.classes = GanConditional(ctx, self.samples, lambda: self.session.run, self)
        self.health = QLabel("")
        self.health.setWordWrap(True)
        self.health.setStyleSheet("background: #5c3b00; color: #ffe0a3; padding: 4px; border-radius: 3px;")
        self.health.setVisible(False)
        self.curves = LiveCurves(max_fps=CURVES_FPS)
        for name, plot in METRIC_SERIES:
            self.curves.add_series(name, plot=plot)
        self.curves.add_series(DIVERSITY[0], plot=DIVERSITY[1], color=(0, 172, 193))
        self.curves.add_series(JUDGE_FD[0], plot=JUDGE_FD[1], color=(171, 71, 188))
        what = QLabel(WHAT_CURVES)
        what.setWordWrap(True)
        centre = QWidget()
        cv = QVBoxLayout(centre)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.health)
        cv.addWidget(self.curves, 1)
        cv.addLayout(self.insight.coverage_row(what))  # the judge's coverage histogram beside the explanation

        self.real_view = ScaledImage(min_side=100)
        what_s = QLabel(WHAT_SAMPLES)
        what_s.setWordWrap(True)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.samples, 3)
        self.side_tabs = self.insight.side_tabs(self.real_view)  # a real batch, or the latent strip of picked cells
        self.side_tabs.addTab(self.classes.panel, "Classes")
        rv.addWidget(self.side_tabs, 2)
        rv.addWidget(what_s)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(centre)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        right.setMinimumWidth(240)
        h = QHBoxLayout(self)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(scroll)
        h.addWidget(split, 1)
        self._show_controls()

    # ---- actions
    def _submit(self, module: str, name: str, *args, title: str, on_result, **kwargs) -> None:
        self.ctx.worker.submit(lazy_job(module, name), *args, channel=CHANNEL, title=title, on_result=on_result,
                               on_partial=self._on_update, on_error=self._on_error, **kwargs)

    def _train(self, max_steps: int | None) -> None:
        self.control.clear()
        self.control.set_hparams(**self.form.live_values())
        args = (self.session.run, self.control) + (() if max_steps is None else (max_steps,))
        self._submit("models.gan.job", "train_job", *args, title="Training the GAN" if max_steps is None
                     else "One GAN step", on_result=self._on_run_end)
        self.session.started()
        self._show_controls()

    @Slot()
    def start(self) -> None:
        if self.session.busy:
            return
        if self.session.needs_new_run():
            self._new_run(then_start=True)
        else:
            self._train(None)

    @Slot()
    def pause(self) -> None:
        if self.session.state == RunState.RUNNING:
            self.control.request_pause()
            self.state_label.setText("Pausing after this step…")

    @Slot()
    def single_step(self) -> None:
        if self.session.busy:
            return
        if self.session.needs_new_run():
            self._new_run(then_start=False)
        else:
            self._train(1)

    @Slot()
    def stop(self) -> None:
        if self.session.state == RunState.RUNNING:
            self.control.request_stop()
        elif self.session.stop_now():
            self._show_controls()

    @Slot()
    def reset(self) -> None:
        self.ctx.worker.cancel(CHANNEL)
        self._new_run(then_start=False)

    def _new_run(self, then_start: bool) -> None:
        try:
            config = self.session.config(self.form.values())
        except UserFacingError as exc:  # the config's checks
            self.ctx.show_error(str(exc))
            return
        self._load("new_run_job", config, title="Preparing a GAN run", start=then_start)

    def _load(self, job: str, *args, title: str, start: bool, on_result=None) -> None:
        self._submit("models.gan.session", job, *args, title=title, on_result=on_result or self._on_run_ready)
        self.session.loading(start)
        self._show_controls()

    @Slot()
    def load_bundled(self) -> None:
        self._load("load_bundled_job", title="Loading the bundled GAN run", start=False)

    @Slot()
    def load_conditional(self) -> None:
        self._load("load_conditional_job", title="Loading the bundled conditional GAN run", start=False)

    def load_initial(self) -> None:
        if BUNDLED_RUN.is_file():
            self.load_bundled()
        else:
            self._new_run(then_start=False)

    def load_run_file(self, path: str, start: bool = False) -> None:
        self._load("load_run_job", path, title="Loading a GAN run", start=start)

    def save_run_file(self, path: str) -> None:
        self.ctx.remember_runs(path)
        if self.session.run is None:
            self.ctx.show_error("There is no run to save yet: press Start or Reset first.")
            return
        if self.session.state == RunState.RUNNING:
            self.control.request_save(path)  # the job saves between two steps
        else:
            self.ctx.worker.submit(lazy_job("models.gan.session", "save_run_job"), self.session.run, path,
                                   channel=CHANNEL, title="Saving the GAN run", on_result=self._on_saved,
                                   on_error=self._on_error)

    @Slot()
    def _ask_save(self) -> None:
        path = self.ask_save_path()
        if path:
            self.save_run_file(path)

    @Slot()
    def _ask_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load GAN run", self.ctx.runs_path(),
                                              "GAN runs (*.safetensors);;All files (*)")
        if path:
            self.ctx.remember_runs(path)
            self.load_run_file(path)

    # ---- closing with unsaved training
    def confirm_close(self) -> bool:
        """True: closing loses nothing (or the user said Discard). With Save, the run is paused and saved, then
        this page closes the window itself; Cancel keeps it open."""
        question = self.session.close_question()
        if not question or self._close_after_save:
            return not self._close_after_save
        choice = self.ask_close(question)
        if choice == CloseChoice.DISCARD:
            return True
        if choice == CloseChoice.SAVE:
            path = self.ask_save_path()
            if path:
                self._close_after_save = path
                if self.session.state == RunState.RUNNING:
                    self.control.request_pause()  # saved when the job has ended (_on_run_end)
                else:
                    self.save_run_file(path)
        return False

    # ---- results
    def _append_curves(self, chunk: CurveChunk) -> None:
        if len(chunk.steps):
            self.curves.append(chunk.steps, *chunk.columns)
        if len(chunk.diversity_steps):
            self.curves.append_series(DIVERSITY[0], chunk.diversity_steps, chunk.diversity)
        if len(chunk.fd_steps):
            self.curves.append_series(JUDGE_FD[0], chunk.fd_steps, chunk.fd)

    def _on_run_ready(self, ready) -> None:
        if isinstance(ready, NeedsFolder):
            self._load_with_folder(ready)
            return
        self._show_run(self.session.run_ready(ready))
        if self.session.take_start_after_load():
            self.start()

    def _load_with_folder(self, need: NeedsFolder) -> None:
        """The run was trained on a folder of images: ask which, then load again with it (or give up)."""
        start = self.session.take_start_after_load()
        folder = self.ask_data_folder(Path(need.path).name)
        if not folder:
            self.session.failed()
            self._show_controls()
            self.ctx.show_message(f"Not loaded: {Path(need.path).name} needs the folder of images it was trained on.")
            return
        self._load("load_run_job", need.path, need.title, folder, title="Loading a GAN run", start=start)

    def _show_run(self, view) -> None:
        self.form.set_values(view.form_values)
        self.curves.clear()
        self._append_curves(view.curves)
        self.samples.set_items(list(view.grids), view.grid_stride)
        if view.current_grid is not None:
            self.samples.add(*view.current_grid)
        self.real_view.set_image(view.real_grid)
        self.insight.new_run(view.form_values.get("grid_samples", 36))
        self.insight.show_coverage(view.coverage)  # a reopened run shows its judged coverage
        self.classes.new_run(view.form_values.get("num_classes", 0))
        self.run_label.setText(view.title)
        self.stats_label.setText(view.stats_text)
        self.health.setVisible(False)
        self._show_controls()

    def _on_update(self, upd) -> None:
        view = self.session.update(upd)
        self._append_curves(view.curves)
        if view.grid is not None:
            self.samples.add(*view.grid)
        self.insight.show_coverage(view.coverage)
        self.stats_label.setText(view.stats_text)
        if view.health_text and view.health_text != self.health.text():
            self.health.setText(view.health_text)
        if self.health.isHidden() == bool(view.health_text):
            self.health.setVisible(bool(view.health_text))
        if view.message:
            self.ctx.show_message(view.message)

    def _on_run_end(self, end) -> None:
        view = self.session.run_end(end)
        if view.truncate_to is not None:
            self.curves.truncate(view.truncate_to)
            self.samples.truncate(view.truncate_to)
        if view.health_text is not None:
            self.health.setText(view.health_text)
            self.health.setVisible(True)
        self._show_controls()
        if self._close_after_save:
            self.save_run_file(self._close_after_save)

    def _on_saved(self, message: str) -> None:
        self.session.saved()
        self.ctx.show_message(message)
        self.state_label.setText(message)
        if self._close_after_save:
            self._close_after_save = None
            self.window().close()

    def _on_error(self, message: str) -> None:
        self._close_after_save = None  # a failed save must not close the window
        self.ctx.show_error(message)
        self.session.failed()
        self._show_controls()

    @Slot(int)
    def _on_grid_chosen(self, step: int) -> None:
        """The history slider chose a sample grid: mark its step on the curves (none while following the newest)."""
        following = self.samples.is_following()
        self.curves.set_marker(None if following else step)
        self.insight.show_coverage(self.session.coverage_at(None if following else step))

    # ---- settings
    @Slot(object)
    def _on_live_settings(self, values: dict) -> None:
        if self.session.state == RunState.RUNNING:
            self.control.set_hparams(**values)

    @Slot()
    def _on_structure_settings(self) -> None:
        if self.session.settings_changed():
            self._show_controls()

    @Slot()
    def _show_loss_help(self, *args) -> None:
        self.loss_help.setText(self.session.loss_help(self.form.loss.currentData()))

    def _show_controls(self) -> None:
        c = self.session.controls()
        self.start_btn.setText(c.start_text)
        for button, on in ((self.start_btn, c.start), (self.pause_btn, c.pause), (self.step_btn, c.step),
                           (self.stop_btn, c.stop), (self.reset_btn, c.reset), (self.save_btn, c.save),
                           (self.load_btn, c.load), (self.bundled_btn, c.bundled), (self.conditional_btn, c.bundled)):
            button.setEnabled(on)
        self.state_label.setText(c.state_text)

    # ---- screenshots and shutdown
    def prepare_screenshot(self, conditional: bool = False) -> None:
        self.session.screenshot_target = None
        self._screenshot_classes = conditional and CONDITIONAL_RUN.is_file()
        if self._screenshot_classes:
            self._load("load_conditional_job", title="Loading the bundled conditional GAN run", start=False,
                       on_result=self._on_screenshot_ready)
        elif BUNDLED_RUN.is_file():
            self._load("load_bundled_job", title="Loading the bundled GAN run", start=False,
                       on_result=self._on_screenshot_ready)
        else:
            self._load("new_run_job", self.session.config(self.form.values()), title="Preparing a GAN run",
                       start=False, on_result=self._on_screenshot_ready)

    def _on_screenshot_ready(self, ready) -> None:
        self._show_run(self.session.run_ready(ready))
        self.form.set_values({"sample_every": 10})
        self.session.screenshot_ready(ready.step)
        self.start()
        for cell in (0, 5):  # an interpolation strip for the screenshot
            self.samples.cell_clicked.emit(cell)
        if self._screenshot_classes:  # the class panel, asked for stars
            self.side_tabs.setCurrentWidget(self.classes.panel)
            self.classes.panel.picker.setCurrentIndex(3)
            self.classes.panel.grid_requested.emit(3)

    def shutdown(self) -> None:
        self.control.request_stop()
        self.ctx.worker.cancel(CHANNEL)
        self.insight.shutdown()
        self.classes.shutdown()

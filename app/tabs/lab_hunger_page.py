"""The Compare tab's data-hunger view: accuracy against the number of training images, per architecture, and
every run's curve, live while runs train.

A thin Qt page: `HungerSession` (app/lab_hunger_session.py) holds the runs and renders frozen values; this page
submits jobs (app/lab_jobs.py, one worker channel per run: the worker steps them round-robin) and draws.
The shipped grid and the runs cached on disk are read on opening (small JSON files, no torch), so a finished
grid shows at once. Imported only by compare_tab.py.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSplitter,
                               QVBoxLayout, QWidget)

from models.lab.control import LabControl
from models.lab.records import RunRecord
from widgets.lab_plots import RunCurvesPlot, SummaryPlot

from ..context import AppContext
from ..lab_folders import SHIPPED_GRID, images_dir, runs_dir
from ..lab_hunger_frames import LESSON
from ..lab_hunger_session import HungerSession
from ..lab_jobs import read_cached_runs, read_grid_file, run_job, trainer_job

REDRAW_MS = 150  # partial records arriving together are drawn once
STATUS_MS = 500  # the status line's progress at most twice a second


def channel(key: str) -> str:
    return f"lab-run-{key}"


class LabHungerPage(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None, shipped: Path = SHIPPED_GRID,
                 cache_dir: Path | None = None, data_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.session = HungerSession()
        self.cache_dir = runs_dir() if cache_dir is None else Path(cache_dir)
        self.data_dir = images_dir() if data_dir is None else Path(data_dir)
        self.controls: dict[str, LabControl] = {}  # run key -> its pause/stop switch
        self.trainer_job = trainer_job  # job(ctx, spec, data_dir, cache_dir=) -> LabTrainer (benches: tiny ones)
        # hooks (tests answer them without a modal): where an export goes ("" cancels)
        self.ask_save_path: Callable[[str, str], str] = self._ask_save_path
        shipped_records, problem = read_grid_file(shipped)
        self.session.add_records(shipped_records, shipped=True)
        self.session.add_records(read_cached_runs(self.cache_dir))
        self._build()
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self.draw)
        self._status_timer = QTimer(self)  # progress only changes the status line: no plot is touched
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(STATUS_MS)
        self._status_timer.timeout.connect(self._draw_status)
        self._redraw_pending = self._status_pending = False
        self._shown: tuple = ()  # what the buttons and tooltip show (set again only when it changes)
        self._status_text = ""
        if problem:
            self.message.setText(problem)
        self._fill_curve_sizes()
        self.draw()

    # ---- layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.preset_combo = QComboBox()
        for key, preset in self.session.presets.items():
            self.preset_combo.addItem(preset.title, key)
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(self.session.preset))
        self.preset_combo.setToolTip("Which runs Start trains (runs already finished are not trained again)")
        self.start_btn = QPushButton("Start")
        self.pause_btn = QPushButton("Pause")
        self.cancel_btn = QPushButton("Cancel")
        self.start_btn.setToolTip("Train the chosen grid's missing runs, four at a time")
        self.cancel_btn.setToolTip("End every run; finished runs stay (cached on disk)")
        self.size_combo = QComboBox()
        self.size_combo.setToolTip("Show the run curves of one training-set size, or of all")
        self.png_btn = QPushButton("Export PNG...")
        self.csv_btn = QPushButton("Export CSV...")
        top = QHBoxLayout()
        for w in (self.preset_combo, self.start_btn, self.pause_btn, self.cancel_btn):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(QLabel("Curves:"))
        top.addWidget(self.size_combo)
        top.addWidget(self.png_btn)
        top.addWidget(self.csv_btn)
        self.lesson = QLabel(LESSON)
        self.lesson.setWordWrap(True)
        self.lesson.setStyleSheet("color: #9aa0a6;")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        policy = self.status.sizePolicy()  # a fixed height: a new text never re-lays the plots out
        policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
        policy.setHeightForWidth(False)
        self.status.setSizePolicy(policy)
        self.status.setFixedHeight(3 * self.status.fontMetrics().lineSpacing() + 4)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ffb74d;")
        self.summary = SummaryPlot("Final held-out accuracy against N (mean over seeds; bars: lowest to highest)")
        self.runs = RunCurvesPlot("Every run: held-out accuracy during training (thicker: larger N; dashed: seed 1)")
        self.plots = QSplitter(Qt.Orientation.Horizontal)
        self.plots.addWidget(self.summary)
        self.plots.addWidget(self.runs)
        self.plots.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.lesson)
        layout.addWidget(self.status)
        layout.addWidget(self.message)
        layout.addWidget(self.plots, 1)
        self.preset_combo.currentIndexChanged.connect(self._on_preset)
        self.size_combo.currentIndexChanged.connect(self._on_size)
        self.start_btn.clicked.connect(self.start)
        self.pause_btn.clicked.connect(self.pause_or_resume)
        self.cancel_btn.clicked.connect(self.cancel)
        self.png_btn.clicked.connect(self.export_png)
        self.csv_btn.clicked.connect(self.export_csv)

    def _fill_curve_sizes(self) -> None:
        current = self.size_combo.currentData()
        self.size_combo.blockSignals(True)
        self.size_combo.clear()
        self.size_combo.addItem("all sizes", None)
        for n in self.session.curve_sizes():
            self.size_combo.addItem(f"N = {n:,}", n)
        index = self.size_combo.findData(current)
        self.size_combo.setCurrentIndex(max(index, 0))
        self.size_combo.blockSignals(False)
        self.session.set_curve_size(self.size_combo.currentData())

    # ---- user actions ------------------------------------------------------------------------------
    @Slot(int)
    def _on_preset(self, index: int) -> None:
        self.session.choose(self.preset_combo.itemData(index))
        self._fill_curve_sizes()
        self.draw()

    @Slot(int)
    def _on_size(self, index: int) -> None:
        self.session.set_curve_size(self.size_combo.itemData(index))
        self.draw()

    @Slot()
    def start(self) -> None:
        self.message.setText("")
        self._launch(self.session.start())
        self.draw()

    @Slot()
    def pause_or_resume(self) -> None:
        if self.session.controls().pause_text == "Resume":
            for slot in self.session.resume():
                self._train(slot.spec, slot.trainer)
        else:
            for key in self.session.pause():
                self.controls[key].request_pause()
        self.draw()

    @Slot()
    def cancel(self) -> None:
        for key in self.session.cancel():
            control = self.controls.pop(key, None)
            if control is not None:
                control.request_stop()
            self.ctx.worker.cancel(channel(key))
        self.draw()

    # ---- jobs --------------------------------------------------------------------------------------
    def _launch(self, specs) -> None:
        for spec in specs:
            self.controls[spec.key] = LabControl()
            self.ctx.worker.submit(self.trainer_job, spec, self.data_dir, cache_dir=self.cache_dir,
                                   channel=channel(spec.key),
                                   title=f"Preparing run {spec.arch}, N={spec.train_size}",
                                   on_result=partial(self._on_trainer, spec), on_error=partial(self._on_failed, spec))

    def _train(self, spec, trainer) -> None:
        control = self.controls.setdefault(spec.key, LabControl())
        control.clear()
        self.ctx.worker.submit(run_job, trainer, control, self.cache_dir, channel=channel(spec.key),
                               title=f"Training {spec.arch}, N={spec.train_size}, seed {spec.seed}",
                               on_partial=self._on_partial, on_progress=partial(self._on_progress, spec),
                               on_result=partial(self._on_ended, spec),
                               on_error=partial(self._on_failed, spec))

    def _on_trainer(self, spec, trainer) -> None:
        if self.session.trainer_ready(spec, trainer):
            self._train(spec, trainer)
        self.draw()

    def _on_partial(self, item) -> None:
        if isinstance(item, RunRecord) and self.session.update(item) and not self._redraw_pending:
            self._redraw_pending = True  # a Python flag: every call into Qt may wait on the GIL (training holds it)
            self._redraw.start()

    def _on_progress(self, spec, progress) -> None:
        if self.session.progress(spec, progress.fraction) and not self._status_pending:
            self._status_pending = True  # ~40 progress reports a second with four runs: no Qt call for most
            self._status_timer.start()

    def _on_ended(self, spec, record) -> None:
        finished = record is not None and record.finished
        if finished:
            self.controls.pop(spec.key, None)
        self._launch(self.session.run_ended(record, spec))
        if finished:
            self._fill_curve_sizes()
        self.draw()

    def _on_failed(self, spec, message: str) -> None:
        self.controls.pop(spec.key, None)
        self._launch(self.session.run_failed(spec, message))
        self.message.setText(message)
        self.draw()

    # ---- drawing -----------------------------------------------------------------------------------
    @Slot()
    def draw(self) -> None:
        """Touch only what changed: while runs train, every call into Qt may wait for the GIL (the training
        thread holds it in 5 ms slices), so unchanged texts, tooltips and buttons are not set again."""
        self._redraw_pending = False
        frame = self.session.render()
        self.frame = frame
        self.summary.set_curves(frame.summary, y_range=(0.0, 1.0))
        self.summary.set_bands(frame.bands, frame.ticks)
        self.runs.set_curves(frame.runs, y_range=(0.0, 1.0))
        self.runs.set_x_range(0, frame.steps)
        c = self.session.controls()
        self._set_status(frame.status)
        shown = (frame.table, c.pause_text, c.start, c.pause, c.cancel, c.choose, c.export)
        if shown == self._shown:
            return
        self._shown = shown
        self.summary.setToolTip(frame.table or "No finished runs yet.")
        self.pause_btn.setText(c.pause_text)
        for w, on in ((self.start_btn, c.start), (self.pause_btn, c.pause), (self.cancel_btn, c.cancel),
                      (self.preset_combo, c.choose), (self.png_btn, c.export), (self.csv_btn, c.export)):
            w.setEnabled(on)

    @Slot()
    def _draw_status(self) -> None:
        self._status_pending = False
        self._set_status(self.session.controls().status)

    def _set_status(self, text: str) -> None:
        if text != self._status_text:
            self._status_text = text
            self.status.setText(text)

    # ---- export ------------------------------------------------------------------------------------
    def _ask_save_path(self, filename: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, "Export", self.ctx.export_path(filename), filters)
        return path

    @Slot()
    def export_png(self) -> None:
        path = self.ask_save_path("data_hunger.png", "PNG images (*.png)")
        if path:
            ok = self.plots.grab().save(path, "PNG")
            self._exported(path, ok)

    @Slot()
    def export_csv(self) -> None:
        path = self.ask_save_path("data_hunger.csv", "CSV files (*.csv)")
        if path:
            try:
                Path(path).write_text(self.session.export_csv(), encoding="utf-8")
                ok = True
            except OSError as exc:
                ok = False
                self.message.setText(f"Could not write {path}: {exc.strerror or exc}")
            self._exported(path, ok)

    def _exported(self, path: str, ok: bool) -> None:
        if ok:
            self.ctx.remember_export(path)
            self.ctx.show_message(f"Exported {path}")
        elif not self.message.text():
            self.message.setText(f"Could not write {path}.")

    # ---- the tab's lifecycle -----------------------------------------------------------------------
    def is_busy(self) -> bool:
        return False  # training is the user's choice, not work a screenshot waits for

    def confirm_close(self) -> bool:
        return True  # nothing to ask: finished runs are on disk, unfinished ones are kept and continue at Start

    def shutdown(self) -> None:
        """Closing mid-run: every job is asked to stop and cancelled (finished runs are already on disk)."""
        self._redraw.stop()
        self._status_timer.stop()
        for key, control in list(self.controls.items()):
            control.request_stop()
            self.ctx.worker.cancel(channel(key))
        for key in self.session.cancel():
            self.ctx.worker.cancel(channel(key))
        self.controls.clear()

"""The Compare tab's fine-tune view: pretrained against from-scratch on four new shapes, and fine-tuning any
Compare classifier on the user's own folder of images.

A thin Qt page: `FinetuneSession` (app/lab_finetune_session.py) holds the state and turns results into frozen
values; this page submits the jobs (app/lab_jobs.py) and draws. A saved model is registered (worker job) and
`models_changed` tells the Compare tab to list the models again, so every picker shows it.
Imported only by compare_tab.py.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox,
                               QSplitter, QVBoxLayout, QWidget)

from models.lab.control import LabControl
from models.lab.records import ARCH_KEYS
from widgets.compare_plots import CurvePlot
from widgets.compare_tiles import ImageTiles
from widgets.lab_confusion import ClassConfusion
from widgets.live_curves import LiveCurves
from widgets.model_picker import ModelPicker

from ..context import AppContext
from ..lab_finetune_session import LESSON, MODES, PER_CLASS, FinetuneSession, FolderPhase
from ..lab_folders import SHIPPED_FINE_TUNE, lab_dir, models_dir
from ..lab_hunger_frames import ARCH_TITLES
from ..lab_jobs import folder_job, index_job, race_job, read_grid_file
from ..vit_picker import model_entries

RACE, INDEX, TUNE = "lab-finetune-race", "lab-finetune-index", "lab-finetune-folder"
GALLERY = 6  # most confused held-out images shown


def _muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: #9aa0a6;")
    return label


class LabFinetunePage(QWidget):
    models_changed = Signal()  # a fine-tuned model was saved and registered

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, shipped: Path = SHIPPED_FINE_TUNE,
                 out_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.session = FinetuneSession()
        self.out_dir = models_dir() if out_dir is None else Path(out_dir)
        self.control = LabControl()
        self.ask_folder = lambda: QFileDialog.getExistingDirectory(self, "Folder of images, one sub-folder per class",
                                                                   self.ctx.runs_path())
        self.setAcceptDrops(True)
        records, problem = read_grid_file(shipped)
        self.session.add_shipped(records)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._race_box())
        split.addWidget(self._folder_box())
        split.setChildrenCollapsible(False)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        if problem:
            self.race_result.setText(problem)
        self.draw_race()
        self.draw_folder()

    # ---- layout ------------------------------------------------------------------------------------
    def _race_box(self) -> QGroupBox:
        box = QGroupBox("Pretrained vs from scratch: four new shapes")
        self.arch_combo = QComboBox()
        for key in ARCH_KEYS:
            self.arch_combo.addItem(ARCH_TITLES.get(key, key), key)
        self.per_class_combo = QComboBox()
        for n in PER_CLASS:
            self.per_class_combo.addItem(f"{n} per class", n)
        self.mode_combo = QComboBox()
        for key, text in MODES.items():
            self.mode_combo.addItem(text, key)
        self.mode_combo.setToolTip("Fine-tune every layer, or freeze the pretrained body and train the new head only")
        self.race_start = QPushButton("Start")
        self.race_cancel = QPushButton("Cancel")
        row = QHBoxLayout()
        for w in (self.arch_combo, self.per_class_combo, self.mode_combo):
            row.addWidget(w)
        buttons = QHBoxLayout()
        buttons.addWidget(self.race_start)
        buttons.addWidget(self.race_cancel)
        buttons.addStretch(1)
        self.race_plot = CurvePlot("Held-out accuracy during training", "training step", "held-out accuracy",
                                   symbols=False)
        self.race_result = QLabel("")
        self.race_result.setWordWrap(True)
        self.race_result.setStyleSheet("font-weight: bold;")
        v = QVBoxLayout(box)
        v.addLayout(row)
        v.addLayout(buttons)
        v.addWidget(self.race_plot, 1)
        v.addWidget(self.race_result)
        v.addWidget(_muted(LESSON))
        for combo in (self.arch_combo, self.per_class_combo, self.mode_combo):
            combo.currentIndexChanged.connect(self._on_race_choice)
        self.race_start.clicked.connect(self.start_race)
        self.race_cancel.clicked.connect(self.cancel_race)
        return box

    def _folder_box(self) -> QGroupBox:
        box = QGroupBox("Use a folder: fine-tune a classifier on your own images")
        self.folder_btn = QPushButton("Choose folder...")
        self.folder_label = QLabel("")
        self.folder_label.setWordWrap(True)
        self.picker = ModelPicker("Classifier to fine-tune", show_input_size=False, status_lines=1)
        self.picker.run_button.hide()  # Start below runs it
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(10, 100_000)
        self.steps_spin.setValue(200)
        self.steps_spin.setSingleStep(50)
        self.steps_spin.setSuffix(" steps")
        self.folder_mode = QComboBox()
        for key, text in MODES.items():
            self.folder_mode.addItem(text, key)
        self.folder_mode.setCurrentIndex(self.folder_mode.findData("head"))
        self.folder_start = QPushButton("Start fine-tuning")
        self.folder_cancel = QPushButton("Cancel")
        top = QHBoxLayout()
        top.addWidget(self.folder_btn)
        top.addWidget(self.folder_label, 1)
        run = QHBoxLayout()
        for w in (self.steps_spin, self.folder_mode, self.folder_start, self.folder_cancel):
            run.addWidget(w)
        run.addStretch(1)
        self.curves = LiveCurves(max_fps=4, smoothing=0.0, show_controls=False)  # few points: drawn as they are
        self.curves.add_series("loss", plot="Training loss")
        self.curves.add_series("accuracy", plot="Held-out accuracy", color=(76, 208, 125))
        self.confusion = ClassConfusion()
        self.gallery = ImageTiles(GALLERY, side=72)
        results = QWidget()
        rv = QVBoxLayout(results)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(QLabel("Confusion on held-out images (rows: true, columns: predicted)"))
        rv.addWidget(self.confusion, 1)
        rv.addWidget(QLabel("Most confused held-out images (true -> predicted, confidence)"))
        rv.addWidget(self.gallery)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.curves)
        split.addWidget(results)
        split.setChildrenCollapsible(False)
        v = QVBoxLayout(box)
        v.addLayout(top)
        v.addWidget(self.picker)
        v.addLayout(run)
        v.addWidget(split, 1)
        self.folder_btn.clicked.connect(self._ask_folder)
        self.folder_start.clicked.connect(self.start_folder)
        self.folder_cancel.clicked.connect(self.cancel_folder)
        return box

    def set_models(self, specs) -> None:
        """The registry's Compare classifiers (the Compare tab lists them on the worker thread)."""
        current = self.picker.current()
        self.picker.set_models(model_entries(specs), current)

    # ---- pretrained vs scratch ---------------------------------------------------------------------
    @Slot()
    def _on_race_choice(self, *_args) -> None:
        self.session.choose(self.arch_combo.currentData(), self.per_class_combo.currentData(),
                            self.mode_combo.currentData())
        self.draw_race()

    @Slot()
    def start_race(self) -> None:
        args = self.session.start()
        if args is None:
            return
        self.ctx.worker.submit(race_job, *args, lab_dir(), channel=RACE, title="Pretrained vs from scratch",
                               on_partial=self._on_race_partial, on_result=self._on_race_done,
                               on_error=self._on_race_error)
        self.draw_race()

    @Slot()
    def cancel_race(self) -> None:
        self.ctx.worker.cancel(RACE)
        self.session.race_cancelled()
        self.draw_race()

    def _on_race_partial(self, item) -> None:
        if self.session.race_update(item):
            self.draw_race()

    def _on_race_done(self, result) -> None:
        self.session.race_done(result)
        self.draw_race()

    def _on_race_error(self, message: str) -> None:
        self.session.race_failed(message)
        self.draw_race()

    def draw_race(self) -> None:
        frame = self.session.render_race()
        self.race_frame = frame
        self.race_plot.set_curves(frame.curves, y_range=(0.0, 1.0))
        self.race_result.setText(frame.result)
        running = self.session.phase.value == "running"
        for w in (self.arch_combo, self.per_class_combo, self.mode_combo, self.race_start):
            w.setEnabled(not running)
        self.race_cancel.setEnabled(running)

    # ---- a user's folder ---------------------------------------------------------------------------
    @Slot()
    def _ask_folder(self) -> None:
        path = self.ask_folder()
        if path:
            self.choose_folder(path)

    def choose_folder(self, path: str) -> None:
        if self.session.folder_chosen(path):
            self.ctx.worker.submit(index_job, path, channel=INDEX, title="Indexing a folder of images",
                                   on_progress=self._on_index_progress, on_result=self._on_indexed,
                                   on_error=self._on_folder_error)
        self.draw_folder()

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt name)
        local = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not local:
            return
        event.acceptProposedAction()
        if Path(local[0]).is_dir():
            self.choose_folder(local[0])
        else:
            self.session.folder_failed(f"{Path(local[0]).name} is a file: drop a folder with one sub-folder per "
                                       "class.")
            self.draw_folder()

    def _on_index_progress(self, progress) -> None:
        self.session.index_progress_text(progress)
        self.draw_folder()

    def _on_indexed(self, index) -> None:
        self.session.indexed(index)
        self.draw_folder()

    def _on_folder_error(self, message: str) -> None:
        self.session.folder_failed(message)
        self.draw_folder()

    @Slot()
    def start_folder(self) -> None:
        picked = self.picker.current()
        if picked is None:
            self.session.folder_failed("Choose a classifier (and its weights) to fine-tune first.")
            self.draw_folder()
            return
        self.session.retrain()
        if not self.session.train_started():
            return
        self.curves.clear()
        self.control.clear()
        settings = {"steps": self.steps_spin.value(), "mode": self.folder_mode.currentData(),
                    "eval_every": max(10, self.steps_spin.value() // 10)}
        self.ctx.worker.submit(folder_job, picked.key, picked.kind, picked.ref, self.session.index, settings,
                               self.control, self.out_dir, channel=TUNE, title="Fine-tuning on a folder",
                               on_partial=self._on_tune_update, on_result=self._on_tuned,
                               on_error=self._on_folder_error)
        self.draw_folder()

    @Slot()
    def cancel_folder(self) -> None:
        """Cancel indexing or fine-tuning: the run is discarded (nothing saved), the indexed folder stays."""
        self.ctx.worker.cancel(INDEX)
        self.ctx.worker.cancel(TUNE)
        self.session.folder_cancelled()
        self.draw_folder()

    def _on_tune_update(self, upd) -> None:
        loss, acc = self.session.train_update(upd)
        if loss is not None:
            self.curves.append_series("loss", [loss[0]], [loss[1]])
        if acc is not None:
            self.curves.append_series("accuracy", [acc[0]], [acc[1]])
        self.draw_folder()

    def _on_tuned(self, result) -> None:
        view = self.session.train_done(result)
        self.confusion.set_classes(view.confusion, view.classes)
        self.gallery.set_tiles(list(view.gallery), view.captions)
        self.models_changed.emit()  # the job registered the saved model: the pickers list the models again
        self.draw_folder()

    def draw_folder(self) -> None:
        c = self.session.folder_controls()
        self.folder_label.setText(c.status)
        error = bool(self.session.folder_error)
        self.folder_label.setStyleSheet("color: #ffb74d;" if error else "")
        self.folder_btn.setEnabled(c.choose)
        self.folder_start.setEnabled(c.start)
        self.folder_cancel.setEnabled(c.cancel)

    # ---- the tab's lifecycle -----------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self.session.folder_phase == FolderPhase.INDEXING

    def confirm_close(self) -> bool:
        return True

    def shutdown(self) -> None:
        self.control.request_stop()
        for ch in (RACE, INDEX, TUNE):
            self.ctx.worker.cancel(ch)

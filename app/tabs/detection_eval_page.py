"""The Detection tab's "evaluation" view: run the chosen detector over a data set (the bundled validation
scenes or a COCO JSON + image folder) in the worker service, then PR curves per class, the AP table, a
confusion matrix with a background row and column, and the worst images. A thin page: the values come from
`app.detection_eval_session.EvalSession`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from models.detection.eval_job import DatasetRequest, EvalRun, evaluate_job
from models.detection.eval_metrics import AP_COLUMNS
from widgets.detection_confusion import ConfusionMatrix
from widgets.detection_eval_tables import APTable, WorstImages
from widgets.detection_pr_plot import PRPlot
from widgets.detection_status import StatusLine
from widgets.float_slider import decimal_slider

from ..detection_eval_session import EvalSession
from .detection_image_view import text_label

CHANNEL = "detection-eval"
MAX_CELL_LINES = 300


def _box(title: str, *widgets: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    v = QVBoxLayout(box)
    v.setContentsMargins(4, 4, 4, 4)
    for w in widgets:
        v.addWidget(w, 1 if not isinstance(w, QLabel) else 0)
    return box


class DetectionEvalPage(QWidget):
    open_image = Signal(object, object)  # (H, W, 3) uint8 image, its GroundTruth: show it in the image view

    def __init__(self, ctx, model_ref: Callable[[], tuple[str, str, str]], parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model_ref = model_ref  # () -> (registry key, reference, title) of the chosen detector
        self.session = EvalSession()
        self._rid: int | None = None
        self._coco: tuple[str, str] | None = None  # (json path, image folder) picked by the user
        self._request: DatasetRequest | None = None  # of the run in progress
        self._build()

    def _build(self) -> None:
        self.dataset_box = QComboBox()
        self.dataset_box.addItems(["Validation scenes (generated)", "COCO JSON + image folder..."])
        self.dataset_box.setToolTip("Generated 96x96 shapes scenes with their boxes (seed 20261125, never used for "
                                    "training), or your own COCO annotations and their images.")
        self.n_spin = QSpinBox()
        self.n_spin.setRange(10, 20_000)
        self.n_spin.setSingleStep(100)
        self.n_spin.setValue(500)
        self.n_spin.setSuffix(" scenes")
        self.eval_button = QPushButton("Evaluate")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        top = QHBoxLayout()
        top.addWidget(QLabel("Data set:"))
        top.addWidget(self.dataset_box)
        top.addWidget(self.n_spin)
        top.addWidget(self.eval_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.progress, 1)

        self.threshold = decimal_slider(0.0, 1.0, self.session.threshold)
        self.iou = decimal_slider(0.5, 0.95, 0.5)
        self.iou.setSingleStep(0.05)
        self.iou.setToolTip("A prediction is a true positive when it overlaps an unmatched ground truth of its class by "
                            "at least this IoU (COCO's thresholds 0.50, 0.55, ..., 0.95).")
        self.hide_tp = QCheckBox("Hide true positives")
        self.json_button = QPushButton("Export metrics JSON...")
        self.png_button = QPushButton("Export plots PNG...")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Score threshold"))
        controls.addWidget(self.threshold, 2)
        controls.addWidget(QLabel("IoU"))
        controls.addWidget(self.iou, 1)
        controls.addWidget(self.hide_tp)
        controls.addWidget(self.json_button)
        controls.addWidget(self.png_button)

        self.title = StatusLine(lines=1)
        self.title.setText("Choose a data set and press Evaluate: the chosen model runs over every image.")
        self.summary = StatusLine(lines=1)
        self.pr_plot = PRPlot()
        self.ap_table = APTable(AP_COLUMNS)
        self.confusion = ConfusionMatrix()
        self.cell_list = QListWidget()
        self.cell_hint = text_label("Click a cell to list its detections; click a line to open that image.")
        self.worst = WorstImages()
        grid = QGridLayout()
        grid.addWidget(_box("Precision-recall per class (drag along a curve to set the threshold)", self.pr_plot), 0, 0)
        grid.addWidget(_box("Confusion matrix (rows: ground truth, columns: prediction)", self.confusion), 0, 1)
        grid.addWidget(_box("AP per class (COCO, 101-point interpolation, 100 detections per image)", self.ap_table),
                       1, 0)
        cells = QWidget()
        cl = QHBoxLayout(cells)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(_box("Detections of the clicked cell", self.cell_hint, self.cell_list), 1)
        cl.addWidget(_box("Worst images (click to open)", self.worst), 1)
        grid.addWidget(cells, 1, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(top)
        outer.addLayout(controls)
        outer.addWidget(self.title)
        outer.addWidget(self.summary)
        outer.addLayout(grid, 1)

        self.dataset_box.activated.connect(self._on_dataset)
        self.eval_button.clicked.connect(self.evaluate)
        self.cancel_button.clicked.connect(self.cancel)
        self.threshold.valueChanged.connect(self._on_threshold)
        self.iou.valueChanged.connect(self._on_iou)
        self.hide_tp.toggled.connect(self._on_hide_tp)
        self.pr_plot.picked.connect(self._on_pr_picked)
        self.confusion.cell_picked.connect(self._on_cell)
        self.cell_list.itemClicked.connect(self._on_cell_line)
        self.worst.image_picked.connect(self._open)
        self.json_button.clicked.connect(self._ask_json)
        self.png_button.clicked.connect(self._ask_png)
        self._set_results_enabled(False)

    # ---- the data set and the run --------------------------------------------------------------
    @Slot(int)
    def _on_dataset(self, index: int) -> None:
        if index == 1:
            path, _ = QFileDialog.getOpenFileName(self, "COCO annotations (JSON)", "", "COCO JSON (*.json)")
            folder = QFileDialog.getExistingDirectory(self, "The folder with its images", str(Path(path).parent)) \
                if path else ""
            if path and folder:
                self.set_coco(path, folder)
            elif self._coco is None:
                self.dataset_box.setCurrentIndex(0)
        self.n_spin.setEnabled(self.dataset_box.currentIndex() == 0)

    def set_coco(self, json_path: str, folder: str) -> None:
        """Evaluate on a COCO JSON and its image folder (checked when Evaluate runs)."""
        self._coco = (str(json_path), str(folder))
        self.dataset_box.setCurrentIndex(1)
        self.dataset_box.setItemText(1, f"COCO: {Path(json_path).name}")
        self.n_spin.setEnabled(False)

    def request(self) -> DatasetRequest:
        if self.dataset_box.currentIndex() == 1 and self._coco is not None:
            path, folder = self._coco
            stamp = os.stat(path).st_mtime_ns if os.path.exists(path) else 0
            return DatasetRequest("coco", json_path=path, folder=folder, stamp=stamp)
        return DatasetRequest("scenes", n=self.n_spin.value())

    @Slot()
    def evaluate(self) -> None:
        key, ref, title = self.model_ref()
        request = self.request()
        cached = self.session.cached(key, ref, request)
        if cached is not None:
            self.show_run(cached)
            return
        self._rid = self.ctx.worker.submit(evaluate_job, key, ref, request, channel=CHANNEL,
                                           title=f"Evaluating {title}", on_result=self._on_result,
                                           on_progress=self._on_progress, on_error=self._on_error)
        self._request = request
        self.eval_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setFormat("starting...")

    @Slot()
    def cancel(self) -> None:
        self.ctx.worker.cancel(CHANNEL)
        self._finish("cancelled")

    def is_busy(self) -> bool:
        return self._rid is not None

    def _finish(self, text: str) -> None:
        self._rid = None
        self.eval_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setFormat(text)

    @Slot(object)
    def _on_progress(self, p) -> None:
        if p.fraction is not None:
            self.progress.setValue(int(p.fraction * 100))
        self.progress.setFormat(p.message)

    @Slot(str)
    def _on_error(self, message: str) -> None:
        self._finish("failed")
        self.title.setText(message)
        self.ctx.show_error(message)

    @Slot(object)
    def _on_result(self, run: EvalRun) -> None:
        self._finish(f"done: {len(run.dataset)} images in {run.total_s:.1f} s")
        self.progress.setValue(100)
        self.session.set_run(run, self._request)
        self.show_run(run)

    def show_run(self, run: EvalRun) -> None:
        """Show a finished run (from the worker, the cache, or a benchmark)."""
        if self.session.run is not run:
            self.session.set_run(run, self.request())
        self._set_results_enabled(True)
        self._draw_curves()

    def _set_results_enabled(self, on: bool) -> None:
        for w in (self.json_button, self.png_button, self.hide_tp):
            w.setEnabled(on)

    # ---- drawing ------------------------------------------------------------------------------
    def _draw_curves(self) -> None:
        c = self.session.curves()
        self.pr_plot.set_curves(c.recall, c.precision, c.class_names)
        self.pr_plot.setTitle(f"IoU {c.iou:.2f}", size="9pt")
        self.ap_table.set_rows(c.ap_names, c.ap_values)
        self.title.setText(c.title)
        self.draw_threshold()

    def draw_threshold(self) -> None:
        if self.session.run is None:
            return
        v = self.session.view()
        self.pr_plot.set_points(v.points)
        self.confusion.set_matrix(v.confusion, v.labels, v.tp_hidden)
        self.worst.set_rows(v.worst)
        self.summary.setText(v.summary)

    @Slot(float)
    def _on_threshold(self, value: float) -> None:
        self.session.threshold = value
        self.draw_threshold()

    @Slot(float)
    def _on_iou(self, value: float) -> None:
        old = self.session.iou_index
        self.session.set_iou(value)
        if self.session.run is not None and self.session.iou_index != old:
            self._draw_curves()

    @Slot(bool)
    def _on_hide_tp(self, on: bool) -> None:
        self.session.hide_tp = on
        self.draw_threshold()

    @Slot(float, float)
    def _on_pr_picked(self, recall: float, precision: float) -> None:
        value = self.session.threshold_at(recall, precision)
        if value is not None:
            self.threshold.setValue(value)

    @Slot(int, int)
    def _on_cell(self, row: int, col: int) -> None:
        if self.session.run is None:
            return
        lines = self.session.cell_lines(row, col)
        self.cell_list.clear()
        for index, text in lines[:MAX_CELL_LINES]:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, index)
            self.cell_list.addItem(item)
        more = len(lines) - MAX_CELL_LINES
        self.cell_hint.setText(f"{len(lines)} in this cell" + (f" ({more} more not listed)" if more > 0 else "")
                               + ". Click a line to open that image.")

    @Slot(QListWidgetItem)
    def _on_cell_line(self, item: QListWidgetItem) -> None:
        self._open(int(item.data(Qt.ItemDataRole.UserRole)))

    @Slot(int)
    def _open(self, index: int) -> None:
        self.open_image.emit(*self.session.image_for(index))

    # ---- export -------------------------------------------------------------------------------
    def export_json(self, path: str | Path) -> None:
        try:
            self.session.export_json(path)
        except OSError as exc:
            self.ctx.show_error(f"Could not write {path}: {exc.strerror or exc}.")

    def export_png(self, path: str | Path) -> list[Path]:
        """The PR plot as PATH and the confusion matrix as PATH-confusion.png."""
        path = Path(path).with_suffix(".png")
        out = [path, path.with_name(path.stem + "-confusion.png")]
        for widget, p in zip((self.pr_plot, self.confusion), out):
            if not widget.grab().save(str(p), "PNG"):
                self.ctx.show_error(f"Could not write {p}.")
        return out

    @Slot()
    def _ask_json(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export evaluation metrics",
                                              self.ctx.export_path("evaluation.json"), "JSON (*.json)")
        if path:
            self.export_json(path)

    @Slot()
    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export PR curves and confusion matrix",
                                              self.ctx.export_path("evaluation.png"),
                                              "PNG (*.png)")
        if path:
            self.export_png(path)

    def prepare_screenshot(self) -> None:
        if self.session.run is None and self._rid is None:
            self.evaluate()

    def shutdown(self) -> None:
        self.ctx.worker.cancel(CHANNEL)

"""The Detection tab: boxes from detectors (bundled shapes DETR, Hugging Face DETR family, torchvision),
re-filtered instantly by threshold, class and NMS; a linked table; where each object query looked; and,
when the image has annotations, which predictions are right and why the others are wrong.

A thin Qt page: the state and every value drawn come from `app.detection_session.DetectionSession`.
Sub-views (`views`, `show_view`, `add_view`): "image" (this one image) and more added by `add_view`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QStackedWidget,
                               QTabBar, QVBoxLayout, QWidget)

from models.detection.ground_truth import GroundTruth, sample_ground_truth
from models.detection.jobs import BUNDLED_KEY, DetectorInfo, detect_job, list_detectors_job
from models.detection.result import DetectionResult, coco_document

from ..detection_session import DetectionSession
from .base import TabPage
from .detection_eval_page import DetectionEvalPage
from .detection_image_view import DetectionImageView, set_text
from .detection_qkv_page import DetectionQKVPage

BUNDLED_INFO = DetectorInfo(BUNDLED_KEY, "Shapes DETR (bundled, trained here)", "", "", False, False)


class DetectionTab(TabPage):
    key = "detection"
    title = "Detection"
    views: tuple[str, ...] = ("image",)
    view_changed = Signal(str)  # the sub-view now in front
    result_changed = Signal(object)  # a new DetectionResult is shown
    selection_changed = Signal(int)  # the selected box's object query (-1: none, or no queries)

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self.views = tuple(type(self).views)  # per page: add_view extends this page's own tuple
        self._extra_views: list[QWidget] = []  # added by add_view
        self.session = DetectionSession()
        self._rid: int | None = None
        self._infos: list[DetectorInfo] = [BUNDLED_INFO]
        self._screenshot = False
        self._build()
        self.session.class_enabled = self.classes.is_enabled
        self.ctx.worker.submit(list_detectors_job, channel="detection-list", title="Listing detectors",
                               on_result=self._on_detectors, on_error=lambda msg: None)

    # ---- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.model_box = QComboBox()
        self.model_box.addItem(BUNDLED_INFO.title)
        self.model_box.setMinimumContentsLength(28)
        self.ref_edit = QLineEdit()
        self.ref_edit.setPlaceholderText("Hugging Face id or local folder")
        self.folder_button = QPushButton("Folder...")
        self.run_button = QPushButton("Run")
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.model_box, 1)
        top.addWidget(self.ref_edit, 2)
        top.addWidget(self.folder_button)
        top.addWidget(self.run_button)
        self.view_bar = QTabBar()
        self.view_bar.setExpanding(False)
        self.view_bar.addTab("One image")
        self.stack = QStackedWidget()
        self.image_view = DetectionImageView(self.session.hover_text(), self.session)
        iv = self.image_view  # its widgets, by the names the tests and benchmarks use
        (self.canvas, self.boxes_item, self.hover_label, self.head_box, self.gt_check, self.clear_button,
         self.threshold, self.nms, self.match_iou, self.nms_note, self.classes, self.table, self.summary,
         self.timing, self.explain, self.png_button, self.json_button) = (
            iv.canvas, iv.boxes_item, iv.hover_label, iv.head_box, iv.gt_check, iv.clear_button, iv.threshold,
            iv.nms, iv.match_iou, iv.nms_note, iv.classes, iv.table, iv.summary, iv.timing, iv.explain,
            iv.png_button, iv.json_button)
        self.stack.addWidget(iv)
        self.eval_page = DetectionEvalPage(self.ctx, self.model_ref)
        outer = QVBoxLayout(self)
        outer.addLayout(top)
        outer.addWidget(self.view_bar)
        outer.addWidget(self.stack, 1)
        self._update_ref_visibility()
        self.add_view("evaluation", "Data set evaluation", self.eval_page)
        self.qkv_page = DetectionQKVPage(self.ctx, self.model_ref)  # issue 14: follows this tab's model, image, box
        self.add_view("qkv", "Q, K, V (cross-attention)", self.qkv_page)
        self.result_changed.connect(self.qkv_page.on_result)
        self.selection_changed.connect(self.qkv_page.select_query)

        self.model_box.currentIndexChanged.connect(self._on_model_changed)
        self.ref_edit.returnPressed.connect(self.run)
        self.run_button.clicked.connect(self.run)
        self.folder_button.clicked.connect(self._pick_folder)
        self.view_bar.currentChanged.connect(self._on_view_tab)
        self.threshold.valueChanged.connect(self._on_threshold)
        self.nms.valueChanged.connect(self._on_nms)
        self.match_iou.valueChanged.connect(self._on_match_iou)
        self.gt_check.toggled.connect(self._on_gt_toggled)
        self.classes.enabled_changed.connect(self.refilter)
        self.canvas.hovered.connect(self._on_hover)
        self.canvas.clicked.connect(self._on_click)
        self.table.row_selected.connect(self._select_row)
        self.table.row_hovered.connect(self._on_table_hover)
        self.head_box.currentIndexChanged.connect(self._on_head)
        self.clear_button.clicked.connect(self._clear_attention)
        self.png_button.clicked.connect(self._ask_png)
        self.json_button.clicked.connect(self._ask_json)
        self.eval_page.open_image.connect(self._open_eval_image)
        self.eval_page.threshold.valueChanged.connect(self.threshold.setValue)  # one threshold for both views
        self.threshold.valueChanged.connect(self.eval_page.threshold.setValue)

    # ---- sub-views ---------------------------------------------------------------------------
    def add_view(self, name: str, title: str, widget: QWidget) -> None:
        """Add a sub-view: a tab `title` in the view bar, addressable as `--view name` and show_view(name).
        The widget's optional is_busy(), prepare_screenshot() (while it is the current view) and shutdown()
        are called with the tab's own."""
        if name in self.views:
            raise ValueError(f"the Detection tab already has a view {name!r}")
        self.views = self.views + (name,)
        self._extra_views.append(widget)
        self.stack.addWidget(widget)
        self.view_bar.addTab(title)

    def show_view(self, view: str) -> None:
        super().show_view(view)
        self.view_bar.setCurrentIndex(self.views.index(view))

    def current_view(self) -> str:
        return self.views[self.stack.currentIndex()]

    @Slot(int)
    def _on_view_tab(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        self.view_changed.emit(self.views[index])

    # ---- model and image ---------------------------------------------------------------------
    @property
    def infos(self) -> list[DetectorInfo]:
        return list(self._infos)

    @property
    def info(self) -> DetectorInfo:
        return self._infos[max(self.model_box.currentIndex(), 0)]

    @property
    def result(self) -> DetectionResult | None:
        return self.session.result

    @property
    def shown(self) -> np.ndarray:
        v = self.session.view
        return v.shown if v is not None else np.zeros(0, np.int64)

    @property
    def selected(self) -> int:
        return self.session.selected

    @property
    def clicked_point(self) -> tuple[float, float] | None:
        return self.session.clicked_point

    def model_ref(self) -> tuple[str, str, str]:
        """(registry key, reference, title) of the chosen detector."""
        info = self.info
        return info.key, (self.ref_edit.text().strip() if info.asks_for_ref else ""), info.title

    @Slot(object)
    def _on_detectors(self, infos: list[DetectorInfo]) -> None:
        current = self.info.key
        self._infos = list(infos)
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for i in infos:
            self.model_box.addItem(i.title)
            self.model_box.setItemData(self.model_box.count() - 1, i.description, Qt.ItemDataRole.ToolTipRole)
        keys = [i.key for i in infos]
        self.model_box.setCurrentIndex(keys.index(current) if current in keys else 0)
        self.model_box.blockSignals(False)
        self._update_ref_visibility()

    def _update_ref_visibility(self) -> None:
        info = self.info
        self.ref_edit.setVisible(info.asks_for_ref)
        self.folder_button.setVisible(info.asks_for_ref)
        if info.asks_for_ref and not self.ref_edit.text():
            self.ref_edit.setText(info.default_ref)

    @Slot(int)
    def _on_model_changed(self, index: int) -> None:
        self.ref_edit.clear()
        self._update_ref_visibility()
        self.run()

    @Slot()
    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A model folder saved with save_pretrained")
        if folder:
            self.ref_edit.setText(folder)
            self.run()

    def set_image(self, image: np.ndarray, ground_truth: GroundTruth | None = None) -> None:
        """A new image (with its annotations when known; else the bundled sample scenes are recognised)."""
        super().set_image(image)
        self.session.set_ground_truth(ground_truth if ground_truth is not None else sample_ground_truth(image))
        has_gt = self.session.ground_truth is not None
        self.gt_check.setEnabled(has_gt)
        self.match_iou.setEnabled(has_gt)
        self.run()

    def on_device_changed(self, device: str) -> None:
        if self.result is not None:
            self.run()

    @Slot()
    def run(self) -> None:
        if self.image is None:
            return
        key, ref, title = self.model_ref()
        self._rid = self.ctx.worker.submit(detect_job, key, ref, self.image, channel="detection",
                                           title=f"Detecting with {title}", on_result=self._on_result,
                                           on_error=self._on_error)

    def _view_hooks(self, name: str) -> list:
        return [h for h in (getattr(w, name, None) for w in self._extra_views) if callable(h)]

    def is_busy(self) -> bool:
        return self._rid is not None or any(busy() for busy in self._view_hooks("is_busy"))

    @Slot(object, object)
    def _open_eval_image(self, image: np.ndarray, ground_truth: GroundTruth) -> None:
        """An image picked in the evaluation view, shown here with its ground truth and verdicts."""
        self.set_image(image, ground_truth)
        self.show_view("image")

    @Slot(str)
    def _on_error(self, message: str) -> None:
        self._rid = None
        self.hover_label.setText(message)
        self.ctx.show_error(message)

    @Slot(object)
    def _on_result(self, result: DetectionResult) -> None:
        self._rid = None
        self.show_result(result)
        if self._screenshot and len(self.shown):
            self._select_row(0)

    def show_result(self, result: DetectionResult) -> None:
        """Show a new forward's result (all views are redrawn from it without the model)."""
        old = self.session.result
        if old is None or old.image is not result.image:  # a re-run on the same image keeps the drawn image
            self.canvas.set_image(result.image)
        if old is None or old.image.shape != result.image.shape:
            self.canvas.view.autoRange(padding=0.01)
        self.boxes_item.set_image_rect(result.image.shape[1], result.image.shape[0])
        self.session.set_result(result)
        heads = self.session.heads
        if self.head_box.count() != heads + 1:
            self.head_box.blockSignals(True)
            self.head_box.clear()
            self.head_box.addItem("mean of heads")
            self.head_box.addItems([f"head {i + 1}" for i in range(heads)])
            self.head_box.blockSignals(False)
            self.session.head = -1
        if self.head_box.isEnabled() != (heads > 0):
            self.head_box.setEnabled(heads > 0)
        if self.nms.isEnabled() != result.needs_nms:
            self.nms.setEnabled(result.needs_nms)
        set_text(self.nms_note, self.session.nms_note)
        self._draw()
        self.result_changed.emit(result)

    # ---- filtering and drawing -------------------------------------------------------------
    @Slot(float)
    def _on_threshold(self, value: float) -> None:
        self.session.set_threshold(value)
        self._draw()

    @Slot(float)
    def _on_nms(self, value: float) -> None:
        self.session.set_nms_iou(value)
        self._draw()

    @Slot(float)
    def _on_match_iou(self, value: float) -> None:
        self.session.set_match_iou(value)
        self._draw()

    @Slot(bool)
    def _on_gt_toggled(self, on: bool) -> None:
        self.session.show_ground_truth = on
        self.refilter()

    @Slot()
    def refilter(self, *args) -> None:
        """Apply threshold, class ticks and NMS to the saved candidates and redraw (no model run)."""
        if self.session.refilter() is not None:
            self._draw()

    def _draw(self) -> None:
        if self.session.view is not None:
            self.image_view.draw(self.session.view, self.session.selected)
            self._draw_attention()

    def _draw_attention(self) -> None:
        self.image_view.draw_attention(self.session.attention(), self.session.hover_text())

    @Slot(int)
    def _on_head(self, index: int) -> None:
        self.session.head = index - 1
        self._draw_attention()

    @Slot()
    def _clear_attention(self) -> None:
        self.session.clear()
        self._select_row(-1)

    # ---- interaction -----------------------------------------------------------------------
    def hover_at(self, x: float, y: float) -> None:
        """The mouse is over image pixel (x, y) (NaN: it left the image)."""
        row = -1 if math.isnan(x) else self.boxes_item.box_at(x, y)
        if row != self.session.hovered:
            self.session.hover(row)
            self.boxes_item.set_highlight(hovered=row)
            set_text(self.hover_label, self.session.hover_text())

    @Slot(float, float)
    def _on_hover(self, x: float, y: float) -> None:
        self.hover_at(x, y)

    @Slot(int)
    def _on_table_hover(self, row: int) -> None:
        self.session.hover(row)
        self.boxes_item.set_highlight(hovered=row)
        set_text(self.hover_label, self.session.hover_text())

    @Slot(float, float)
    def _on_click(self, x: float, y: float) -> None:
        row = self.boxes_item.box_at(x, y)
        if row >= 0:
            self._select_row(row)
            return
        self.session.click_background(x, y)
        self.session.hover(-1)  # the box under the mouse before the click is not described any more
        self._select_row(-1)

    @Slot(int)
    def _select_row(self, row: int) -> None:
        self.session.select(row)
        self.boxes_item.set_highlight(selected=self.session.selected)
        self.table.select_source_row(self.session.selected)
        self._draw_attention()
        q = self.session.query_of_row(self.session.selected)
        self.selection_changed.emit(-1 if q is None else q)

    # ---- export ----------------------------------------------------------------------------
    def export_widget(self) -> QWidget:
        return self.canvas if self.stack.currentIndex() == 0 else self.stack.currentWidget()

    def export_png(self, path: str | Path) -> None:
        if not self.canvas.grab().save(str(path), "PNG"):
            self.ctx.show_error(f"Could not write {path}.")

    def export_coco(self, path: str | Path) -> None:
        if self.result is None:
            return
        doc = coco_document(self.result, self.shown, file_name=Path(path).with_suffix(".png").name)
        try:
            Path(path).write_text(json.dumps(doc, indent=1))
        except OSError as exc:
            self.ctx.show_error(f"Could not write {path}: {exc.strerror or exc}.")

    @Slot()
    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export annotated image",
                                              self.ctx.export_path("detections.png"), "PNG (*.png)")
        if path:
            self.export_png(path)

    @Slot()
    def _ask_json(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export detections",
                                              self.ctx.export_path("detections.json"), "COCO JSON (*.json)")
        if path:
            self.export_coco(path)

    def prepare_screenshot(self) -> None:
        self._screenshot = True
        prepare = getattr(self.stack.currentWidget(), "prepare_screenshot", None)
        if self.stack.currentIndex() > 0 and callable(prepare):
            prepare()
        if self.result is not None and len(self.shown):
            self._select_row(0)

    def shutdown(self) -> None:
        self.ctx.worker.cancel("detection")
        for shutdown in self._view_hooks("shutdown"):
            shutdown()

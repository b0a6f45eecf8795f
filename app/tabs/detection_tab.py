"""The Detection tab: boxes from detectors (bundled shapes DETR, Hugging Face DETR family, torchvision),
re-filtered instantly by threshold, class and NMS; a linked table; and where each object query looked."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSize, Qt, Slot
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSizePolicy, QSplitter, QVBoxLayout, QWidget)
from superqt import QLabeledDoubleSlider

from models.detection.jobs import BUNDLED_KEY, DetectorInfo, detect_job, list_detectors_job
from models.detection.result import DetectionResult, coco_document
from widgets.detection_boxes import BoxesItem
from widgets.detection_classes import ClassList
from widgets.detection_table import DetectionTable
from widgets.image_view import ImageView

from . import detection_texts as T
from .base import TabPage

BUNDLED_INFO = DetectorInfo(BUNDLED_KEY, "Shapes DETR (bundled, trained here)", "", "", False, False)


def _slider(lo: float, hi: float, value: float) -> QLabeledDoubleSlider:
    s = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setDecimals(2)
    s.setSingleStep(0.01)
    s.setValue(value)
    return s


def _text(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _set_text(label: QLabel, text: str) -> bool:
    """setText only when the text changes (a word-wrapped label's setText re-lays out its page)."""
    if label.text() == text:
        return False
    label.setText(text)
    return True


class _StatusLine(QWidget):
    """Up to two lines of word-wrapped text whose changes repaint only this widget. A fixed height and a
    constant size hint: unlike QLabel.setText, a new text never re-lays out the page beside it (the
    summary changes with every result and every threshold step). The full text is also the tooltip.
    With `width_of`, a fixed width that fits that text (for a short, often changing text)."""

    def __init__(self, lines: int = 2, width_of: str = "", parent=None) -> None:
        super().__init__(parent)
        self._text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + 4)
        if width_of:
            self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self.setFixedWidth(self.fontMetrics().horizontalAdvance(width_of) + 8)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # paints its own background: parents need not
        side = Qt.AlignmentFlag.AlignRight if width_of else Qt.AlignmentFlag.AlignLeft
        self._flags = int(Qt.TextFlag.TextWordWrap | side | Qt.AlignmentFlag.AlignVCenter)
        self._colours()

    def _colours(self) -> None:
        self._bg = self.palette().color(QPalette.ColorRole.Window)
        self._fg = self.palette().color(QPalette.ColorRole.WindowText)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._colours()
        super().changeEvent(event)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.setToolTip(text)
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(120, self.height())

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(event.rect(), self._bg)
        p.setPen(self._fg)
        p.drawText(self.rect(), self._flags, self._text)
        p.end()


class DetectionTab(TabPage):
    key = "detection"
    title = "Detection"

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self.result: DetectionResult | None = None
        self.shown = np.zeros(0, np.int64)  # candidate indices on screen, best first (table/canvas rows)
        self.selected = -1  # row in self.shown
        self.clicked_point: tuple[float, float] | None = None
        self._rid: int | None = None
        self._infos: list[DetectorInfo] = [BUNDLED_INFO]
        self._screenshot = False
        self._build()
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

        self.canvas = ImageView(show_colorbar=True)
        self.boxes_item = BoxesItem()
        self.canvas.add_item(self.boxes_item)
        self.points_item = pg.ScatterPlotItem(pxMode=True)
        self.points_item.setZValue(25)
        self.canvas.add_item(self.points_item)
        self.marker_item = pg.ScatterPlotItem(pxMode=True, symbol="+", size=18,
                                              pen=pg.mkPen("w", width=2), brush=None)
        self.marker_item.setZValue(40)
        self.canvas.add_item(self.marker_item)
        self.hover_label = _text("Hover a box for its details. Click a box for its query's attention, "
                                 "anywhere else for the encoder's attention from that point.")
        self.head_box = QComboBox()
        self.head_box.addItem("mean of heads")
        self.clear_button = QPushButton("Boxes only")
        view_row = QHBoxLayout()
        view_row.addWidget(QLabel("Attention head:"))
        view_row.addWidget(self.head_box)
        view_row.addStretch(1)
        view_row.addWidget(self.clear_button)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.canvas, 1)
        lv.addLayout(view_row)
        lv.addWidget(self.hover_label)

        self.threshold = _slider(0.0, 1.0, 0.5)
        self.nms = _slider(0.05, 1.0, 0.5)
        self.nms_note = _text(T.NMS_NOTE_SET)
        self.nms_note.setStyleSheet("color: #888;")
        form = QFormLayout()
        form.addRow("Score threshold", self.threshold)
        form.addRow("NMS IoU", self.nms)
        form.addRow("", self.nms_note)
        self.classes = ClassList()
        self.classes.setMaximumHeight(130)
        self.table = DetectionTable()
        self.table.setMinimumWidth(360)
        self.summary = _StatusLine()  # what is shown
        self.timing = _StatusLine(width_of="forward 99999 ms")  # changes with every run: repainted alone
        self.explain = _text(T.BOXES_SET)
        self.explain.setStyleSheet("background: #2a2b2e; color: #ddd; padding: 6px; border-radius: 4px;")
        self.png_button = QPushButton("Export PNG...")
        self.json_button = QPushButton("Export COCO JSON...")
        exports = QHBoxLayout()
        exports.addWidget(self.png_button)
        exports.addWidget(self.json_button)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addLayout(form)
        rv.addWidget(QLabel("Classes (ticked are shown):"))
        rv.addWidget(self.classes)
        summary_row = QHBoxLayout()
        summary_row.addWidget(self.summary, 1)
        summary_row.addWidget(self.timing)
        rv.addLayout(summary_row)
        rv.addWidget(self.table, 1)
        rv.addWidget(self.explain)
        rv.addLayout(exports)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([640, 420])
        outer = QVBoxLayout(self)
        outer.addLayout(top)
        outer.addWidget(split, 1)
        self._update_ref_visibility()

        self.model_box.currentIndexChanged.connect(self._on_model_changed)
        self.ref_edit.returnPressed.connect(self.run)
        self.run_button.clicked.connect(self.run)
        self.folder_button.clicked.connect(self._pick_folder)
        self.threshold.valueChanged.connect(self.refilter)
        self.nms.valueChanged.connect(self.refilter)
        self.classes.enabled_changed.connect(self.refilter)
        self.canvas.hovered.connect(self._on_hover)
        self.canvas.clicked.connect(self._on_click)
        self.table.row_selected.connect(self._select_row)
        self.table.row_hovered.connect(self._on_table_hover)
        self.head_box.currentIndexChanged.connect(self._redraw_attention)
        self.clear_button.clicked.connect(self._clear_attention)
        self.png_button.clicked.connect(self._ask_png)
        self.json_button.clicked.connect(self._ask_json)

    # ---- model and image ---------------------------------------------------------------------
    @property
    def info(self) -> DetectorInfo:
        return self._infos[max(self.model_box.currentIndex(), 0)]

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

    def set_image(self, image: np.ndarray) -> None:
        super().set_image(image)
        self.run()

    def on_device_changed(self, device: str) -> None:
        if self.result is not None:
            self.run()

    @Slot()
    def run(self) -> None:
        if self.image is None:
            return
        info = self.info
        ref = self.ref_edit.text().strip() if info.asks_for_ref else ""
        self._rid = self.ctx.worker.submit(detect_job, info.key, ref, self.image, channel="detection",
                                           title=f"Detecting with {info.title}", on_result=self._on_result,
                                           on_error=self._on_error)

    def is_busy(self) -> bool:
        return self._rid is not None

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
        same_image = self.result is not None and self.result.image is result.image
        new_image = self.result is None or self.result.image.shape != result.image.shape
        self.result = result
        h, w = result.image.shape[:2]
        if not same_image:  # a new forward on the same image (model or device change) keeps the drawn image
            self.canvas.set_image(result.image)
        if new_image:
            self.canvas.view.autoRange(padding=0.01)
        self.boxes_item.set_image_rect(w, h)
        self.clicked_point, self.selected = None, -1
        heads = result.cross_attention.shape[1] if result.cross_attention is not None else 0
        if self.head_box.count() != heads + 1:
            self.head_box.blockSignals(True)
            self.head_box.clear()
            self.head_box.addItem("mean of heads")
            self.head_box.addItems([f"head {i + 1}" for i in range(heads)])
            self.head_box.blockSignals(False)
        if self.head_box.isEnabled() != (heads > 0):
            self.head_box.setEnabled(heads > 0)
        if self.nms.isEnabled() != result.needs_nms:
            self.nms.setEnabled(result.needs_nms)
        _set_text(self.nms_note, T.NMS_NOTE_NMS if result.needs_nms else T.NMS_NOTE_SET)
        self.refilter()  # also redraws the attention view (nothing is selected or clicked now)

    # ---- filtering and drawing -------------------------------------------------------------
    @Slot()
    def refilter(self, *args) -> None:
        """Apply threshold, class ticks and NMS to the saved candidates and redraw (no model run)."""
        r = self.result
        if r is None:
            return
        nms_iou = self.nms.value() if r.needs_nms else None
        before_classes = r.visible(self.threshold.value(), None, nms_iou)
        per_class = np.bincount(r.labels[before_classes])  # (max label + 1,) boxes per class
        present = np.flatnonzero(per_class).tolist()
        class_names = {c: r.class_name(c) for c in present}
        self.classes.set_counts({c: (class_names[c], n) for c, n in zip(present, per_class[present].tolist())})
        off = [c for c, name in class_names.items() if not self.classes.is_enabled(name)]
        previous = self.shown[self.selected] if 0 <= self.selected < len(self.shown) else -1
        self.shown = before_classes[~np.isin(r.labels[before_classes], off)] if off else before_classes
        names = [class_names[c] for c in r.labels[self.shown].tolist()]
        texts = [f"{n} {s:.2f}" for n, s in zip(names, r.scores[self.shown].tolist())]
        self.boxes_item.set_boxes(r.boxes[self.shown], r.labels[self.shown], texts)
        queries = r.query_index[self.shown] if r.query_index is not None else None
        self.table.set_rows(names, r.labels[self.shown], r.scores[self.shown], r.boxes[self.shown], queries)
        kept = np.flatnonzero(self.shown == previous) if previous >= 0 else ()
        self.selected = int(kept[0]) if len(kept) else -1
        self.boxes_item.set_highlight(selected=self.selected)
        self.table.select_source_row(self.selected)
        total = len(r.scores)
        self.summary.setText(f"{r.model_title}: {len(self.shown)} shown of {total} candidates")
        self.timing.setText(f"forward {r.forward_ms:.0f} ms")
        if self.selected < 0 and self.clicked_point is None:
            self._redraw_attention()  # also sets the explanation
        else:
            _set_text(self.explain, self._explanation())

    def _explanation(self) -> str:
        r = self.result
        if r is None:
            return T.BOXES_SET
        if self.selected >= 0 and r.cross_attention is not None:
            return T.CROSS
        if self.selected >= 0 and r.sampling_points is not None:
            return T.DEFORMABLE
        if self.clicked_point is not None and r.encoder_attention is not None:
            return T.ENCODER
        if r.needs_nms:
            return T.BOXES_NMS + " " + T.NO_ATTENTION
        return T.BOXES_SET

    def _query_of_row(self, row: int) -> int | None:
        r = self.result
        if r is None or r.query_index is None or not 0 <= row < len(self.shown):
            return None
        return int(r.query_index[self.shown[row]])

    @Slot()
    def _redraw_attention(self, *args) -> None:
        r = self.result
        for item in (self.points_item, self.marker_item):
            if len(item.data):  # clearing an empty scatter would still schedule a repaint
                item.clear()
            if item.isVisible():
                item.setVisible(False)  # an empty scatter still costs a paint() per frame: hidden until used
        if r is None:
            return
        q = self._query_of_row(self.selected)
        if q is not None and r.cross_attention is not None:
            maps = r.cross_attention[q]  # (heads, h, w)
            head = self.head_box.currentIndex() - 1
            self.canvas.set_overlay(maps.mean(0) if head < 0 else maps[head], smooth=False, opacity=0.6)
        elif q is not None and r.sampling_points is not None:
            self.canvas.set_overlay(None)
            pts, wts = r.sampling_points[q], r.sampling_weights[q]  # (P, 2), (P,)
            norm = wts / max(float(wts.max()), 1e-9)
            cmap = pg.colormap.get("inferno")
            brushes = [pg.mkBrush(c) for c in cmap.map(0.3 + 0.7 * norm, mode="qcolor")]
            self.points_item.setData(pos=pts, size=4 + 14 * np.sqrt(norm), brush=brushes,
                                     pen=pg.mkPen((0, 0, 0, 160)))
            self.points_item.setVisible(True)
        elif self.clicked_point is not None and r.encoder_attention is not None and r.attention_grid:
            gh, gw = r.attention_grid
            h, w = r.image.shape[:2]
            x, y = self.clicked_point
            cell = min(int(y / h * gh), gh - 1) * gw + min(int(x / w * gw), gw - 1)
            self.canvas.set_overlay(r.encoder_attention[cell].reshape(gh, gw), smooth=False, opacity=0.6)
            self.marker_item.setData(pos=[(x, y)])
            self.marker_item.setVisible(True)
        elif self.canvas.overlay_item.isVisible():
            self.canvas.set_overlay(None)
        _set_text(self.explain, self._explanation())

    @Slot()
    def _clear_attention(self) -> None:
        self.clicked_point = None
        self._select_row(-1)

    # ---- interaction -----------------------------------------------------------------------
    def _describe(self, row: int) -> str:
        r = self.result
        i = self.shown[row]
        x0, y0, x1, y1 = r.boxes[i]
        q = self._query_of_row(row)
        query = f", object query {q}" if q is not None else ""
        return (f"<b>{r.class_name(int(r.labels[i]))}</b> score {r.scores[i]:.3f}{query}: box ({x0:.0f}, {y0:.0f})"
                f" to ({x1:.0f}, {y1:.0f}), {x1 - x0:.0f} x {y1 - y0:.0f} px")

    @Slot(float, float)
    def _on_hover(self, x: float, y: float) -> None:
        row = -1 if math.isnan(x) else self.boxes_item.box_at(x, y)
        if row != self.boxes_item.hovered:
            self.boxes_item.set_highlight(hovered=row)
            if row >= 0:
                self.hover_label.setText(self._describe(row))

    @Slot(int)
    def _on_table_hover(self, row: int) -> None:
        self.boxes_item.set_highlight(hovered=row)
        if row >= 0:
            self.hover_label.setText(self._describe(row))

    @Slot(float, float)
    def _on_click(self, x: float, y: float) -> None:
        row = self.boxes_item.box_at(x, y)
        if row >= 0:
            self.clicked_point = None
            self._select_row(row)
            return
        self.clicked_point = (x, y)
        self._select_row(-1)
        if self.result is not None and self.result.encoder_attention is None:
            self.hover_label.setText("This model has no dense encoder self-attention to show.")

    @Slot(int)
    def _select_row(self, row: int) -> None:
        self.selected = row if 0 <= row < len(self.shown) else -1
        if self.selected >= 0:
            self.clicked_point = None
            self.hover_label.setText(self._describe(self.selected))
        self.boxes_item.set_highlight(selected=self.selected)
        self.table.select_source_row(self.selected)
        self._redraw_attention()

    # ---- export ----------------------------------------------------------------------------
    def export_widget(self) -> QWidget:
        return self.canvas

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
        path, _ = QFileDialog.getSaveFileName(self, "Export annotated image", "detections.png", "PNG (*.png)")
        if path:
            self.export_png(path)

    @Slot()
    def _ask_json(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export detections", "detections.json", "COCO JSON (*.json)")
        if path:
            self.export_coco(path)

    def prepare_screenshot(self) -> None:
        self._screenshot = True
        if self.result is not None and len(self.shown):
            self._select_row(0)

    def shutdown(self) -> None:
        self.ctx.worker.cancel("detection")

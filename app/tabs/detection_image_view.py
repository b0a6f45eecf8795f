"""The "one image" view of the Detection tab: the image with its boxes (and ground truth), the sliders,
class list, table and texts. Widgets only: DetectionTab connects them and draws the session's values."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from widgets.detection_boxes import BoxesItem
from widgets.detection_classes import ClassList
from widgets.detection_status import StatusLine
from widgets.detection_table import DetectionTable
from widgets.float_slider import decimal_slider
from widgets.image_view import ImageView

from ..detection_session import AttentionView, BoxesView
from .. import detection_texts as T


def text_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def set_text(label, text: str) -> None:
    """setText only when the text changes (a word-wrapped label's setText re-lays out its page)."""
    if label.text() != text:
        label.setText(text)


class DetectionImageView(QSplitter):
    def __init__(self, hover_hint: str, session, parent=None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.canvas = ImageView(show_colorbar=True)
        self.boxes_item = BoxesItem()
        self.canvas.add_item(self.boxes_item)
        self.points_item = pg.ScatterPlotItem(pxMode=True)
        self.points_item.setZValue(25)
        self.canvas.add_item(self.points_item)
        self.marker_item = pg.ScatterPlotItem(pxMode=True, symbol="+", size=18, pen=pg.mkPen("w", width=2), brush=None)
        self.marker_item.setZValue(40)
        self.canvas.add_item(self.marker_item)
        self.hover_label = text_label(hover_hint)
        self.hover_label.setFixedHeight(2 * self.hover_label.fontMetrics().lineSpacing() + 6)  # no jumps
        self.head_box = QComboBox()
        self.head_box.addItem("mean of heads")
        self.gt_check = QCheckBox("Ground truth (dashed)")
        self.gt_check.setChecked(True)
        self.gt_check.setEnabled(False)
        self.gt_check.setToolTip("Shown when the image has annotations (the shapes sample scenes do).")
        self.clear_button = QPushButton("Boxes only")
        view_row = QHBoxLayout()
        view_row.addWidget(QLabel("Attention head:"))
        view_row.addWidget(self.head_box)
        view_row.addWidget(self.gt_check)
        view_row.addStretch(1)
        view_row.addWidget(self.clear_button)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.canvas, 1)
        lv.addLayout(view_row)
        lv.addWidget(self.hover_label)

        self.threshold = decimal_slider(0.0, 1.0, session.threshold)
        self.nms = decimal_slider(0.05, 1.0, session.nms_iou)
        self.match_iou = decimal_slider(0.05, 0.95, session.match_iou)
        self.match_iou.setToolTip("A prediction is a true positive when it overlaps an unmatched ground-truth box "
                                  "of its class by at least this IoU.")
        self.match_iou.setEnabled(False)
        self.nms_note = text_label(T.NMS_NOTE_SET)
        self.nms_note.setStyleSheet("color: #888;")
        form = QFormLayout()
        form.addRow("Score threshold", self.threshold)
        form.addRow("NMS IoU", self.nms)
        form.addRow("", self.nms_note)
        form.addRow("Match IoU (TP)", self.match_iou)
        self.classes = ClassList()
        self.classes.setMaximumHeight(110)
        self.table = DetectionTable()
        self.table.setMinimumWidth(360)
        self.summary = StatusLine()  # what is shown
        self.timing = StatusLine(width_of="(first run: warm-up)")  # changes with every run: repainted alone
        self.explain = text_label(T.BOXES_SET)
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

        self.addWidget(left)
        self.addWidget(right)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)
        self.setSizes([640, 420])

    def draw(self, v: BoxesView, selected: int) -> None:
        """Boxes, ground truth, class counts, table and status lines of one filter state."""
        self.classes.set_counts(v.class_counts)
        self.boxes_item.set_boxes(v.boxes, v.labels, list(v.texts))
        self.boxes_item.set_ground_truth(v.gt_boxes, v.gt_labels, v.gt_missed)
        self.table.set_rows(v.names, v.labels, v.scores, v.boxes, v.queries, v.verdicts)
        self.boxes_item.set_highlight(selected=selected)
        self.table.select_source_row(selected)
        self.summary.setText(v.summary)
        self.timing.setText(v.timing)

    def draw_attention(self, a: AttentionView, hover_text: str) -> None:
        """The attention layer (a map, sampling points, the clicked point) and the texts under it."""
        for item in (self.points_item, self.marker_item):
            if len(item.data):  # clearing an empty scatter would still schedule a repaint
                item.clear()
            if item.isVisible():
                item.setVisible(False)  # an empty scatter still costs a paint() per frame: hidden until used
        if a.kind == "map":
            self.canvas.set_overlay(a.values, smooth=False, opacity=0.6)
        elif self.canvas.overlay_item.isVisible():
            self.canvas.set_overlay(None)
        if a.kind == "points":
            cmap = pg.colormap.get("inferno")
            brushes = [pg.mkBrush(c) for c in cmap.map(0.3 + 0.7 * a.strength, mode="qcolor")]
            self.points_item.setData(pos=a.points, size=4 + 14 * np.sqrt(a.strength), brush=brushes,
                                     pen=pg.mkPen((0, 0, 0, 160)))
            self.points_item.setVisible(True)
        if a.marker is not None:
            self.marker_item.setData(pos=[a.marker])
            self.marker_item.setVisible(True)
        set_text(self.explain, a.explanation)
        set_text(self.hover_label, hover_text)


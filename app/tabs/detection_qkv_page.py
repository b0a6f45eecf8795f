"""Detection tab, view "qkv": a DETR object query's cross-attention step by step, and its self-attention.

Thin Qt page over app.detection_qkv_session. It follows the Detection tab's model and image: the tab
passes ``model_ref`` (a callable giving (registry key, reference, title)) and calls ``on_result`` with
each new DetectionResult; when this view is shown, one forward with Q/K/V hooks runs on the worker
(channel "detection-qkv"), then every control change is numpy work on the cached capture.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Slot
from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QSpinBox, QVBoxLayout, QWidget
from superqt import QLabeledSlider

from widgets.labels import wrapped_label
from widgets.attention_mosaic import AttentionMosaic
from widgets.image_view import ImageView
from widgets.qkv_bars import TokenBars
from widgets.qkv_matrix import MatrixHeatmap

from ..detection_qkv_session import DetrQKVFrame, DetrQKVSession, detr_qkv_job
from ..vit_session import image_digest

CHANNEL = "detection-qkv"
BOX = "#9aa0a6"
SELECTED = "#ffd54f"


class DetectionQKVPage(QWidget):
    def __init__(self, ctx, model_ref: Callable[[], tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model_ref = model_ref
        self.session = DetrQKVSession()
        self.frame: DetrQKVFrame | None = None
        self.image: np.ndarray | None = None
        self._done_key: tuple | None = None
        self._running_key: tuple | None = None
        self._wanted: tuple | None = None  # (image digest, key, ref) of the tab's last result
        self._box_items: list = []
        self._build()

    def _build(self) -> None:
        self.caption = wrapped_label("Run a DETR in the Detection tab: this view shows how one object query reads the image.",
                              True, lines=2)
        self.image_view = ImageView()
        self.image_view.setMinimumSize(260, 220)
        self.image_view.setToolTip("Click a box: its object query becomes the query. The overlay is its cross-attention.")
        self.layer_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.head_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        for s in (self.layer_slider, self.head_slider):
            s.setRange(1, 1)
        self.query_spin = QSpinBox()
        self.scale_check = QCheckBox("Scale by 1/sqrt(d_k) (untick: temperature what-if)")
        self.scale_check.setChecked(True)
        box = QGroupBox("Decoder layer, head, object query")
        form = QFormLayout(box)
        form.addRow("Decoder layer", self.layer_slider)
        form.addRow("Head", self.head_slider)
        form.addRow("Object query", self.query_spin)
        form.addRow(self.scale_check)
        self.checks = wrapped_label(lines=3)
        self.explanation = wrapped_label(lines=5)
        col1 = QVBoxLayout()
        col1.addWidget(self.caption)
        col1.addWidget(self.image_view, 1)
        col1.addWidget(box)
        col1.addWidget(self.checks)
        col1.addWidget(self.explanation)

        self.q_in_map, self.q_map, self.out_map = (MatrixHeatmap(max_height=30) for _ in range(3))
        self.k_map, self.v_map = MatrixHeatmap(), MatrixHeatmap()
        kv = QHBoxLayout()
        kv.addWidget(self.k_map)
        kv.addWidget(self.v_map)
        col2 = QVBoxLayout()
        col2.addWidget(wrapped_label("q = W_q(object query + position): decoder. K = W_k(memory + position), "
                              "V = W_v(memory): encoder (image features).", True, lines=4))
        col2.addWidget(self.q_in_map)
        col2.addWidget(self.q_map)
        col2.addLayout(kv, 1)
        col2.addWidget(self.out_map)
        self.scores_bars, self.scaled_bars, self.weights_bars = (
            TokenBars(axis_label="memory cell (row by row)") for _ in range(3))
        self.heads_view = AttentionMosaic("", "head")
        self.heads_view.setFixedHeight(110)
        self.proj_map = MatrixHeatmap()
        col3 = QVBoxLayout()
        for w in (self.scores_bars, self.scaled_bars, self.weights_bars):
            col3.addWidget(w, 2)
        col3.addWidget(wrapped_label("4. The same query in every head (click one)", True))
        col3.addWidget(self.heads_view)
        col3.addWidget(self.proj_map, 1)
        self.self_bars = TokenBars(axis_label="object query")
        col4 = QVBoxLayout()
        col4.addWidget(wrapped_label("Beside it: decoder self-attention", True))
        col4.addWidget(self.self_bars, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(col1, 3)
        layout.addLayout(col2, 3)
        layout.addLayout(col3, 3)
        layout.addLayout(col4, 2)

        self.image_view.clicked.connect(self._on_image_clicked)
        self.layer_slider.valueChanged.connect(lambda v: self.select(layer=v - 1))
        self.head_slider.valueChanged.connect(lambda v: self.select(head=v - 1))
        self.query_spin.valueChanged.connect(lambda v: self.select(query=v))
        self.scale_check.toggled.connect(lambda on: self.select(use_scale=on))
        self.heads_view.cell_clicked.connect(lambda _r, c: self.select(head=c))

    # ------------------------------------------------------------------ the hooked forward
    @Slot(object)
    def on_result(self, result) -> None:
        """The Detection tab showed a new result: follow its image and (through model_ref) its model."""
        self.image = result.image
        self._wanted = None  # worked out when the view is on screen: a hidden view costs the tab nothing
        self.refresh()

    def _wanted_key(self) -> tuple | None:
        """(image digest, key, ref) of the tab's last result, computed once per result."""
        if self._wanted is None and self.image is not None:
            key, ref, _title = self.model_ref()
            self._wanted = (image_digest(self.image), key, ref)
        return self._wanted

    def refresh(self) -> None:
        if not self.isVisible():
            return
        key = self._wanted_key()
        if key is None or key in (self._done_key, self._running_key):
            return
        self._running_key = key
        self.ctx.worker.submit(detr_qkv_job, key[1], key[2], self.image, channel=CHANNEL, title="Capturing DETR Q, K, V",
                               on_result=lambda cap, k=key: self._on_capture(k, cap),
                               on_error=lambda msg, k=key: self._on_error(k, msg))

    def is_busy(self) -> bool:
        return self._running_key is not None or (self.isVisible() and self._wanted_key() not in (None, self._done_key))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    def _on_error(self, key: tuple, message: str) -> None:
        if key == self._running_key:
            self._running_key, self._done_key = None, key  # do not retry the same model and image
        self.caption.setText(message)

    def _on_capture(self, key: tuple, capture) -> None:
        if key != self._running_key:
            return
        self._running_key, self._done_key = None, key
        self.show_capture(capture)

    def show_capture(self, capture) -> None:
        self.session.set_capture(capture)
        self.image_view.set_image(capture.image)
        self._make_boxes(capture.num_queries)
        self._sync_controls(capture)
        self.redraw()

    def _sync_controls(self, capture=None) -> None:
        s = self.session.selection
        ranges = {} if capture is None else {self.layer_slider: (1, capture.num_layers),
                                             self.head_slider: (1, capture.cross[0].heads),
                                             self.query_spin: (0, capture.num_queries - 1)}
        for widget, value in ((self.layer_slider, s.layer + 1), (self.head_slider, s.head + 1),
                              (self.query_spin, s.query), (self.scale_check, s.use_scale)):
            widget.blockSignals(True)
            if widget in ranges:
                widget.setRange(*ranges[widget])
            widget.setChecked(value) if widget is self.scale_check else widget.setValue(value)
            widget.blockSignals(False)

    def _make_boxes(self, n: int) -> None:
        while len(self._box_items) < n:
            item = pg.QtWidgets.QGraphicsRectItem()
            item.setZValue(25)
            self.image_view.add_item(item)
            self._box_items.append(item)
        for i, item in enumerate(self._box_items):
            item.setVisible(i < n)

    # ------------------------------------------------------------------ interaction and drawing
    def select(self, **changes) -> None:
        if self.session.capture is None:
            return
        self.frame = self.session.select(**changes)
        self._sync_controls()
        self.redraw(self.frame)

    @Slot(int)
    def select_query(self, query: int) -> None:
        """Follow the box selected in the tab's image view (its object query; -1: none)."""
        if self.session.capture is not None and 0 <= query < self.session.capture.num_queries:
            self.select(query=query)

    @Slot(float, float)
    def _on_image_clicked(self, x: float, y: float) -> None:
        if self.session.capture is None or math.isnan(x):
            return
        q = self.session.query_at(x, y)
        if q is not None:
            self.select(query=q)

    def redraw(self, frame: DetrQKVFrame | None = None) -> None:
        if self.session.capture is None:
            return
        f = self.frame = frame or self.session.frame()
        self.caption.setText(f.caption)
        for widget, m in ((self.q_in_map, f.q_in), (self.q_map, f.q), (self.k_map, f.k), (self.v_map, f.v),
                          (self.out_map, f.output), (self.proj_map, f.projection)):
            widget.set_matrix(m.title, m.values, m.row_labels, m.col_prefix, m.highlight_row)
        for widget, b in ((self.scores_bars, f.scores), (self.scaled_bars, f.scaled), (self.weights_bars, f.weights),
                          (self.self_bars, f.self_weights)):
            widget.set_bars(b.title, b.values, b.labels, b.highlight, b.y_range)
        self.image_view.set_overlay(f.weights_map, levels=(0.0, max(float(f.weights_map.max()), 1e-6)))
        self.heads_view.set_maps(f.heads_maps, (0, f.selection.head))
        self.checks.setText(f.checks)
        self.explanation.setText(f.explanation)
        scores = self.session.capture.scores
        for i, (item, box) in enumerate(zip(self._box_items, f.boxes)):
            chosen = i == f.selection.query
            pen = pg.mkPen(SELECTED if chosen else BOX, width=3 if chosen else 1, cosmetic=True)
            if not chosen:
                pen.setColor(pg.mkColor(BOX).lighter(100))
                pen.setStyle(Qt.PenStyle.DotLine if scores[i] < 0.5 else Qt.PenStyle.SolidLine)
            item.setPen(pen)
            item.setZValue(26 if chosen else 25)
            item.setRect(QRectF(float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])))

    def shutdown(self) -> None:
        self.ctx.worker.cancel(CHANNEL)

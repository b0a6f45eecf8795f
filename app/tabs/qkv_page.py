"""Attention tab, view "qkv": inside one attention head, Q, K and V step by step for a clicked query patch.

Thin Qt page: the shared ViT session says which model and image; this page runs one forward with Q/K/V
hooks (app.qkv_session.qkv_vit_job, worker channel "vit-qkv") when it is shown, then every control change
is numpy work in app.qkv_session.QKVSession and a redraw of the widgets with the frame it returns.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Slot
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QSpinBox,
                               QVBoxLayout, QWidget)
from superqt import QLabeledSlider

from widgets.labels import wrapped_label
from widgets.attention_mosaic import AttentionMosaic
from widgets.image_view import ImageView
from widgets.qkv_bars import TokenBars, nice_bound
from widgets.qkv_matrix import MatrixHeatmap

from ..qkv_session import QKVFrame, QKVSession, qkv_vit_job
from ..vit_session import image_digest, shared_session

CHANNEL = "vit-qkv"


class QKVPage(QWidget):
    """Needs an AppContext; shows the model and image of the shared ViT session."""

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.vit = shared_session(ctx)
        self.session = QKVSession()
        self.frame: QKVFrame | None = None
        self._done_key: tuple | None = None
        self._running_key: tuple | None = None
        self._wanted: tuple = (None, None, None)  # (key, image, model choice) of the shared session's last result
        self._build()
        self._connect()
        self.vit.result_ready.connect(self._on_vit_result)  # a new image or model: its forward is done, then ours
        if self.vit.result is not None:
            self._on_vit_result(self.vit.result)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.caption = wrapped_label("Drop an image: the Q/K/V view runs the Attention tab's model with hooks.", True, lines=2)
        self.image_view = ImageView()
        self.image_view.setMinimumSize(220, 200)
        self.image_view.setToolTip("Click a patch: it becomes the query. The overlay is this head's softmax weights.")
        self.query_frame = pg.QtWidgets.QGraphicsRectItem()
        self.query_frame.setPen(pg.mkPen("#ffd54f", width=2, cosmetic=True))
        self.query_frame.setZValue(30)
        self.query_frame.setVisible(False)
        self.image_view.add_item(self.query_frame)
        self.x_map, self.q_map, self.out_map = (MatrixHeatmap(max_height=30) for _ in range(3))
        self.k_map, self.v_map = MatrixHeatmap(), MatrixHeatmap()
        self.scores_bars, self.scaled_bars, self.weights_bars = TokenBars(), TokenBars(), TokenBars()
        self.heads_label = wrapped_label("4. The same query in every head (click one to select it)", bold=True)
        self.heads_view = AttentionMosaic("", "head")
        self.heads_view.setFixedHeight(120)
        self.heads_out_map, self.proj_map, self.resid_map = MatrixHeatmap(), MatrixHeatmap(), MatrixHeatmap()

        col1 = QVBoxLayout()
        col1.addWidget(self.caption)
        col1.addWidget(self.image_view, 1)
        for m in (self.x_map, self.q_map, self.out_map):
            col1.addWidget(m)
        kv = QHBoxLayout()
        kv.addWidget(self.k_map)
        kv.addWidget(self.v_map)
        col2 = QVBoxLayout()
        col2.addLayout(kv, 3)
        col2.addWidget(self.heads_label)
        col2.addWidget(self.heads_view)
        col2.addWidget(self.heads_out_map, 1)
        col3 = QVBoxLayout()
        for w in (self.scores_bars, self.scaled_bars, self.weights_bars, self.proj_map, self.resid_map):
            col3.addWidget(w, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(col1, 3)
        layout.addLayout(col2, 3)
        layout.addLayout(col3, 3)
        self.controls = self._build_controls()

    def _build_controls(self) -> QWidget:
        """Layer, head, query token, temperature and the check texts: for the tab's side panel."""
        self.layer_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.head_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        for s in (self.layer_slider, self.head_slider):
            s.setRange(1, 1)
        self.token_spin = QSpinBox()
        self.token_spin.setToolTip("Query token index (0 = the first prefix token, e.g. CLS); or click a patch")
        self.scale_check = QCheckBox("Scale by 1/sqrt(d_k)\n(untick: the temperature what-if)")
        self.scale_check.setChecked(True)
        self.notes = wrapped_label(lines=20)  # one label for the three texts: one repaint per query, not three
        box = QGroupBox("Q, K, V: the query")
        form = QFormLayout(box)
        form.addRow("Layer", self.layer_slider)
        form.addRow("Head", self.head_slider)
        form.addRow("Query token", self.token_spin)
        form.addRow(self.scale_check)
        form.addRow(self.notes)
        return box

    def _connect(self) -> None:
        self.image_view.clicked.connect(self._on_image_clicked)
        self.layer_slider.valueChanged.connect(lambda v: self.select(layer=v - 1))
        self.head_slider.valueChanged.connect(lambda v: self.select(head=v - 1))
        self.token_spin.valueChanged.connect(lambda v: self.select(token=v))
        self.scale_check.toggled.connect(lambda on: self.select(use_scale=on))
        self.heads_view.cell_clicked.connect(lambda _r, c: self.head_slider.setValue(c + 1))

    # ------------------------------------------------------------------ the forward with hooks
    def _key(self) -> tuple | None:
        image = self.vit.image
        return None if image is None else (image_digest(image), self.vit.choice)

    def refresh(self) -> None:
        """Run the hooked forward for the image and model of the shared session's last result, unless it is
        done or running (or this view is hidden: then when it is shown)."""
        key, image, choice = self._wanted
        if key is None or key in (self._done_key, self._running_key) or not self.isVisible():
            return
        self._running_key = key
        self.ctx.worker.submit(qkv_vit_job, choice, image, channel=CHANNEL,
                               title="Capturing Q, K and V", on_result=lambda cap, k=key: self._on_capture(k, cap),
                               on_error=lambda message, k=key: self._on_error(k, message))

    def is_busy(self) -> bool:
        """Running, or shown with a newer forward of the shared session not captured yet (a failed forward of
        the shared session leaves nothing to wait for)."""
        return self._running_key is not None or (self.isVisible() and self._wanted[0] not in (None, self._done_key))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    @Slot(object)
    def _on_vit_result(self, _result) -> None:
        self._wanted = (self._key(), self.vit.image, self.vit.choice)
        self.refresh()

    def _on_error(self, key: tuple, message: str) -> None:
        """Shown in the caption only (the tab's own forward reports model errors); no retry of the same key."""
        if key == self._running_key:
            self._running_key, self._done_key = None, key
        self.caption.setText(f"Q/K/V capture failed: {message}")

    def _on_capture(self, key: tuple, capture) -> None:
        if key != self._running_key:
            return
        self._running_key, self._done_key = None, key
        self.show_capture(capture)

    def show_capture(self, capture) -> None:
        """A new QKVCapture (also for tests and the bench): set the ranges and draw."""
        self.session.set_capture(capture)
        s = self.session.selection
        for widget, top, value in ((self.layer_slider, capture.num_layers, s.layer + 1),
                                   (self.head_slider, capture.num_heads, s.head + 1),
                                   (self.token_spin, capture.num_tokens - 1, s.token)):
            widget.blockSignals(True)
            widget.setRange(1 if widget is not self.token_spin else 0, top)
            widget.setValue(value)
            widget.blockSignals(False)
        self.image_view.set_image(capture.image)
        self.image_view.set_grid(capture.grid)
        self.redraw()

    # ------------------------------------------------------------------ interaction
    def select(self, **changes) -> None:
        if self.session.capture is None:
            return
        self.frame = self.session.select(**changes)
        self._sync_controls()
        self.redraw(self.frame)

    def _sync_controls(self) -> None:
        """Show the session's selection in the controls (a change may come from a click or from code)."""
        s = self.session.selection
        for widget, value in ((self.layer_slider, s.layer + 1), (self.head_slider, s.head + 1),
                              (self.token_spin, s.token), (self.scale_check, s.use_scale)):
            current = widget.isChecked() if widget is self.scale_check else widget.value()
            if current != value:
                widget.blockSignals(True)
                widget.setChecked(value) if widget is self.scale_check else widget.setValue(value)
                widget.blockSignals(False)

    def select_patch(self, row: int, col: int) -> None:
        self.select(token=self.session.token_at_patch(row, col))

    @Slot(float, float)
    def _on_image_clicked(self, x: float, y: float) -> None:
        if self.session.capture is None or math.isnan(x):
            return
        token = self.session.token_at_pixel(x, y)
        if token is not None:
            self.select(token=token)

    # ------------------------------------------------------------------ drawing
    def redraw(self, frame: QKVFrame | None = None) -> None:
        if self.session.capture is None:
            return
        f = self.frame = frame or self.session.frame()
        self.caption.setText(f.caption)  # a steady text: one label fewer to repaint per query
        for widget, m in ((self.x_map, f.x), (self.q_map, f.q), (self.k_map, f.k), (self.v_map, f.v),
                          (self.out_map, f.output), (self.heads_out_map, f.heads_out), (self.proj_map, f.projection),
                          (self.resid_map, f.residual)):
            widget.set_matrix(m.title, m.values, m.row_labels, m.col_prefix, m.highlight_row)
        for widget, b in ((self.scores_bars, f.scores), (self.scaled_bars, f.scaled), (self.weights_bars, f.weights)):
            widget.set_bars(b.title, b.values, b.labels, b.highlight, b.y_range)
        top = nice_bound(float(f.weights_map.max())) or 1e-6  # steady levels: the colour bar rarely redraws
        self.image_view.set_overlay(f.weights_map, levels=(0.0, top))
        self.heads_view.set_maps(f.heads_maps, (0, f.selection.head))
        self.notes.setText(f"{f.query_text} Weight on the non-patch tokens (not in the map): "
                           f"{f.prefix_share * 100:.1f}%\n\n{f.checks}\n\n{f.explanation}")
        self._draw_query_frame()

    def _draw_query_frame(self) -> None:
        rect = self.session.patch_rect(self.session.selection.token)
        if rect is not None:
            self.query_frame.setRect(QRectF(*rect))
        self.query_frame.setVisible(rect is not None)

    def shutdown(self) -> None:
        self.ctx.worker.cancel(CHANNEL)


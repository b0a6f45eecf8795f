"""Attention tab, view "qkv-toy": the notes' worked example with 4 tokens of width 3, every matrix printed.

Thin Qt page over app.qkv_toy_session.ToySession. Click 4 patches of the image (the shared ViT session's
picture) to make the tokens from their mean colours, or type numbers; any edit recomputes everything.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Slot
from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from widgets.image_view import ImageView
from widgets.qkv_toy_tables import MatrixTable

from ..qkv_toy_session import DEFAULT_X, ToyFrame, ToySession
from ..vit_session import shared_session

SLOT_COLOURS = ("#ffd54f", "#4fc3f7", "#81c784", "#f06292")
LAYOUT = {  # name -> (row, col) in the grid of tables
    "X": (0, 0), "W_q": (0, 1), "W_k": (0, 2), "W_v": (0, 3),
    "Q": (1, 1), "K": (1, 2), "V": (1, 3),
    "scores": (2, 0), "scaled": (2, 1), "softmax": (2, 2), "output": (2, 3),
}


class QKVToyPage(QWidget):
    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.vit = shared_session(ctx)
        self.session = ToySession()
        self._build()
        self.vit.result_ready.connect(self._on_vit_result)
        if self.vit.result is not None:
            self._on_vit_result(self.vit.result)
        self.redraw(self.session.frame())

    def _build(self) -> None:
        intro = QLabel("<b>Attention(Q, K, V) = softmax(Q K<sup>T</sup> / sqrt(d<sub>k</sub>)) V</b>, by hand: 4 tokens of "
                       "width 3. Click 4 patches (their mean colours, R, G, B mapped to -2..2, become the tokens) "
                       "or type numbers into any white table; everything below follows at once.")
        intro.setWordWrap(True)
        self.image_view = ImageView(show_colorbar=False)
        self.image_view.setMinimumSize(160, 160)
        self.frames = []
        for i, colour in enumerate(SLOT_COLOURS):
            rect = pg.QtWidgets.QGraphicsRectItem()
            rect.setPen(pg.mkPen(colour, width=3, cosmetic=True))
            rect.setZValue(30)
            rect.setVisible(False)
            label = pg.TextItem(f"t{i + 1}", color=colour, anchor=(0, 0))
            label.setZValue(31)
            label.setVisible(False)
            self.image_view.add_item(rect)
            self.image_view.add_item(label)
            self.frames.append((rect, label))
        self.pick_label = QLabel("Click a patch: it becomes token t1 (then t2, t3, t4, t1, ...).")
        self.pick_label.setWordWrap(True)
        self.reset_button = QPushButton("Back to the typed example")
        self.scale_check = QCheckBox("Scale by 1/sqrt(d_k)\n(untick: the temperature what-if)")
        self.scale_check.setChecked(True)
        self.explanation = QLabel("")
        self.explanation.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(self.image_view, 1)
        self.controls = QGroupBox("Q, K, V by hand")  # for the tab's side panel
        side = QVBoxLayout(self.controls)
        for w in (self.pick_label, self.reset_button, self.scale_check, self.explanation):
            side.addWidget(w)
        self.tables: dict[str, MatrixTable] = {}
        grid = QGridLayout()
        for name, (r, c) in LAYOUT.items():
            table = MatrixTable(name, editable=name in ("X", "W_q", "W_k", "W_v", "Q", "K", "V"))
            table.edited.connect(self._on_edited)
            self.tables[name] = table
            grid.addWidget(table, r, c)
        arrow = QLabel("Editing X or a W recomputes Q, K, V; editing Q, K or V changes only that entry.")
        arrow.setWordWrap(True)
        grid.addWidget(arrow, 1, 0)
        for col in range(4):  # four equal columns: every 4 x 4 table keeps room for its numbers
            grid.setColumnStretch(col, 1)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addLayout(grid, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(body, 1)
        self.image_view.clicked.connect(self._on_image_clicked)
        self.reset_button.clicked.connect(self.reset)
        self.scale_check.toggled.connect(lambda on: self.redraw(self.session.set_scale(on)))

    # ------------------------------------------------------------------ image and patches
    @Slot(object)
    def _on_vit_result(self, result) -> None:
        self.image_view.set_image(result.image)
        self.image_view.set_grid(result.grid)
        self.redraw(self.session.set_picture(result.image, result.grid))
        self._draw_patch_frames()

    @Slot(float, float)
    def _on_image_clicked(self, x: float, y: float) -> None:
        if math.isnan(x):
            return
        slot = self.session.next_slot
        frame = self.session.pick_at(x, y)
        if frame is None:
            return
        r, c = self.session.patches[slot]
        self.pick_label.setText(f"t{slot + 1} = patch ({r},{c}); the next click sets t{self.session.next_slot + 1}.")
        self.redraw(frame)
        self._draw_patch_frames()

    def _draw_patch_frames(self) -> None:
        for (rect, label), (x, y, w, h) in zip(self.frames, self.session.patch_rects()):
            rect.setRect(QRectF(x, y, w, h))
            label.setPos(x, y)
            rect.setVisible(True)
            label.setVisible(True)

    def reset(self) -> None:
        for rect, label in self.frames:
            rect.setVisible(False)
            label.setVisible(False)
        self.redraw(self.session.set_tokens(DEFAULT_X))

    # ------------------------------------------------------------------ edits and drawing
    @Slot(str, int, int, float)
    def _on_edited(self, name: str, row: int, col: int, value: float) -> None:
        self.redraw(self.session.set_entry(name, row, col, value))

    def redraw(self, frame: ToyFrame) -> None:
        for name, m in frame.matrices.items():
            self.tables[name].set_matrix(m.title, m.values, m.row_labels, m.col_labels)
        self.explanation.setText(frame.explanation)

    def is_busy(self) -> bool:
        return False

    def shutdown(self) -> None:
        pass

"""A small matrix as a heat map (diverging colours around 0) with its title and the value under the mouse.

Used by the Q/K/V views for q (1 x d_k), K and V (N x d_k), per-head outputs, concat / W_o rows. One
pyqtgraph ImageItem per matrix; a new matrix of the same shape only swaps the image data and levels.
Numpy and plain values only (no torch).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QVBoxLayout, QWidget

from .labels import title_and_readout

DIVERGING = "CET-D1"  # blue - white - red, centred on 0


def hover_text(values: np.ndarray, row_labels: tuple[str, ...], col_prefix: str, x: float, y: float) -> str | None:
    """'K[patch (3,4), d12] = 0.1234' for the cell at image coordinates (x, y), None outside."""
    r, c = int(np.floor(y)), int(np.floor(x))
    rows, cols = values.shape
    if not (0 <= r < rows and 0 <= c < cols):
        return None
    name = row_labels[r] if r < len(row_labels) else f"row {r}"
    return f"{name}, {col_prefix}{c}: {float(values[r, c]):+.5f}"


class MatrixHeatmap(QWidget):
    def __init__(self, parent=None, max_height: int | None = None) -> None:
        super().__init__(parent)
        self.title, self.readout = title_and_readout()
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("#202124")
        if max_height:
            self.view.setMaximumHeight(max_height)
        self.plot = self.view.addPlot()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.invertY(True)
        self.plot.hideAxis("left")  # rows and columns are named in the readout: axes would only cost paint time
        self.plot.hideAxis("bottom")
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get(DIVERGING))
        self.plot.addItem(self.image)
        self.frame = pg.QtWidgets.QGraphicsRectItem()
        self.frame.setPen(pg.mkPen("#ffd54f", width=2, cosmetic=True))
        self.frame.setZValue(10)
        self.frame.setVisible(False)
        self.plot.addItem(self.frame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.readout)
        self._values = np.zeros((1, 1), np.float32)
        self._rows: tuple[str, ...] = ()
        self._prefix = "d"
        self.view.scene().sigMouseMoved.connect(self._on_moved)

    @property
    def values(self) -> np.ndarray:
        return self._values

    def set_matrix(self, title: str, values: np.ndarray, row_labels: tuple[str, ...] = (), col_prefix: str = "d",
                   highlight_row: int | None = None) -> None:
        """values (rows, cols); colours centred on 0 (symmetric levels); highlight_row is outlined."""
        values = np.asarray(values, np.float32)
        if values.ndim == 1:
            values = values[None]
        if title == self.title.text() and values.shape == self._values.shape and np.array_equal(values, self._values):
            self._set_highlight(highlight_row)  # same matrix (e.g. K when only the query moved): no new image
            return
        reshaped = values.shape != self._values.shape
        self._values, self._rows, self._prefix = values, tuple(row_labels), col_prefix
        self.title.setText(title)
        top = float(np.abs(values).max()) or 1.0
        self.image.setImage(values, autoLevels=False, levels=(-top, top))
        rows, cols = values.shape
        if reshaped:
            self.plot.setRange(QRectF(0, 0, cols, rows), padding=0)
        self._set_highlight(highlight_row)
        if reshaped:  # a steady text: relabelling a dozen readouts per query would repaint the whole page
            self.readout.setText(f"{rows} x {cols}: hover for a value")

    def _set_highlight(self, row: int | None) -> None:
        if row is None:
            self.frame.setVisible(False)
            return
        rect = QRectF(0, row, self._values.shape[1], 1)
        if rect != self.frame.rect():
            self.frame.setRect(rect)
        self.frame.setVisible(True)

    def _on_moved(self, pos) -> None:
        if not self.plot.vb.sceneBoundingRect().contains(pos):
            return
        p = self.plot.vb.mapSceneToView(pos)
        text = hover_text(self._values, self._rows, self._prefix, p.x(), p.y())
        if text:
            self.readout.setText(text)

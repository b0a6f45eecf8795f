"""A grid of small attention maps in one image (rows x cols tiles), with a clickable, highlighted tile.

Used for the heads of one layer (1 x heads) and for the overview of every layer x head. All tiles are
drawn into one mosaic array and shown by a single pyqtgraph ImageItem, so even ViT-L's 24 x 16 maps
redraw in a few milliseconds. Each tile is scaled to its own [0, 1] range so every pattern is visible.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal

GAP = 1  # pixels of background between tiles


def build_mosaic(maps: np.ndarray) -> np.ndarray:
    """(R, C, h, w) -> (R * (h + GAP) - GAP, C * (w + GAP) - GAP) with each tile scaled to [0, 1], NaN gaps."""
    R, C, h, w = maps.shape
    lo = maps.min(axis=(2, 3), keepdims=True)
    span = maps.max(axis=(2, 3), keepdims=True) - lo
    tiles = (maps - lo) / np.where(span > 0, span, 1.0)
    out = np.full((R, h + GAP, C, w + GAP), np.nan, np.float32)
    out[:, :h, :, :w] = tiles.transpose(0, 2, 1, 3)
    return out.reshape(R * (h + GAP), C * (w + GAP))[: R * (h + GAP) - GAP, : C * (w + GAP) - GAP]


class AttentionMosaic(pg.GraphicsLayoutWidget):
    cell_clicked = Signal(int, int)  # row, col

    def __init__(self, row_name: str = "layer", col_name: str = "head", parent=None) -> None:
        super().__init__(parent)
        self.setBackground("#202124")
        self.row_name, self.col_name = row_name, col_name
        self.plot = self.addPlot(row=0, col=0)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setPen(pg.mkPen("#9aa0a6"))
            self.plot.getAxis(axis).setTextPen(pg.mkPen("#9aa0a6"))
            # the axes only change with the number of layers/heads: a redraw blits them instead of re-drawing text
            self.plot.getAxis(axis).setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.image = pg.ImageItem()
        self.image.setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.plot.addItem(self.image)
        self.frame = pg.QtWidgets.QGraphicsRectItem()
        self.frame.setPen(pg.mkPen("#4fc3f7", width=2, cosmetic=True))
        self.frame.setZValue(10)
        self.plot.addItem(self.frame)
        self._shape: tuple[int, int, int, int] | None = None
        self._maps: np.ndarray | None = None  # (rows, cols, h, w) shown now
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.setToolTip(f"Click a tile to select that {row_name} and {col_name}")

    def set_colormap(self, name: str) -> None:
        self.image.setColorMap(pg.colormap.get(name))

    def set_maps(self, maps: np.ndarray, selected: tuple[int, int] | None = None) -> None:
        """maps: (rows, cols, h, w); selected: the (row, col) tile to outline."""
        R, C, h, w = maps.shape
        new_shape = self._shape != maps.shape
        self._shape = maps.shape
        if new_shape or self._maps is None or not np.array_equal(maps, self._maps):  # same maps: no repaint
            self._maps = maps
            self.image.setImage(build_mosaic(maps), autoLevels=False, levels=(0.0, 1.0))
        if new_shape:
            self._set_ticks(R, C, h, w)
            self.plot.setRange(QRectF(0, 0, C * (w + GAP), R * (h + GAP)), padding=0.02)
        self.set_selected(selected)

    def set_selected(self, selected: tuple[int, int] | None) -> None:
        if selected is None or self._shape is None:
            self.frame.setVisible(False)
            return
        _, _, h, w = self._shape
        r, c = selected
        self.frame.setRect(QRectF(c * (w + GAP) - 0.5, r * (h + GAP) - 0.5, w + 1, h + 1))
        self.frame.setVisible(True)

    def _set_ticks(self, R: int, C: int, h: int, w: int) -> None:
        step_r = max(1, R // 12)
        step_c = max(1, C // 16)
        self.plot.getAxis("left").setTicks([[(r * (h + GAP) + h / 2, str(r + 1)) for r in range(0, R, step_r)]])
        self.plot.getAxis("bottom").setTicks([[(c * (w + GAP) + w / 2, str(c + 1)) for c in range(0, C, step_c)]])
        self.plot.setLabel("left", self.row_name if R > 1 else "")
        self.plot.setLabel("bottom", self.col_name)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        if self._shape is None:
            return None
        R, C, h, w = self._shape
        r, c = int(y // (h + GAP)), int(x // (w + GAP))
        return (r, c) if 0 <= r < R and 0 <= c < C and x >= 0 and y >= 0 else None

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._shape is None:
            return
        if not self.plot.vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = self.plot.vb.mapSceneToView(event.scenePos())
        cell = self.cell_at(p.x(), p.y())
        if cell is not None:
            self.cell_clicked.emit(*cell)

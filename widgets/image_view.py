"""An RGB image with an optional heatmap overlay, colour bar and patch grid, in image pixel coordinates.

Built on pyqtgraph: y points down as in images, aspect locked, mouse wheel zooms, and clicks / hovers
are reported as (x, y) image pixels. Tabs put their own items (boxes, markers) on it via add_item().
No torch here.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

COLORBAR_AXIS_WIDTH = 44
OUTLINE_COLOURS = {False: "#4fc3f7", True: "#ffd54f"}  # a followed / a pinned patch
COLORMAPS = ("inferno", "viridis", "magma", "plasma", "turbo", "CET-L17")


def upsample_bilinear(values: np.ndarray, factor: int) -> np.ndarray:
    """(h, w) -> (h * factor, w * factor), bilinear between cell centres (the 'smooth' overlay)."""
    h, w = values.shape
    ys = (np.arange(h * factor) + 0.5) / factor - 0.5
    xs = (np.arange(w * factor) + 0.5) / factor - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, h - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, w - 1)
    y1, x1 = np.clip(y0 + 1, 0, h - 1), np.clip(x0 + 1, 0, w - 1)
    wy = np.clip(ys - y0, 0, 1)[:, None]
    wx = np.clip(xs - x0, 0, 1)[None, :]
    top = values[y0][:, x0] * (1 - wx) + values[y0][:, x1] * wx
    bottom = values[y1][:, x0] * (1 - wx) + values[y1][:, x1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


class ImageView(pg.GraphicsLayoutWidget):
    clicked = Signal(float, float)  # image pixel x, y
    hovered = Signal(float, float)  # image pixel x, y (NaN, NaN when the mouse leaves the image)

    def __init__(self, parent=None, show_colorbar: bool = True) -> None:
        super().__init__(parent)
        self.setBackground("#202124")
        self.view = self.addViewBox(row=0, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self.image_item = pg.ImageItem()
        self.overlay_item = pg.ImageItem()
        self.overlay_item.setZValue(10)
        self.overlay_item.setVisible(False)
        self.grid_item = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 70), width=1), connect="pairs")
        self.grid_item.setZValue(20)
        for item in (self.image_item, self.overlay_item, self.grid_item):
            # repaints of the view (a new overlay) blit cached pixmaps instead of re-scaling the picture and
            # re-stroking the grid: a redraw costs a few ms less (bench attention_redraw_p90_ms)
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            self.view.addItem(item)
        self._image_shape: tuple[int, int] | None = None
        self._colormap = "inferno"
        self._opacity = 0.6
        self.colorbar: pg.ColorBarItem | None = None
        if show_colorbar:
            self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get(self._colormap), interactive=False,
                                            width=14)
            self.colorbar.setImageItem(self.overlay_item)
            self.colorbar.axis.setWidth(COLORBAR_AXIS_WIDTH)  # tick labels of any length: same width
            for side in ("top", "bottom", "left"):  # the bar's frame never changes: blit it from a cache
                self.colorbar.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            self.addItem(self.colorbar, row=0, col=1)
            # the colour bar's column keeps its width while the bar is hidden: the image does not jump
            # sideways (and, aspect locked, up or down) when the first overlay shows the bar
            width = self.colorbar.effectiveSizeHint(Qt.SizeHint.PreferredSize).width()
            self.ci.layout.setColumnFixedWidth(1, width)
            self.colorbar.setVisible(False)
        self.outline_item = QGraphicsRectItem()
        self.outline_item.setZValue(30)
        self.outline_item.setVisible(False)
        self.view.addItem(self.outline_item)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # ---- content ---------------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray | None) -> None:
        """Show an (H, W, 3) uint8 image (None clears)."""
        if rgb is None:
            self.image_item.clear()
            self._image_shape = None
            return
        first = self._image_shape != rgb.shape[:2]
        self.image_item.setImage(rgb, autoLevels=False, levels=(0, 255))
        self._image_shape = (rgb.shape[0], rgb.shape[1])
        if first:
            self.view.autoRange(padding=0.01)

    def image_shape(self) -> tuple[int, int] | None:
        return self._image_shape

    def set_overlay(self, values: np.ndarray | None, levels: tuple[float, float] | None = None,
                    smooth: bool = False, opacity: float | None = None, colormap: str | None = None) -> None:
        """A (h, w) map stretched over the whole image, blocky (nearest) or smooth (bilinear); None hides."""
        if values is None or self._image_shape is None:
            self.overlay_item.setVisible(False)
            if self.colorbar is not None:
                self.colorbar.setVisible(False)
            return
        if colormap:
            self.set_colormap(colormap)
        if opacity is not None:
            self._opacity = float(opacity)
        values = np.asarray(values, np.float32)
        if levels is None:
            lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
            levels = (lo, hi if hi > lo else lo + 1e-6)
        shown = upsample_bilinear(values, max(1, 64 // max(values.shape))) if smooth else values
        self.overlay_item.setImage(shown, autoLevels=False, levels=levels)
        h, w = self._image_shape
        self.overlay_item.setRect(QRectF(0, 0, w, h))
        self.overlay_item.setOpacity(self._opacity)
        self.overlay_item.setVisible(True)
        if self.colorbar is not None:
            if tuple(self.colorbar.levels()) != tuple(levels):  # the same levels: the bar's axis keeps its picture
                self.colorbar.setLevels(levels)
            self.colorbar.setVisible(True)

    def set_colormap(self, name: str) -> None:
        self._colormap = name
        cmap = pg.colormap.get(name)
        self.overlay_item.setColorMap(cmap)
        if self.colorbar is not None:
            self.colorbar.setColorMap(cmap)

    def set_opacity(self, opacity: float) -> None:
        self._opacity = float(opacity)
        self.overlay_item.setOpacity(self._opacity)

    def set_grid(self, grid: tuple[int, int] | None) -> None:
        """Draw a (rows, cols) patch grid over the image; None hides it."""
        if grid is None or self._image_shape is None:
            self.grid_item.setVisible(False)
            return
        rows, cols = grid
        h, w = self._image_shape
        xs, ys = [], []
        for c in range(cols + 1):
            x = c * w / cols
            xs += [x, x]
            ys += [0, h]
        for r in range(rows + 1):
            y = r * h / rows
            xs += [0, w]
            ys += [y, y]
        self.grid_item.setData(np.asarray(xs, float), np.asarray(ys, float))
        self.grid_item.setVisible(True)

    def set_outline(self, rect: tuple[float, float, float, float] | None, pinned: bool = False) -> None:
        """Outline (x, y, w, h) in image pixels (a patch), blue, or amber when `pinned`; None hides it."""
        if rect is None:
            self.outline_item.setVisible(False)
            return
        if self.outline_item.data(0) != pinned:
            self.outline_item.setData(0, pinned)
            self.outline_item.setPen(pg.mkPen(OUTLINE_COLOURS[pinned], width=3 if pinned else 2, cosmetic=True))
        self.outline_item.setRect(QRectF(*rect))
        self.outline_item.setVisible(True)

    def add_item(self, item) -> None:
        self.view.addItem(item)

    def remove_item(self, item) -> None:
        self.view.removeItem(item)

    # ---- mouse -----------------------------------------------------------------------------
    def _to_image(self, scene_pos: QPointF) -> tuple[float, float] | None:
        if self._image_shape is None or not self.view.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.view.mapSceneToView(scene_pos)
        h, w = self._image_shape
        if 0 <= p.x() < w and 0 <= p.y() < h:
            return float(p.x()), float(p.y())
        return None

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        pos = self._to_image(scene_pos)
        self.hovered.emit(*(pos if pos else (float("nan"), float("nan"))))

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        pos = self._to_image(event.scenePos())
        if pos is not None:
            self.clicked.emit(*pos)

"""An RGB image cut into a patch grid: overlay (RGB or heat map), highlighted patch, hover/click by patch.

pyqtgraph, numpy only (no torch). Coordinates are image pixels; patch ``i`` is row-major in the grid.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem



def outline_rect(rgb: tuple[int, int, int], width: int) -> QGraphicsRectItem:
    """A hidden rectangle outline with a cosmetic pen (same width at any zoom), for patch highlights."""
    item = QGraphicsRectItem()
    pen = QPen(QColor(*rgb))
    pen.setCosmetic(True)
    pen.setWidth(width)
    item.setPen(pen)
    item.setVisible(False)
    return item

class PatchImageView(pg.GraphicsLayoutWidget):
    """Image + patch grid + optional overlay; emits the patch index under the mouse."""

    patch_hovered = Signal(int)  # patch index, -1 when the mouse leaves the grid
    patch_clicked = Signal(int)

    def __init__(self, parent=None, colorbar: bool = False) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.vb: pg.ViewBox = self.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.vb.setMenuEnabled(False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setOpacity(0.6)
        self.grid_item = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 110), width=1), connect="pairs")
        self.highlight = outline_rect((255, 30, 30), 3)
        self.hover_rect = outline_rect((255, 230, 0), 2)
        for item in (self.image_item, self.overlay_item, self.grid_item, self.highlight, self.hover_rect):
            self.vb.addItem(item)
        self.colorbar: pg.ColorBarItem | None = None
        if colorbar:
            self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap="viridis", interactive=False, width=14,
                                            pen="k")
            self.colorbar.setImageItem(self.overlay_item)
            self.addItem(self.colorbar)
        self.grid = (1, 1)
        self.patch_size = 1
        self._hovered = -1
        self._image: np.ndarray | None = None
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # ------------------------------------------------------------------ content
    def set_image(self, image: np.ndarray, grid: tuple[int, int], patch_size: int) -> None:
        """image (H, W, 3) uint8; grid (gh, gw) patches of patch_size pixels from the top-left corner."""
        if image is self._image and tuple(grid) == self.grid and int(patch_size) == self.patch_size:
            return  # same picture: keep it (a layer or patch change redraws only the overlay)
        self._image = image
        self.image_item.setImage(image, autoLevels=False, levels=(0, 255))
        self.grid, self.patch_size = tuple(grid), int(patch_size)
        gh, gw = self.grid
        p = self.patch_size
        xs = np.arange(gw + 1) * p
        ys = np.arange(gh + 1) * p
        seg_x = np.concatenate([np.repeat(xs, 2), np.tile([0, gw * p], gh + 1)])
        seg_y = np.concatenate([np.tile([0, gh * p], gw + 1), np.repeat(ys, 2)])
        self.grid_item.setData(seg_x.astype(float), seg_y.astype(float))
        self.vb.setRange(QRectF(0, 0, image.shape[1], image.shape[0]), padding=0.01)

    def show_grid(self, on: bool) -> None:
        self.grid_item.setVisible(on)

    def set_rgb_overlay(self, rgb: np.ndarray | None, opacity: float = 0.6) -> None:
        """rgb (gh, gw, 3) float in [0, 1] drawn blocky over the patch grid; None hides it."""
        if rgb is None:
            self.overlay_item.setVisible(False)
            return
        self.overlay_item.setLookupTable(None)
        self.overlay_item.setImage((np.clip(rgb, 0, 1) * 255).astype(np.uint8), autoLevels=False, levels=(0, 255))
        self._place_overlay(opacity)

    def set_heat_overlay(self, values: np.ndarray | None, levels: tuple[float, float], cmap: str = "viridis",
                         opacity: float = 0.7) -> None:
        """values (gh, gw) coloured by ``cmap`` between ``levels`` over the patch grid; None hides it."""
        if values is None:
            self.overlay_item.setVisible(False)
            return
        self.overlay_item.setColorMap(pg.colormap.get(cmap))
        self.overlay_item.setImage(np.asarray(values, dtype=np.float32), autoLevels=False, levels=levels)
        if self.colorbar is not None:
            self.colorbar.setLevels(levels)
        self._place_overlay(opacity)

    def _place_overlay(self, opacity: float) -> None:
        gh, gw = self.grid
        self.overlay_item.setRect(QRectF(0, 0, gw * self.patch_size, gh * self.patch_size))
        self.overlay_item.setOpacity(opacity)
        self.overlay_item.setVisible(True)

    def set_overlay_opacity(self, opacity: float) -> None:
        self.overlay_item.setOpacity(opacity)

    def set_highlight(self, index: int | None) -> None:
        """Outline patch ``index`` in red (None: no outline)."""
        self._outline(self.highlight, index)

    def _outline(self, item: QGraphicsRectItem, index: int | None) -> None:
        if index is None or index < 0:
            item.setVisible(False)
            return
        r, c = divmod(int(index), self.grid[1])
        p = self.patch_size
        item.setRect(QRectF(c * p, r * p, p, p))
        item.setVisible(True)

    # ------------------------------------------------------------------ mouse
    def patch_at_scene(self, scene_pos: QPointF) -> int:
        pt = self.vb.mapSceneToView(scene_pos)
        gh, gw = self.grid
        c, r = int(np.floor(pt.x() / self.patch_size)), int(np.floor(pt.y() / self.patch_size))
        if 0 <= r < gh and 0 <= c < gw:
            return r * gw + c
        return -1

    def widget_pos_of_patch(self, index: int) -> QPointF:
        """Where patch ``index``'s centre is in viewport pixel coordinates (tests, scripted clicks)."""
        r, c = divmod(int(index), self.grid[1])
        p = self.patch_size
        scene = self.vb.mapViewToScene(QPointF((c + 0.5) * p, (r + 0.5) * p))
        return self.mapFromScene(scene)

    @Slot(object)
    def _on_mouse_moved(self, scene_pos) -> None:
        idx = self.patch_at_scene(scene_pos)
        if idx != self._hovered:
            self._hovered = idx
            self._outline(self.hover_rect, idx)
            self.patch_hovered.emit(idx)

    @Slot(object)
    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        idx = self.patch_at_scene(event.scenePos())
        if idx >= 0:
            self.patch_clicked.emit(idx)

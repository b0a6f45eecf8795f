"""The 2-D GAN view (as in GAN Lab): D's decision as a heatmap, real and generated points, and arrows
showing where G's gradient pushes each generated point. Clicking adds a real point in drawing mode.
Takes plain numpy arrays; no torch here."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsItem

REAL_COLOUR = (52, 168, 83)
FAKE_COLOUR = (171, 71, 188)


class Toy2DView(pg.PlotWidget):
    point_added = Signal(float, float)  # data coordinates of a click in drawing mode
    visible_rect_changed = Signal(float, float, float, float)  # x0, x1, y0, y1 shown (e.g. after a resize)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("#1e1f22")
        self.setAspectLocked(True)
        self.showGrid(x=True, y=True, alpha=0.1)
        self.setMenuEnabled(False)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # blocky heatmap, cheap scaling
        for side in ("left", "bottom"):  # axes re-render only when the range changes
            self.getPlotItem().getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.heat = pg.ImageItem()
        lut = pg.colormap.get("CET-D1A").getLookupTable(0, 1, 256)[:, :3].astype(np.float32)  # blue fake, red real
        lut = 0.55 * lut + 0.45 * np.array([30, 31, 34], np.float32)  # mixed with the background: opaque, no blending
        self.heat.setLookupTable(lut.astype(np.uint8))
        self.heat.setLevels((0.0, 1.0))
        self.heat.setZValue(-10)
        self.addItem(self.heat)
        self.real = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(*REAL_COLOUR, 170))
        self.fake = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(*FAKE_COLOUR, 255))
        self.arrows = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 150), width=1), connect="pairs")
        self.drawn = pg.ScatterPlotItem(size=8, symbol="x", pen=pg.mkPen(*REAL_COLOUR, width=2))
        for item in (self.real, self.arrows, self.fake, self.drawn):
            self.addItem(item)
        legend = self.addLegend(offset=(6, 6), labelTextSize="8pt", brush=(30, 31, 34, 200))
        legend.addItem(self.real, "real data")
        legend.addItem(self.fake, "generated G(z)")
        legend.addItem(self.arrows, "G's gradient")
        self.drawing = False
        self._drawn_pts: list[tuple[float, float]] = []
        self._extent = 2.5
        self.arrow_scale = 0.25
        self.frames_shown = 0
        self._real_shown: np.ndarray | None = None
        self._shown_rect: tuple[float, float, float, float] | None = None
        self.setRange(xRange=(-self._extent, self._extent), yRange=(-self._extent, self._extent), padding=0)
        self.scene().sigMouseClicked.connect(self._on_click)
        self.getPlotItem().vb.sigRangeChanged.connect(self._on_range)

    def visible_rect(self) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1) of what the axes show now."""
        (x0, x1), (y0, y1) = self.getPlotItem().vb.viewRange()
        return float(x0), float(x1), float(y0), float(y1)

    def _on_range(self, *args) -> None:
        rect = self.visible_rect()
        if rect != self._shown_rect:
            self._shown_rect = rect
            self.visible_rect_changed.emit(*rect)

    def heat_rect(self) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1) the heatmap covers."""
        r = self.heat.mapRectToParent(self.heat.boundingRect())
        return r.left(), r.right(), r.top(), r.bottom()

    def show_frame(self, real: np.ndarray, fake: np.ndarray, arrows: np.ndarray, heatmap: np.ndarray,
                   extent: float, rect: tuple[float, float, float, float] | None = None) -> None:
        """real (N, 2), fake (M, 2), arrows (M, 2) gradient directions, heatmap (rows, cols) in [0, 1] covering
        rect = (x0, y0, width, height) (default: the data square [-extent, extent]^2)."""
        self.heat.setImage(heatmap, autoLevels=False, levels=(0.0, 1.0))
        self.heat.setRect(*(rect or (-extent, -extent, 2 * extent, 2 * extent)))
        if real is not self._real_shown:  # the real data only changes on reset
            self.real.setData(real[:, 0], real[:, 1])
            self._real_shown = real
        self.fake.setData(fake[:, 0], fake[:, 1])
        norms = np.linalg.norm(arrows, axis=1, keepdims=True)
        scale = self.arrow_scale / max(float(np.percentile(norms, 90)), 1e-8)  # relative lengths kept
        tips = fake + np.clip(arrows * scale, -0.6, 0.6)
        seg = np.empty((2 * len(fake), 2), np.float32)
        seg[0::2], seg[1::2] = fake, tips
        self.arrows.setData(seg[:, 0], seg[:, 1])
        if self._extent != extent:
            self._extent = extent
            self.setRange(xRange=(-extent, extent), yRange=(-extent, extent), padding=0)
        self.frames_shown += 1

    # ---- drawing real points
    def set_drawing(self, on: bool) -> None:
        self.drawing = on
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    def drawn_points(self) -> list[tuple[float, float]]:
        return list(self._drawn_pts)

    def clear_drawn(self) -> None:
        self._drawn_pts.clear()
        self.drawn.setData([], [])

    def add_drawn_point(self, x: float, y: float) -> None:
        self._drawn_pts.append((x, y))
        pts = np.asarray(self._drawn_pts)
        self.drawn.setData(pts[:, 0], pts[:, 1])
        self.point_added.emit(x, y)

    def _on_click(self, event) -> None:
        if not self.drawing or event.button() != Qt.MouseButton.LeftButton:
            return
        p = self.getPlotItem().vb.mapSceneToView(event.scenePos())
        if abs(p.x()) <= self._extent and abs(p.y()) <= self._extent:
            self.add_drawn_point(float(p.x()), float(p.y()))

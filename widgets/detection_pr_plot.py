"""Precision-recall curves per class with each class's operating point; pressing or dragging on the plot
reports where (the page turns that into a score threshold). No torch here."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal

from .detection_boxes import class_colour


class PRPlot(pg.PlotWidget):
    picked = Signal(float, float)  # recall, precision under the mouse (press or drag with the left button)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="#202124")
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.setXRange(0, 1, padding=0.02)
        self.setYRange(0, 1.02, padding=0.02)
        self.setLabel("bottom", "recall")
        self.setLabel("left", "precision")
        self.showGrid(x=True, y=True, alpha=0.15)
        self.legend = self.addLegend(offset=(8, -8), labelTextSize="8pt", colCount=3)  # bottom left: curves hug the top
        self._curves: list[pg.PlotDataItem] = []
        self.points = pg.ScatterPlotItem(size=11, pxMode=True, pen=pg.mkPen("w", width=1.5))
        self.points.setZValue(10)
        self.addItem(self.points)
        self._brushes: list = []
        self._dragging = False

    def set_curves(self, recall: np.ndarray, precision: np.ndarray, names: tuple[str, ...]) -> None:
        """precision (K, R) over recall (R,); nan where a class has no ground truth (its curve is hidden)."""
        for c in self._curves:
            self.removeItem(c)
        self.legend.clear()
        self._curves = []
        self._brushes = []
        for k, name in enumerate(names):
            colour = class_colour(k)
            p = precision[k]
            ok = np.isfinite(p)
            curve = self.plot(recall[ok], p[ok], pen=pg.mkPen(colour, width=2), name=name)
            self._curves.append(curve)
            self._brushes.append(pg.mkBrush(colour))

    def set_points(self, points: np.ndarray) -> None:
        """(K, 2) recall, precision per class (nan: not drawn)."""
        ok = np.isfinite(points).all(1)
        self.points.setData(pos=points[ok], brush=[b for b, o in zip(self._brushes, ok.tolist()) if o])

    def curve_count(self) -> int:
        return len(self._curves)

    def _emit(self, pos) -> None:
        p = self.plotItem.vb.mapSceneToView(QPointF(pos))
        self.picked.emit(float(np.clip(p.x(), 0, 1)), float(np.clip(p.y(), 0, 1)))

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self._emit(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._dragging:
            self._emit(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._dragging = False
        super().mouseReleaseEvent(event)

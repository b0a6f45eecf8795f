"""A small line plot for the Compare tab: curves given as plain values (name, x, y, colour, width, dashed).

Items are kept and updated with setData (no re-creation on every redraw); NaN values leave gaps. No torch.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt


class CurvePlot(pg.PlotWidget):
    def __init__(self, title: str = "", x_label: str = "", y_label: str = "", legend: bool = True,
                 parent=None) -> None:
        super().__init__(parent)
        self.setBackground("#202124")
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.showGrid(x=True, y=True, alpha=0.2)
        if title:
            item.setTitle(title, color="#e8eaed", size="9pt")
        item.setLabel("bottom", x_label)
        item.setLabel("left", y_label)
        item.getAxis("left").enableAutoSIPrefix(False)
        self.legend = item.addLegend(offset=(4, 2), labelTextSize="7pt", colCount=4, verSpacing=-6) if legend else None
        self._items: list[pg.PlotDataItem] = []
        self._names: list[str] = []

    def set_curves(self, curves, y_range: tuple[float, float] | None = None) -> None:
        """curves: objects with name, x, y (NaN: gap), colour, width, dashed."""
        curves = list(curves)
        names = [c.name for c in curves]
        if names != self._names:  # another set of curves: rebuild the items (and the legend)
            for it in self._items:
                self.removeItem(it)
            if self.legend is not None:
                self.legend.clear()
            self._items = [self.plot([], [], name=c.name) for c in curves]
            self._names = names
        for it, c in zip(self._items, curves):
            style = Qt.PenStyle.DashLine if c.dashed else Qt.PenStyle.SolidLine
            it.setPen(pg.mkPen(c.colour, width=c.width, style=style))
            it.setSymbol("o")
            it.setSymbolSize(4 + c.width)
            it.setSymbolBrush(c.colour)
            it.setSymbolPen(None)
            x, y = np.asarray(c.x, float), np.asarray(c.y, float)
            keep = np.isfinite(y)
            if keep.any():
                it.setData(x, y, connect="finite")
            else:  # nothing yet: an empty curve (an all-NaN one makes pyqtgraph warn about its bounds)
                it.setData([], [])
        if y_range is not None:
            self.setYRange(*y_range, padding=0.02)
        else:
            self.enableAutoRange(axis="y")

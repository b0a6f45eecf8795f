"""A small line plot for the Compare tab: curves given as plain values (name, x, y, colour, width, dashed).

Items are kept and updated with setData (no re-creation on every redraw); NaN values leave gaps. No torch.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt


class CurvePlot(pg.PlotWidget):
    def __init__(self, title: str = "", x_label: str = "", y_label: str = "", legend: bool = True,
                 symbols: bool = True, parent=None) -> None:
        """symbols: a dot on every point (for a few points per curve)."""
        super().__init__(parent)
        self.setBackground("#202124")
        self.symbols = symbols
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.showGrid(x=True, y=True, alpha=0.2)
        if title:
            item.setTitle(title, color="#e8eaed", size="9pt")
        item.setLabel("bottom", x_label)
        item.setLabel("left", y_label)
        for axis in ("left", "bottom"):
            item.getAxis(axis).enableAutoSIPrefix(False)
            # the axes change only with new data: repaints (a wider curve, the window) blit them from a cache
            item.getAxis(axis).setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            # grid lines at the labelled ticks only: the minor levels' faint lines across a 1338 px plot were
            # most of its first paint after new data (24 -> 7 ms measured), one of the tab's longest pauses
            item.getAxis(axis).setStyle(maxTickLevel=0)
        self.legend = item.addLegend(offset=(4, 2), labelTextSize="7pt", colCount=4, verSpacing=-6) if legend else None
        self._items: list[pg.PlotDataItem] = []
        self._names: list[str] = []
        self._styles: list[tuple] = []  # (colour, width, dashed) drawn per item
        self._data: list[tuple] = []  # (x, y) arrays drawn per item (identity: unchanged data is not re-sent)
        self._y_range: tuple[float, float] | None = None

    def set_curves(self, curves, y_range: tuple[float, float] | None = None) -> None:
        """curves: objects with name, x, y (NaN: gap), colour, width, dashed."""
        curves = list(curves)
        if not curves:  # nothing to show yet: empty the curves but keep the items and the legend (cheap)
            for i, it in enumerate(self._items):
                if self._data[i] is not None:
                    it.setData([], [])
                    self._data[i] = None
            return
        names = [c.name for c in curves]
        if names != self._names:  # another set of curves: keep the items of the names still there, add the new
            self._match(names)
        for i, (it, c) in enumerate(zip(self._items, curves)):
            style = (c.colour, c.width, c.dashed)
            if style != self._styles[i]:
                self._styles[i] = style
                it.setPen(pg.mkPen(c.colour, width=c.width,
                                   style=Qt.PenStyle.DashLine if c.dashed else Qt.PenStyle.SolidLine))
                if self.symbols:
                    it.setSymbol("o")
                    it.setSymbolSize(4 + c.width)
                    it.setSymbolBrush(c.colour)
                    it.setSymbolPen(None)
            if self._data[i] is not None and self._data[i][0] is c.x and self._data[i][1] is c.y:
                continue
            self._data[i] = (c.x, c.y)
            x, y = np.asarray(c.x, float), np.asarray(c.y, float)
            if np.isfinite(y).any():
                it.setData(x, y, connect="finite")
            else:  # nothing yet: an empty curve (an all-NaN one makes pyqtgraph warn about its bounds)
                it.setData([], [])
        if y_range != self._y_range:
            self._y_range = y_range
            if y_range is not None:
                self.setYRange(*y_range, padding=0.02)
            else:
                self.enableAutoRange(axis="y")

    def _match(self, names: list[str]) -> None:
        """Items for `names`: an item whose name stays keeps its data and pen (a curve added by a partial result
        does not re-create and re-send the others); items of names gone are removed (with their legend entry)."""
        def keys(seq: list[str]) -> list[tuple[str, int]]:  # (name, occurrence): two columns may share a title
            return [(n, seq[:i].count(n)) for i, n in enumerate(seq)]

        old = dict(zip(keys(self._names), zip(self._items, self._styles, self._data)))
        new_keys = keys(names)
        for key, (item, _, _) in old.items():
            if key not in new_keys:
                self.removeItem(item)
        kept = [old.get(key) or (self.plot([], [], name=key[0]), None, None) for key in new_keys]
        self._items = [k[0] for k in kept]
        self._styles = [k[1] for k in kept]
        self._data = [k[2] for k in kept]
        self._names = names

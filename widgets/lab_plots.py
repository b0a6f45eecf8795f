"""The data lab's plots, from plain values: an accuracy-against-N summary with the spread over seeds as error
bars (x given as log10 N, labelled with N), and run curves (accuracy against step). No torch here."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from .compare_plots import CurvePlot


class SummaryPlot(CurvePlot):
    """Lines (CurvePlot.set_curves) plus error bars per line (set_bands) and N ticks on the bottom axis."""

    def __init__(self, title: str = "", x_label: str = "training images N (log scale)",
                 y_label: str = "held-out accuracy", parent=None) -> None:
        super().__init__(title, x_label, y_label, legend=True, symbols=True, parent=parent)
        if self.legend is not None:  # bottom right: accuracy rises with N, so that corner stays empty
            self.legend.setColumnCount(2)
            self.legend.anchor(itemPos=(1, 1), parentPos=(1, 1), offset=(-6, -6))
        self._bars: dict[str, pg.ErrorBarItem] = {}
        self._ticks: tuple = ()
        self._bands = None

    def set_bands(self, bands, ticks) -> None:
        """bands: objects with name, x, low, high (same length), colour; ticks: ((x, text), ...). The same
        bands object as last time is not re-sent."""
        if bands is self._bands and ticks == self._ticks:
            return
        self._bands = bands
        names = {b.name for b in bands}
        for name in list(self._bars):
            if name not in names:
                self.removeItem(self._bars.pop(name))
        for b in bands:
            bar = self._bars.get(b.name)
            if bar is None:
                bar = self._bars[b.name] = pg.ErrorBarItem(beam=0.04)
                self.addItem(bar)
            x, lo, hi = (np.asarray(v, float) for v in (b.x, b.low, b.high))
            mid = (lo + hi) / 2
            bar.setData(x=x, y=mid, top=hi - mid, bottom=mid - lo, pen=pg.mkPen(b.colour, width=1.5))
        ticks = tuple(ticks)
        if ticks != self._ticks:
            self._ticks = ticks
            self.getPlotItem().getAxis("bottom").setTicks([list(ticks)])
            if ticks:
                xs = [t[0] for t in ticks]
                self.setXRange(min(xs) - 0.15, max(xs) + 0.15, padding=0)

    def bar_count(self) -> int:
        return len(self._bars)


class RunCurvesPlot(CurvePlot):
    """Many run curves, no legend (the summary plot's legend names the colours). Every evaluation is a dot: a run
    that has only its step-0 point yet shows it (a line needs two)."""

    def __init__(self, title: str = "", x_label: str = "training step", y_label: str = "held-out accuracy",
                 parent=None) -> None:
        super().__init__(title, x_label, y_label, legend=False, symbols=True, parent=parent)

    def set_x_range(self, low: float, high: float) -> None:
        """A fixed x range (set only when it changes): growing curves then never re-render the axis."""
        if (low, high) != getattr(self, "_x_range", None) and high > low:
            self._x_range = (low, high)
            self.setXRange(low, high, padding=0.02)

    def curve_count(self) -> int:
        """Curves with data on screen."""
        return sum(1 for it in self.getPlotItem().listDataItems() if it.xData is not None and len(it.xData))

"""One bar per token (scores, scaled scores, softmax weights) with the query token highlighted and the value
under the mouse. Numpy and plain values only (no torch)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from .labels import title_and_readout

BAR = "#4fc3f7"
QUERY = "#ffd54f"


def bar_hover_text(values: np.ndarray, labels: tuple[str, ...], x: float) -> str | None:
    i = int(np.floor(x + 0.5))
    if not 0 <= i < len(values):
        return None
    name = labels[i] if i < len(labels) else f"token {i}"
    return f"{i} = {name}: {float(values[i]):+.5f}"


def nice_bound(x: float) -> float:
    """The next of 1, 2, 2.5, 5 x 10^k at or above |x| (0 stays 0): a steady axis while values move a little."""
    x = abs(float(x))
    if x == 0.0 or not np.isfinite(x):
        return 0.0
    base = 10.0 ** np.floor(np.log10(x))
    return float(next(m * base for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * base >= x * (1 - 1e-9)))


class TokenBars(QWidget):
    def __init__(self, parent=None, axis_label: str = "token") -> None:
        super().__init__(parent)
        self.title, self.readout = title_and_readout()
        self.plot = pg.PlotWidget(background="#202124")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", axis_label)
        # all bars as one filled step curve: one path to paint instead of N rectangles
        self.bars = pg.PlotCurveItem(np.array([-0.5, 0.5]), np.zeros(1), stepMode="center", fillLevel=0.0,
                                     brush=pg.mkBrush(BAR), pen=pg.mkPen(BAR, width=1))
        self.query_bar = pg.BarGraphItem(x=[0], height=[0], width=0.9, brush=QUERY, pen=None)
        self.plot.addItem(self.bars)
        self.plot.addItem(self.query_bar)
        self.plot.getAxis("left").setStyle(showValues=False)  # the range is the text in the corner
        self.scale_text = pg.TextItem("", color="#e8eaed", anchor=(0, 0))
        self.plot.addItem(self.scale_text)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.readout)
        self._values = np.zeros(1, np.float32)
        self._labels: tuple[str, ...] = ()
        self._y_range: tuple[float, float] | None = None
        self.plot.scene().sigMouseMoved.connect(self._on_moved)

    @property
    def values(self) -> np.ndarray:
        return self._values

    def set_bars(self, title: str, values: np.ndarray, labels: tuple[str, ...] = (), highlight: int | None = None,
                 y_range: tuple[float, float] | None = None) -> None:
        """One bar per value on an axis from `y_range` (else the values' own range), rounded outwards.

        The bars are drawn scaled to a fixed view and the axis range is written in the corner: a new
        range is new text, not a new axis (re-laying out an axis costs more than all the bars)."""
        values = np.asarray(values, np.float32)
        n = len(values)
        resized = n != len(self._values)
        self._values, self._labels = values, tuple(labels)
        self.title.setText(title)
        lo_v, hi_v = y_range if y_range is not None else (float(values.min()), float(values.max()))
        lo, hi = -nice_bound(min(0.0, lo_v)), nice_bound(max(0.0, hi_v))
        span = max(-lo, hi) or 1.0
        shown = values / span  # (N,) in [lo / span, hi / span], a subset of [-1, 1]
        self.bars.setData(np.arange(n + 1) - 0.5, shown)
        if highlight is not None and 0 <= highlight < n:
            self.query_bar.setOpts(x=[highlight], height=[shown[highlight]])
            self.query_bar.setVisible(True)
        else:
            self.query_bar.setVisible(False)
        if resized:
            self.plot.setXRange(-0.5, n - 0.5, padding=0.01)
        view = (-1.0 if lo < 0 else 0.0, 1.0)
        if view != self._y_range:  # changes only when the sign of the data does
            self._y_range = view
            self.plot.setYRange(*view, padding=0.05)
        self.scale_text.setText(f"axis {lo:g} .. {hi:g}" if lo < 0 else f"axis 0 .. {hi:g}")
        self.scale_text.setPos(-0.5, 1.0)
        if resized:  # a steady text: relabelling on every query would repaint the whole page
            self.readout.setText(f"{n} bars: hover for a value")

    @property
    def axis_text(self) -> str:
        return self.scale_text.toPlainText()

    def _on_moved(self, pos) -> None:
        if not self.plot.sceneBoundingRect().contains(pos):
            return
        p = self.plot.plotItem.vb.mapSceneToView(pos)
        text = bar_hover_text(self._values, self._labels, p.x())
        if text:
            self.readout.setText(text)

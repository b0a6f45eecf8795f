"""Live training curves: every point kept, fast at a million steps, TensorBoard-style smoothing.

    curves = LiveCurves()
    curves.add_series("G loss", plot="Losses")
    curves.add_series("D loss", plot="Losses")
    curves.append(steps, g_values, d_values)  # values in the order the series were added
    curves.append_series("diversity", steps, values)  # one series on its own clock

Each series is drawn twice: raw (faint) and smoothed with a debiased EMA (bold, TensorBoard's formula
``last = w*last + (1-w)*y; shown = last / (1 - w**n)``, which keeps a constant series constant).
Options: min/max envelope, log y, follow the newest step or zoom freely (zooming turns following off).
Data live in growable numpy buffers with a min/max pyramid (PeakPyramid): each redraw hands pyqtgraph
about two points per pixel column of the visible range, peak-preserving, so 1,000,000 steps redraw as
fast as 1,000 (pyqtgraph's own downsampling and clip-to-view are off: they would redo that work).
Redraws happen on a timer (at most `max_fps`), never per append; the axes are cached and re-render only
when the followed range jumps. No torch here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QLayout, QVBoxLayout, QWidget

from .curve_data import PeakPyramid, SeriesData, debiased_ema  # noqa: F401  (PeakPyramid, debiased_ema: API)
from .float_slider import FloatSlider

PALETTE = ((66, 133, 244), (234, 67, 53), (251, 188, 5), (52, 168, 83), (171, 71, 188), (0, 172, 193),
           (255, 112, 67), (158, 157, 36))
GRID = True
BACKGROUND = (30, 31, 34)
MARKER_COLOUR = (230, 230, 230, 170)
X_JUMP = 1.3  # following, the x range grows in jumps to this many times the data's span (axes re-render per jump)
Y_HEADROOM = 0.2  # and the y range leaves this share of the data's span above and below
AXIS_WIDTH = 46  # px of the left axis
MAX_SMOOTHING = 0.99  # the slider steps by 0.01 (arrows) and 0.1 (PgUp/PgDn) over [0, MAX_SMOOTHING]


@dataclass
class _Series:
    name: str
    plot: str
    color: tuple[int, int, int]
    data: SeriesData = field(default_factory=SeriesData)
    raw_item: pg.PlotCurveItem | None = None  # curve items, not PlotDataItems: a third of the cost per redraw
    smooth_item: pg.PlotCurveItem | None = None
    env_item: pg.FillBetweenItem | None = None
    env_lo: pg.PlotCurveItem | None = None
    env_hi: pg.PlotCurveItem | None = None
    dirty: bool = True


class LiveCurves(QWidget):
    follow_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None, max_fps: float = 30.0, smoothing: float = 0.6,
                 show_controls: bool = True, x_label: str = "step"):
        super().__init__(parent)
        self.x_label = x_label  # the bottom axis of every plot
        self._series: dict[str, _Series] = {}
        self._order: list[str] = []  # for append(step, *values)
        self._plots: dict[str, pg.PlotItem] = {}
        self._markers: dict[str, pg.InfiniteLine] = {}
        self._marker: float | None = None
        self._w = smoothing
        self._envelope = False
        self._log = False
        self._follow = True
        self.redraw_count = 0

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(BACKGROUND)
        self.graphics.ci.setSpacing(2)

        self.smoothing_slider = FloatSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setRange(0.0, MAX_SMOOTHING)
        self.smoothing_slider.setDecimals(2)
        self.smoothing_slider.setSingleStep(0.01)
        self.smoothing_slider.setPageStep(0.1)
        self.smoothing_slider.slider.setMinimumWidth(80)
        self.smoothing_slider.setValue(smoothing)
        self.smoothing_slider.setToolTip("Debiased exponential moving average weight (0: raw, 0.99: very smooth)")
        self.smoothing_slider.valueChanged.connect(self.set_smoothing)
        self.envelope_box = QCheckBox("Min/max envelope")
        self.envelope_box.toggled.connect(self.set_envelope)
        self.log_box = QCheckBox("Log scale")
        self.log_box.toggled.connect(self.set_log)
        self.follow_box = QCheckBox("Follow newest")
        self.follow_box.setChecked(True)
        self.follow_box.setToolTip("Keep the newest steps in view. Zooming or panning turns this off.")
        self.follow_box.toggled.connect(self.set_follow)

        self.toggles = QWidget()  # the check boxes: beside the slider when they fit, else on a row below
        tl = QHBoxLayout(self.toggles)
        tl.setContentsMargins(0, 0, 0, 0)
        for w in (self.envelope_box, self.log_box, self.follow_box):
            tl.addWidget(w)
        self._row1 = QHBoxLayout()
        self._row1.setContentsMargins(4, 0, 4, 0)
        self._row1.addWidget(QLabel("Smoothing"))
        self._row1.addWidget(self.smoothing_slider, 1)
        self._row2 = QHBoxLayout()
        self._row2.setContentsMargins(4, 0, 4, 0)
        self._row1.addWidget(self.toggles)
        self._wrapped = False
        rows = QVBoxLayout()
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(2)
        rows.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)  # the minimum is the two-row one, below
        rows.addLayout(self._row1)
        rows.addLayout(self._row2)
        self.controls = QWidget()
        self.controls.setLayout(rows)
        self.controls.setMinimumWidth(max(self._smoothing_width(), self.toggles.sizeHint().width()) + 8)
        self.controls.setVisible(show_controls)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.controls)
        layout.addWidget(self.graphics, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(int(1000 / max_fps))
        self._timer.timeout.connect(self._redraw)
        self._timer.start()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._place_toggles(event.size().width())

    def _smoothing_width(self) -> int:
        """'Smoothing' and a usable slider with its value."""
        return (self._row1.itemAt(0).widget().sizeHint().width() + self.smoothing_slider.minimumSizeHint().width()
                + self._row1.spacing())

    def _place_toggles(self, width: int) -> None:
        """One row when 'Smoothing', a usable slider and the check boxes fit side by side, else two rows."""
        one_row = self._smoothing_width() + self.toggles.sizeHint().width() + 2 * self._row1.spacing() + 8
        wrap = width < one_row
        if wrap == self._wrapped:
            return
        self._wrapped = wrap
        (self._row1 if wrap else self._row2).removeWidget(self.toggles)
        if wrap:
            self._row2.addWidget(self.toggles)
            self._row2.addStretch(1)
        else:
            stretch = self._row2.takeAt(0)  # the stretch left behind
            del stretch
            self._row1.addWidget(self.toggles)

    # ---- building
    def add_plot(self, name: str, y_label: str = "") -> pg.PlotItem:
        """A new plot row (x axes linked to the first); series name their plot in add_series."""
        if name in self._plots:
            return self._plots[name]
        row = len(self._plots)
        plot = self.graphics.addPlot(row=row, col=0)
        plot.setTitle(name, size="9pt", color="#cfd2d6")
        plot.showGrid(x=GRID, y=GRID, alpha=0.15)
        if y_label:
            plot.setLabel("left", y_label)
        plot.setLabel("bottom", self.x_label)
        if self._plots:
            plot.setXLink(next(iter(self._plots.values())))
        for side in ("left", "bottom"):  # axes are re-rendered only when their range changes
            plot.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        plot.getAxis("left").setWidth(AXIS_WIDTH + (18 if y_label else 0))  # new tick widths: no re-layout
        plot.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)
        plot.getViewBox().sigXRangeChanged.connect(self._on_x_range)
        plot.enableAutoRange(x=False, y=False) if self._follow else plot.enableAutoRange(x=True, y=True)
        plot.setLogMode(y=self._log)
        marker = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(MARKER_COLOUR, width=1,
                                                                      style=Qt.PenStyle.DashLine))
        marker.setVisible(self._marker is not None)
        if self._marker is not None:
            marker.setValue(self._marker)
        plot.addItem(marker, ignoreBounds=True)
        self._markers[name] = marker
        self._plots[name] = plot
        return plot

    def add_series(self, name: str, plot: str = "", color: tuple[int, int, int] | None = None) -> None:
        plot_item = self.add_plot(plot or name)
        color = color or PALETTE[len(self._series) % len(PALETTE)]
        s = _Series(name, plot or name, color)
        faint = tuple(int(0.4 * c + 0.6 * b) for c, b in zip(color, BACKGROUND))  # opaque: no blending cost
        # _redraw hands over ~2 points per pixel of the visible range, already in log10 in log mode
        s.raw_item = pg.PlotCurveItem(pen=pg.mkPen(faint, width=1), antialias=False, skipFiniteCheck=True)
        s.smooth_item = pg.PlotCurveItem(pen=pg.mkPen(color, width=2), antialias=False, skipFiniteCheck=True)
        for item in (s.raw_item, s.smooth_item):
            plot_item.addItem(item)
        s.env_lo = pg.PlotCurveItem(pen=None)
        s.env_hi = pg.PlotCurveItem(pen=None)
        s.env_item = pg.FillBetweenItem(s.env_lo, s.env_hi, brush=(*color, 45))
        s.env_item.setVisible(False)
        plot_item.addItem(s.env_item)
        self._series[name] = s
        self._order.append(name)
        self._retitle(s.plot)

    def _retitle(self, plot: str) -> None:
        """The legend lives in the title (a legend box would hide the newest points)."""
        keys = "&nbsp;&nbsp;".join(f"<span style='color: rgb{s.color}'>━ {s.name}</span>"
                                   for s in self._series.values() if s.plot == plot)
        self._plots[plot].setTitle(f"<span style='color: #cfd2d6'>{plot}</span>&nbsp;&nbsp;&nbsp;{keys}", size="9pt")

    def series_names(self) -> list[str]:
        return list(self._order)

    # ---- data
    def append(self, step, *values) -> None:
        """Append points to the first len(values) series in add_series order: scalars, or arrays as long as
        `step`. Series on their own clock (e.g. measured every N steps) use append_series."""
        if len(values) > len(self._order):
            raise ValueError(f"append got {len(values)} values for {len(self._order)} series")
        for name, v in zip(self._order, values):
            self.append_series(name, step, v)

    def append_series(self, name: str, step, values) -> None:
        s = self._series[name]
        x = np.atleast_1d(np.asarray(step, np.float64))
        y = np.atleast_1d(np.asarray(values, np.float64))
        if len(x) == 0:
            return
        s.data.push(x, y)  # smoothed and indexed when next drawn or read
        s.dirty = True

    def _flush(self) -> None:
        for s in self._series.values():
            s.data.flush(self._w)

    def truncate(self, last_step: float) -> None:
        """Drop every point after last_step (a run rolled back); smoothing is recomputed."""
        self._flush()
        for s in self._series.values():
            if s.data.truncate_after(last_step, self._w):
                s.dirty = True

    def clear(self) -> None:
        for s in self._series.values():
            s.data.clear()
            s.dirty = True
        self.set_marker(None)
        self.set_follow(True)

    def data(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, raw, smoothed) of one series (views, do not modify)."""
        d = self._series[name].data
        d.flush(self._w)
        return d.raw.x[: d.n], d.raw.y[: d.n], d.smooth.y[: d.smooth.n]

    def point_count(self) -> int:
        self._flush()
        return sum(s.data.n for s in self._series.values())

    # ---- the step marker
    def set_marker(self, step: float | None) -> None:
        """A vertical line at `step` on every plot (e.g. the step of the sample grid looked at); None hides it."""
        self._marker = None if step is None else float(step)
        for line in self._markers.values():
            if self._marker is not None:
                line.setValue(self._marker)
            line.setVisible(self._marker is not None)

    def marker(self) -> float | None:
        return self._marker

    def marker_lines(self) -> dict[str, pg.InfiniteLine]:
        """The marker line of each plot (to inspect what is drawn)."""
        return dict(self._markers)

    # ---- options
    @Slot(float)
    def set_smoothing(self, w: float) -> None:
        self._flush()
        self._w = float(min(max(w, 0.0), MAX_SMOOTHING))
        if abs(self.smoothing_slider.value() - self._w) > 1e-9:
            self.smoothing_slider.setValue(self._w)
        for s in self._series.values():
            s.data.resmooth(self._w)
            s.dirty = True

    @Slot(bool)
    def set_envelope(self, on: bool) -> None:
        self._envelope = bool(on)
        if self.envelope_box.isChecked() != self._envelope:
            self.envelope_box.setChecked(self._envelope)
        for s in self._series.values():
            s.env_item.setVisible(self._envelope)
            s.dirty = True

    @Slot(bool)
    def set_log(self, on: bool) -> None:
        self._log = bool(on)
        if self.log_box.isChecked() != self._log:
            self.log_box.setChecked(self._log)
        for p in self._plots.values():
            p.setLogMode(y=self._log)
        for s in self._series.values():
            s.raw_item.setSkipFiniteCheck(not self._log)  # log mode hides values <= 0 as NaN
            s.smooth_item.setSkipFiniteCheck(not self._log)
            s.env_lo.setSkipFiniteCheck(not self._log)
            s.env_hi.setSkipFiniteCheck(not self._log)
            s.dirty = True

    @Slot(bool)
    def set_follow(self, on: bool) -> None:
        self._follow = bool(on)
        if self.follow_box.isChecked() != self._follow:
            self.follow_box.blockSignals(True)
            self.follow_box.setChecked(self._follow)
            self.follow_box.blockSignals(False)
        for p in self._plots.values():
            if self._follow:  # x is set by _redraw (linked plots auto-ranging x fight each other); y auto
                p.enableAutoRange(x=False, y=False)  # _fit_x / _fit_y set the ranges in jumps
            else:
                p.disableAutoRange()
        for s in self._series.values():
            s.dirty = True
        self.follow_changed.emit(self._follow)

    @property
    def following(self) -> bool:
        return self._follow

    @Slot()
    def _on_x_range(self, *args) -> None:
        if not self._follow:  # zoomed: the visible slice changed, fetch its detail
            for s in self._series.values():
                s.dirty = True

    @Slot()
    def _on_manual_range(self, *args) -> None:
        if self._follow:
            self.set_follow(False)

    # ---- drawing
    def redraw_now(self) -> None:
        for s in self._series.values():
            s.dirty = True
        self._redraw()

    def _visible(self, s: _Series) -> tuple[int, int, int]:
        """Raw index range in view (all when following) and the pixel width to fill."""
        plot = self._plots[s.plot]
        width = max(int(plot.getViewBox().width()), 100)
        if self._follow or s.data.n == 0:
            return 0, s.data.n, width
        x0, x1 = plot.getViewBox().viewRange()[0]
        return (*s.data.visible(x0, x1), width)

    @Slot()
    def _redraw(self) -> None:
        if not self.isVisible():
            return
        self._flush()
        drew = False
        for s in self._series.values():
            if not s.dirty:
                continue
            s.dirty = False
            drew = True
            i0, i1, width = self._visible(s)
            if i1 <= i0:
                for item in (s.raw_item, s.smooth_item, s.env_lo, s.env_hi):
                    item.setData([], [])
                continue
            rx, ry, sx, sy = s.data.render(i0, i1, width, self._log)
            s.raw_item.setData(rx, ry, connect="finite")
            s.smooth_item.setData(sx, sy, connect="finite")
            if self._envelope:
                ex, elo, ehi = s.data.envelope(i0, i1, width, self._log)
                s.env_lo.setData(ex, elo)
                s.env_hi.setData(ex, ehi)
        if drew:
            self.redraw_count += 1
            if self._follow:
                self._fit_x()
                self._fit_y()

    def _fit_y(self) -> None:
        """y range of each plot from what is drawn, changed only when data leave it or fill < 40% of it."""
        bounds: dict[str, list[float]] = {}
        for s in self._series.values():
            for item in (s.raw_item, s.smooth_item):
                _, y = item.getData()
                if y is None or not len(y):
                    continue
                y = y[np.isfinite(y)]  # getData() is in view coordinates (already log10 in log mode)
                if len(y):
                    b = bounds.setdefault(s.plot, [np.inf, -np.inf])
                    b[0], b[1] = min(b[0], float(y.min())), max(b[1], float(y.max()))
        for name, (lo, hi) in bounds.items():
            vb = self._plots[name].getViewBox()
            a, b = vb.viewRange()[1]
            span = hi - lo if hi - lo > 1e-9 else max(0.05 * abs(hi), 0.01)  # a constant series: a readable axis around it
            if lo < a or hi > b or (hi - lo) < 0.4 * (b - a):  # headroom: new extremes rarely re-render the axis
                vb.setYRange(lo - Y_HEADROOM * span, hi + Y_HEADROOM * span, padding=0.0)

    def _fit_x(self) -> None:
        """Follow the newest step; the range grows in jumps (X_JUMP) so the axes (costly to re-render) stay
        cached on most frames."""
        lo, hi = np.inf, -np.inf
        for s in self._series.values():
            if s.data.n:
                lo, hi = min(lo, s.data.raw.x[0]), max(hi, s.data.raw.x[s.data.n - 1])
        if not (np.isfinite(lo) and self._plots):
            return
        first = next(iter(self._plots.values()))
        a, b = first.getViewBox().viewRange()[0]
        span = max(hi - lo, 1.0)
        if lo < a or hi > b or hi < a + 0.5 * (b - a) or lo > a + 0.1 * span:
            first.setXRange(lo, lo + X_JUMP * span, padding=0.0)

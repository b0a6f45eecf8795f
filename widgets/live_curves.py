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
fast as 1,000. pyqtgraph's own peak downsampling stays on; its clip-to-view only in free zoom (with
auto-range it would freeze the range at the first view).
Redraws happen on a timer (at most `max_fps`), never per append. No torch here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from superqt import QLabeledDoubleSlider

PALETTE = ((66, 133, 244), (234, 67, 53), (251, 188, 5), (52, 168, 83), (171, 71, 188), (0, 172, 193),
           (255, 112, 67), (158, 157, 36))
GRID = True
BACKGROUND = (30, 31, 34)
ENVELOPE_DIVISOR = 6  # envelope blocks are this many times wider than the raw curve's


class _Buffer:
    """Growable (step, value) columns; amortised O(1) appends, views without copies."""

    def __init__(self, capacity: int = 4096):
        self.x = np.empty(capacity, np.float64)
        self.y = np.empty(capacity, np.float64)
        self.n = 0

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        need = self.n + len(x)
        if need > len(self.x):
            cap = max(need + need // 2, 2 * len(self.x))
            for name in ("x", "y"):
                old = getattr(self, name)
                new = np.empty(cap, np.float64)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        self.x[self.n:need] = x
        self.y[self.n:need] = y
        self.n = need

    def truncate(self, n: int) -> None:
        self.n = max(0, min(n, self.n))


class PeakPyramid:
    """Min/max of a growing series over blocks of FAN**level points, kept up to date as points arrive.

    Any view range then costs O(pixels), not O(points): this is what keeps a million-step run at 30 fps
    (pyqtgraph's own peak downsampling rescans every point on every redraw).
    """

    FAN = 4

    def __init__(self, levels: int = 11):
        self.lo: list[np.ndarray] = [np.empty(0) for _ in range(levels)]  # lo[0]/hi[0] unused: level 0 is raw
        self.hi: list[np.ndarray] = [np.empty(0) for _ in range(levels)]
        self.count = [0] * levels

    def update(self, y: np.ndarray) -> None:
        """y: the whole raw series so far (a view); only new complete blocks are computed."""
        below_lo, below_hi, below_n = y, y, len(y)
        for lev in range(1, len(self.lo)):
            have = self.count[lev]
            full = below_n // self.FAN
            if full > have:
                seg_lo = below_lo[have * self.FAN: full * self.FAN].reshape(-1, self.FAN).min(1)
                seg_hi = below_hi[have * self.FAN: full * self.FAN].reshape(-1, self.FAN).max(1)
                if full > len(self.lo[lev]):
                    cap = max(full + full // 2, 64)
                    for arrs in (self.lo, self.hi):
                        grown = np.empty(cap)
                        grown[:have] = arrs[lev][:have]
                        arrs[lev] = grown
                self.lo[lev][have:full] = seg_lo
                self.hi[lev][have:full] = seg_hi
                self.count[lev] = full
            below_lo, below_hi, below_n = self.lo[lev], self.hi[lev], self.count[lev]

    def truncate(self, n: int) -> None:
        for lev in range(1, len(self.count)):
            self.count[lev] = min(self.count[lev], n // self.FAN ** lev)

    def query(self, x: np.ndarray, y: np.ndarray, i0: int, i1: int, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Between bins / 2 and 2 * bins (x, min, max) blocks covering raw indices [i0, i1)."""
        span = max(i1 - i0, 1)
        lev = 0
        while lev + 1 < len(self.count) and span / self.FAN ** lev > 2 * bins:
            lev += 1
        if lev == 0:
            return x[i0:i1], y[i0:i1], y[i0:i1]
        size = self.FAN ** lev
        b0, b1 = i0 // size, min(i1 // size, self.count[lev])
        xs = x[b0 * size: b1 * size: size]
        lo, hi = self.lo[lev][b0:b1], self.hi[lev][b0:b1]
        tail = b1 * size
        if tail < i1:  # the incomplete last block, from the raw values
            xs = np.append(xs, x[tail])
            lo = np.append(lo, y[tail:i1].min())
            hi = np.append(hi, y[tail:i1].max())
        return xs, lo, hi


@dataclass
class _Series:
    name: str
    plot: str
    color: tuple[int, int, int]
    raw: _Buffer = field(default_factory=_Buffer)
    peaks: PeakPyramid = field(default_factory=PeakPyramid)
    smooth: _Buffer = field(default_factory=_Buffer)  # debiased EMA, same x as raw
    ema_state: float = 0.0  # the biased EMA after the last point
    ema_count: int = 0  # points that entered the EMA (for the debiasing)
    raw_item: pg.PlotDataItem | None = None
    smooth_item: pg.PlotDataItem | None = None
    env_item: pg.FillBetweenItem | None = None
    env_lo: pg.PlotDataItem | None = None
    env_hi: pg.PlotDataItem | None = None
    dirty: bool = True


def debiased_ema(y: np.ndarray, w: float, state: float = 0.0, count: int = 0) -> tuple[np.ndarray, float, int]:
    """TensorBoard smoothing of y continuing from (state, count): (smoothed, new state, new count).
    Non-finite values are carried over (the EMA holds), so one NaN does not erase the curve."""
    y = np.asarray(y, np.float64)
    if w <= 0:
        return y.copy(), float(y[-1]) if len(y) else state, count + len(y)
    finite = np.isfinite(y)
    if not finite.all():  # hold the previous value for NaN/Inf
        idx = np.where(finite, np.arange(len(y)), -1)
        np.maximum.accumulate(idx, out=idx)
        y = np.where(idx >= 0, y[np.maximum(idx, 0)], state / max(1 - w ** count, 1e-12) if count else 0.0)
    from scipy.signal import lfilter  # here, not at module import: scipy.signal costs ~0.8 s of start-up

    biased, _ = lfilter([1 - w], [1, -w], y, zi=np.array([w * state]))
    n = count + np.arange(1, len(y) + 1)
    return biased / (1 - w ** n), float(biased[-1]) if len(y) else state, count + len(y)


class LiveCurves(QWidget):
    follow_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None, max_fps: float = 30.0, smoothing: float = 0.6,
                 show_controls: bool = True):
        super().__init__(parent)
        self._series: dict[str, _Series] = {}
        self._order: list[str] = []  # for append(step, *values)
        self._plots: dict[str, pg.PlotItem] = {}
        self._w = smoothing
        self._envelope = False
        self._log = False
        self._follow = True
        self._programmatic_range = False
        self.redraw_count = 0

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(BACKGROUND)
        self.graphics.ci.setSpacing(2)

        self.smoothing_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setRange(0.0, 0.999)
        self.smoothing_slider.setDecimals(3)
        self.smoothing_slider.setMinimumWidth(140)
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

        controls = QHBoxLayout()
        controls.setContentsMargins(4, 0, 4, 0)
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing_slider, 1)
        for w in (self.envelope_box, self.log_box, self.follow_box):
            controls.addWidget(w)
        self.controls = QWidget()
        self.controls.setLayout(controls)
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
        plot.setLabel("bottom", "step")
        if self._plots:
            plot.setXLink(next(iter(self._plots.values())))
        for side in ("left", "bottom"):  # axes are re-rendered only when their range changes
            plot.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        plot.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)
        plot.getViewBox().sigXRangeChanged.connect(self._on_x_range)
        plot.enableAutoRange(x=False, y=False) if self._follow else plot.enableAutoRange(x=True, y=True)
        plot.setLogMode(y=self._log)
        self._plots[name] = plot
        return plot

    def add_series(self, name: str, plot: str = "", color: tuple[int, int, int] | None = None) -> None:
        plot_item = self.add_plot(plot or name)
        color = color or PALETTE[len(self._series) % len(PALETTE)]
        s = _Series(name, plot or name, color)
        faint = tuple(int(0.4 * c + 0.6 * b) for c, b in zip(color, BACKGROUND))  # opaque: no blending cost
        s.raw_item = plot_item.plot(pen=pg.mkPen(faint, width=1), antialias=False)
        s.smooth_item = plot_item.plot(pen=pg.mkPen(color, width=2), name=name, antialias=False)
        for item in (s.raw_item, s.smooth_item):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(not self._follow)
            item.setSkipFiniteCheck(True)
        s.env_lo = pg.PlotDataItem(pen=None)
        s.env_hi = pg.PlotDataItem(pen=None)
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
        s.raw.extend(x, y)
        s.peaks.update(s.raw.y[: s.raw.n])
        sm, s.ema_state, s.ema_count = debiased_ema(y, self._w, s.ema_state, s.ema_count)
        s.smooth.extend(x, sm)
        s.dirty = True

    def truncate(self, last_step: float) -> None:
        """Drop every point after last_step (a run rolled back); smoothing is recomputed."""
        for s in self._series.values():
            n = int(np.searchsorted(s.raw.x[: s.raw.n], last_step, side="right"))
            if n < s.raw.n:
                s.raw.truncate(n)
                s.peaks.truncate(n)
                self._resmooth(s)

    def clear(self) -> None:
        for s in self._series.values():
            s.raw.truncate(0)
            s.peaks.truncate(0)
            s.smooth.truncate(0)
            s.ema_state, s.ema_count, s.dirty = 0.0, 0, True
        self.set_follow(True)

    def data(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, raw, smoothed) of one series (views, do not modify)."""
        s = self._series[name]
        return s.raw.x[: s.raw.n], s.raw.y[: s.raw.n], s.smooth.y[: s.smooth.n]

    def point_count(self) -> int:
        return sum(s.raw.n for s in self._series.values())

    # ---- options
    @Slot(float)
    def set_smoothing(self, w: float) -> None:
        self._w = float(min(max(w, 0.0), 0.999))
        if abs(self.smoothing_slider.value() - self._w) > 1e-9:
            self.smoothing_slider.setValue(self._w)
        for s in self._series.values():
            self._resmooth(s)

    def _resmooth(self, s: _Series) -> None:
        x, y = s.raw.x[: s.raw.n], s.raw.y[: s.raw.n]
        s.smooth.truncate(0)
        if s.raw.n:
            sm, s.ema_state, s.ema_count = debiased_ema(y, self._w)
            s.smooth.extend(x, sm)
        else:
            s.ema_state, s.ema_count = 0.0, 0
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
        for s in self._series.values():  # clipping to the view would freeze auto-ranging at the first view
            s.raw_item.setClipToView(not self._follow)
            s.smooth_item.setClipToView(not self._follow)
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
        n = s.raw.n
        plot = self._plots[s.plot]
        width = max(int(plot.getViewBox().width()), 100)
        if self._follow or n == 0:
            return 0, n, width
        x0, x1 = plot.getViewBox().viewRange()[0]
        xs = s.raw.x[:n]
        i0 = max(int(np.searchsorted(xs, x0, side="left")) - 1, 0)
        i1 = min(int(np.searchsorted(xs, x1, side="right")) + 1, n)
        return i0, i1, width

    @Slot()
    def _redraw(self) -> None:
        if not self.isVisible():
            return
        drew = False
        for s in self._series.values():
            if not s.dirty:
                continue
            s.dirty = False
            drew = True
            x, y, sm_all = s.raw.x, s.raw.y, s.smooth.y
            i0, i1, width = self._visible(s)
            if i1 <= i0:
                for item in (s.raw_item, s.smooth_item, s.env_lo, s.env_hi):
                    item.setData([], [])
                continue
            bx, lo, hi = s.peaks.query(x, y, i0, i1, width // 2)  # at most one min/max pair per pixel column
            rx = np.append(np.repeat(bx, 2), x[i1 - 1])  # ... ending on the newest point
            ry = np.append(np.column_stack([lo, hi]).ravel(), y[i1 - 1])
            step = max(1, (i1 - i0) // max(width // 3, 1))  # smooth: a point per 3 px (wide pens are costly)
            sx, sy = x[i0:i1:step], sm_all[i0:i1:step]
            if (i1 - 1 - i0) % step:  # always end on the newest point
                sx, sy = np.append(sx, x[i1 - 1]), np.append(sy, sm_all[i1 - 1])
            if self._log:  # only positive values have a logarithm
                ry = np.where(ry > 0, ry, np.nan)
                sy = np.where(sy > 0, sy, np.nan)
            s.raw_item.setData(rx, ry, connect="finite")
            s.smooth_item.setData(sx, sy, connect="finite")
            if self._envelope:
                ex, elo, ehi = s.peaks.query(x, y, i0, i1, max(width // ENVELOPE_DIVISOR, 8))
                if self._log:
                    elo, ehi = np.where(elo > 0, elo, np.nan), np.where(ehi > 0, ehi, np.nan)
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
            span = max(hi - lo, 1e-9)
            if lo < a or hi > b or (hi - lo) < 0.4 * (b - a):
                vb.setYRange(lo - 0.1 * span, hi + 0.1 * span, padding=0.0)

    def _fit_x(self) -> None:
        """Follow the newest step; the range grows in 25% jumps so the axes (costly to re-render) stay
        cached on most frames."""
        lo, hi = np.inf, -np.inf
        for s in self._series.values():
            if s.raw.n:
                lo, hi = min(lo, s.raw.x[0]), max(hi, s.raw.x[s.raw.n - 1])
        if not (np.isfinite(lo) and self._plots):
            return
        first = next(iter(self._plots.values()))
        a, b = first.getViewBox().viewRange()[0]
        span = max(hi - lo, 1.0)
        if lo < a or hi > b or hi < a + 0.5 * (b - a) or lo > a + 0.1 * span:
            first.setXRange(lo, lo + 1.25 * span, padding=0.0)

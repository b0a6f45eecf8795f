"""The numbers behind LiveCurves, Qt-free: growable (step, value) buffers, a min/max pyramid that keeps
redraws O(pixels) at a million points, and TensorBoard's debiased EMA smoothing."""
from __future__ import annotations

import numpy as np


class Buffer:
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


ENVELOPE_DIVISOR = 6  # envelope blocks are this many times wider than the raw curve's


class SeriesData:
    """One series: raw points, their min/max pyramid and the smoothed copy, kept in step as points arrive."""

    def __init__(self) -> None:
        self.raw = Buffer()
        self.peaks = PeakPyramid()
        self.smooth = Buffer()  # debiased EMA, same x as raw
        self.ema_state = 0.0  # the biased EMA after the last point
        self.ema_count = 0  # points that entered the EMA (for the debiasing)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # pushed, not yet in the buffers

    @property
    def n(self) -> int:
        return self.raw.n

    def push(self, x: np.ndarray, y: np.ndarray) -> None:
        """Queue points; flush() adds all queued ones at once (one smoothing pass instead of one per push)."""
        self._pending.append((x, y))

    def flush(self, w: float) -> None:
        if not self._pending:
            return
        xs, ys = zip(*self._pending)
        self._pending.clear()
        self.extend(np.concatenate(xs), np.concatenate(ys), w)

    def extend(self, x: np.ndarray, y: np.ndarray, w: float) -> None:
        self.raw.extend(x, y)
        self.peaks.update(self.raw.y[: self.raw.n])
        sm, self.ema_state, self.ema_count = debiased_ema(y, w, self.ema_state, self.ema_count)
        self.smooth.extend(x, sm)

    def truncate_after(self, last_step: float, w: float) -> bool:
        """Drop the points after last_step; True if any were dropped."""
        n = int(np.searchsorted(self.raw.x[: self.raw.n], last_step, side="right"))
        if n >= self.raw.n:
            return False
        self.raw.truncate(n)
        self.peaks.truncate(n)
        self.resmooth(w)
        return True

    def clear(self) -> None:
        self._pending.clear()
        self.raw.truncate(0)
        self.peaks.truncate(0)
        self.smooth.truncate(0)
        self.ema_state, self.ema_count = 0.0, 0

    def resmooth(self, w: float) -> None:
        x, y = self.raw.x[: self.raw.n], self.raw.y[: self.raw.n]
        self.smooth.truncate(0)
        if self.raw.n:
            sm, self.ema_state, self.ema_count = debiased_ema(y, w)
            self.smooth.extend(x, sm)
        else:
            self.ema_state, self.ema_count = 0.0, 0

    def visible(self, x0: float, x1: float) -> tuple[int, int]:
        """Raw index range covering [x0, x1], one point beyond each side."""
        xs = self.raw.x[: self.raw.n]
        i0 = max(int(np.searchsorted(xs, x0, side="left")) - 1, 0)
        i1 = min(int(np.searchsorted(xs, x1, side="right")) + 1, self.raw.n)
        return i0, i1

    def render(self, i0: int, i1: int, width: int, log: bool) -> tuple[np.ndarray, ...]:
        """What to draw of raw indices [i0, i1) in `width` pixels: (raw x, raw y, smooth x, smooth y), the raw
        curve as at most one min/max pair per pixel column, the smooth one a point per 3 px, both ending on
        the newest point; in log mode y is log10(y), values <= 0 NaN (gaps)."""
        x, y, sm_all = self.raw.x, self.raw.y, self.smooth.y
        bx, lo, hi = self.peaks.query(x, y, i0, i1, width // 2)
        rx = np.append(np.repeat(bx, 2), x[i1 - 1])
        ry = np.append(np.column_stack([lo, hi]).ravel(), y[i1 - 1])
        step = max(1, (i1 - i0) // max(width // 3, 1))  # wide pens are costly
        sx, sy = x[i0:i1:step], sm_all[i0:i1:step]
        if (i1 - 1 - i0) % step:
            sx, sy = np.append(sx, x[i1 - 1]), np.append(sy, sm_all[i1 - 1])
        if log:
            ry, sy = _log10(ry), _log10(sy)
        return rx, ry, sx, sy

    def envelope(self, i0: int, i1: int, width: int, log: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, min, max) blocks of the min/max envelope, ENVELOPE_DIVISOR times wider than the raw curve's."""
        ex, elo, ehi = self.peaks.query(self.raw.x, self.raw.y, i0, i1, max(width // ENVELOPE_DIVISOR, 8))
        if log:
            elo, ehi = _log10(elo), _log10(ehi)
        return ex, elo, ehi


def _log10(y: np.ndarray) -> np.ndarray:
    """log10 of y; only positive values have a logarithm: the others become NaN (gaps)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.where(y > 0, y, np.nan))

"""2-D GAN Lab mode: a tiny GAN learns a 2-D point cloud, small enough to watch every decision.

Real data: a ring of Gaussians, two moons, or points the user drew. G and D are small numpy MLPs; the
frame sent to the view has real and generated points, D's probability "real" on a grid (the heatmap)
and, at each generated point, the direction G's loss gradient moves it (the arrows).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from ..errors import UserFacingError
from ..jobs import JobContext
from .history import GrowableArray
from .toy_numpy import MLP, Adam, _sigmoid, get_toy_loss

EXTENT = 2.5  # the data live in [-EXTENT, EXTENT]^2 (a view may show more around it)


def ring(n: int, rng: np.random.Generator, modes: int = 8, radius: float = 1.6, std: float = 0.08) -> np.ndarray:
    k = rng.integers(0, modes, n)
    ang = 2 * np.pi * k / modes
    centres = np.stack([np.cos(ang), np.sin(ang)], 1) * radius
    return (centres + rng.normal(0, std, (n, 2))).astype(np.float32)


def two_moons(n: int, rng: np.random.Generator, noise: float = 0.06) -> np.ndarray:
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    pts = np.stack([x - 0.5, y - 0.25], 1) * 1.6
    return (pts + rng.normal(0, noise, (n, 2))).astype(np.float32)


REAL_SHAPES: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {"ring": ring, "moons": two_moons}


@dataclass(frozen=True)
class ToyConfig:
    data: str = "ring"  # a key of REAL_SHAPES, or "drawn" (then `drawn` holds the points)
    drawn: tuple[tuple[float, float], ...] = ()
    loss: str = "bce"  # a key of models.gan.toy_numpy.TOY_LOSSES
    hidden: int = 32
    layers: int = 2
    latent: int = 2
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    batch: int = 128
    seed: int = 0
    n_real: int = 1024  # real points (those shown)
    n_fake: int = 256  # generated points shown, from fixed noise
    heat_res: int = 48  # heatmap cells along the shorter side of the heatmap's rectangle


@dataclass(frozen=True)
class ToyFrame:
    """One view frame. CPU numpy only."""

    iteration: int
    real: np.ndarray  # (n_real, 2) float32
    fake: np.ndarray  # (n_fake, 2) float32 G(fixed noise)
    arrows: np.ndarray  # (n_fake, 2) float32: -d(G loss)/d(point), the way G wants each point to move
    heatmap: np.ndarray  # (rows, cols) float32 in [0, 1]: D's "real" probability over rect, row 0 at the bottom
    extent: float  # the data's square [-extent, extent]^2
    d_loss: float
    g_loss: float
    iters_per_s: float
    rect: tuple[float, float, float, float] = (-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT)  # heatmap (x0, y0, w, h)


def heat_grid(rect: tuple[float, float, float, float], res: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Cell centres covering rect = (x0, x1, y0, y1) with about square cells, `res` along the shorter side:
    ((rows*cols, 2) points, row by row from the bottom, (rows, cols))."""
    x0, x1, y0, y1 = rect
    w, h = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
    cell = min(w, h) / res
    cols, rows = max(1, min(4 * res, round(w / cell))), max(1, min(4 * res, round(h / cell)))
    xs = x0 + (np.arange(cols) + 0.5) * (w / cols)  # (cols,)
    ys = y0 + (np.arange(rows) + 0.5) * (h / rows)  # (rows,)
    gx, gy = np.meshgrid(xs, ys)  # row index = y
    return np.stack([gx.ravel(), gy.ravel()], 1), (rows, cols)


class ToyGan:
    def __init__(self, config: ToyConfig):
        self.config = config
        self.loss = get_toy_loss(config.loss)
        rng = np.random.default_rng(config.seed)
        if config.data == "drawn":
            pts = np.asarray(config.drawn, np.float64).reshape(-1, 2)
            if len(pts) < 3:
                raise UserFacingError("Draw at least 3 points (click in the view) before training on them.")
            self.real = pts[rng.integers(0, len(pts), config.n_real)] + rng.normal(0, 0.05, (config.n_real, 2))
        else:
            if config.data not in REAL_SHAPES:
                raise UserFacingError(f"Unknown 2-D data '{config.data}' (known: {', '.join(REAL_SHAPES)}, drawn).")
            self.real = REAL_SHAPES[config.data](config.n_real, rng).astype(np.float64)  # (n_real, 2)
        self.real32 = self.real.astype(np.float32)  # shared by every frame (read-only), so views can skip redraws
        self.real32.setflags(write=False)
        hidden = [config.hidden] * config.layers
        self.G = MLP([config.latent, *hidden, 2], rng)
        self.D = MLP([2, *hidden, 1], rng)
        self.opt_g = Adam(self.G.flat, config.lr_g)
        self.opt_d = Adam(self.D.flat, config.lr_d)
        self.rng = np.random.default_rng(config.seed + 1)
        self.fixed_z = np.random.default_rng(config.seed + 2).standard_normal((config.n_fake, config.latent))
        self._heat: tuple = ()
        self.set_heat_rect((-EXTENT, EXTENT, -EXTENT, EXTENT))
        self.iteration = 0
        self.losses = GrowableArray(2)  # (iterations, [d_loss, g_loss])

    def set_heat_rect(self, rect: tuple[float, float, float, float]) -> None:
        """The heatmap of the next frames covers rect = (x0, x1, y0, y1) (what the view shows). Safe to call
        from another thread while frames are made: the grid is swapped in one assignment."""
        pts, shape = heat_grid(rect, self.config.heat_res)
        x0, x1, y0, y1 = rect
        self._heat = (pts, shape, (float(x0), float(y0), float(x1 - x0), float(y1 - y0)))

    def step(self, train_d: bool = True, train_g: bool = True) -> tuple[float, float]:
        c = self.config
        real = self.real[self.rng.integers(0, len(self.real), c.batch)]  # (B, 2)
        z = self.rng.standard_normal((c.batch, c.latent))  # (B, latent)
        fake, g_cache = self.G.forward(z)  # (B, 2)
        s_real, r_cache = self.D.forward(real)  # (B, 1)
        s_fake, f_cache = self.D.forward(fake)
        d_loss, d_r, d_f = self.loss.d(s_real, s_fake)
        if train_d:
            gr, _ = self.D.backward(d_r, r_cache)
            gf, _ = self.D.backward(d_f, f_cache)
            self.opt_d.step(gr + gf)
            s_fake, f_cache = self.D.forward(fake)  # G learns against the updated D
        g_loss, d_g = self.loss.g(s_fake)
        if train_g:
            _, dx = self.D.backward(d_g, f_cache, want_params=False)  # (B, 2)
            gg, _ = self.G.backward(dx, g_cache)
            self.opt_g.step(gg)
        self.iteration += 1
        self.losses.extend(np.array([[d_loss, g_loss]], np.float32))
        return d_loss, g_loss

    def frame(self, iters_per_s: float = 0.0) -> ToyFrame:
        pts, shape, rect = self._heat
        heat = _sigmoid(self.D(pts)).reshape(shape)  # (rows, cols)
        fake = self.G(self.fixed_z)  # (n_fake, 2)
        scores, cache = self.D.forward(fake)
        _, d_g = self.loss.g(scores)
        _, dx = self.D.backward(d_g * len(fake), cache, want_params=False)  # per point, not averaged away
        last = self.losses.view()[-1] if len(self.losses) else np.zeros(2, np.float32)
        return ToyFrame(self.iteration, self.real32, fake.astype(np.float32),
                        (-dx).astype(np.float32), heat.astype(np.float32), EXTENT, float(last[0]), float(last[1]),
                        iters_per_s, rect)


def toy_job(ctx: JobContext, toy: ToyGan, control, mode: str = "both", frame_interval_s: float = 1 / 30,
            max_iterations: int | None = None):
    """Train the 2-D GAN, yielding a ToyFrame about 30 times a second, until paused or max_iterations.
    mode: "both", "d" (D only) or "g" (G only). Slow motion is the tab submitting max_iterations=1 jobs
    on a timer (never a sleep here: the worker thread is shared with the other tabs)."""
    train_d, train_g = {"both": (True, True), "d": (True, False), "g": (False, True)}[mode]
    start_iter, t_start = toy.iteration, time.perf_counter()
    last = 0.0
    yield toy.frame()
    while not control.pause_requested:
        ctx.check_cancelled()
        if max_iterations is not None and toy.iteration - start_iter >= max_iterations:
            break
        toy.step(train_d, train_g)
        now = time.perf_counter()
        if now - last >= frame_interval_s:
            rate = (toy.iteration - start_iter) / max(now - t_start, 1e-9)
            yield toy.frame(rate)
            last = time.perf_counter()
    yield toy.frame((toy.iteration - start_iter) / max(time.perf_counter() - t_start, 1e-9))
    return toy.iteration

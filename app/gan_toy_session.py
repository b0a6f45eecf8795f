"""The Qt-free session of the GAN tab's 2-D page (GAN Lab): the toy GAN, its run state, render-ready frames.

The 2-D GAN is small numpy MLPs (models.gan.toy2d, no torch), so the session owns it directly; training
runs as toy_job in the worker service, and the page forwards each ToyFrame here to get a ToyView back.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

import numpy as np

from models.errors import UserFacingError
from models.gan.catalog import LOSS_INFO
from models.gan.toy2d import EXTENT, REAL_SHAPES, ToyConfig, ToyFrame, ToyGan
from models.gan.toy_numpy import TOY_LOSSES

DATA_TITLES = {"ring": "Ring of 8 Gaussians", "moons": "Two moons"}
DRAWN = "drawn"
NO_VALUE = "—"  # what a loss reads before the first iteration
SLOW_INTERVAL_MS = 200  # slow motion: one iteration per tick, each shown (5 per second)
MIN_DRAWN = 3


class TrainMode(Enum):
    """Which network a 2-D training step updates (the value is what models.gan.toy2d.toy_job takes)."""

    BOTH = "both"
    D_ONLY = "d"
    G_ONLY = "g"


@dataclass(frozen=True)
class ToyView:
    """One frame, ready to draw: points, arrows, D's heatmap over `rect`, the status line, a curve point."""

    real: np.ndarray  # (N, 2) float32
    fake: np.ndarray  # (M, 2) float32
    arrows: np.ndarray  # (M, 2) float32 directions G's gradient moves each fake point
    heatmap: np.ndarray  # (rows, cols) float32 in [0, 1], row 0 at rect's bottom
    rect: tuple[float, float, float, float]  # (x0, y0, width, height) the heatmap covers
    extent: float  # the data live in [-extent, extent]^2
    status: str
    curve_point: tuple[int, float, float] | None  # (iteration, d_loss, g_loss), None before the first iteration


def data_choices() -> list[tuple[str, str]]:
    """(title, key) of the real-data choices, in menu order."""
    return [(DATA_TITLES.get(k, k), k) for k in REAL_SHAPES] + [("Points I draw", DRAWN)]


def loss_choices() -> list[tuple[str, str]]:
    return [(LOSS_INFO[k][0], k) for k in TOY_LOSSES]


def status_text(iteration: int, d_loss: float, g_loss: float, iters_per_s: float = 0.0) -> str:
    rate = f" · {iters_per_s:,.0f} it/s" if iters_per_s else ""
    if iteration <= 0:  # no step yet: there is no loss to show
        return f"iteration 0{rate}\nD loss {NO_VALUE} · G loss {NO_VALUE}"
    return f"iteration {iteration:,}{rate}\nD loss {d_loss:.3f} · G loss {g_loss:.3f}"


class Toy2DSession:
    def __init__(self) -> None:
        self.toy: ToyGan | None = None
        self.mode = TrainMode.BOTH
        self.slow = False
        self.running = False  # Play pressed (a job runs, or the slow-motion timer ticks)
        self.job_active = False  # a toy_job is submitted and has not ended
        self.frames = 0  # frames shown (for the benchmark)
        self.shown_iterations: deque[int] = deque(maxlen=256)  # the iteration of each frame shown, newest last
        self.heat_rect = (-EXTENT, EXTENT, -EXTENT, EXTENT)  # (x0, x1, y0, y1) the view shows
        self._curve_iteration = 0  # the newest iteration on the loss curves

    @property
    def iteration(self) -> int:
        return self.toy.iteration if self.toy is not None else 0

    def reset(self, data: str, loss: str, drawn: list[tuple[float, float]]) -> ToyView | str:
        """A new toy GAN; its first frame, or the message saying why there is none."""
        try:
            self.toy = ToyGan(ToyConfig(data=data, drawn=tuple(drawn), loss=loss))
        except UserFacingError as exc:  # e.g. too few drawn points
            self.toy = None
            return str(exc)
        self.toy.set_heat_rect(self.heat_rect)
        self._curve_iteration = 0
        return self.view(self.toy.frame())

    def set_visible_rect(self, x0: float, x1: float, y0: float, y1: float) -> ToyView | None:
        """The view's axes changed (resize): the heatmap follows. A fresh frame when no job is drawing them."""
        self.heat_rect = (float(x0), float(x1), float(y0), float(y1))
        if self.toy is None:
            return None
        self.toy.set_heat_rect(self.heat_rect)
        return None if self.job_active else self.view(self.toy.frame())

    def view(self, f: ToyFrame) -> ToyView:
        self.frames += 1
        self.shown_iterations.append(f.iteration)
        point = None
        if f.iteration > self._curve_iteration:  # each iteration once on the curves (jobs repeat their last frame)
            point = (f.iteration, f.d_loss, f.g_loss)
            self._curve_iteration = f.iteration
        return ToyView(f.real, f.fake, f.arrows, f.heatmap, f.rect, f.extent,
                       status_text(f.iteration, f.d_loss, f.g_loss, f.iters_per_s), point)

    def drawn_message(self, n: int) -> str:
        """"" when n drawn points are enough to train on, else what to tell the user."""
        return "" if n >= MIN_DRAWN else f"{n} point(s) drawn: draw at least {MIN_DRAWN}."

    # ---- run state
    def play(self) -> None:
        self.running = True

    def halt(self) -> None:
        self.running = False
        self.job_active = False

    def submitted(self) -> None:
        self.job_active = True

    def job_ended(self, paused: bool) -> None:
        """A toy_job returned; paused: it ended because a pause was asked (not a slow-motion tick)."""
        self.job_active = False
        if paused and not self.slow:
            self.running = False

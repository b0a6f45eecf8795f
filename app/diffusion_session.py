"""The Diffusion tab's state and the frozen, render-ready values its views draw. No Qt and no torch here:
unit-tested without a display (tests/test_diffusion_session.py).

ForwardSession: the forward (noising) view. The schedule and x_t come from models.diffusion.schedule
(``forward_noising``, the one q(x_t | x_0) formula); the session only keeps x_0 and the noise.
ReverseSession: a sampling run. It turns the streamed trajectory (preallocated uint8 arrays, filled step
by step) into scrubber positions, labels and the three grids of a position.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from models.imaging import grid_columns, mosaic, to_uint8
from models.diffusion.results import (ModelInfo, SamplingPartial, SamplingRequest, SamplingResult, Trajectory,
                                      step_text)
from models.diffusion.schedule import NoiseSchedule, forward_noising, make_schedule

FORWARD_T_RANGE = (10, 4000)  # what the forward view's T control allows
FORWARD_SIDES = (256, 32)  # "image size" (long side up to 256 px) or the sprite model's 32 x 32 crop
NOISE_SHOWN = 3.0  # the noise image shows -3..3 sigma


def resize_for_forward(image: np.ndarray, max_side: int) -> np.ndarray:
    """(H, W, 3) uint8 -> float32 in [-1, 1]; max_side <= 64 means the model's square crop of that side."""
    pil = Image.fromarray(image)
    if max_side <= 64:
        s = min(pil.size)
        left, top = (pil.width - s) // 2, (pil.height - s) // 2
        pil = pil.crop((left, top, left + s, top + s)).resize((max_side, max_side), Image.BICUBIC)
    elif max(pil.size) > max_side:
        k = max_side / max(pil.size)
        pil = pil.resize((max(1, round(pil.width * k)), max(1, round(pil.height * k))), Image.BICUBIC)
    return np.asarray(pil, np.float32) / 127.5 - 1.0


# ---- forward process -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ForwardSettings:
    schedule: str = "linear"
    num_steps: int = 1000
    max_side: int = 256
    seed: int = 0


@dataclass(frozen=True)
class ScheduleView:
    """The three schedule curves over steps 1..T and the scrubber labels of positions 0..T."""

    steps: np.ndarray  # (T,) 1..T
    betas: np.ndarray  # (T,)
    alpha_bar: np.ndarray  # (T,)
    snr: np.ndarray  # (T,) floored at 1e-12 for the log axis
    labels: tuple[str, ...]  # (T + 1,)


@dataclass(frozen=True)
class ForwardFrame:
    position: int  # 0..T, 0 is the clean image
    x_t: np.ndarray | None  # (H, W, 3) uint8, None without an image
    readout: str


class ForwardSession:
    def __init__(self) -> None:
        self.settings = ForwardSettings()
        self.schedule: NoiseSchedule = make_schedule(self.settings.schedule, self.settings.num_steps)
        self.x0: np.ndarray | None = None  # (H, W, 3) float32 in [-1, 1]
        self.noise: np.ndarray | None = None  # (H, W, 3) float32 standard normal
        self._image: np.ndarray | None = None

    def configure(self, settings: ForwardSettings, image: np.ndarray | None = None) -> ScheduleView:
        lo, hi = FORWARD_T_RANGE
        if not lo <= settings.num_steps <= hi:
            raise ValueError(f"T must be between {lo} and {hi}, not {settings.num_steps}")
        self.settings = settings
        self.schedule = make_schedule(settings.schedule, settings.num_steps)
        if image is not None:
            self._image = image
        if self._image is not None:
            self.x0 = resize_for_forward(self._image, settings.max_side)
            self.noise = np.random.default_rng(settings.seed).standard_normal(self.x0.shape).astype(np.float32)
        s = self.schedule
        labels = ("t = 0: the clean image",) + tuple(f"t = {t} / {s.num_steps}" for t in range(1, s.num_steps + 1))
        return ScheduleView(steps=np.arange(1, s.num_steps + 1), betas=s.betas, alpha_bar=s.alpha_bar,
                            snr=np.maximum(s.snr, 1e-12), labels=labels)

    def clean_image(self) -> np.ndarray | None:
        return None if self.x0 is None else to_uint8(self.x0)

    def noise_image(self) -> np.ndarray | None:
        return None if self.noise is None else to_uint8(self.noise, -NOISE_SHOWN, NOISE_SHOWN)

    def frame(self, position: int) -> ForwardFrame:
        """Position 0..T: the image after that many noising steps."""
        s = self.schedule
        t = int(np.clip(position, 0, s.num_steps))
        x_t = None if self.x0 is None else to_uint8(forward_noising(self.x0, self.noise, s, t))
        if t == 0:
            return ForwardFrame(0, x_t, "t = 0: the clean image, nothing added yet.")
        ab = s.alpha_bar_prev(t)
        readout = (f"t = {t}:  beta_t = {s.betas[t - 1]:.5f},  alpha_bar_t = {ab:.4f} (signal x{ab ** 0.5:.3f}, "
                   f"noise x{(1 - ab) ** 0.5:.3f}),  SNR = {s.snr[t - 1]:.3g}")
        return ForwardFrame(t, x_t, readout)


# ---- reverse process ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReverseSettings:
    """What the reverse page's controls say, in plain values."""

    sampler: str = "ddim"
    steps: int = 50
    eta: float = 0.0
    seed: int = 0
    batch: int = 16
    class_index: int | None = None  # None: every class in turn (or unconditional)
    guidance: float = 2.5


@dataclass(frozen=True)
class RunView:
    """Where the scrubber stands for a run: positions 0..maximum, the first `available` can be shown."""

    new_run: bool
    maximum: int
    available: int
    labels: tuple[str, ...]  # (maximum + 1,)
    info: str
    finished: bool


@dataclass(frozen=True)
class ReverseFrame:
    position: int
    x_t: np.ndarray  # (h, w, 3) uint8 grid
    x0_hat: np.ndarray  # (h, w, 3) uint8 grid, same shape
    eps_hat: np.ndarray  # (h, w, 3) uint8 grid, same shape


def fit_grid(batch: int, groups: int, panel_aspect: float) -> tuple[int, bool]:
    """(n, by_rows) showing `batch` square tiles as large as possible in a panel of width / height
    panel_aspect: n columns filled row by row, or (by_rows) n rows filled column by column. With classes
    in turn (groups > 1) each class gets a column or a row; otherwise any number of columns."""
    def tile(cols: int, rows: int) -> float:
        return min(panel_aspect / cols, 1.0 / rows)

    if groups > 1:
        per_class = -(-batch // groups)
        return (groups, tile(per_class, groups) > tile(groups, per_class))
    best = max(range(1, batch + 1), key=lambda c: (tile(c, -(-batch // c)), -abs(c - grid_columns(batch))))
    return best, False


class ReverseSession:
    def __init__(self) -> None:
        self.class_names: tuple[str, ...] = ()
        self.num_train_steps = 500
        self.trajectory: Trajectory | None = None
        self.steps_done = 0
        self.final: np.ndarray | None = None  # (B, H, W, C) uint8 when the run finished
        self.seconds = 0.0
        self.panel_aspect = 1.0  # width / height of one grid panel, told by the page
        self._layout = (4, False)

    # ---- settings -----------------------------------------------------------------------------------
    def set_model(self, info: ModelInfo) -> None:
        self.class_names = tuple(info.class_names)
        self.num_train_steps = int(info.num_train_steps)

    def request(self, s: ReverseSettings) -> SamplingRequest:
        if not self.class_names:
            ids = None
        elif s.class_index is None:
            ids = tuple(range(len(self.class_names)))
        else:
            ids = (int(s.class_index),)
        return SamplingRequest(sampler=s.sampler, steps=int(s.steps), eta=float(s.eta), seed=int(s.seed),
                               batch=int(s.batch), class_ids=ids, guidance=round(float(s.guidance), 2))

    # ---- a run ----------------------------------------------------------------------------------------
    def on_partial(self, part: SamplingPartial) -> RunView:
        new = part.trajectory is not self.trajectory
        if new:
            self._start(part.trajectory)
        self.steps_done = max(self.steps_done, part.steps_done)
        return self._view(new)

    def on_result(self, result: SamplingResult) -> RunView:
        new = result.trajectory is not self.trajectory
        if new:
            self._start(result.trajectory)
        self.steps_done = result.trajectory.num_steps
        self.final, self.seconds = result.final, result.seconds
        return self._view(new)

    def _start(self, tr: Trajectory) -> None:
        self.trajectory, self.steps_done, self.final = tr, 0, None
        self._layout = self._fit()

    @property
    def available(self) -> int:
        """Positions with all three images computed: position p shows x_t[p] and the prediction made
        from it (step p + 1); the last position (the result) shows the last step's prediction."""
        tr = self.trajectory
        if tr is None:
            return 0
        return tr.num_positions if self.steps_done >= tr.num_steps else self.steps_done

    @property
    def finished(self) -> bool:
        return self.final is not None

    def labels(self) -> tuple[str, ...]:
        tr = self.trajectory
        n = tr.num_steps
        return tuple(step_text(p + 1, n, int(t)) for p, t in enumerate(tr.timesteps)) + (f"finished ({n}/{n} steps)",)

    def _view(self, new: bool) -> RunView:
        tr = self.trajectory
        name = tr.sampler.upper()
        if self.finished:
            info = (f"{name}, {tr.num_steps} steps, guidance {tr.guidance:g}: finished in {self.seconds:.1f} s."
                    f"{self._class_order()}")
        else:
            info = (f"{name}: {self.steps_done} of {tr.num_steps} steps computed; every step is kept, "
                    "scrub or play to compare.")
        return RunView(new_run=new, maximum=tr.num_steps, available=self.available, labels=self.labels(),
                       info=info, finished=self.finished)

    def _groups(self) -> int:
        """How many classes repeat in turn across the batch (1: no such pattern)."""
        tr = self.trajectory
        if tr is None or tr.labels is None:
            return 1
        b, n = len(tr.labels), len(np.unique(tr.labels))
        if 1 < n <= b and np.array_equal(tr.labels, np.resize(tr.labels[:n], b)):
            return n
        return 1

    def _fit(self) -> tuple[int, bool]:
        tr = self.trajectory
        return fit_grid(tr.x_t.shape[1], self._groups(), self.panel_aspect) if tr is not None else (4, False)

    def _class_order(self) -> str:
        tr = self.trajectory
        n = self._groups()
        if n == 1 or not tr.class_names:
            return ""
        names = ", ".join(tr.class_names[i] for i in tr.labels[:n])
        return f" Rows, top to bottom: {names}." if self._layout[1] else f" Columns, left to right: {names}."

    # ---- what the views draw ------------------------------------------------------------------------------
    def set_panel_aspect(self, aspect: float) -> bool:
        """The grid panels were resized; True when the grids should be redrawn with a new layout."""
        self.panel_aspect = max(0.05, float(aspect))
        layout = self._fit()
        changed = layout != self._layout
        self._layout = layout
        return changed and self.trajectory is not None

    def info_text(self) -> str:
        return self._view(False).info if self.trajectory is not None else ""

    def _grid(self, images: np.ndarray) -> np.ndarray:
        n, by_rows = self._layout
        return mosaic(images, rows=n) if by_rows else mosaic(images, n)

    def frame(self, position: int) -> ReverseFrame:
        """The three grids of a position (clamped to the computed ones)."""
        tr = self.trajectory
        p = int(np.clip(position, 0, max(self.available - 1, 0)))
        k = min(p, tr.num_steps - 1)  # the prediction made from x_t[p]; the result shows the last one
        return ReverseFrame(p, self._grid(tr.x_t[p]), self._grid(tr.x0_hat[k]), self._grid(tr.eps_hat[k]))

    def export_frame(self, position: int) -> np.ndarray:
        """The three grids of a position side by side, with white gaps (GIF and strip exports)."""
        f = self.frame(position)
        gap = np.full((f.x_t.shape[0], 4, 3), 255, np.uint8)
        return np.concatenate([f.x_t, gap, f.x0_hat, gap, f.eps_hat], axis=1)

    def final_grid(self) -> np.ndarray | None:
        return None if self.final is None else self._grid(self.final)


def preview_grid(previews: np.ndarray, columns: int = 3) -> np.ndarray:
    """Live-training previews (P, H, W, 3) uint8 as one grid."""
    return mosaic(previews, columns)

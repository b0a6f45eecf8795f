"""The Qt-free session of the GAN tab's image (DCGAN) page: run state and render-ready values.

The page forwards user actions here and draws what comes back. Nothing here imports Qt or torch: the
job results (models.gan.session.RunReady, models.gan.job.GanUpdate / GanRunEnd) arrive as frozen
dataclasses of numpy arrays, and the session turns them into the frozen views below (curve chunks,
grid, texts, button states). The trainer itself stays an opaque handle that is only passed back to jobs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from models.gan.catalog import DATASET_INFO, LOSS_INFO
from models.jobs import lazy_job  # noqa: F401  (the GAN pages submit jobs through it)

METRIC_SERIES = (  # (series name, plot) in the order of models.gan.history.METRICS[:6]
    ("G loss", "Losses"), ("D loss", "Losses"), ("D(x)", "D on real and fake"), ("D(G(z))", "D on real and fake"),
    ("|grad G|", "Gradient norms"), ("|grad D|", "Gradient norms"))
DIVERSITY = ("diversity", "Sample diversity / real diversity")
JUDGE_FD = ("Judge FD", "Judge FD (sprite judge, not FID)")  # (series name, plot)
JUDGE_FD_HELP = ("Judge FD: the Fréchet distance between the sprite judge's features of the fixed-noise samples "
                 "and of real sprites (FID's formula with the app's small judge instead of Inception: it is not "
                 "FID, and only comparable between runs of this app). Lower is closer to real sprites.")
DEFAULTS = dict(dataset="shapes", data_ref="", image_size=32, latent_size=64, loss="bce", batch_size=64, seed=0,
                d_steps=1, lr_g=2e-4, lr_d=2e-4, beta1_g=0.5, beta2_g=0.999, beta1_d=0.5, beta2_d=0.999,
                sample_every=25, width=32, d_width=32, spectral_norm=False, diffaugment="", g_ema=0.0, num_classes=0,
                latent_codes=0, code_mode="info")
GAN_KEYS = ("image_size", "latent_size", "width", "d_width", "spectral_norm", "num_classes", "latent_codes",
            "code_mode")  # GanConfig fields
# the bundled unconditional run's recipe, one click away in the form (hinge, spectral norm, DiffAugment, EMA,
# TTUR, widths 48, batch 32, a 6-way code matched to outline clusters); tick class-conditional after it for the
# conditional run's recipe
RECIPE = dict(loss="hinge", spectral_norm=True, diffaugment="translation", g_ema=0.999, lr_g=2e-4, lr_d=4e-4,
              beta1_g=0.0, beta2_g=0.9, beta1_d=0.0, beta2_d=0.9, width=48, d_width=48, batch_size=32,
              num_classes=0, latent_codes=6, code_mode="clusters")
SCREENSHOT_STEPS = 40  # a screenshot trains this many steps past the loaded run


class RunState(Enum):
    EMPTY = "empty"  # no run yet
    LOADING = "loading"  # a run is being built, loaded or prepared
    READY = "ready"  # a run is there and has not been started
    RUNNING = "running"
    PAUSED = "paused"  # Resume continues exactly where it stopped
    STOPPED = "stopped"  # ended: Start begins a new run


END_STATES = {"paused": RunState.PAUSED, "stopped": RunState.STOPPED, "steps_done": RunState.PAUSED,
              "non_finite": RunState.PAUSED}  # GanRunEnd.reason -> the state after it

STATE_TEXT = {RunState.EMPTY: "Press Start to train a new GAN.", RunState.LOADING: "Preparing…",
              RunState.RUNNING: "Training…", RunState.PAUSED: "Paused: Resume continues exactly where it stopped.",
              RunState.STOPPED: "Stopped: save it, or Start a new run.", RunState.READY: "Ready: press Start."}


class CloseChoice(Enum):
    """The answer to 'this run has unsaved training: save it before closing?'."""

    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


def fmt_time(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass(frozen=True)
class Controls:
    """What each button of the Run box shows."""

    start_text: str
    start: bool
    pause: bool
    step: bool
    stop: bool
    reset: bool
    save: bool
    load: bool
    bundled: bool
    state_text: str


@dataclass(frozen=True)
class CurveChunk:
    """New curve points: steps (K,) and one (K,) column per METRIC_SERIES; diversity (M,) steps and values;
    judge FD (J,) steps and values."""

    steps: np.ndarray
    columns: tuple[np.ndarray, ...]
    diversity_steps: np.ndarray
    diversity: np.ndarray
    fd_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fd: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def empty(self) -> bool:
        return len(self.steps) == 0 and len(self.diversity_steps) == 0 and len(self.fd_steps) == 0


@dataclass(frozen=True)
class RunView:
    """A run that became ready (new, loaded, bundled): everything the page redraws from scratch."""

    title: str
    form_values: dict
    curves: CurveChunk
    grids: tuple  # ((step, (H, W, 3) uint8), ...) the kept history
    grid_stride: int
    current_grid: tuple | None  # (step, image) to add after the history, when the history lacks it
    real_grid: np.ndarray  # (H, W, 3) uint8
    stats_text: str
    coverage: tuple | None = None  # (step, (C,) class shares, C names) of the newest judged grid, for the histogram


@dataclass(frozen=True)
class UpdateView:
    curves: CurveChunk
    grid: tuple | None  # (step, (H, W, 3) uint8)
    stats_text: str
    health_text: str  # "" hides the banner
    message: str
    coverage: tuple | None = None  # (step, (C,) class shares, C names) of the newest judged grid (histogram)


@dataclass(frozen=True)
class EndView:
    truncate_to: int | None  # the step the curves and grids go back to (after NaN/Inf), else None
    health_text: str | None  # None: leave the banner as it is


def _chunk(steps: np.ndarray, metrics: np.ndarray, diversity: np.ndarray, fd: np.ndarray | None = None) -> CurveChunk:
    metrics = metrics.reshape(-1, metrics.shape[-1]) if metrics.size else np.zeros((0, len(METRIC_SERIES)))
    cols = tuple(np.ascontiguousarray(metrics[:, i]) for i in range(len(METRIC_SERIES)))  # (K,) each
    div = diversity.reshape(-1, 2) if diversity.size else np.zeros((0, 2))
    fd = fd.reshape(-1, 2) if fd is not None and fd.size else np.zeros((0, 2))  # (J, 2) [step, judge FD]
    return CurveChunk(np.asarray(steps), cols, np.ascontiguousarray(div[:, 0]), np.ascontiguousarray(div[:, 1]),
                      np.ascontiguousarray(fd[:, 0]), np.ascontiguousarray(fd[:, 1]))


class GanImageSession:
    """The image page's state: which run, in which state, what has been saved, what a screenshot waits for."""

    def __init__(self) -> None:
        self.state = RunState.EMPTY
        self.run: Any = None  # RunReady.trainer: an opaque handle passed back to jobs
        self.device = ""  # the run's device, as a string
        self.structure_dirty = False  # data/model settings changed: the next Start builds a new run
        self.step = 0
        self.saved_step = 0  # the step that is on disk (loaded or saved); more steps are unsaved work
        self.start_after_load = False
        self.screenshot_target: int | None = None
        self.grids_since_start = 0
        self.coverage_steps = np.zeros(0, np.int64)  # (J,) steps of the judged grids (saved with the run)
        self.coverage_shares = np.zeros((0, 0))  # (J, C) the judge's class shares of each
        self.coverage_names: tuple[str, ...] = ()

    # ---- what the next action does
    @property
    def busy(self) -> bool:
        return self.state in (RunState.RUNNING, RunState.LOADING)

    def needs_new_run(self) -> bool:
        return self.run is None or self.state == RunState.STOPPED or self.structure_dirty

    def unsaved_steps(self) -> int:
        """Steps trained since the run was built, loaded or last saved."""
        return max(self.step - self.saved_step, 0) if self.run is not None else 0

    @staticmethod
    def config(values: dict) -> Any:
        """The TrainConfig of the form's values (raises UserFacingError on bad values)."""
        from models.gan.config import GanConfig, TrainConfig  # torch-free

        gan = GanConfig(channels=DATASET_INFO[values["dataset"]][1], **{k: values[k] for k in GAN_KEYS if k in values})
        return TrainConfig(gan=gan, **{k: v for k, v in values.items() if k not in GAN_KEYS})

    @staticmethod
    def loss_help(key: str) -> str:
        return LOSS_INFO[key][1] if key in LOSS_INFO else ""

    # ---- transitions
    def set_state(self, state: RunState) -> None:
        self.state = state

    def started(self) -> None:
        self.grids_since_start = 0
        self.state = RunState.RUNNING

    def loading(self, start_after: bool) -> None:
        self.start_after_load = start_after
        self.state = RunState.LOADING

    def failed(self) -> None:
        self.state = RunState.READY if self.run is not None else RunState.EMPTY

    def settings_changed(self) -> bool:
        """Data/model settings changed; True when that matters (a run exists)."""
        if self.run is not None:
            self.structure_dirty = True
        return self.run is not None

    def saved(self, step: int | None = None) -> None:
        self.saved_step = self.step if step is None else step

    def take_start_after_load(self) -> bool:
        out, self.start_after_load = self.start_after_load, False
        return out

    def stop_now(self) -> bool:
        """Stop pressed while not running: True if the run just ended here."""
        if self.state in (RunState.READY, RunState.PAUSED):
            self.state = RunState.STOPPED
            return True
        return False

    # ---- results -> views
    def run_ready(self, ready) -> RunView:
        self.run = ready.trainer
        self.device = ready.device
        self.structure_dirty = False
        self.step = self.saved_step = ready.step
        self.state = RunState.READY
        cfg = dict(ready.config)
        gan = cfg.pop("gan", {})
        form = {**cfg, **{k: gan[k] for k in GAN_KEYS if k in gan}}
        form["d_width"] = form.get("d_width") or form.get("width", DEFAULTS["width"])  # 0: as wide as G
        m = ready.metrics
        cov = getattr(ready, "coverage", None)
        cov = np.zeros((0, 2)) if cov is None or not len(cov) else np.asarray(cov).reshape(len(cov), -1)  # (J, 2 + C)
        self.coverage_steps, self.coverage_shares = cov[:, 0].astype(np.int64), cov[:, 2:]
        self.coverage_names = tuple(getattr(ready, "coverage_names", ()))
        curves = _chunk(np.arange(1, len(m) + 1), m, ready.diversity, cov[:, :2])
        grids = tuple(ready.grids)
        current = None if grids and grids[-1][0] == ready.current_grid[0] else tuple(ready.current_grid)
        return RunView(ready.title, form, curves, grids, ready.grid_stride, current, ready.real_grid,
                       f"step {ready.step:,} · elapsed {fmt_time(ready.elapsed_s)}", self.coverage_at(None))

    def coverage_at(self, step: int | None) -> tuple | None:
        """(step, shares, names) of the newest judged grid at or before `step` (None: the newest of all), for
        the histogram; None when no grid that early was judged."""
        if not len(self.coverage_steps) or len(self.coverage_names) != self.coverage_shares.shape[1]:
            return None
        i = len(self.coverage_steps) - 1 if step is None else int(np.searchsorted(self.coverage_steps, step, "right")) - 1
        if i < 0:
            return None
        return int(self.coverage_steps[i]), self.coverage_shares[i].copy(), self.coverage_names

    def update(self, upd) -> UpdateView:
        self.step = upd.step
        if upd.saved_step >= 0:
            self.saved_step = upd.saved_step
        grid = None
        if upd.grid is not None:
            grid = (upd.grid_step, upd.grid)
            self.grids_since_start += 1
        health = "<br>".join(f"⚠ {w.text}" for w in upd.health)
        cov = getattr(upd, "coverage", None)
        if cov is not None:  # kept, so the history slider can show the histogram of an older grid
            if len(self.coverage_names) != len(cov.shares) or len(self.coverage_steps) == 0:
                self.coverage_shares = np.zeros((0, len(cov.shares)))
                self.coverage_steps = np.zeros(0, np.int64)
            self.coverage_names = tuple(cov.names)
            self.coverage_steps = np.append(self.coverage_steps, cov.step)
            self.coverage_shares = np.vstack([self.coverage_shares, np.asarray(cov.shares)[None]])
        return UpdateView(_chunk(upd.steps, upd.metrics, upd.diversity, getattr(upd, "judge_fd", None)), grid,
                          f"step {upd.step:,} · {upd.steps_per_s:.1f} steps/s · {fmt_time(upd.elapsed_s)}",
                          health, upd.message, None if cov is None else (cov.step, cov.shares, cov.names))

    def run_end(self, end) -> EndView:
        self.state = END_STATES.get(end.reason, RunState.PAUSED)
        if end.reason == "non_finite":
            self.step = end.step
            if end.rolled_back_to is not None:
                keep = self.coverage_steps <= end.rolled_back_to
                self.coverage_steps, self.coverage_shares = self.coverage_steps[keep], self.coverage_shares[keep]
            return EndView(end.rolled_back_to, f"⛔ {end.message}")
        return EndView(None, None)

    def controls(self) -> Controls:
        s, loading, running = self.state, self.state == RunState.LOADING, self.state == RunState.RUNNING
        text = STATE_TEXT[s]
        if self.structure_dirty and not running:
            text += " Settings changed: Start/Reset begins a new run with them."
        elif self.structure_dirty:
            text += " (Changed data/model settings apply to the next run.)"
        has_run = self.run is not None
        return Controls(
            start_text="Resume" if s == RunState.PAUSED and not self.structure_dirty else "Start",
            start=not running and not loading, pause=running, step=not running and not loading,
            stop=s in (RunState.RUNNING, RunState.PAUSED, RunState.READY) and has_run, reset=not loading,
            save=has_run and not loading, load=not loading, bundled=not loading, state_text=text)

    # ---- screenshots
    def screenshot_ready(self, ready_step: int) -> None:
        self.screenshot_target = ready_step + SCREENSHOT_STEPS

    def screenshot_busy(self) -> bool:
        if self.state == RunState.LOADING:
            return True
        if self.screenshot_target is not None:
            return self.state == RunState.RUNNING and (self.step < self.screenshot_target or self.grids_since_start < 2)
        return False

    def device_note(self, device: str) -> str:
        """A message when the app's device changes under a run ("" when nothing to say)."""
        if self.run is not None and self.device and self.device != device:
            return f"The current GAN run stays on {self.device}; Reset or Load starts runs on {device}."
        return ""

    def close_question(self) -> str:
        """"" when closing loses nothing, else the question to ask."""
        n = self.unsaved_steps()
        if n <= 0 or self.screenshot_target is not None:  # a screenshot's few steps are no one's work
            return ""
        return (f"The GAN run has {n:,} training step{'s' if n != 1 else ''} that are not saved. "
                "Save the run before closing?")

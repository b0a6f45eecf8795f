"""The GAN tab's Qt-free sessions: run states, button states, texts, the unsaved-work question, 2-D frames."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from app.gan_session import GanImageSession, RunState
from app.gan_toy_session import NO_VALUE, Toy2DSession, TrainMode, status_text


@dataclass(frozen=True)
class Ready:  # the fields of models.gan.session.RunReady the session reads
    step: int
    trainer: object = "trainer"
    title: str = "Loaded run"
    config: dict = field(default_factory=lambda: {"gan": {"image_size": 32, "latent_size": 16}, "loss": "bce"})
    metrics: np.ndarray = field(default_factory=lambda: np.zeros((0, 7), np.float32))
    diversity: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    grids: list = field(default_factory=list)
    grid_stride: int = 1
    real_grid: np.ndarray = field(default_factory=lambda: np.zeros((4, 4, 3), np.uint8))
    elapsed_s: float = 65.0
    current_grid: tuple = (0, np.zeros((4, 4, 3), np.uint8))
    device: str = "cpu"


@dataclass(frozen=True)
class Update:  # the fields of models.gan.job.GanUpdate the session reads
    first_step: int
    metrics: np.ndarray
    step: int
    saved_step: int = -1
    diversity: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    grid: np.ndarray | None = None
    grid_step: int = 0
    steps_per_s: float = 12.5
    elapsed_s: float = 3.0
    health: tuple = ()
    message: str = ""

    @property
    def steps(self) -> np.ndarray:
        return np.arange(self.first_step, self.first_step + len(self.metrics))


@dataclass(frozen=True)
class End:
    reason: str
    step: int
    message: str = ""
    rolled_back_to: int | None = None


def test_the_sessions_load_neither_qt_nor_torch():
    import subprocess

    code = ("import sys, app.gan_session, app.gan_toy_session; "
            "print(sorted(m for m in ('PySide6', 'torch', 'pyqtgraph') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_run_states_drive_the_buttons():
    s = GanImageSession()
    c = s.controls()
    assert s.state == RunState.EMPTY and c.start and not c.stop and not c.save and s.needs_new_run()
    s.loading(start_after=True)
    c = s.controls()
    assert not c.start and not c.step and not c.reset and c.state_text == "Preparing…"
    view = s.run_ready(Ready(step=5, metrics=np.ones((5, 7), np.float32)))
    assert s.state == RunState.READY and s.take_start_after_load() and not s.take_start_after_load()
    assert view.form_values["latent_size"] == 16 and len(view.curves.steps) == 5 and "0:01:05" not in view.stats_text
    assert view.stats_text == "step 5 · elapsed 1:05"
    s.started()
    c = s.controls()
    assert s.busy and c.pause and not c.start and c.stop
    s.run_end(End("paused", 5))
    assert s.state == RunState.PAUSED and s.controls().start_text == "Resume"
    assert s.settings_changed() and s.controls().start_text == "Start" and s.needs_new_run()
    assert "Settings changed" in s.controls().state_text
    s.run_end(End("stopped", 5))
    assert s.state == RunState.STOPPED and s.needs_new_run()


def test_a_nan_rolls_back_the_view_and_warns():
    s = GanImageSession()
    s.run_ready(Ready(step=0))
    s.started()
    end = s.run_end(End("non_finite", 25, "D's loss became NaN", rolled_back_to=25))
    assert s.state == RunState.PAUSED and end.truncate_to == 25 and end.health_text.startswith("⛔")


def test_updates_become_curve_chunks_and_texts():
    s = GanImageSession()
    s.run_ready(Ready(step=0))
    m = np.arange(21, dtype=np.float32).reshape(3, 7)
    grid = np.zeros((4, 4, 3), np.uint8)
    v = s.update(Update(first_step=1, metrics=m, step=3, grid=grid, grid_step=3))
    np.testing.assert_array_equal(v.curves.steps, [1, 2, 3])
    assert len(v.curves.columns) == 6 and np.array_equal(v.curves.columns[1], m[:, 1])  # D loss column
    assert v.grid[0] == 3 and v.stats_text == "step 3 · 12.5 steps/s · 0:03" and v.health_text == ""
    assert s.step == 3 and s.grids_since_start == 1


def test_unsaved_steps_and_the_close_question():
    s = GanImageSession()
    assert s.close_question() == ""  # no run
    s.run_ready(Ready(step=100))  # a loaded (saved) run: nothing to lose yet
    assert s.unsaved_steps() == 0 and s.close_question() == ""
    s.update(Update(first_step=101, metrics=np.zeros((7, 7), np.float32), step=107))
    assert s.unsaved_steps() == 7 and "7 training steps" in s.close_question()
    s.update(Update(first_step=108, metrics=np.zeros((1, 7), np.float32), step=108, saved_step=107))
    assert s.unsaved_steps() == 1 and "1 training step " in s.close_question()  # saved while running, one more since
    s.saved()
    assert s.close_question() == ""
    s.update(Update(first_step=109, metrics=np.zeros((1, 7), np.float32), step=109))
    s.screenshot_ready(109)
    assert s.close_question() == ""  # a screenshot's steps are no one's work


def test_device_note_only_when_the_run_lives_elsewhere():
    s = GanImageSession()
    assert s.device_note("cuda") == ""
    s.run_ready(Ready(step=0, device="cpu"))
    assert s.device_note("cpu") == "" and "stays on cpu" in s.device_note("cuda")


def test_toy_status_reads_a_dash_before_the_first_iteration():
    assert status_text(0, 0.0, 0.0) == f"iteration 0\nD loss {NO_VALUE} · G loss {NO_VALUE}"
    assert "0.000" not in status_text(0, 0.0, 0.0)
    assert status_text(12, 0.5, 1.25, 300) == "iteration 12 · 300 it/s\nD loss 0.500 · G loss 1.250"


def test_toy_session_frames_cover_the_visible_rect_and_put_each_iteration_once_on_the_curves():
    s = Toy2DSession()
    first = s.reset("ring", "bce", [])
    assert first.curve_point is None and NO_VALUE in first.status
    s.set_visible_rect(-4.7, 4.7, -2.5, 2.5)  # a wide view: the heatmap must span it all
    f = s.view(s.toy.frame())
    x0, y0, w, h = f.rect
    assert (x0, y0, x0 + w, y0 + h) == (-4.7, -2.5, 4.7, 2.5)
    rows, cols = f.heatmap.shape
    assert cols > 1.5 * rows  # about square cells over the wide rectangle
    s.toy.step()
    a, b = s.view(s.toy.frame()), s.view(s.toy.frame())  # a job repeats its last frame when it ends
    assert a.curve_point[0] == 1 and b.curve_point is None
    assert TrainMode("d") is TrainMode.D_ONLY


def test_toy_session_explains_missing_drawn_points():
    s = Toy2DSession()
    message = s.reset("drawn", "bce", [(0.0, 0.0)])
    assert isinstance(message, str) and "at least 3" in message and s.toy is None
    assert s.drawn_message(1) != "" and s.drawn_message(3) == ""

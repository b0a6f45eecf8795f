"""The step scrubber and the Diffusion tab, driven like a user (offscreen Qt)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from widgets.step_scrubber import StepScrubber  # noqa: E402


@pytest.fixture
def scrubber(qtbot):
    w = StepScrubber(interval_ms=5)
    qtbot.addWidget(w)
    w.show()
    w.reset(10, [f"t={i}" for i in range(11)])
    return w


def test_keys_and_buttons_move_the_step(scrubber, qtbot):
    seen = []
    scrubber.positionChanged.connect(seen.append)
    qtbot.keyClick(scrubber, Qt.Key.Key_Right)
    qtbot.keyClick(scrubber, Qt.Key.Key_Right)
    assert scrubber.position() == 2 and seen[-1] == 2
    qtbot.keyClick(scrubber, Qt.Key.Key_Left)
    assert scrubber.position() == 1
    qtbot.keyClick(scrubber, Qt.Key.Key_End)
    assert scrubber.position() == 10
    qtbot.keyClick(scrubber, Qt.Key.Key_Home)
    assert scrubber.position() == 0
    qtbot.mouseClick(scrubber.buttons["next"], Qt.MouseButton.LeftButton)
    assert scrubber.position() == 1 and "t=1" in scrubber.label.text()


def test_play_runs_to_the_end_and_dragging_pauses(scrubber, qtbot):
    qtbot.keyClick(scrubber, Qt.Key.Key_Space)
    assert scrubber.is_playing()
    qtbot.waitUntil(lambda: scrubber.position() == 10 and not scrubber.is_playing(), timeout=3000)
    scrubber.play()  # from the end: starts again at 0
    assert scrubber.is_playing() and scrubber.position() == 0
    scrubber.slider.sliderPressed.emit()  # the user grabs the handle
    assert not scrubber.is_playing()
    stopped_at = scrubber.position()
    qtbot.wait(50)
    assert scrubber.position() == stopped_at


def test_only_computed_steps_can_be_shown_and_the_newest_is_followed(scrubber, qtbot):
    scrubber.reset(10, available=3)
    scrubber.set_position(8)
    assert scrubber.position() == 2
    scrubber.set_available(6)  # handle was on the newest step: it follows
    assert scrubber.position() == 5
    scrubber.set_position(1)
    scrubber.set_available(9)  # the user went back: stays put
    assert scrubber.position() == 1


@pytest.fixture
def tab(open_tab, one_thread, qtbot):
    """The Diffusion tab on a fresh context (tests/conftest.py), its bundled model loaded."""
    from app.tabs.diffusion_tab import DiffusionTab
    page = open_tab(DiffusionTab, (1100, 800))
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=60000)
    return page


def test_forward_view_noises_the_current_image(tab, qtbot):
    """x_t on screen is Ho et al.'s closed form to one grey level (a wrong square root is off by far more)."""
    image = np.zeros((40, 60, 3), np.uint8)
    image[10:30, 20:40] = (250, 40, 40)
    tab.set_image(image)
    tab.forward.scrubber.set_position(0)
    assert np.array_equal(tab.forward.x_t.current_image(), image)  # t = 0: the image itself
    betas = tab.fwd.schedule.betas  # linear, T = 1000
    eps = np.random.default_rng(tab.forward.seed()).standard_normal(image.shape).astype(np.float32)
    for t in (1, 150, 400, 1000):
        tab.forward.scrubber.set_position(t)
        ab = float(np.prod(1.0 - betas[:t]))
        want = np.clip((np.sqrt(ab) * (image / 127.5 - 1) + np.sqrt(1 - ab) * eps + 1) * 127.5, 0, 255)
        got = tab.forward.x_t.current_image().astype(float)
        assert np.abs(got - want).max() <= 1.0, t
        assert f"t = {t}" in tab.forward.scrubber.label.text() and f"t = {t}:" in tab.forward.plots.readout.text()


def test_forward_T_control_allows_only_valid_schedules(tab, qtbot):
    from app.diffusion_session import FORWARD_T_RANGE
    box = tab.forward.steps_box
    assert (box.minimum(), box.maximum()) == FORWARD_T_RANGE  # every T in it is tested in test_diffusion_session
    tab.set_image(np.full((20, 20, 3), 200, np.uint8))
    for name in ("linear", "cosine"):
        tab.forward.schedule_box.setCurrentText(name)
        box.setFocus()
        box.selectAll()
        qtbot.keyClicks(box, str(FORWARD_T_RANGE[0]))
        qtbot.keyClick(box, Qt.Key.Key_Return)
        assert tab.fwd.schedule.num_steps == FORWARD_T_RANGE[0] and tab.fwd.schedule.name == name
        tab.forward.scrubber.setFocus()
        qtbot.keyClick(tab.forward.scrubber, Qt.Key.Key_End)
        assert tab.forward.scrubber.position() == FORWARD_T_RANGE[0]
        assert np.all(np.isfinite(tab.fwd.schedule.alpha_bar)) and tab.fwd.schedule.alpha_bar[-1] > 0
        assert tab.forward.x_t.current_image().shape == (20, 20, 3)


def test_guidance_slider_steps_with_the_keyboard(tab, qtbot):
    from widgets.float_slider import FloatSlider
    g = tab.reverse.guidance
    assert isinstance(g, FloatSlider) and g.value() == 2.5
    g.setFocus()
    qtbot.keyClick(g.slider, Qt.Key.Key_Right)
    assert g.value() == pytest.approx(2.6)
    qtbot.keyClick(g.slider, Qt.Key.Key_PageUp)
    assert g.value() == pytest.approx(3.6)
    qtbot.keyClick(g.slider, Qt.Key.Key_Left)
    qtbot.keyClick(g.slider, Qt.Key.Key_PageDown)
    assert g.value() == pytest.approx(2.5)
    qtbot.keyClick(g.slider, Qt.Key.Key_PageUp)
    from app.diffusion_session import ReverseSettings
    assert tab.rev.request(ReverseSettings(**tab.reverse.settings())).guidance == pytest.approx(3.5)


def test_views_bring_their_sub_page_to_the_front(tab):
    assert tab.views == ("reverse", "forward", "training")
    for view, page in (("forward", tab.forward), ("training", tab.training), ("reverse", tab.reverse)):
        tab.show_view(view)
        assert tab.pages.currentWidget() is page and tab.current_view() == view
    with pytest.raises(ValueError):
        tab.show_view("nope")


def test_checkpoint_dialogs_start_in_the_runs_folder_then_the_last_used_one(tab, monkeypatch, tmp_path):
    """They started in the working folder."""
    from PySide6.QtWidgets import QFileDialog

    from app.folders import runs_start_dir

    starts: list[str] = []
    answer = [""]
    for name in ("getSaveFileName", "getOpenFileName"):
        monkeypatch.setattr(QFileDialog, name, lambda parent, title, start, filt: (starts.append(start) or answer[0], filt))
    runs = runs_start_dir(tab.ctx.settings)
    assert runs != Path.cwd()
    tab._save_training()
    tab._load_training()
    assert starts == [str(runs / "ddpm_training.pt"), str(runs)]
    answer[0] = str(tmp_path / "mine.pt")
    monkeypatch.setattr(tab.ctx.worker, "submit", lambda *a, **k: None)  # the choice only, no save or load
    tab._save_training()
    tab._load_training()
    assert starts[-1] == str(tmp_path)


# ---- the reverse view fed a run step by step, as the worker does --------------------------------------------
S, B = 8, 18
CLASS_NAMES = ("circle", "square", "triangle", "star", "hexagon", "cross")


def _trajectory():
    from models.diffusion.results import Trajectory
    shape = (B, 32, 32, 3)
    return Trajectory(timesteps=np.linspace(499, 0, S).round().astype(np.int64), x_t=np.zeros((S + 1, *shape), np.uint8),
                      eps_hat=np.zeros((S, *shape), np.uint8), x0_hat=np.zeros((S, *shape), np.uint8),
                      labels=np.arange(B) % 6, class_names=CLASS_NAMES, sampler="ddim", guidance=2.5)


def _step(tab, tr, done):
    """The sampler finished step `done`: x_t[done] and the prediction of step done - 1 are written."""
    from models.diffusion.results import SamplingPartial
    rng = np.random.default_rng(done)
    tr.x_t[done] = rng.integers(1, 256, tr.x_t.shape[1:], np.uint8)
    tr.eps_hat[done - 1] = rng.integers(1, 256, tr.x_t.shape[1:], np.uint8)
    tr.x0_hat[done - 1] = rng.integers(1, 256, tr.x_t.shape[1:], np.uint8)
    tab.on_sampling_partial(SamplingPartial(tr, done))


def _black_tiles(panel) -> int:
    img = panel.current_image()
    return sum(int(img[r:r + 32, c:c + 32].max() == 0)
               for r in range(0, img.shape[0], 33) for c in range(0, img.shape[1], 33))


def test_scrubber_follows_a_running_sampler_until_the_user_moves_it(tab, qtbot):
    from models.diffusion.results import SamplingResult, step_text
    tab.show_view("reverse")
    sc = tab.reverse.scrubber
    tr = _trajectory()
    tr.x_t[0] = 7
    _step(tab, tr, 1)
    _step(tab, tr, 2)  # a later partial: the run was already started
    assert sc.position() == 1 and tab.reverse.shown_position() == 1
    _step(tab, tr, 3)
    assert sc.position() == 2  # follows
    assert sc.label.text().startswith(step_text(3, S, int(tr.timesteps[2])))  # as the status bar says step 3
    sc.setFocus()
    qtbot.keyClick(sc, Qt.Key.Key_Left)  # the user looks at an older step
    _step(tab, tr, 4)
    _step(tab, tr, 5)
    assert sc.position() == 1 and tab.reverse.shown_position() == 1
    qtbot.keyClick(sc, Qt.Key.Key_End)  # back to the newest: no black grid, following again
    assert sc.position() == 4
    assert _black_tiles(tab.reverse.x0) == 0 and _black_tiles(tab.reverse.eps) == 0
    _step(tab, tr, 6)
    assert sc.position() == 5
    for done in (7, 8):
        _step(tab, tr, done)
    tab.on_sampling_result(SamplingResult(tr, tr.x_t[S], 2.0))
    assert sc.position() == S and tab.reverse.shown_position() == S  # the finished images
    assert _black_tiles(tab.reverse.x0) == 0 and _black_tiles(tab.reverse.eps) == 0
    assert np.array_equal(tab.reverse.x0.current_image(), tab.rev.frame(S - 1).x0_hat)  # the last prediction
    assert all(b.isEnabled() for b in tab.reverse.export_buttons.values())


def test_the_three_grids_are_aligned_and_fill_their_panels(tab, qtbot):
    from models.diffusion.results import SamplingResult
    tab.show_view("reverse")
    tr = _trajectory()
    for done in range(1, S + 1):
        _step(tab, tr, done)
    tab.on_sampling_result(SamplingResult(tr, tr.x_t[S], 2.0))
    for size in ((1100, 800), (1360, 700), (1024, 700)):
        tab.resize(*size)
        qtbot.wait(20)
        boxes = []
        for panel in (tab.reverse.x_t, tab.reverse.x0, tab.reverse.eps):
            top_left = panel.plot.mapTo(tab, panel.plot.rect().topLeft())
            boxes.append((top_left.x(), top_left.y(), panel.plot.width(), panel.plot.height()))
            h, w = panel.current_image().shape[:2]
            view = panel.view.viewRect()
            assert (w * h) / (view.width() * view.height()) > 0.5, (size, w, h, view)  # the grid fills its panel
        assert len({(y, hei) for _, y, _, hei in boxes}) == 1, (size, boxes)  # same top and height
        assert max(b[2] for b in boxes) - min(b[2] for b in boxes) <= 1, (size, boxes)  # widths (rounding apart)
        shapes = {p.current_image().shape for p in (tab.reverse.x_t, tab.reverse.x0, tab.reverse.eps)}
        assert len(shapes) == 1


def test_sampling_streams_then_scrubs_a_finished_run(tab, qtbot, tmp_path):
    from models.diffusion.results import BUNDLED_KEY
    from models.registry import ModelSource, SourceKind
    tab.use_model(BUNDLED_KEY, ModelSource(SourceKind.RANDOM))
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=60000)
    tab.pages.setCurrentWidget(tab.reverse)
    tab.reverse.steps_box.setValue(6)
    tab.reverse.batch_box.setValue(4)
    qtbot.mouseClick(tab.reverse.sample_button, Qt.MouseButton.LeftButton)
    assert tab.is_busy()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=60000)
    tr = tab.rev.trajectory
    assert tr is not None and tr.num_steps == 6 and tab.rev.final is not None
    assert tab.reverse.scrubber.position() == 6  # a finished run shows its end
    tab.reverse.scrubber.setFocus()
    qtbot.keyClick(tab.reverse.scrubber, Qt.Key.Key_Home)
    first = tab.reverse.x_t.current_image().copy()
    qtbot.keyClick(tab.reverse.scrubber, Qt.Key.Key_Right)
    second = tab.reverse.x_t.current_image()
    assert first.shape == second.shape and not np.array_equal(first, second)
    assert tab.reverse.shown_position() == 1
    for button in tab.reverse.export_buttons.values():
        assert button.isEnabled()

    from PIL import Image
    gif = tab.export_to("gif", str(tmp_path / "run.gif"))
    with Image.open(gif) as im:
        assert 2 <= im.n_frames <= 7  # up to every position of a 6-step run (PIL merges identical frames)
    strip = np.asarray(Image.open(tab.export_to("strip", str(tmp_path / "strip.png"))))
    assert strip.shape[1] > 3 * strip.shape[0]
    final = np.asarray(Image.open(tab.export_to("final", str(tmp_path / "final.png"))).convert("RGB"))
    assert final.shape[0] >= 256

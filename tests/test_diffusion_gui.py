"""The step scrubber and the Diffusion tab, driven like a user (offscreen Qt)."""
from __future__ import annotations

import os

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
def tab(qtbot, tmp_path, monkeypatch):
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 OpenMP threads on a busy 2-core machine crawl
    monkeypatch.setenv("VISION_EXPLORER_SETTINGS", str(tmp_path / "settings.ini"))
    from app.context import AppContext
    from app.tabs.diffusion_tab import DiffusionTab
    ctx = AppContext()
    page = DiffusionTab(ctx)
    qtbot.addWidget(page)
    page.resize(1100, 800)
    page.show()
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=60000)
    yield page
    page.shutdown()
    ctx.worker.shutdown()
    torch.set_num_threads(before)


def test_forward_view_noises_the_current_image(tab, qtbot):
    image = np.zeros((40, 60, 3), np.uint8)
    image[10:30, 20:40] = (250, 40, 40)
    tab.set_image(image)
    tab.forward.scrubber.set_position(0)
    clean = tab.forward.x_t.current_image().astype(float)
    assert abs(clean[20, 30, 0] - 250) < 3  # t = 0: the image itself
    tab.forward.scrubber.set_position(tab.forward.scrubber.maximum())
    noisy = tab.forward.x_t.current_image().astype(float)
    assert noisy.shape == clean.shape
    assert abs(noisy[..., 0].mean() - 127.5) < 15  # t = T: noise around grey, the red square gone
    assert abs(noisy[10:30, 20:40, 0].mean() - noisy[..., 0].mean()) < 15


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

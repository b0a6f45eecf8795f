"""The GAN tab driven like a user: start, pause, resume, single step, save/load, bad files, 2-D mode."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def tab(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("VISION_EXPLORER_SETTINGS", str(tmp_path / "settings.ini"))
    from app.context import AppContext
    from app.tabs.gan_tab import GanTab

    ctx = AppContext("cpu")
    page = GanTab(ctx)
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    qtbot.waitExposed(page)
    page.errors = []
    ctx.error.connect(page.errors.append)
    page.form.set_values({"batch_size": 8, "latent_size": 16, "sample_every": 2})
    yield page
    page.shutdown()
    ctx.worker.shutdown()


def test_start_pause_resume_and_single_step(tab, qtbot, tmp_path):
    tab.start()  # no run yet: a new one is built from the settings and started
    qtbot.waitUntil(lambda: tab._step >= 3, timeout=60000)
    assert tab.curves.point_count() > 0 and tab.samples.items  # curves and grids moved
    assert "steps/s" in tab.stats_label.text()
    tab.pause()
    qtbot.waitUntil(lambda: tab._state == "paused", timeout=20000)
    frozen = tab._step
    qtbot.wait(400)
    assert tab._step == frozen  # pause stops the step counter
    assert tab.start_btn.text() == "Resume"
    tab.single_step()
    qtbot.waitUntil(lambda: tab._state == "paused", timeout=20000)
    assert tab._step == frozen + 1
    assert len(tab.curves.data("G loss")[0]) == frozen + 1  # one point per step, none lost or doubled

    path = tmp_path / "run.safetensors"
    tab.save_run_file(str(path))
    qtbot.waitUntil(path.exists, timeout=20000)
    tab.reset()
    qtbot.waitUntil(lambda: tab._state == "ready", timeout=30000)
    assert tab._step == 0 and len(tab.curves.data("G loss")[0]) == 0  # a fresh run: only its first grid
    tab.load_run_file(str(path))
    qtbot.waitUntil(lambda: tab._state == "ready" and tab._step == frozen + 1, timeout=30000)
    assert len(tab.curves.data("G loss")[0]) == frozen + 1  # the curves come back with the run
    assert not tab.errors


def test_a_broken_run_file_shows_a_message_and_keeps_the_tab_usable(tab, qtbot, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    tab.load_run_file(str(bad))
    qtbot.waitUntil(lambda: bool(tab.errors), timeout=20000)
    assert "bad.safetensors" in tab.errors[0]
    assert tab._state in ("empty", "ready") and tab.start_btn.isEnabled()


def test_the_2d_mode_trains_and_pauses(tab, qtbot):
    tab.mode_toy.setChecked(True)
    assert tab.stack.currentIndex() == 1
    tab._toy_toggle()  # Play
    qtbot.waitUntil(lambda: tab._toy is not None and tab._toy.iteration > 200 and tab._toy_frames > 3, timeout=30000)
    tab._toy_toggle()  # Pause
    qtbot.wait(200)
    frozen = tab._toy.iteration
    qtbot.wait(300)
    assert tab._toy.iteration == frozen
    tab.toy_d.setChecked(True)
    g_before = tab._toy.G.flat.copy()
    tab._toy_single()
    qtbot.waitUntil(lambda: tab._toy.iteration == frozen + 1, timeout=10000)
    assert (tab._toy.G.flat == g_before).all()  # D only: G did not move


def test_slow_motion_trains_a_few_iterations_per_second(tab, qtbot):
    tab.mode_toy.setChecked(True)
    tab.toy_slow.setChecked(True)
    tab._toy_toggle()
    qtbot.wait(1300)
    n = tab._toy.iteration
    tab._toy_toggle()
    assert 2 <= n <= 10  # ~5 per second, each one shown

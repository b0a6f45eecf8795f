"""The GAN tab driven like a user: start, pause, resume, single step, save/load, bad files, closing with unsaved
training, the 2-D mode, and the layout at 1024x700."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.gan_session import CloseChoice, RunState  # noqa: E402
from app.gan_toy_session import TrainMode  # noqa: E402


@pytest.fixture
def tab(open_tab):
    from app.tabs.gan_tab import GanTab

    page = open_tab(GanTab, device="cpu")
    page.errors = []
    page.ctx.error.connect(page.errors.append)
    page.image_page.form.set_values({"batch_size": 8, "latent_size": 16, "sample_every": 2})
    return page


def _state(tab) -> RunState:
    return tab.image_page.session.state


def test_start_pause_resume_and_single_step(tab, qtbot, tmp_path):
    page, session = tab.image_page, tab.image_page.session
    page.start()  # no run yet: a new one is built from the settings and started
    qtbot.waitUntil(lambda: session.step >= 3, timeout=60000)
    assert page.curves.point_count() > 0 and page.samples.items  # curves and grids moved
    assert "steps/s" in page.stats_label.text()
    page.pause()
    qtbot.waitUntil(lambda: _state(tab) == RunState.PAUSED, timeout=20000)
    frozen = session.step
    assert not tab.ctx.worker.is_busy("gan")  # the job has ended: nothing can train any more
    assert page.start_btn.text() == "Resume"
    page.single_step()
    qtbot.waitUntil(lambda: _state(tab) == RunState.PAUSED, timeout=20000)
    assert session.step == frozen + 1
    assert len(page.curves.data("G loss")[0]) == frozen + 1  # one point per step, none lost or doubled

    path = tmp_path / "run.safetensors"
    assert session.unsaved_steps() == frozen + 1
    page.save_run_file(str(path))
    qtbot.waitUntil(lambda: path.exists() and session.unsaved_steps() == 0, timeout=20000)
    page.reset()
    qtbot.waitUntil(lambda: _state(tab) == RunState.READY, timeout=30000)
    assert session.step == 0 and len(page.curves.data("G loss")[0]) == 0  # a fresh run: only its first grid
    page.load_run_file(str(path))
    qtbot.waitUntil(lambda: _state(tab) == RunState.READY and session.step == frozen + 1, timeout=30000)
    assert len(page.curves.data("G loss")[0]) == frozen + 1  # the curves come back with the run
    assert not tab.errors


def test_a_broken_run_file_shows_a_message_and_keeps_the_tab_usable(tab, qtbot, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    tab.image_page.load_run_file(str(bad))
    qtbot.waitUntil(lambda: bool(tab.errors), timeout=20000)
    assert "bad.safetensors" in tab.errors[0]
    assert _state(tab) in (RunState.EMPTY, RunState.READY) and tab.image_page.start_btn.isEnabled()


def test_closing_with_unsaved_training_asks_and_save_saves_then_closes(tab, qtbot, tmp_path):
    page = tab.image_page
    asked: list[str] = []
    answers = [CloseChoice.CANCEL, CloseChoice.SAVE]
    page.ask_close = lambda question: (asked.append(question), answers.pop(0))[1]
    path = tmp_path / "kept.safetensors"
    page.ask_save_path = lambda: str(path)
    assert tab.confirm_close() and not asked  # no run: nothing to lose, no question
    page.start()
    qtbot.waitUntil(lambda: page.session.step >= 2, timeout=60000)
    assert not tab.confirm_close()  # Cancel: the window stays open, training goes on
    assert "not saved" in asked[0] and _state(tab) == RunState.RUNNING
    closed = []
    tab.window().close = lambda: closed.append(True)  # tab is its own window here
    assert not tab.confirm_close()  # Save: pauses, saves, then closes the window itself
    qtbot.waitUntil(lambda: bool(closed), timeout=30000)
    assert path.exists() and _state(tab) == RunState.PAUSED and page.session.unsaved_steps() == 0
    assert tab.confirm_close() and len(asked) == 2  # saved: closing now asks nothing


def test_discard_closes_without_saving(tab, qtbot):
    page = tab.image_page
    page.ask_close = lambda question: CloseChoice.DISCARD
    page.ask_save_path = lambda: pytest.fail("Discard must not ask for a file")
    page.single_step()  # builds a run
    qtbot.waitUntil(lambda: _state(tab) == RunState.READY, timeout=60000)
    page.single_step()
    qtbot.waitUntil(lambda: page.session.step == 1 and _state(tab) == RunState.PAUSED, timeout=30000)
    assert tab.confirm_close()


def test_the_chosen_sample_grid_is_marked_on_the_curves(tab, qtbot):
    page = tab.image_page
    page.start()
    qtbot.waitUntil(lambda: len(page.samples.items) >= 3, timeout=60000)
    page.pause()
    qtbot.waitUntil(lambda: _state(tab) == RunState.PAUSED, timeout=20000)
    assert page.curves.marker() is None  # following the newest grid: no marker
    page.samples.slider.setValue(1)  # the user goes back to the second grid
    step = page.samples.current_step()
    assert page.curves.marker() == step
    lines = page.curves.marker_lines()
    assert len(lines) == 5 and all(ln.isVisible() and ln.value() == step for ln in lines.values())  # judge FD too
    page.samples.slider.setValue(page.samples.slider.maximum())
    assert page.curves.marker() is None and not any(ln.isVisible() for ln in lines.values())


def test_view_switches_pages_and_rejects_unknown_views(tab):
    assert tab.views == ("image", "2d", "conditional") and tab.current_view() == "image"
    tab.show_view("2d")
    assert tab.stack.currentWidget() is tab.toy_page and tab.toy_page.session.toy is not None
    tab.show_view("conditional")  # the image page, for the bundled conditional run's class panel
    assert tab.stack.currentWidget() is tab.image_page and tab.current_view() == "conditional"
    tab.show_view("2d")
    assert tab.current_view() == "2d"
    tab.show_view("image")
    assert tab.stack.currentWidget() is tab.image_page and tab.current_view() == "image"
    with pytest.raises(ValueError):
        tab.show_view("3d")


def test_the_2d_loss_plot_counts_iterations(tab):
    """Its x axis said "step"; the 2-D mode counts iterations (the status line and the budget say so)."""
    tab.show_view("2d")
    plot = tab.toy_page.curves.add_plot("2-D losses")  # the existing plot
    assert plot.getAxis("bottom").labelText == "iteration"
    assert tab.image_page.curves.x_label == "step"  # the image GAN's curves keep their steps


def test_the_2d_mode_trains_and_pauses(tab, qtbot):
    tab.show_view("2d")
    toy_page, session = tab.toy_page, tab.toy_page.session
    assert "D loss — · G loss —" in toy_page.status.text()  # iteration 0 has no losses yet
    toy_page.toggle()  # Play
    qtbot.waitUntil(lambda: session.iteration > 200 and session.frames > 3, timeout=30000)
    assert "—" not in toy_page.status.text()
    toy_page.toggle()  # Pause
    qtbot.waitUntil(lambda: not tab.ctx.worker.is_busy("gan2d"), timeout=10000)
    frozen = session.iteration
    assert toy_page.play_btn.text() == "Play"
    toy_page.mode_buttons[TrainMode.D_ONLY].setChecked(True)
    g_before = session.toy.G.flat.copy()
    toy_page.single()
    qtbot.waitUntil(lambda: session.iteration == frozen + 1 and not session.job_active, timeout=10000)
    assert (session.toy.G.flat == g_before).all()  # D only: G did not move


def test_slow_motion_shows_every_iteration(tab, qtbot):
    tab.show_view("2d")
    toy_page, session = tab.toy_page, tab.toy_page.session
    toy_page.slow.setChecked(True)
    toy_page.toggle()
    qtbot.waitUntil(lambda: session.shown_iterations[-1] >= 4, timeout=90000)  # 4 iterations on screen
    toy_page.toggle()  # Pause (a step already under way when pausing may finish unseen)
    shown = list(session.shown_iterations)
    assert shown[-1] >= 4 and session.iteration - shown[-1] <= 1
    assert set(range(shown[0], shown[-1] + 1)) <= set(shown)  # every iteration was shown, none skipped
    assert max(np.diff(shown)) <= 1


def test_heatmap_covers_everything_the_axes_show(tab, qtbot):
    tab.resize(*TAB_SIZE_AT_1024)
    tab.show_view("2d")
    view = tab.toy_page.view
    qtbot.waitUntil(lambda: view.visible_rect() == tab.toy_page.session.heat_rect, timeout=5000)
    x0, x1, y0, y1 = view.visible_rect()
    assert max(x1 - x0, y1 - y0) > 5.5  # wider than the data's [-2.5, 2.5]: the case that was broken
    hx0, hx1, hy0, hy1 = view.heat_rect()
    tol = 1e-6 * (x1 - x0)
    assert hx0 <= x0 + tol and hx1 >= x1 - tol and hy0 <= y0 + tol and hy1 >= y1 - tol


TAB_SIZE_AT_1024 = (1000, 610)  # what a tab gets in a 1024x700 window (menu, tab bar, status bar, frames)


def _overlaps(a, b) -> bool:
    return a.intersects(b) and not a.intersected(b).isEmpty()


@pytest.mark.parametrize("view", ["image", "2d"])
def test_controls_neither_overlap_nor_get_cut_off_at_1024x700(tab, qtbot, view):
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QLineEdit, QSlider, QWidget

    tab.show_view(view)
    tab.resize(*TAB_SIZE_AT_1024)
    QApplication.processEvents()
    assert (tab.width(), tab.height()) == TAB_SIZE_AT_1024  # no minimum size pushes the window past 1024x700
    page = tab.stack.currentWidget()
    kinds = (QAbstractButton, QSlider, QLineEdit, QLabel)
    widgets = [w for w in page.findChildren(QWidget) if isinstance(w, kinds) and w.isVisibleTo(tab) and w.width() > 0]
    if view == "image":  # the controls of the issue are among those checked
        assert {page.curves.envelope_box, page.curves.follow_box} <= set(widgets)
    tab_rect = QRect(0, 0, tab.width(), tab.height())
    rects = {}
    for w in widgets:
        r = QRect(w.mapTo(tab, w.rect().topLeft()), w.size())
        if w.inherits("QAbstractButton"):  # a check box or button narrower than its text is cut off
            assert w.width() >= min(w.sizeHint().width(), w.maximumWidth()), f"{w.text()!r} is cut off"
        clip = w.visibleRegion().boundingRect()
        if not w.parentWidget().inherits("QScrollArea") and not _inside_scroll(w):
            assert tab_rect.contains(r), f"{_name(w)} leaves the tab"
            assert clip.width() == w.width(), f"{_name(w)} is clipped"
        rects[w] = r
    items = list(rects.items())
    for i, (a, ra) in enumerate(items):
        for b, rb in items[i + 1:]:
            if a.isAncestorOf(b) or b.isAncestorOf(a):
                continue
            assert not _overlaps(ra, rb), f"{_name(a)} overlaps {_name(b)}"


def _inside_scroll(w) -> bool:
    p = w.parentWidget()
    while p is not None:
        if p.inherits("QScrollArea"):
            return True
        p = p.parentWidget()
    return False


def _name(w) -> str:
    text = "" if w.inherits("QSlider") else w.text()
    return f"{type(w).__name__}({text[:30]!r})"


def test_the_main_window_asks_before_closing_on_unsaved_gan_training(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("VISION_EXPLORER_SETTINGS", str(tmp_path / "window.ini"))
    from app.context import make_settings
    from app.main_window import MainWindow

    win = MainWindow(requested_device="cpu", settings=make_settings(), load_default_image=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    page = win.select_tab("gan").image_page  # showing the tab loads the bundled run (or builds a new one)
    asked: list[str] = []
    page.ask_close = lambda question: (asked.append(question), CloseChoice.CANCEL)[1]
    qtbot.waitUntil(lambda: page.session.state == RunState.READY, timeout=120000)
    assert all(p.confirm_close() for p in win.pages) and not asked  # nothing trained: no question
    page.single_step()  # one more step of training that is not on disk
    qtbot.waitUntil(lambda: page.session.state == RunState.PAUSED and page.session.unsaved_steps() == 1,
                    timeout=60000)
    win.close()
    assert len(asked) == 1 and win.isVisible()  # Cancel: the window stays
    page.ask_close = lambda question: CloseChoice.DISCARD
    win.close()
    assert not win.isVisible()


def test_save_dialog_writes_only_the_confirmed_name_and_starts_in_the_runs_folder(tab, monkeypatch, tmp_path):
    """It appended ".safetensors" to a typed "myrun", so the file written was not the one confirmed."""
    from PySide6.QtWidgets import QFileDialog

    from app.folders import runs_start_dir

    page = tab.image_page
    starts: list[str] = []
    answer = [str(tmp_path / "myrun")]
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, title, start, filt: (starts.append(start) or answer[0], filt))
    assert page.ask_save_path() == ""  # refused, with a reason; nothing is written
    assert "ending in .safetensors" in tab.errors[-1] and not list(tmp_path.glob("myrun*"))
    assert starts[0] == str(runs_start_dir(tab.ctx.settings) / "gan_run.safetensors")
    assert os.path.dirname(starts[0]) != os.getcwd()  # not the working folder
    answer[0] = str(tmp_path / "mine.safetensors")
    assert page.ask_save_path() == answer[0]  # exactly what was confirmed
    page.save_run_file(answer[0])  # no run yet: refused, but the folder is remembered for the next dialog
    page.ask_save_path()
    assert starts[-1] == str(tmp_path / "gan_run.safetensors")


def _folder_run(tmp_path):
    """A run file trained on a folder of 4 images, and that folder."""
    import torch
    from PIL import Image

    from models.gan.checkpoint import save_run
    from models.gan.config import GanConfig, TrainConfig
    from models.gan.data import DataRequest, load_images
    from models.gan.trainer import GanTrainer

    folder = tmp_path / "my pictures"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((40, 40, 3), 60 * i, np.uint8)).save(folder / f"{i}.png")
    cfg = TrainConfig(gan=GanConfig(image_size=32, latent_size=8, width=4), dataset="folder", data_ref=str(folder),
                      batch_size=4, num_train_images=4, grid_samples=4)
    images = load_images("folder", DataRequest(str(folder), 32, 0, 4))
    torch.manual_seed(0)
    return save_run(GanTrainer(cfg, images), tmp_path / "folder_run.safetensors"), folder


def test_resuming_a_folder_run_asks_for_the_folder(tab, qtbot, tmp_path):
    """load_run(data_ref=...) was never passed: a run trained on a user folder could not be resumed."""
    page = tab.image_page
    qtbot.waitUntil(lambda: page.session.state != RunState.LOADING, timeout=60000)
    path, folder = _folder_run(tmp_path)
    asked: list[str] = []
    page.ask_data_folder = lambda name: (asked.append(name), "")[1]  # the user cancels the folder dialog
    page.load_run_file(str(path))
    qtbot.waitUntil(lambda: bool(asked) and page.session.state != RunState.LOADING, timeout=60000)
    assert asked == ["folder_run.safetensors"] and page.form.values()["data_ref"] != str(folder)
    page.ask_data_folder = lambda name: (asked.append(name), str(folder))[1]
    page.load_run_file(str(path))
    qtbot.waitUntil(lambda: len(asked) == 2 and page.session.state == RunState.READY, timeout=60000)
    assert page.form.values()["dataset"] == "folder" and page.form.values()["data_ref"] == str(folder)
    assert not tab.errors and page.start_btn.isEnabled()


def test_a_discrete_code_run_is_started_from_the_form(tab, qtbot):
    page, session = tab.image_page, tab.image_page.session
    form = page.form
    form.conditional.setChecked(True)
    form.codes.setCurrentIndex(2)  # one or the other: a discrete code unticks class-conditional
    assert not form.conditional.isChecked() and form.values()["latent_codes"] == 6
    assert form.values()["num_classes"] == 0 and form.values()["code_mode"] == "clusters"
    form.conditional.setChecked(True)
    assert form.values()["latent_codes"] == 0
    form.codes.setCurrentIndex(1)
    assert form.values()["code_mode"] == "info" and not form.conditional.isChecked()
    form.set_values({"latent_codes": 6, "code_mode": "clusters"})  # a loaded run's settings
    assert form.codes.currentIndex() == 2
    page.start()
    qtbot.waitUntil(lambda: session.step >= 2 or bool(tab.errors), timeout=60000)
    assert not tab.errors, tab.errors
    page.pause()
    qtbot.waitUntil(lambda: _state(tab) == RunState.PAUSED, timeout=20000)
    g = session.run.config.gan
    assert (g.latent_codes, g.code_mode) == (6, "clusters") and not tab.errors  # the run was built with the code

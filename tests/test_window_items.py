"""What a new user tripped over in the main window (issue 10) and the smaller faults of issue 11, item 5:
status line, About, Model > Device, where dialogs start, Open recent, the drop highlight, decoding off the
GUI thread, data: URL size, and exports that write exactly the confirmed path."""
from __future__ import annotations

import base64
import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from app import main_window as main_window_module
from app.context import make_settings
from app.folders import pictures_dir
from app.image_drop import load_from_mime
from app.image_io import MAX_WORKING_SIDE, load_image_file
from app.main_window import MainWindow
from app.samples import SAMPLES_DIR
from app.status_panel import task_text
from models.jobs import Progress

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("VISION_EXPLORER_SETTINGS", str(tmp_path / "settings.ini"))
    return make_settings()


def _window(qtbot, settings, device="cpu"):
    win = MainWindow(requested_device=device, settings=settings, load_default_image=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def window(qtbot, settings):
    win = _window(qtbot, settings)
    yield win
    win.close()


def _png(path, colour=(200, 30, 30), size=(40, 30)):
    Image.new("RGB", size, colour).save(path)
    return path


def _open(qtbot, window, path):
    with qtbot.waitSignal(window.load_finished, timeout=30000) as blocker:
        window.open_path(path)
    return blocker.args[0]


# ---- status line and About ------------------------------------------------------------------------
def test_task_text_says_each_thing_once():
    assert task_text("Detecting with X", "Detecting with X") == "Detecting with X"
    assert task_text("Detecting with X", "Detecting with X: forward") == "Detecting with X: forward"
    assert task_text("Sampling", "step 3/50") == "Sampling: step 3/50"
    assert task_text("Loading ViT-B/16", "") == "Loading ViT-B/16"


def test_the_status_bar_does_not_repeat_the_task_name(qtbot, window):
    seen = []

    def job(ctx):
        yield Progress(None, "Detecting with Shapes DETR")
        while not ctx.cancelled:
            time.sleep(0.01)
            yield None

    window.ctx.worker.submit(job, channel="t", title="Detecting with Shapes DETR", on_progress=seen.append)
    qtbot.waitUntil(lambda: bool(seen), timeout=60000)
    assert window.status_panel.task_label.text() == "Detecting with Shapes DETR"
    window.ctx.worker.cancel("t")


def test_about_names_the_device_once(qtbot, window):
    qtbot.waitUntil(lambda: window.ctx.torch_loaded, timeout=60000)
    text = window.about_text()
    assert "Device: " not in text and window.status_panel.device_text in text
    assert window.status_panel.device_label.text() == f"Device: {window.status_panel.device_text}"


# ---- Model > Device ---------------------------------------------------------------------------------
def _absent_device():
    import torch

    if not torch.cuda.is_available():
        return "cuda"
    if not torch.backends.mps.is_available():
        return "mps"
    pytest.skip("CUDA and MPS are both here")


def test_absent_devices_are_greyed_out_and_a_missing_start_device_falls_back(qtbot, settings):
    absent = _absent_device()
    requested = f"{absent}:0" if absent == "cuda" else absent
    win = _window(qtbot, settings, device=requested)
    try:
        qtbot.waitUntil(lambda: win.ctx.torch_loaded, timeout=60000)
        qtbot.waitUntil(lambda: not win.devices.actions[absent].isEnabled(), timeout=5000)
        act = win.devices.actions[absent]
        assert "Not available" in act.toolTip() and len(act.toolTip()) > 20
        assert win.devices.actions["cpu"].isEnabled() and win.devices.actions["auto"].isEnabled()
        assert win.ctx.device == "cpu" or win.ctx.device.startswith(("cuda", "mps"))
        qtbot.waitUntil(lambda: win.banner.isVisible(), timeout=5000)
        assert requested in win.banner.label.text()  # says what was asked for, and that it is not here
        checked = [k for k, a in win.devices.actions.items() if a.isChecked()]
        win.choose_device(absent)  # was a KeyError with --device cuda:0
        assert [k for k, a in win.devices.actions.items() if a.isChecked()] == checked
        assert "not available" in win.banner.label.text()
        win.choose_device("cpu")
        assert win.ctx.device == "cpu" and win.devices.actions["cpu"].isChecked()
    finally:
        win.close()


# ---- where dialogs start ------------------------------------------------------------------------
def test_open_starts_in_the_samples_then_in_the_last_used_folder(window, tmp_path, monkeypatch):
    starts, answers = [], [str(_png(tmp_path / "pick.png")), ""]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda parent, title, start, filt: (
        starts.append(start) or answers.pop(0), ""))
    window.open_image_dialog()
    window.open_image_dialog()
    assert Path(starts[0]) == SAMPLES_DIR
    assert Path(starts[1]) == tmp_path.resolve()


def test_export_starts_in_pictures_never_in_the_install(qtbot, window, tmp_path, monkeypatch):
    assert _open(qtbot, window, SAMPLES_DIR / "shapes_circle.png")
    window.settings.setValue("export_dir", str(SAMPLES_DIR))  # what older versions left there
    starts = []
    monkeypatch.setattr(window, "ask_save_path", lambda title, start, filt, suffix: starts.append(start) or "")
    window.export_view_dialog()
    assert Path(starts[0]).parent == pictures_dir()
    assert not Path(starts[0]).resolve().is_relative_to(ROOT)
    assert Path(window.ctx.export_path("detections.png")).parent == pictures_dir()
    assert window.export_view(tmp_path / "first.png")
    window.export_view_dialog()
    assert Path(starts[1]).parent == tmp_path.resolve()  # then the folder of the last export


# ---- exports write exactly the confirmed path --------------------------------------------------------
def test_export_never_writes_a_file_the_user_did_not_name(qtbot, window, tmp_path):
    _open(qtbot, window, _png(tmp_path / "x.png"))
    notes_png = tmp_path / "notes.png"
    notes_png.write_bytes(b"my own file")
    assert not window.export_view(tmp_path / "notes.txt")
    assert notes_png.read_bytes() == b"my own file"
    assert not (tmp_path / "notes.txt").exists()
    assert "notes.txt" in window.banner.label.text()
    assert window.export_view(tmp_path / "view.jpg")
    assert Image.open(tmp_path / "view.jpg").format == "JPEG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.png", "view.jpg", "x.png"]


# ---- Open recent --------------------------------------------------------------------------------------
def test_an_image_from_the_command_line_goes_to_open_recent(tmp_path):
    image = _png(tmp_path / "cli.png")
    ini = tmp_path / "s.ini"
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "VISION_EXPLORER_SETTINGS": str(ini)}
    out = subprocess.run([sys.executable, "-m", "app", str(image), "--exit-after-first-paint"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    from PySide6.QtCore import QSettings

    recent = QSettings(str(ini), QSettings.Format.IniFormat).value("recent_files")
    recent = [recent] if isinstance(recent, str) else recent
    assert recent and recent[0] == str(image.resolve())


# ---- drag highlight -----------------------------------------------------------------------------------
def _drag_args(mime):
    return (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)


def test_dragging_a_file_over_the_window_highlights_the_drop_target(qtbot, window, tmp_path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(_png(tmp_path / "red.png")))])
    QApplication.sendEvent(window, QDragEnterEvent(QPoint(50, 50), *_drag_args(mime)))
    assert window.drop_overlay.isVisible() and "Drop to open red.png" in window.drop_overlay.text()
    assert window.drop_overlay.geometry().width() > window.width() // 2
    QApplication.sendEvent(window, QDragLeaveEvent())
    assert not window.drop_overlay.isVisible()
    QApplication.sendEvent(window, QDragEnterEvent(QPoint(50, 50), *_drag_args(mime)))
    with qtbot.waitSignal(window.load_finished, timeout=30000):
        QApplication.sendEvent(window, QDropEvent(QPoint(60, 60), *_drag_args(mime)))
    assert not window.drop_overlay.isVisible() and window.current.name == "red.png"


def test_a_drag_without_an_image_shows_no_highlight(window):
    mime = QMimeData()
    mime.setText("just some words")
    enter = QDragEnterEvent(QPoint(50, 50), *_drag_args(mime))
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted() and not window.drop_overlay.isVisible()


# ---- decoding off the GUI thread ----------------------------------------------------------------------
def test_a_slow_decode_runs_off_the_gui_thread_and_keeps_the_current_image(qtbot, window, tmp_path, monkeypatch):
    assert _open(qtbot, window, _png(tmp_path / "old.png", (0, 0, 255)))
    old = window.current
    release, started, threads = threading.Event(), threading.Event(), []

    def slow_decode(path, max_side=None):
        threads.append(threading.current_thread())
        started.set()
        release.wait(30)
        return load_image_file(path, max_side=max_side)

    monkeypatch.setattr(main_window_module, "load_image_file", slow_decode)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    window.open_path(_png(tmp_path / "new.png", (0, 255, 0), (64, 48)))
    qtbot.waitUntil(started.is_set, timeout=5000)
    qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=5000)  # the GUI thread keeps running meanwhile
    assert threads[0] is not threading.main_thread()
    assert window.current is old and all(p.image is None or p.image.shape == old.pixels.shape
                                         for p in window.pages)
    with qtbot.waitSignal(window.load_finished, timeout=30000):
        release.set()
    timer.stop()
    assert window.current.name == "new.png" and window.current.pixels.shape == (48, 64, 3)


def test_a_newer_open_supersedes_a_slower_older_one(qtbot, window, tmp_path, monkeypatch):
    release = threading.Event()
    real = load_image_file

    def decode(path, max_side=None):
        if Path(path).name == "slow.png":
            release.wait(30)
        return real(path, max_side=max_side)

    monkeypatch.setattr(main_window_module, "load_image_file", decode)
    window.open_path(_png(tmp_path / "slow.png"))
    assert _open(qtbot, window, _png(tmp_path / "fast.png", (1, 2, 3)))
    release.set()
    window.loader.wait(30)
    qtbot.wait(100)  # let a stale result reach the GUI thread, where it must be dropped
    assert window.current.name == "fast.png"


# ---- data: URLs follow the same size rule as files ----------------------------------------------------
def _big_png_bytes():
    buf = io.BytesIO()
    Image.new("RGB", (6000, 5000), (90, 140, 200)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("carrier", ["url", "text"])
def test_a_big_data_url_is_scaled_like_a_file(carrier):
    url = "data:image/png;base64," + base64.b64encode(_big_png_bytes()).decode()
    mime = QMimeData()
    if carrier == "url":
        mime.setUrls([QUrl(url)])
    else:
        mime.setText(url)
    loaded = load_from_mime(mime, "dropped item")
    assert max(loaded.pixels.shape[:2]) == MAX_WORKING_SIDE
    assert loaded.original_size == (6000, 5000)


def test_tab_export_dialogs_start_in_pictures_too(window, monkeypatch):
    starts = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda parent, title, start, filt: (
        starts.append(start) or "", ""))
    detection = window.select_tab("detection")
    detection._ask_png()
    detection._ask_json()
    assert [Path(s).name for s in starts] == ["detections.png", "detections.json"]
    assert all(Path(s).parent == pictures_dir() for s in starts)


def test_closing_while_an_image_decodes_throws_the_result_away(qtbot, settings, tmp_path, monkeypatch):
    release = threading.Event()

    def slow(path, max_side=None):
        release.wait(30)
        return load_image_file(path, max_side=max_side)

    monkeypatch.setattr(main_window_module, "load_image_file", slow)
    win = _window(qtbot, settings)
    win.open_path(_png(tmp_path / "late.png"))
    win.close()
    release.set()
    win.loader.wait(30)
    qtbot.wait(50)
    assert win.current is None

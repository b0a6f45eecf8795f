"""The main window as a user meets it: drop, paste, open, broken files, tabs, settings, closing."""
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.wait_signal import SignalBlocker

from app.context import make_settings
from app.main_window import MainWindow
from app.tabs import TAB_KEYS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("VISION_EXPLORER_SETTINGS", str(tmp_path / "settings.ini"))
    return make_settings()


@pytest.fixture
def window(qtbot, settings):
    win = MainWindow(requested_device="cpu", settings=settings, load_default_image=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def _png(path, colour=(200, 30, 30), size=(40, 30)):
    Image.new("RGB", size, colour).save(path)
    return path


def _drop(window, mime):
    """The event sequence of a real drag and drop: enter (must be accepted), move, drop; then wait
    until the image (decoded off the GUI thread) arrives or the failure is shown. True if it loaded."""
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(50, 50), *args)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted(), "the window refused the drag"
    QApplication.sendEvent(window, QDragMoveEvent(QPoint(60, 60), *args))
    with _waiting(window) as blocker:
        QApplication.sendEvent(window, QDropEvent(QPointF(60, 60), *args))
    return blocker.args[0]


def _waiting(window, timeout=20000):
    """Like qtbot.waitSignal(window.load_finished): a context manager; .args[0] is the bool sent."""
    blocker = SignalBlocker(timeout=timeout, raising=True)
    blocker.connect(window.load_finished)
    return blocker


def _open(window, path):
    """open_path and wait for the result (decoding runs on another thread). True if it loaded."""
    with _waiting(window) as blocker:
        window.open_path(path)
    return blocker.args[0]


def test_dropping_a_file_shows_it_in_every_tab_and_remembers_it(window, tmp_path):
    path = _png(tmp_path / "red.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    _drop(window, mime)
    assert window.current is not None and window.current.pixels.shape == (30, 40, 3)
    assert all(page.image is not None and page.image.shape == (30, 40, 3) for page in window.pages)
    assert window.recent_files()[0] == str(path.resolve())
    assert "red.png" in window.windowTitle()
    for i, key in enumerate(TAB_KEYS):  # every tab can be visited
        window.tabs.setCurrentIndex(i)
        assert window.current_page().key == key


def test_dropping_image_data_as_from_a_browser(window, tmp_path):
    mime = QMimeData()
    buf = tmp_path / "b.png"
    _png(buf, (10, 200, 10), (16, 12))
    mime.setData("image/png", buf.read_bytes())
    _drop(window, mime)
    assert window.current.pixels.shape == (12, 16, 3)
    assert tuple(window.current.pixels[0, 0]) == (10, 200, 10)


def test_a_broken_file_gives_a_clear_message_and_loses_nothing(window, tmp_path):
    good = _png(tmp_path / "good.png")
    assert _open(window, good)
    before = window.current
    broken = tmp_path / "broken.png"
    broken.write_bytes(good.read_bytes()[:40])  # truncated
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for bad in (broken, text, tmp_path / "missing.png"):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(bad))])
        _drop(window, mime)
        assert window.current is before
        assert window.banner.isVisible() and bad.name in window.banner.label.text()
    assert all(page.image is before.pixels or np.array_equal(page.image, before.pixels) for page in window.pages)


def test_paste_an_image_from_the_clipboard(window):
    image = QImage(20, 10, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.blue)
    QGuiApplication.clipboard().setImage(image)
    with _waiting(window):
        window.paste_image()
    assert window.current.pixels.shape == (10, 20, 3)
    assert tuple(window.current.pixels[5, 5]) == (0, 0, 255)


def test_export_view_writes_a_png(window, tmp_path):
    _open(window, _png(tmp_path / "x.png"))
    out = tmp_path / "view.png"
    assert window.export_view(out)
    assert Image.open(out).size[0] > 100


def test_settings_keep_last_tab_and_recent_files(qtbot, settings, tmp_path):
    win = MainWindow(requested_device="cpu", settings=settings, load_default_image=False)
    qtbot.addWidget(win)
    _open(win, _png(tmp_path / "a.png"))
    win.tabs.setCurrentIndex(3)
    win.close()
    again = MainWindow(requested_device="cpu", settings=make_settings(), load_default_image=False)
    qtbot.addWidget(again)
    assert again.current_page().key == TAB_KEYS[3]
    assert again.recent_files()[0].endswith("a.png")
    assert again.recent_menu.actions()[0].text() == "a.png"
    again.close()


def test_closing_while_a_job_runs_exits_quickly(qtbot, window):
    def endless(ctx):
        while True:
            time.sleep(0.01)
            yield None

    window.ctx.worker.submit(endless, channel="x")
    qtbot.waitUntil(lambda: window.ctx.worker.is_busy(), timeout=5000)
    t0 = time.perf_counter()
    window.close()
    assert time.perf_counter() - t0 < 3.0
    assert not window.ctx.worker._thread.is_alive()


def _run_cli(*args, timeout=120):
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_cli_refuses_an_unusable_image_with_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = _run_cli(str(bad), "--screenshot", str(tmp_path / "shots"))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "bad.jpg" in out.stderr


def test_cli_without_a_display_says_so(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    out = subprocess.run([sys.executable, "-m", "app"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env=env)
    assert out.returncode == 1 and "no display" in out.stderr and len(out.stderr.strip().splitlines()) == 1

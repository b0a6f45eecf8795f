"""A damaged or hand-edited settings file never stops the app (issue 11, item 3): every value read from
QSettings is type-checked, and anything odd is dropped with a warning in the log."""
from __future__ import annotations

import logging
import random
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.folders import open_start_dir
from app.settings_store import read_bytes, read_str, read_str_list

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("device", "last_dir", "export_dir", "recent_files", "geometry", "last_tab")
# Values as they appear in an ini file: Qt turns many of them into QRect, QSize, QByteArray, lists, None...
ODD = (r"@Rect(1 2 3 4)", r"@Size(10 20)", r"@Point(3 4)", r"@RectF(0.5 1 2 3)", r"@SizeF(1.5 2)",
       r"@ByteArray(\0\xff garbage)", r"@Variant(\0\0\0\x7f\0\0\0\x10Whatever)", r"@Variant(\0\0\0\n)",
       r"@Invalid()", r"@DateTime(\0\0)", "1, 2, 3", "true", "-1", "3.5", '""', "x" * 5000,
       r'"a.png", @Rect(1 2 3 4)', r"@ByteArray()", r"\0\0", "cuda:99", "attention, gan")


def _ini(path: Path, values: dict[str, str]) -> QSettings:
    path.write_text("[General]\n" + "".join(f"{k}={v}\n" for k, v in values.items()))
    return QSettings(str(path), QSettings.Format.IniFormat)


@pytest.mark.parametrize("value", ODD)
def test_every_reader_survives_every_odd_value(tmp_path, value, caplog):
    settings = _ini(tmp_path / "s.ini", {k: value for k in KEYS})
    with caplog.at_level(logging.WARNING, logger="vision_explorer.settings"):
        device = read_str(settings, "device", "auto", allowed=("auto", "cuda", "mps", "cpu"))
        tab = read_str(settings, "last_tab", "attention", allowed=("attention", "gan"))
        folder = read_str(settings, "last_dir", "")
        recent = read_str_list(settings, "recent_files", 10)
        geometry = read_bytes(settings, "geometry")
    assert device in ("auto", "cuda", "mps", "cpu") and tab in ("attention", "gan")
    assert isinstance(folder, str) and all(isinstance(p, str) and p for p in recent) and len(recent) <= 10
    assert geometry is None or not geometry.isEmpty()
    if value.startswith("@Rect("):
        assert not settings.contains("geometry") and not settings.contains("recent_files"), "not dropped"
    if value.startswith(("@Rect", "@Size", "@Point", "@Variant", "@Invalid", "@DateTime")):
        assert caplog.records, "an odd value was dropped without a warning"


def test_a_list_keeps_its_good_entries_and_drops_the_rest(tmp_path, caplog):
    settings = _ini(tmp_path / "s.ini", {"recent_files": r'"/a.png", @Rect(1 2 3 4), "/b.png"'})
    with caplog.at_level(logging.WARNING, logger="vision_explorer.settings"):
        assert read_str_list(settings, "recent_files", 10) == ["/a.png", "/b.png"]
    assert "recent_files" in caplog.text


def _fuzzed(seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {k: rng.choice(ODD) for k in KEYS}


@pytest.mark.parametrize("values", [{k: ODD[0] for k in KEYS}, {k: ODD[1] for k in KEYS},
                                    {k: ODD[6] for k in KEYS}, _fuzzed(1), _fuzzed(2)],
                         ids=["rects", "sizes", "variants", "fuzz1", "fuzz2"])
def test_the_window_starts_with_a_fuzzed_settings_file(qtbot, tmp_path, values, caplog):
    from app.main_window import MainWindow

    settings = _ini(tmp_path / "s.ini", values)
    with caplog.at_level(logging.WARNING, logger="vision_explorer.settings"):
        win = MainWindow(settings=settings, load_default_image=False)  # device from the file
        qtbot.addWidget(win)
        assert win.requested_device in ("auto", "cuda", "mps", "cpu")
        assert all(isinstance(p, str) for p in win.recent_files())
        assert Path(win.export_start_path()).parent.is_dir()
        assert open_start_dir(win.settings).is_dir()  # what File > Open starts in
        win._refresh_recent_menu()
        with qtbot.waitSignal(win.load_finished, timeout=20000):
            win._load_default_image()  # reads recent_files again
        assert win.current is not None
        win.close()
    assert caplog.records  # every file above holds at least one odd value
    settings.sync()
    text = (tmp_path / "s.ini").read_text()
    assert "@Rect" not in text and "@Size" not in text  # dropped, not kept to fail again


def test_the_app_starts_from_the_command_line_with_a_bad_settings_file(tmp_path):
    ini = tmp_path / "s.ini"
    ini.write_text("[General]\nrecent_files=@Rect(1 2 3 4)\ngeometry=@Size(3 4)\nlast_tab=@Point(1 2)\n"
                   "device=@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x10Whatever)\nlast_dir=@Rect(1 2 3 4)\n")
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "VISION_EXPLORER_SETTINGS": str(ini)}
    out = subprocess.run([sys.executable, "-m", "app", "--exit-after-first-paint"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "first-paint" in out.stdout
    assert "Traceback" not in out.stderr
    assert "ignoring 'recent_files'" in out.stderr  # the warning reaches the log

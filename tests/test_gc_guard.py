"""Garbage is collected on the GUI thread only (app/gc_guard.py): see the module's docstring for the hang."""
from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_app_switches_automatic_collection_off_and_collects_on_a_timer():
    code = (
        "import gc, sys\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from app.gc_guard import collect_on_gui_thread\n"
        "guard = collect_on_gui_thread(0.05)\n"
        "assert collect_on_gui_thread() is guard\n"
        "assert not gc.isenabled()\n"
        "class Cycle:\n"
        "    pass\n"
        "for _ in range(5000):\n"
        "    a, b = Cycle(), Cycle(); a.b, b.a = b, a\n"
        "before = gc.get_count()[0]\n"
        "QTimer.singleShot(300, app.quit)\n"
        "app.exec()\n"
        "print(before, gc.get_count()[0])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr[-2000:]
    before, after = map(int, res.stdout.split()[-2:])
    assert before > 700 and after < before  # the timer collected on the GUI thread


def test_the_suite_collects_only_on_the_main_thread():
    assert not gc.isenabled()


def test_the_entry_point_installs_the_guard():
    assert "collect_on_gui_thread()" in (ROOT / "app" / "__main__.py").read_text()


def test_full_collections_freeze_their_survivors_and_still_free_frozen_cycles_now_and_then():
    """A full collection scans only what is new since the last one (its survivors are frozen), so it stays
    short; every UNFREEZE_EVERY-th one scans everything, so a cycle that died after being frozen is freed."""
    import weakref

    from app.gc_guard import UNFREEZE_EVERY, GuiThreadCollector

    class Node:
        pass

    try:
        collector = GuiThreadCollector.__new__(GuiThreadCollector)  # no timer: collect_full called directly
        collector.full_collections = 0
        a, b = Node(), Node()
        a.b, b.a = b, a
        dead = weakref.ref(a)
        collector.collect_full()
        assert gc.get_freeze_count() > 0
        long_lived = [Node() for _ in range(1000)]
        collector.collect_full()
        assert gc.get_freeze_count() >= 1000 + 2 and len(long_lived) == 1000  # the survivors are frozen
        del a, b  # the cycle dies while frozen: ordinary full collections do not see it
        for _ in range(UNFREEZE_EVERY - 3):
            collector.collect_full()
        assert dead() is not None
        collector.collect_full()  # the UNFREEZE_EVERY-th: everything is scanned again
        assert dead() is None
    finally:
        gc.unfreeze()

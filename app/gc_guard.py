"""Python's cyclic garbage collector runs on the GUI thread only, and its full collections stay short.

An automatic collection runs in whichever thread happens to allocate, e.g. the worker's loader thread
while it builds a model. If the garbage holds a Qt object (a closed window's menu, a dropped widget),
its C++ destructor then runs there: it takes Qt's object mutex and waits for the interpreter lock, while
the GUI thread, holding the interpreter lock, waits for that mutex. Seen here as a hang in the test suite.
So automatic collection is switched off and the GUI thread collects on a timer (as pyqtgraph's
GarbageCollector does, whose policy this copies for generations 0 and 1); tests collect after every test
(tests/conftest.py).

A full collection stops every thread for as long as it scans every tracked object: ~0.1 s for the ~120,000
objects the Compare tab's first use brings (grad-cam and its imports, three models), 0.3-0.4 s for the half
million alive once torch is imported. So survivors are frozen (gc.freeze: objects that outlived a full
collection are long-lived; later full collections scan only what came after), and only every
UNFREEZE_EVERY-th full collection scans everything again, so that cycles among frozen objects that died since
(a replaced model, a closed page) are still freed.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QTimer

UNFREEZE_EVERY = 20  # full collections; the others scan only objects made since the last one


class GuiThreadCollector:
    """Collects on a QTimer of the thread that made it (the GUI thread); automatic collection off."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.threshold = gc.get_threshold()
        self.full_collections = 0
        gc.disable()
        self.timer = QTimer()
        self.timer.timeout.connect(self.check)
        self.timer.start(int(interval_s * 1000))

    def check(self) -> None:
        l0, l1, l2 = gc.get_count()
        if l0 > self.threshold[0]:
            gc.collect(0)
            if l1 > self.threshold[1]:
                gc.collect(1)
                if l2 > self.threshold[2]:
                    self.collect_full()

    def collect_full(self) -> int:
        """A full collection; its survivors are frozen. Returns the number of unreachable objects found."""
        self.full_collections += 1
        if self.full_collections % UNFREEZE_EVERY == 0:
            gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        return found


_GUARD: GuiThreadCollector | None = None


def collect_on_gui_thread(interval_s: float = 1.0) -> GuiThreadCollector:
    """Call once on the GUI thread after the QApplication exists; returns the (single) guard."""
    global _GUARD
    if _GUARD is None:
        _GUARD = GuiThreadCollector(interval_s)
    return _GUARD


def freeze_startup_objects() -> None:
    """The app, once torch is imported (half a million long-lived objects): move every object alive now out of
    the collector's reach (gc.freeze), after collecting today's garbage. A full collection then scans only what
    was made since, instead of stalling every thread for 0.3-0.4 s (bench gui_max_stall_ms_compare). Called
    by app/__main__.py only: tests keep collecting everything (their windows must die)."""
    gc.collect()
    gc.freeze()

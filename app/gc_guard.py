"""Python's cyclic garbage collector runs on the GUI thread only.

An automatic collection runs in whichever thread happens to allocate, e.g. the worker's loader thread
while it builds a model. If the garbage holds a Qt object (a closed window's menu, a dropped widget),
its C++ destructor then runs there: it takes Qt's object mutex and waits for the interpreter lock, while
the GUI thread, holding the interpreter lock, waits for that mutex. Seen here as a hang in the test suite.
So automatic collection is switched off and the GUI thread collects on a timer (pyqtgraph's
GarbageCollector, made for exactly this); tests collect after every test (tests/conftest.py).
"""
from __future__ import annotations

from pyqtgraph.util.garbage_collector import GarbageCollector

_GUARD: GarbageCollector | None = None


def collect_on_gui_thread(interval_s: float = 1.0) -> GarbageCollector:
    """Call once on the GUI thread after the QApplication exists; returns the (single) guard."""
    global _GUARD
    if _GUARD is None:
        _GUARD = GarbageCollector(interval=interval_s)
    return _GUARD


def freeze_startup_objects() -> None:
    """The app, once torch is imported (half a million long-lived objects): move every object alive now out of
    the collector's reach (gc.freeze), after collecting today's garbage. A full collection then scans only what
    was made since, instead of stalling every thread for 0.3-0.4 s (bench gui_max_stall_ms_compare). Called
    by app/__main__.py only: tests keep collecting everything (their windows must die)."""
    import gc

    gc.collect()
    gc.freeze()

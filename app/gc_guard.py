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

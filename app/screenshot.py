"""--screenshot DIR: visit each tab, let its work finish, save DIR/<tab>.png, then quit."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from .tabs import TAB_KEYS

SETTLE_S = 0.6  # let the last results paint
TAB_TIMEOUT_S = 240.0


class ScreenshotRunner(QObject):
    def __init__(self, window, out_dir: Path, keys: list[str], view: str | None = None) -> None:
        super().__init__(window)
        self.view = view  # with one tab: the sub-view to show and name the file after
        self.window = window
        self.out_dir = out_dir
        self.keys = list(keys)
        self.saved: list[Path] = []
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll)
        self._page = None
        self._since = 0.0
        self._idle_since: float | None = None

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        QTimer.singleShot(300, self._next)

    def _next(self) -> None:
        if not self.keys:
            self.window.close()
            QApplication.instance().quit()
            return
        key = self.keys.pop(0)
        self._page = self.window.select_tab(key)
        if self.view:
            self._page.show_view(self.view)
        self._page.prepare_screenshot()
        self._since = time.monotonic()
        self._idle_since = None
        self._timer.start()

    def _poll(self) -> None:
        page = self._page
        now = time.monotonic()
        busy = page.is_busy() or not self.window.ctx.torch_loaded
        if busy:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        timed_out = now - self._since > TAB_TIMEOUT_S
        if not timed_out and (self._idle_since is None or now - self._idle_since < SETTLE_S):
            return
        if timed_out:
            print(f"warning: the {page.title} tab was still busy after {TAB_TIMEOUT_S:.0f} s", file=sys.stderr)
        self._timer.stop()
        path = screenshot_path(self.out_dir, page.key, self.view)
        self.window.grab().save(str(path), "PNG")
        self.saved.append(path)
        print(f"saved {path}")
        self._next()


def screenshot_path(out_dir: Path, key: str, view: str | None) -> Path:
    """DIR/<tab>.png, or DIR/<tab>-<view>.png for a sub-view."""
    return out_dir / (f"{key}-{view}.png" if view else f"{key}.png")


def screenshot_keys(tab: str | None) -> list[str]:
    return [tab] if tab else list(TAB_KEYS)

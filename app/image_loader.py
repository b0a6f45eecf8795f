"""Decoding images off the GUI thread: a 100-megapixel file must not freeze the window.

`ImageLoader.load(decode, what)` runs `decode()` (a function returning a LoadedImage, e.g. a bound
`load_image_file`) on a plain Python thread and delivers the LoadedImage, or the ImageLoadError's
message, back on the GUI thread. A newer load supersedes an older one: a stale result is dropped.
The worker service is for model jobs; image decoding needs neither torch nor the GPU queue.
"""
from __future__ import annotations

import threading
import traceback
from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot

from models.errors import ImageLoadError

from .image_io import LoadedImage


class ImageLoader(QObject):
    loaded = Signal(object, object)  # LoadedImage, context (what load() was given)
    failed = Signal(str, object)  # a one-line message, context
    _done = Signal(int, object, object, object)  # generation, LoadedImage | None, message | None, context

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._done.connect(self._on_done)  # queued: emitted on the loader thread

    def load(self, decode: Callable[[], LoadedImage], context=None) -> int:
        """Start decoding; returns the generation number of this load."""
        self._generation += 1
        gen = self._generation
        thread = threading.Thread(target=self._run, args=(gen, decode, context), daemon=True,
                                  name=f"vision-explorer-image-{gen}")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return gen

    def shutdown(self) -> None:
        """The window is closing: loads still running end quietly (their result is thrown away)."""
        self._closed = True
        self._generation += 1

    def is_loading(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wait(self, timeout: float | None = None) -> None:
        """Block until started loads end (tests, closing)."""
        for t in list(self._threads):
            t.join(timeout)

    def _run(self, gen: int, decode: Callable[[], LoadedImage], context) -> None:
        try:
            result, message = decode(), None
        except ImageLoadError as exc:
            result, message = None, str(exc)
        except MemoryError:
            result, message = None, "The image does not fit in memory."
        except Exception as exc:  # noqa: BLE001 - a decoder bug must reach the user as a message
            traceback.print_exc()
            result, message = None, f"Opening the image failed: {type(exc).__name__}: {exc}"
        if self._closed:
            return
        try:
            self._done.emit(gen, result, message, context)
        except RuntimeError:  # the window (and this object) is already gone
            pass

    @Slot(int, object, object, object)
    def _on_done(self, gen: int, result, message, context) -> None:
        if gen != self._generation:
            return  # a newer load was started: this one is stale
        if result is not None:
            self.loaded.emit(result, context)
        else:
            self.failed.emit(message or "The image could not be opened.", context)

"""Loaded models, kept between requests and moved when the device changes.

Jobs take a model with ``model = yield from MODEL_CACHE.load_job(key, device, load, message)``: a cached
model comes back at once (moved on the worker thread if its device differs); an uncached one is loaded
by ``load(device)`` through a ``models.jobs.Load``, i.e. on a loader thread, so a slow load or download
never holds the GPU job queue. ``get`` loads synchronously (scripts, tests).
"""
from __future__ import annotations

import threading
from functools import partial
from typing import Any, Callable, Generator, Hashable

import torch

from .jobs import Load


class ModelCache:
    """Keeps the most recently used models (a small LRU) and moves them to the requested device."""

    def __init__(self, capacity: int = 3) -> None:
        self._capacity = capacity
        self._items: dict[Hashable, tuple[str, Any]] = {}
        self._lock = threading.Lock()

    def lookup(self, key: Hashable, device: str) -> Any | None:
        """The cached model for key on device (moved if its device differs, and kept), or None."""
        with self._lock:
            cached = self._items.pop(key, None)
        if cached is None:
            return None
        old_device, model = cached
        if old_device != device and isinstance(model, torch.nn.Module):
            model = model.to(device)
        return self.put(key, device, model)

    def put(self, key: Hashable, device: str, model: Any) -> Any:
        """Keep model as the newest entry (dropping the oldest beyond capacity); returns model."""
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (device, model)
            while len(self._items) > self._capacity:
                self._items.pop(next(iter(self._items)))
        return model

    def get(self, key: Hashable, device: str, load: Callable[[str], Any]) -> Any:
        """The model for key on device: cached (moved if its device differs) or freshly loaded, here and now."""
        model = self.lookup(key, device)
        return model if model is not None else self.put(key, device, load(device))

    def load_job(self, key: Hashable, device: str, load: Callable[[str], Any],
                 message: str = "Loading the model") -> Generator[Any, Any, Any]:
        """Job step (``yield from``): the cached model, else load(device) run off the GPU job queue."""
        model = self.lookup(key, device)
        if model is None:
            model = yield Load(partial(load, device), message)
            self.put(key, device, model)
        return model

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


MODEL_CACHE = ModelCache()

"""Loaded models, kept between requests and moved when the device changes. Used from the worker thread only."""
from __future__ import annotations

import threading
from typing import Any, Callable, Hashable

import torch


class ModelCache:
    """Keeps the most recently used models (a small LRU) and moves them to the requested device."""

    def __init__(self, capacity: int = 3) -> None:
        self._capacity = capacity
        self._items: dict[Hashable, tuple[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, device: str, load: Callable[[str], Any]) -> Any:
        """The model for key on device: cached (moved if its device differs) or freshly loaded."""
        with self._lock:
            cached = self._items.pop(key, None)
        if cached is None:
            model = load(device)
        else:
            old_device, model = cached
            if old_device != device and isinstance(model, torch.nn.Module):
                model = model.to(device)
        with self._lock:
            self._items[key] = (device, model)
            while len(self._items) > self._capacity:
                self._items.pop(next(iter(self._items)))
        return model

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


MODEL_CACHE = ModelCache()

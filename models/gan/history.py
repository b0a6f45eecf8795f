"""Bounded and growable records of a run: every per-step metric, and an evenly thinned set of grids."""
from __future__ import annotations

import numpy as np

METRICS: tuple[str, ...] = ("g_loss", "d_loss", "d_real", "d_fake", "grad_g", "grad_d", "d_acc")
# Sample grids kept per run. Thinning halves a full history, so 200 keeps 101 to 200 grids spread evenly over
# the run (at least 100 once 100 were made); a 36-sprite grid is ~120 kB, so at most ~24 MB.
GRID_CAPACITY = 200


class GrowableArray:
    """Rows appended at amortised O(1) (capacity doubles); `view()` is the filled part, no copy."""

    def __init__(self, width: int, dtype=np.float32, capacity: int = 1024):
        self._data = np.empty((capacity, width), dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def extend(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, self._data.dtype).reshape(-1, self._data.shape[1])
        need = self._n + len(rows)
        if need > len(self._data):
            cap = max(need, 2 * len(self._data))
            grown = np.empty((cap, self._data.shape[1]), self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n:need] = rows
        self._n = need

    def truncate(self, n: int) -> None:
        self._n = max(0, min(self._n, n))

    def view(self) -> np.ndarray:
        return self._data[: self._n]


class ThinnedHistory:
    """At most `capacity` items spread evenly over the whole run: when full, every second one is dropped
    and the keeping stride doubles, so memory stays bounded however long the run is."""

    def __init__(self, capacity: int = GRID_CAPACITY):
        self.capacity = capacity
        self.stride = 1
        self.items: list[tuple[int, np.ndarray]] = []  # (step, item)
        self._seen = 0

    def add(self, step: int, item: np.ndarray) -> bool:
        """Offer one item; returns True when it was kept."""
        keep = self._seen % self.stride == 0
        self._seen += 1
        if not keep:
            return False
        self.items.append((step, item))
        if len(self.items) > self.capacity:
            self.items = self.items[::2]
            self.stride *= 2
        return True

    def truncate(self, step: int) -> None:
        self.items = [(s, it) for s, it in self.items if s <= step]

    def steps(self) -> list[int]:
        return [s for s, _ in self.items]

"""The thread-safe switchboard between the tab (GUI thread) and a running training job (worker thread)."""
from __future__ import annotations

from typing import Any

from ..jobs import PauseControl


class TrainingControl(PauseControl):
    """Requests the GUI makes of the job; the job polls them between steps.

    Pausing ends the job after the current step (the worker is free for other tabs while paused);
    resuming starts a new job on the same trainer, so nothing is lost. Learning-rate and beta changes
    and save requests are applied between two steps.
    """

    def __init__(self, min_update_interval_s: float = 0.1):
        super().__init__()
        self._hparams: dict[str, Any] = {}
        self._save_path: str | None = None
        self.min_update_interval_s = min_update_interval_s  # at most ~10 GUI updates per second: curves stay live, training keeps the GIL

    def set_hparams(self, **changes: Any) -> None:
        """lr_g, lr_d, beta1_g, beta2_g, beta1_d, beta2_d, d_steps: applied before the next step."""
        with self._lock:
            self._hparams.update(changes)

    def take_hparams(self) -> dict[str, Any]:
        with self._lock:
            out, self._hparams = self._hparams, {}
            return out

    def request_save(self, path: str) -> None:
        with self._lock:
            self._save_path = path

    def take_save(self) -> str | None:
        with self._lock:
            out, self._save_path = self._save_path, None
            return out

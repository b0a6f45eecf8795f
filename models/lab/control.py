"""The thread-safe switchboard between the data-lab view (GUI thread) and a running lab job (worker thread)."""
from __future__ import annotations

import threading


class LabControl:
    """Pause and stop requests; the job polls them between steps.

    Pausing ends the job after the current step (the worker is free meanwhile); resuming is a new job on the
    same trainer, so nothing is lost. Stop also pauses: the view then drops the trainer.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pause = False
        self._stop = False

    def request_pause(self) -> None:
        with self._lock:
            self._pause = True

    def request_stop(self) -> None:
        with self._lock:
            self._pause = True
            self._stop = True

    def clear(self) -> None:
        """Called before (re)starting a job."""
        with self._lock:
            self._pause = False
            self._stop = False

    @property
    def pause_requested(self) -> bool:
        with self._lock:
            return self._pause

    @property
    def stop_requested(self) -> bool:
        with self._lock:
            return self._stop

"""The switchboard between the data-lab view (GUI thread) and a running lab job (worker thread)."""
from __future__ import annotations

from ..jobs import PauseControl


class LabControl(PauseControl):
    """Pause and stop requests; the job polls them between steps (models.jobs.PauseControl).

    Pausing ends the job after the current step (the worker is free meanwhile); resuming is a new job on the
    same trainer, so nothing is lost. Stop also pauses: the view then drops the trainer (and a lab run job keeps
    the run so far, models.lab.unfinished).
    """

"""The job protocol shared by all model work. No Qt here.

A job is a generator function ``job(ctx, *args) -> Iterator[Progress | partial result]``; its
return value is the final result. Results are frozen dataclasses of CPU numpy arrays. The app's
worker service runs jobs off the GUI thread, checks ``ctx`` for cancellation at every yield and
drops results of superseded requests. Jobs call ``ctx.check_cancelled()`` between layers/steps.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .errors import JobCancelled


@dataclass(frozen=True)
class Progress:
    """A progress report: fraction in [0, 1] or None when unknown, and a short message."""

    fraction: float | None
    message: str = ""


@dataclass
class JobContext:
    """What a running job may use: its device and its cancel flag."""

    device: str = "cpu"
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled()


JobFn = Callable[..., Iterator[Any]]


def run_to_completion(job: JobFn, *args: Any, ctx: JobContext | None = None, **kwargs: Any) -> tuple[Any, list[Any]]:
    """Run a job synchronously (tests, scripts, benchmarks): returns (final result, partial results)."""
    ctx = ctx or JobContext()
    gen = job(ctx, *args, **kwargs)
    partials: list[Any] = []
    try:
        while True:
            item = next(gen)
            ctx.check_cancelled()
            if not isinstance(item, Progress):
                partials.append(item)
    except StopIteration as stop:
        return stop.value, partials

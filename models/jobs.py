"""The job protocol shared by all model work. No Qt here.

A job is a generator function ``job(ctx, *args) -> Iterator[Progress | partial result]``; its
return value is the final result. Results are frozen dataclasses of CPU numpy arrays. The app's
worker service runs jobs off the GUI thread, checks ``ctx`` for cancellation at every yield and
drops results of superseded requests. Jobs call ``ctx.check_cancelled()`` between layers/steps.

Slow work that is not GPU work (loading or downloading a model, which may wait on the disk or the network
for seconds) is yielded as ``result = yield Load(fn, message)``: the worker service runs ``fn()`` on a
loader thread, so the GPU job queue keeps stepping other jobs meanwhile, and resumes the job with fn's
return value (or raises fn's exception inside the job). A job cancelled while its load runs ends at once;
the load's result is then thrown away.
"""
from __future__ import annotations

import importlib
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


@dataclass(frozen=True)
class Load:
    """Yielded by a job: run fn() off the GPU job queue; the yield evaluates to fn's return value."""

    fn: Callable[[], Any]
    message: str = "Loading"


JobFn = Callable[..., Iterator[Any]]


def lazy_job(module: str, name: str) -> Callable:
    """A job that imports its (torch-using) module on the worker thread, when it starts."""

    def job(ctx, *args, **kwargs):
        fn = getattr(importlib.import_module(module), name)
        return (yield from fn(ctx, *args, **kwargs))

    job.__name__ = name
    return job


class PauseControl:
    """The thread-safe pause/stop switchboard between a page (GUI thread) and a training job (worker thread);
    the job polls it between steps. Pausing ends the job after the current step (resuming is a new job on the
    same trainer, so nothing is lost); stop also pauses."""

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


def run_to_completion(job: JobFn, *args: Any, ctx: JobContext | None = None, **kwargs: Any) -> tuple[Any, list[Any]]:
    """Run a job synchronously (tests, scripts, benchmarks): returns (final result, partial results)."""
    ctx = ctx or JobContext()
    gen = job(ctx, *args, **kwargs)
    partials: list[Any] = []
    sent: Any = None
    failed: BaseException | None = None
    try:
        while True:
            item = gen.throw(failed) if failed is not None else gen.send(sent)
            sent, failed = None, None
            ctx.check_cancelled()
            if isinstance(item, Load):
                try:
                    sent = item.fn()  # synchronously here: there is no other job to keep going
                except Exception as exc:  # raised inside the job, as the worker service does
                    failed = exc
            elif not isinstance(item, Progress):
                partials.append(item)
    except StopIteration as stop:
        return stop.value, partials

"""The worker service: the one place where model work runs off the GUI thread.

Jobs (generator functions from models/, see models/jobs.py) run on ONE worker thread, so only one
touches the GPU at a time. Several jobs may be active at once (a GAN training run and an image
forward): the thread steps them round-robin, one yield each, saving and restoring each job's torch
grad mode across the switch. A new submit in a channel cancels the older request of that channel,
and results of superseded requests are dropped. Callbacks run on the GUI thread with the payload.
torch is imported on the worker thread, after the window is up.
"""
from __future__ import annotations

import itertools
import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal, Slot

from models.errors import JobCancelled, UserFacingError
from models.jobs import JobContext, Progress

Callback = Callable[[Any], None] | None


@dataclass(frozen=True)
class JobEvent:
    """What the worker thread sends to the GUI thread, tagged with the request id."""

    request_id: int
    channel: str
    kind: str  # "started" | "progress" | "partial" | "result" | "error" | "cancelled"
    payload: Any = None


@dataclass
class _Request:
    request_id: int
    channel: str
    title: str
    fn: Callable
    args: tuple
    kwargs: dict
    ctx: JobContext
    on_result: Callback = None
    on_partial: Callback = None
    on_progress: Callback = None
    on_error: Callback = None
    generator: Any = None
    grad_enabled: bool = True
    started_at: float = field(default_factory=time.perf_counter)


def describe_error(exc: BaseException, title: str) -> str:
    """One clear message for the user; CUDA out-of-memory gets a specific hint."""
    from models.device import is_out_of_memory  # torch is loaded by now (the job ran)

    if is_out_of_memory(exc):
        try:
            import torch
            torch.cuda.empty_cache()
        except Exception:
            pass
        return (f"{title}: the GPU ran out of memory. Try a smaller image or batch, close other programs "
                "using the GPU, or switch to the CPU in Model > Device.")
    if isinstance(exc, UserFacingError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{title} failed: {type(exc).__name__}{': ' + text[:300] if text else ''}"


class WorkerService(QObject):
    """Runs jobs on one background thread and delivers their results to the GUI thread."""

    _event = Signal(object)  # JobEvent, emitted on the worker thread, received on the GUI thread
    job_started = Signal(int, str)  # request id, title
    job_progress = Signal(int, object)  # request id, Progress
    job_ended = Signal(int)  # request id (finished, failed or cancelled)
    error_message = Signal(str)  # errors without an on_error callback
    torch_ready = Signal(str)  # the device picked, once torch is loaded on the worker thread

    def __init__(self, requested_device: str = "auto", parent: QObject | None = None, start: bool = True) -> None:
        super().__init__(parent)
        self.requested_device = requested_device
        self.device = "cpu"  # resolved on the worker thread once torch is loaded (see torch_ready)
        self._ids = itertools.count(1)
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._requests: dict[int, _Request] = {}  # submitted and not yet ended (GUI-thread view)
        self._latest: dict[str, int] = {}
        self._stopping = False
        self._event.connect(self._dispatch)
        self._thread = threading.Thread(target=self._run, name="vision-explorer-worker", daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        """Start the worker thread (it imports torch first). The window defers this until it has painted."""
        if self._thread.ident is None and not self._stopping:
            self._thread.start()

    # ---- GUI-thread API -------------------------------------------------------------------
    def submit(self, fn: Callable, *args: Any, channel: str, title: str = "Working",
               on_result: Callback = None, on_partial: Callback = None, on_progress: Callback = None,
               on_error: Callback = None, **kwargs: Any) -> int:
        """Queue job fn(ctx, *args, **kwargs); cancels the older request of this channel. Returns its id."""
        if self._stopping:
            return -1
        self.cancel(channel)
        rid = next(self._ids)
        req = _Request(rid, channel, title, fn, args, kwargs, JobContext(),
                       on_result, on_partial, on_progress, on_error)
        self._requests[rid] = req
        self._latest[channel] = rid
        self._queue.put(req)
        return rid

    def cancel(self, channel: str) -> None:
        for req in list(self._requests.values()):
            if req.channel == channel:
                req.ctx.cancel_event.set()

    def cancel_request(self, request_id: int) -> None:
        req = self._requests.get(request_id)
        if req is not None:
            req.ctx.cancel_event.set()

    def cancel_all(self) -> None:
        for req in list(self._requests.values()):
            req.ctx.cancel_event.set()

    def is_busy(self, channel: str | None = None) -> bool:
        """True while a request (of this channel, or any) is queued or running."""
        return any(channel is None or r.channel == channel for r in self._requests.values())

    def latest_id(self, channel: str) -> int | None:
        return self._latest.get(channel)

    def shutdown(self, timeout: float = 2.5) -> bool:
        """Cancel everything and stop the thread; True if it ended within timeout."""
        self._stopping = True
        self.cancel_all()
        self._queue.put(None)
        if self._thread.ident is None or not self._thread.is_alive():
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---- delivery on the GUI thread -------------------------------------------------------
    @Slot(object)
    def _dispatch(self, event: JobEvent) -> None:
        req = self._requests.get(event.request_id)
        if req is None:
            return
        current = self._latest.get(req.channel) == req.request_id and not req.ctx.cancelled
        kind = event.kind
        if kind == "started":
            self.job_started.emit(req.request_id, req.title)
            return
        if kind in ("result", "error", "cancelled"):
            del self._requests[req.request_id]
            self.job_ended.emit(req.request_id)
        if not current and kind != "cancelled":
            return  # superseded or cancelled: drop its results
        self._deliver(req, kind, event.payload)

    def _deliver(self, req: _Request, kind: str, payload: Any) -> None:
        try:
            if kind == "progress":
                self.job_progress.emit(req.request_id, payload)
                if req.on_progress:
                    req.on_progress(payload)
            elif kind == "partial" and req.on_partial:
                req.on_partial(payload)
            elif kind == "result" and req.on_result:
                req.on_result(payload)
            elif kind == "error":
                if req.on_error:
                    req.on_error(payload)
                else:
                    self.error_message.emit(payload)
        except Exception as exc:  # a view's bug must not kill the app
            traceback.print_exc()
            self.error_message.emit(f"Showing the result of '{req.title}' failed: {type(exc).__name__}: {exc}")

    # ---- the worker thread ----------------------------------------------------------------
    def _run(self) -> None:
        import torch  # loaded here, after the window has appeared
        import torchvision  # noqa: F401  (whole, before any job: jobs' helper threads then never race its imports)

        from models.device import pick_device

        try:
            self.device = pick_device(self.requested_device)
        except ValueError as exc:
            self.device = pick_device(None)
            self.error_message.emit(f"{exc} Using {self.device}.")
        self.torch_ready.emit(self.device)
        active: list[_Request] = []
        while True:
            try:
                while True:  # take new requests; block only when idle
                    item = self._queue.get(block=not active)
                    if item is None:
                        self._finish_all(active)
                        return
                    active.append(item)
            except queue.Empty:
                pass
            for req in list(active):
                if not self._step(req, torch):
                    active.remove(req)

    def _step(self, req: _Request, torch) -> bool:
        """Advance one job by one yield; False when it has ended."""
        emit = self._event.emit
        if req.ctx.cancelled:
            self._close(req)
            emit(JobEvent(req.request_id, req.channel, "cancelled"))
            return False
        saved = torch.is_grad_enabled()
        torch.set_grad_enabled(req.grad_enabled)
        try:
            if req.generator is None:
                req.ctx.device = self.device  # the device at the time the job starts
                emit(JobEvent(req.request_id, req.channel, "started"))
                req.generator = req.fn(req.ctx, *req.args, **req.kwargs)
                if not hasattr(req.generator, "__next__"):  # a plain function: its return is the result
                    emit(JobEvent(req.request_id, req.channel, "result", req.generator))
                    return False
            item = next(req.generator)
            req.grad_enabled = torch.is_grad_enabled()
            kind = "progress" if isinstance(item, Progress) else "partial"
            emit(JobEvent(req.request_id, req.channel, kind, item))
            return True
        except StopIteration as stop:
            emit(JobEvent(req.request_id, req.channel, "result", stop.value))
        except JobCancelled:
            emit(JobEvent(req.request_id, req.channel, "cancelled"))
        except Exception as exc:
            if not isinstance(exc, UserFacingError):
                traceback.print_exc(file=sys.stderr)
            emit(JobEvent(req.request_id, req.channel, "error", describe_error(exc, req.title)))
        finally:
            torch.set_grad_enabled(saved)
        return False

    def _close(self, req: _Request) -> None:
        if req.generator is not None and hasattr(req.generator, "close"):
            try:
                req.generator.close()
            except Exception:
                pass

    def _finish_all(self, active: list[_Request]) -> None:
        for req in active:
            self._close(req)

"""The worker service: the one place where model work runs off the GUI thread.

Jobs (generator functions from models/, see models/jobs.py) run on ONE worker thread, so only one
touches the GPU at a time. Several jobs may be active at once (a GAN training run and an image
forward): the thread steps them round-robin, one yield each, saving and restoring each job's torch
grad mode across the switch. A new submit in a channel cancels the older request of that channel,
and results of superseded requests are dropped. Callbacks run on the GUI thread with the payload.
torch is imported on the worker thread, after the window is up.

Loads (a job yields ``models.jobs.Load(fn)``) run on their own daemon loader thread, never on the GPU
job thread: while one waits on the disk or the network the other jobs keep stepping. The job is parked
until fn returns, then resumed on the worker thread with fn's result (or fn's exception raised inside
it). Cancelling a parked job ends it at once (job_ended follows on the next event-loop turn) and its
load's result is thrown away when it arrives; shutdown never waits for a load.

While any job runs or loads, the GIL switch interval is short (GIL_SWITCH_S instead of Python's 5 ms): the GUI
thread releases the GIL in every call into Qt and needs it back after each, and with the default each of those
waits could last 5 ms while a job computes in Python (a redraw of 10-20 calls became a 50-100 ms stall).
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

from PySide6.QtCore import QObject, Qt, Signal, Slot

from models.errors import JobCancelled, UserFacingError
from models.jobs import JobContext, Load, Progress

Callback = Callable[[Any], None] | None
GIL_SWITCH_S = 0.0005  # seconds; see the module docstring


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
    loading: bool = False  # parked while its Load runs on a loader thread (guarded by the service's lock)
    send_value: Any = None  # what the next step sends into the generator (a load's result)
    throw_exc: BaseException | None = None  # or raises inside it (a load's exception)


@dataclass(frozen=True)
class _Loaded:
    """A loader thread's answer, queued to the worker thread."""

    request_id: int
    value: Any = None
    error: BaseException | None = None


_WAKE = object()  # queued after a cancel: the worker thread closes cancelled parked jobs now
_STEPPED, _PARKED, _ENDED = "stepped", "parked", "ended"


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
    _ended_now = Signal(int)  # a parked request cancelled on the GUI thread (queued: job_ended next turn)
    error_message = Signal(str)  # errors without an on_error callback
    torch_ready = Signal(str)  # the device picked, once torch is loaded (emitted on the GUI thread)
    _torch_loaded = Signal(str)  # worker thread -> torch_ready, queued: connected before the thread starts

    def __init__(self, requested_device: str = "auto", parent: QObject | None = None, start: bool = True) -> None:
        super().__init__(parent)
        self.requested_device = requested_device
        self.device = "cpu"  # resolved on the worker thread once torch is loaded (see torch_ready)
        self._ids = itertools.count(1)
        self._queue: queue.Queue[Any] = queue.Queue()  # _Request | _Loaded | _WAKE | None (stop)
        self._requests: dict[int, _Request] = {}  # submitted and not yet ended (GUI-thread view)
        self._latest: dict[str, int] = {}
        self._stopping = False
        self._lock = threading.Lock()  # a request's loading flag vs its cancel
        self._event.connect(self._dispatch)
        self._ended_now.connect(self.job_ended, Qt.ConnectionType.QueuedConnection)
        # torch_ready goes out on the GUI thread's next turn: a receiver connected right after this
        # constructor (AppContext) gets it even when torch was already imported and the thread is quick
        self._torch_loaded.connect(self.torch_ready, Qt.ConnectionType.QueuedConnection)
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
                self._cancel(req)

    def cancel_request(self, request_id: int) -> None:
        req = self._requests.get(request_id)
        if req is not None:
            self._cancel(req)

    def cancel_all(self) -> None:
        for req in list(self._requests.values()):
            self._cancel(req)

    def _cancel(self, req: _Request) -> None:
        """Set the cancel flag; a request parked on a load ends now (nothing of it is delivered any more)."""
        with self._lock:
            req.ctx.cancel_event.set()
            parked = req.loading
        if parked and self._requests.pop(req.request_id, None) is not None:
            self._ended_now.emit(req.request_id)
        self._queue.put(_WAKE)

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
        self._torch_loaded.emit(self.device)
        active: list[_Request] = []
        parked: dict[int, _Request] = {}  # waiting for their load
        idle_switch = sys.getswitchinterval()
        while True:
            try:
                while True:  # take new requests and finished loads; block only when idle
                    item = self._queue.get(block=not active)
                    if item is None:
                        self._finish_all(active + list(parked.values()))
                        sys.setswitchinterval(idle_switch)
                        return
                    if isinstance(item, _Request):
                        active.append(item)
                    elif isinstance(item, _Loaded) and item.request_id in parked:
                        req = parked.pop(item.request_id)
                        req.send_value, req.throw_exc = item.value, item.error
                        active.append(req)
            except queue.Empty:
                pass
            sys.setswitchinterval(min(idle_switch, GIL_SWITCH_S) if active or parked else idle_switch)
            for rid, req in list(parked.items()):
                if req.ctx.cancelled:  # its load may still run: the result will be dropped
                    del parked[rid]
                    self._close(req)
                    self._event.emit(JobEvent(rid, req.channel, "cancelled"))
            for req in list(active):
                state = self._step(req, torch)
                if state != _STEPPED:
                    active.remove(req)
                if state == _PARKED:
                    parked[req.request_id] = req
            if not active and not parked:
                sys.setswitchinterval(idle_switch)

    def _step(self, req: _Request, torch) -> str:
        """Advance one job by one yield: _STEPPED, _PARKED (its Load now runs on a loader thread) or _ENDED."""
        emit = self._event.emit
        with self._lock:
            cancelled = req.ctx.cancelled
            req.loading = False
        if cancelled:
            self._close(req)
            emit(JobEvent(req.request_id, req.channel, "cancelled"))
            return _ENDED
        saved = torch.is_grad_enabled()
        torch.set_grad_enabled(req.grad_enabled)
        try:
            if req.generator is None:
                req.ctx.device = self.device  # the device at the time the job starts
                emit(JobEvent(req.request_id, req.channel, "started"))
                req.generator = req.fn(req.ctx, *req.args, **req.kwargs)
                if not hasattr(req.generator, "__next__"):  # a plain function: its return is the result
                    emit(JobEvent(req.request_id, req.channel, "result", req.generator))
                    return _ENDED
            exc, req.throw_exc = req.throw_exc, None
            value, req.send_value = req.send_value, None
            item = req.generator.throw(exc) if exc is not None else req.generator.send(value)
            req.grad_enabled = torch.is_grad_enabled()
            if isinstance(item, Load):
                return self._park(req, item)
            kind = "progress" if isinstance(item, Progress) else "partial"
            emit(JobEvent(req.request_id, req.channel, kind, item))
            return _STEPPED
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
        return _ENDED

    def _park(self, req: _Request, load: Load) -> str:
        """Start load.fn on a daemon loader thread; the job waits (parked) for its answer."""
        with self._lock:
            cancelled = req.ctx.cancelled
            req.loading = not cancelled
        if cancelled:  # cancelled while it ran up to the Load: don't start the load
            self._close(req)
            self._event.emit(JobEvent(req.request_id, req.channel, "cancelled"))
            return _ENDED
        self._event.emit(JobEvent(req.request_id, req.channel, "progress", Progress(None, load.message)))
        threading.Thread(target=self._load, args=(req.request_id, load.fn), daemon=True,
                         name=f"vision-explorer-loader-{req.request_id}").start()
        return _PARKED

    def _load(self, request_id: int, fn: Callable[[], Any]) -> None:
        """On a loader thread: run the load and queue its answer (dropped if nobody waits for it any more)."""
        try:
            answer = _Loaded(request_id, fn())
        except BaseException as exc:  # raised inside the job on the worker thread
            answer = _Loaded(request_id, error=exc)
        if not self._stopping:
            self._queue.put(answer)

    def _close(self, req: _Request) -> None:
        if req.generator is not None and hasattr(req.generator, "close"):
            try:
                req.generator.close()
            except Exception:
                pass

    def _finish_all(self, active: list[_Request]) -> None:
        for req in active:
            self._close(req)

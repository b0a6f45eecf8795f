"""The worker service: results on the GUI thread, stale ones dropped, cancel, errors, shutdown."""
import threading
import time

import pytest
from PySide6.QtCore import QThread

from app.worker_service import WorkerService
from models.errors import CheckpointError
from models.jobs import Progress


@pytest.fixture
def service(qtbot):
    svc = WorkerService("cpu")
    yield svc
    svc.shutdown()


def _steps(ctx, n, delay=0.0, value=None):
    for i in range(n):
        time.sleep(delay)
        ctx.check_cancelled()
        yield Progress((i + 1) / n, f"step {i + 1}")
        yield {"step": i, "thread": threading.current_thread().name}
    return value if value is not None else n


def test_partials_progress_and_result_arrive_on_the_gui_thread(qtbot, service):
    seen, progress, threads = [], [], []
    done = []
    service.submit(_steps, 3, channel="a", on_partial=lambda p: (seen.append(p), threads.append(QThread.currentThread())),
                   on_progress=progress.append, on_result=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=30000)
    assert done == [3]
    assert [p["step"] for p in seen] == [0, 1, 2]
    assert all(p["thread"] == "vision-explorer-worker" for p in seen)  # ran off the GUI thread
    assert all(t is QThread.currentThread() for t in threads)  # delivered on the GUI thread
    assert progress[-1].fraction == 1.0
    assert not service.is_busy()


def test_a_newer_request_supersedes_the_older_one_in_its_channel(qtbot, service):
    results = []
    service.submit(_steps, 50, 0.02, "old", channel="vit", on_result=results.append)
    service.submit(_steps, 2, 0.0, "new", channel="vit", on_result=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=30000)
    qtbot.wait(200)
    assert results == ["new"]


def test_other_channels_run_side_by_side(qtbot, service):
    results = []
    service.submit(_steps, 20, 0.01, "train", channel="gan", on_result=results.append)
    service.submit(_steps, 1, 0.0, "forward", channel="vit", on_result=results.append)
    qtbot.waitUntil(lambda: len(results) == 2, timeout=30000)
    assert results == ["forward", "train"]  # the short job did not wait for the long one


def test_cancel_stops_a_job_between_steps(qtbot, service):
    results, partials = [], []
    service.submit(_steps, 1000, 0.01, channel="c", on_result=results.append, on_partial=partials.append)
    qtbot.waitUntil(lambda: len(partials) >= 2, timeout=30000)
    service.cancel("c")
    qtbot.waitUntil(lambda: not service.is_busy("c"), timeout=5000)
    assert results == [] and len(partials) < 1000


def _fails(ctx, exc):
    yield Progress(0.0)
    raise exc


def test_errors_become_messages(qtbot, service):
    import torch

    errors = []
    service.submit(_fails, CheckpointError("This checkpoint does not fit X."), channel="e", on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=30000)
    assert errors == ["This checkpoint does not fit X."]
    with qtbot.waitSignal(service.error_message, timeout=30000) as blocker:
        service.submit(_fails, torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
                       title="Running ViT-L/16", channel="e")
    assert "GPU ran out of memory" in blocker.args[0] and "CPU" in blocker.args[0]
    with qtbot.waitSignal(service.error_message, timeout=30000) as blocker:
        service.submit(_fails, ValueError("bad shape"), title="Sampling", channel="e")
    assert blocker.args[0] == "Sampling failed: ValueError: bad shape"


def test_grad_mode_is_kept_per_job_across_interleaving(qtbot, service):
    import torch

    def inference(ctx):
        with torch.no_grad():
            for _ in range(5):
                yield "no-grad step"
        return "inference done"

    def training(ctx):
        modes = []
        for _ in range(5):
            modes.append(torch.is_grad_enabled())
            yield "train step"
        return modes

    results = {}
    service.submit(inference, channel="i", on_result=lambda r: results.setdefault("i", r))
    service.submit(training, channel="t", on_result=lambda r: results.setdefault("t", r))
    qtbot.waitUntil(lambda: len(results) == 2, timeout=30000)
    assert results["t"] == [True] * 5


def test_shutdown_cancels_running_jobs_quickly(qtbot):
    svc = WorkerService("cpu")
    started = []
    svc.submit(_steps, 10**6, 0.01, channel="long", on_partial=started.append)
    qtbot.waitUntil(lambda: bool(started), timeout=60000)
    t0 = time.perf_counter()
    assert svc.shutdown(timeout=3.0)
    assert time.perf_counter() - t0 < 3.0

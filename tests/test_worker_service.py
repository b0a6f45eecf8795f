"""The worker service: results on the GUI thread, stale ones dropped, cancel, errors, shutdown."""
import sys
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QThread

from app.worker_service import GIL_SWITCH_S, WorkerService
from models.errors import CheckpointError
from models.jobs import Load, Progress


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


def test_torch_ready_reaches_a_receiver_connected_right_after_construction(qtbot):
    """AppContext connects torch_ready after WorkerService() started its thread; with torch already
    imported that thread used to emit before anyone listened, and the context never saw torch loaded."""
    import torch  # noqa: F401
    import torchvision  # noqa: F401

    svc = WorkerService("cpu")
    time.sleep(0.5)  # the worker thread is ready long before a receiver connects
    seen = []
    svc.torch_ready.connect(seen.append)
    try:
        qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    finally:
        svc.shutdown()
    assert seen == ["cpu"]


def test_shutdown_cancels_running_jobs_quickly(qtbot):
    svc = WorkerService("cpu")
    started = []
    svc.submit(_steps, 10**6, 0.01, channel="long", on_partial=started.append)
    qtbot.waitUntil(lambda: bool(started), timeout=60000)
    t0 = time.perf_counter()
    assert svc.shutdown(timeout=3.0)
    assert time.perf_counter() - t0 < 3.0


# ---- loads run beside the job queue (issue 11, item 2) ------------------------------------------------------
def _loads(ctx, fn, after=0):
    """A job that loads with fn (off the job queue), then does `after` steps; returns what fn returned."""
    value = yield Load(fn, "Loading a slow model")
    for _ in range(after):
        ctx.check_cancelled()
        yield "step"
    return value


@pytest.fixture
def gate():
    """A load that blocks until the test opens the gate (always opened at the end)."""
    event = threading.Event()
    yield event
    event.set()


def _blocked_load(gate, value="model"):
    def load():
        gate.wait()
        return value
    return load


def test_a_slow_load_does_not_hold_up_other_jobs(qtbot, service, gate):
    results, loading = {}, []
    service.submit(_loads, _blocked_load(gate), channel="vit", on_progress=loading.append,
                   on_result=lambda r: results.setdefault("vit", r))
    qtbot.waitUntil(lambda: any(p.message == "Loading a slow model" for p in loading), timeout=30000)
    partials = []
    service.submit(_steps, 30, 0.0, "trained", channel="gan", on_partial=partials.append,
                   on_result=lambda r: results.setdefault("gan", r))
    qtbot.waitUntil(lambda: "gan" in results, timeout=30000)  # the load still blocks: the gate is shut
    assert results == {"gan": "trained"} and len(partials) == 30
    assert service.is_busy("vit")
    gate.set()
    qtbot.waitUntil(lambda: "vit" in results, timeout=30000)
    assert results["vit"] == "model"  # the job resumed with what the load returned


def test_a_loaded_job_keeps_stepping_round_robin_with_others(qtbot, service):
    results = []
    service.submit(_loads, lambda: "m", 5, channel="a", on_result=results.append)
    service.submit(_steps, 5, 0.0, "b", channel="b", on_result=results.append)
    qtbot.waitUntil(lambda: len(results) == 2, timeout=30000)
    assert sorted(results) == ["b", "m"]


def test_a_failed_load_raises_inside_the_job(qtbot, service):
    def failing():
        raise CheckpointError("No weights at /nowhere.")

    def catches(ctx):
        try:
            yield Load(failing)
        except CheckpointError as exc:
            return f"caught: {exc}"

    results, errors = [], []
    service.submit(_loads, failing, channel="a", on_error=errors.append)
    service.submit(catches, channel="b", on_result=results.append)
    qtbot.waitUntil(lambda: bool(errors and results), timeout=30000)
    assert errors == ["No weights at /nowhere."] and results == ["caught: No weights at /nowhere."]


def test_cancelling_a_loading_job_takes_effect_at_once_and_drops_its_result(qtbot, service, gate):
    results, loading, ended = [], [], []
    service.job_ended.connect(ended.append)
    rid = service.submit(_loads, _blocked_load(gate), channel="vit", on_progress=loading.append,
                         on_result=results.append)
    qtbot.waitUntil(lambda: bool(loading), timeout=30000)
    service.cancel_request(rid)
    assert not service.is_busy("vit")  # at once, while the load still blocks
    qtbot.waitUntil(lambda: rid in ended, timeout=5000)
    assert not gate.is_set()
    gate.set()  # the load finishes after all: nothing of it arrives
    qtbot.wait(300)
    assert results == [] and ended.count(rid) == 1


def test_a_newer_request_supersedes_a_loading_one_at_once(qtbot, service, gate):
    results, loading = [], []
    service.submit(_loads, _blocked_load(gate, "old model"), channel="vit", on_progress=loading.append,
                   on_result=results.append)
    qtbot.waitUntil(lambda: bool(loading), timeout=30000)
    service.submit(_loads, lambda: "new model", channel="vit", on_result=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=30000)  # the old load still blocks
    gate.set()
    qtbot.wait(300)
    assert results == ["new model"]


def test_quick_successive_requests_with_loads_deliver_only_the_last_and_end_each_once(qtbot, service):
    results, ended = [], []
    service.job_ended.connect(ended.append)

    def load_after(delay, value):
        def load():
            time.sleep(delay)
            return value
        return load

    ids = [service.submit(_loads, load_after(0.05 * (i % 3), f"model {i}"), 2, channel="vit",
                          on_result=results.append) for i in range(12)]
    qtbot.waitUntil(lambda: set(ids) <= set(ended), timeout=60000)
    qtbot.wait(300)  # late loads of superseded requests arrive: nothing of them is delivered
    assert results == ["model 11"]
    assert sorted(ended) == ids and not service.is_busy()


def test_shutdown_returns_promptly_while_a_load_blocks(qtbot, gate):
    svc = WorkerService("cpu")
    loading = []
    svc.submit(_loads, _blocked_load(gate), channel="vit", on_progress=loading.append)
    qtbot.waitUntil(lambda: bool(loading), timeout=60000)
    assert svc.shutdown(timeout=3.0)  # the job thread ended; the loader thread is a daemon
    loaders = [t for t in threading.enumerate() if t.name.startswith("vision-explorer-loader")]
    assert loaders and all(t.daemon for t in loaders)


def test_the_vit_session_loads_off_the_job_queue(qtbot, service, gate, monkeypatch):
    """The real ViT job: while its model load blocks, another job runs to the end; then the forward arrives."""
    import dataclasses

    import models.registry as registry
    from app.vit_session import ModelChoice, vit_forward_job
    from models.vit import specs  # noqa: F401

    real_get = registry.get

    def slow_get(key):
        spec = real_get(key)

        def loader(source, device, progress=None):
            gate.wait()
            return spec.loader(source, device, progress)
        return dataclasses.replace(spec, loader=loader)

    monkeypatch.setattr(registry, "get", slow_get)
    image = (np.arange(64 * 64 * 3) % 251).astype(np.uint8).reshape(64, 64, 3)
    results = {}
    choice = ModelChoice("vit/bundled-shapes", "random", ref=f"not-cached-{time.time_ns()}")
    service.submit(vit_forward_job, choice, image, channel="vit", on_result=lambda r: results.setdefault("vit", r))
    service.submit(_steps, 3, 0.0, "other", channel="gan", on_result=lambda r: results.setdefault("gan", r))
    qtbot.waitUntil(lambda: "gan" in results, timeout=60000)
    assert "vit" not in results
    gate.set()
    qtbot.waitUntil(lambda: "vit" in results, timeout=120000)
    assert results["vit"].grid == (8, 8)


def test_the_diffusion_model_loads_off_the_job_queue(qtbot, service, gate, monkeypatch):
    import dataclasses

    import models.diffusion.app_jobs as app_jobs
    from models.registry import ModelSource, SourceKind

    real_get = app_jobs.get

    def slow_get(key):
        spec = real_get(key)

        def loader(source, device, progress=None):
            gate.wait()
            return spec.loader(spec.default_source, device, progress)
        return dataclasses.replace(spec, loader=loader)

    monkeypatch.setattr(app_jobs, "get", slow_get)
    source = ModelSource(SourceKind.BUNDLED, f"not-cached-{time.time_ns()}")  # a cache key nobody has used
    results = {}
    service.submit(app_jobs.load_model_job, app_jobs.BUNDLED_KEY, source, channel="diffusion-model",
                   on_result=lambda r: results.setdefault("diffusion", r))
    service.submit(_steps, 3, 0.0, "other", channel="gan", on_result=lambda r: results.setdefault("gan", r))
    qtbot.waitUntil(lambda: "gan" in results, timeout=60000)
    assert "diffusion" not in results
    gate.set()
    qtbot.waitUntil(lambda: "diffusion" in results, timeout=120000)
    assert results["diffusion"].num_train_steps > 0


def test_the_detector_loads_off_the_job_queue(qtbot, service, gate, monkeypatch):
    import dataclasses

    import models.registry as registry
    from models.detection.jobs import BUNDLED_KEY, detect_job

    real_get = registry.get

    def slow_get(key):
        spec = real_get(key)

        def loader(source, device, progress=None):
            gate.wait()
            return spec.loader(spec.default_source, device, progress)
        return dataclasses.replace(spec, loader=loader)

    monkeypatch.setattr(registry, "get", slow_get)
    image = np.full((64, 80, 3), 120, np.uint8)
    results = {}
    service.submit(detect_job, BUNDLED_KEY, f"not-cached-{time.time_ns()}", image, channel="detection",
                   on_result=lambda r: results.setdefault("detection", r))
    service.submit(_steps, 3, 0.0, "other", channel="gan", on_result=lambda r: results.setdefault("gan", r))
    qtbot.waitUntil(lambda: "gan" in results, timeout=60000)
    assert "detection" not in results
    gate.set()
    qtbot.waitUntil(lambda: "detection" in results, timeout=120000)
    assert results["detection"].warm_up  # the first forward after a load


_EXIT_SCRIPT = """
import sys, threading, time
from PySide6.QtWidgets import QApplication
from app.worker_service import GIL_SWITCH_S, WorkerService
from models.jobs import Load

app = QApplication([])
svc = WorkerService("cpu")
never = threading.Event()

def loads_forever(ctx):
    yield Load(never.wait)

def ignores_cancel(ctx):
    yield "first step"
    never.wait()  # one step that never ends: its cancel flag is never looked at
    yield "never"

svc.submit(loads_forever, channel="load")
svc.submit(ignores_cancel, channel="stuck")
while not any(t.name.startswith("vision-explorer-loader") for t in threading.enumerate()):
    app.processEvents()
    time.sleep(0.05)
time.sleep(0.5)
print("worker ended:", svc.shutdown(timeout=1.0), flush=True)
sys.exit(0)
"""


def test_the_process_exits_by_itself_with_a_load_in_flight_and_a_stuck_job():
    """What app/__main__.py relies on instead of os._exit: no thread of the service keeps the process alive."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "worker ended: False" in done.stdout  # the stuck job still ran, and the process ended anyway


def test_the_app_entry_point_never_calls_os_exit():
    import ast
    from pathlib import Path

    import app.__main__ as entry

    tree = ast.parse(Path(entry.__file__).read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "_exit"]
    assert calls == []


def test_a_slow_gan_run_file_load_does_not_hold_up_other_jobs(qtbot, service, gate, monkeypatch):
    """load_run ran inside the job, on the job queue: a slow disk held every other job."""
    import torch

    import models.gan.session as gan_session
    from models.gan.config import GanConfig, TrainConfig
    from models.gan.trainer import GanTrainer

    tiny = TrainConfig(gan=GanConfig(image_size=32, latent_size=8, width=4), batch_size=4, num_train_images=8,
                       grid_samples=4)
    trainer = GanTrainer(tiny, torch.zeros(8, 3, 32, 32, dtype=torch.uint8))

    def slow_load_run(path, device="cpu", data_ref=None, **_kw):
        gate.wait()
        return trainer

    monkeypatch.setattr(gan_session, "run_dataset", lambda path: "shapes")
    monkeypatch.setattr(gan_session, "load_run", slow_load_run)
    results = {}
    service.submit(gan_session.load_run_job, "slow-disk/run.safetensors", channel="gan",
                   on_result=lambda r: results.setdefault("gan", r))
    service.submit(_steps, 3, 0.0, "other", channel="vit", on_result=lambda r: results.setdefault("vit", r))
    qtbot.waitUntil(lambda: "vit" in results, timeout=30000)
    assert "gan" not in results and service.is_busy("gan")
    gate.set()
    qtbot.waitUntil(lambda: "gan" in results, timeout=30000)
    assert results["gan"].trainer is trainer


def test_a_slow_diffusion_checkpoint_load_does_not_hold_up_other_jobs(qtbot, service, gate, monkeypatch):
    """LiveSession.load ran inside the job: a slow disk held every other job."""
    from types import SimpleNamespace

    import models.diffusion.live as live

    loaded = (SimpleNamespace(step=7), live.LiveSettings(), None, None)

    def slow_read(path, device):
        gate.wait()
        return loaded

    monkeypatch.setattr(live, "read_checkpoint", slow_read)
    session, results = live.LiveSession(), {}
    service.submit(live.load_job, session, "slow-disk/x.pt", channel="diffusion-io",
                   on_result=lambda r: results.setdefault("diffusion", r))
    service.submit(_steps, 3, 0.0, "other", channel="gan", on_result=lambda r: results.setdefault("gan", r))
    qtbot.waitUntil(lambda: "gan" in results, timeout=30000)
    assert "diffusion" not in results and not session.started
    gate.set()
    qtbot.waitUntil(lambda: "diffusion" in results, timeout=30000)
    assert results["diffusion"] == 7 and session.trainer is loaded[0]


def _switch_intervals(ctx, n):
    seen = []
    for _ in range(n):
        seen.append(sys.getswitchinterval())
        yield {"seen": len(seen)}
    return seen


def test_jobs_run_with_a_short_gil_switch_interval_and_idle_restores_it(qtbot, service, gate):
    """The GUI thread gets the GIL back within GIL_SWITCH_S while a job computes (Python's 5 ms made redraws
    wait up to 5 ms per Qt call); with no job the interval is Python's again."""
    before = sys.getswitchinterval()
    assert before > GIL_SWITCH_S
    results = []
    service.submit(_switch_intervals, 5, channel="a", on_result=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=30000)
    assert results[0] == [GIL_SWITCH_S] * 5
    qtbot.waitUntil(lambda: not service.is_busy(), timeout=30000)
    qtbot.waitUntil(lambda: sys.getswitchinterval() == before, timeout=5000)
    # a job parked on a slow load keeps the short interval: its load thread competes for the GIL
    loading = []
    service.submit(_loads, _blocked_load(gate), channel="vit", on_progress=loading.append)
    qtbot.waitUntil(lambda: bool(loading), timeout=30000)
    qtbot.wait(50)
    assert sys.getswitchinterval() == GIL_SWITCH_S
    gate.set()
    qtbot.waitUntil(lambda: not service.is_busy(), timeout=30000)
    qtbot.waitUntil(lambda: sys.getswitchinterval() == before, timeout=5000)

"""Data-lab benchmarks (CPU), through the real data-hunger page and worker service (offscreen):

    python -m bench lab_live_throughput_ratio gui_max_stall_ms_lab lab_memory_growth_mb

- lab_live_throughput_ratio: training steps per second of one LabTrainer while the page trains it (curves
  drawn after every evaluation) against the same trainer trained by the bare job with nothing drawn,
  alternating 12 windows of 5 s of each (single 5 s windows differ by up to 30%: six gave 0.88 and 1.00 on one quiet machine) (the load's drift is shared); medians. A *tiny* ConvNeXt (dims 8, batch 8, an
  evaluation every 25 steps): many steps and redraws per second, the worst case for the view's overhead.
- gui_max_stall_ms_lab: the largest gap of a 10 ms heartbeat while four runs (the four bundled
  architectures, their real configs, batch 16) train round-robin and their curves move.
- lab_memory_growth_mb: RSS growth over 20,000 steps of live training through the page (a tiny ConvNeXt,
  batch 4, an evaluation every 200 steps: 100 curve points drawn), after a 1,000-step warm-up. Tiny, so that
  20,000 steps take a few minutes on 2 CPU cores.

The lab's images are a small pool (1,000 training, 500 held-out images of the same generator) instead of
the 18,000 the app generates once, so no benchmark waits ~20 s on data. Each result gives the 1-minute load.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

TINY_DIMS = (8, 8, 8, 8)


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 1)
    except OSError:
        return float("nan")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _wait(app, cond, timeout: float = 600.0) -> None:
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise TimeoutError("the data-hunger page did not get there in time")
        app.processEvents()
        time.sleep(0.002)


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _small_data():
    from models.lab.data import LabData
    from models.shapes import SHAPE_CLASSES
    from models.shapes_wide import wide_arrays

    return LabData(*wide_arrays(1000, 1)[:2], *wide_arrays(500, 2)[:2], tuple(SHAPE_CLASSES))


def tiny_trainer_job(ctx, spec, data_dir, cache_dir=None):
    """A LabTrainer of a tiny ConvNeXt (dims 8) on the small pool: the page's trainer_job for these benchmarks."""
    from app import lab_jobs
    from models.compare.convnext import ConvNeXtConfig
    from models.jobs import Load
    from models.lab.trainer import LabTrainer

    data = yield Load(lambda: lab_jobs.shared_lab_data(data_dir), "data")
    return (yield Load(lambda: LabTrainer(spec, data, ctx.device, config=ConvNeXtConfig(dims=TINY_DIMS)), "tiny"))


def _page(tiny: bool):
    """A LabHungerPage shown offscreen (no shipped grid, runs cached in a temp folder), torch loaded."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from app import lab_jobs
    from app.context import AppContext
    from app.tabs.lab_hunger_page import LabHungerPage

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(imageAxisOrder="row-major")
    threads = os.environ.get("BENCH_TORCH_THREADS")
    if threads:  # e.g. 1 on a shared, loaded machine (two OpenMP threads then wait on each other)
        import torch

        torch.set_num_threads(int(threads))
    data = _small_data()
    lab_jobs.shared_lab_data = lambda _folder: data
    folder = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    ctx = AppContext("cpu")
    page = LabHungerPage(ctx, shipped=folder / "none.json", cache_dir=folder / "runs", data_dir=folder / "img")
    if tiny:
        page.trainer_job = tiny_trainer_job
    page.resize(1360, 820)
    page.show()
    _wait(app, lambda: ctx.torch_loaded, 300)
    from app.gc_guard import freeze_startup_objects

    freeze_startup_objects()  # as the app does once torch is loaded
    return app, ctx, page


def _start(app, page, specs) -> list:
    page.session.set_plan(tuple(specs))
    page.start()
    _wait(app, lambda: all(k in page.session.slots and page.session.slots[k].trainer is not None
                           and len(page.session.records[k].points) >= 1 for k in (s.key for s in specs)))
    return [page.session.slots[s.key].trainer for s in specs]


def _close(app, ctx, page) -> None:
    page.shutdown()
    ctx.worker.shutdown()
    page.close()
    app.processEvents()


def _spin(app, seconds: float, gaps: list[float] | None = None) -> None:
    t0 = last = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        app.processEvents()
        now = time.perf_counter()
        if gaps is not None:
            gaps.append((now - last) * 1000)
        last = now
        time.sleep(0.005)


def lab_live_throughput_ratio(windows: int = 12, seconds: float = 5.0) -> dict:
    from app.lab_hunger_session import HungerState
    from app.lab_jobs import run_job
    from models.lab.control import LabControl
    from models.lab.records import LabRunSpec

    app, ctx, page = _page(tiny=True)
    spec = LabRunSpec("convnext", 1000, 0, 100_000, batch=8, eval_every=25, eval_size=200)
    (trainer,) = _start(app, page, [spec])
    live, bare = [], []
    try:
        for _ in range(windows):
            _spin(app, 1.0)
            s0, t0 = trainer.step, time.perf_counter()
            _spin(app, seconds)
            live.append((trainer.step - s0) / (time.perf_counter() - t0))
            page.pause_or_resume()  # pause
            _wait(app, lambda: page.session.state == HungerState.PAUSED)
            control = LabControl()
            ctx.worker.submit(run_job, trainer, control, None, channel="bench", title="bench")
            _spin(app, 1.0)
            s0, t0 = trainer.step, time.perf_counter()
            _spin(app, seconds)
            bare.append((trainer.step - s0) / (time.perf_counter() - t0))
            control.request_pause()
            _wait(app, lambda: not ctx.worker.is_busy("bench"))
            page.pause_or_resume()  # resume
    finally:
        _close(app, ctx, page)
    a, b = statistics.median(live), statistics.median(bare)
    return {"name": "lab_live_throughput_ratio", "value": round(a / b, 3), "unit": "ratio", "target": ">= 0.97",
            "live_steps_per_s": round(a, 2), "headless_steps_per_s": round(b, 2),
            "per_window": {"live": [round(x, 2) for x in live], "headless": [round(x, 2) for x in bare]},
            "statistic": f"median steps/s over {windows} windows of {seconds:.0f} s each, live and headless alternating", "model": f"tiny ConvNeXt dims {TINY_DIMS}, batch 8",
            "torch_threads": _threads(), "load_average_1m": _load()}


def gui_max_stall_ms_lab(seconds: float = 20.0) -> dict:
    from models.lab.records import ARCH_KEYS, LabRunSpec

    app, ctx, page = _page(tiny=False)
    specs = [LabRunSpec(a, 250, 0, 1000, batch=16, eval_every=10, eval_size=200) for a in ARCH_KEYS]
    build: list[float] = []
    t0 = time.perf_counter()
    page.session.set_plan(tuple(specs))
    page.start()
    while time.perf_counter() - t0 < 600 and not all(
            page.session.slots[s.key].trainer is not None and page.session.records[s.key].points for s in specs):
        _spin(app, 0.2, build)
    gaps: list[float] = []
    points0 = sum(len(page.session.records[s.key].points) for s in specs)
    try:
        _spin(app, seconds, gaps)
    finally:
        points = sum(len(page.session.records[s.key].points) for s in specs) - points0
        _close(app, ctx, page)
    gaps.sort()
    return {"name": "gui_max_stall_ms_lab", "value": round(gaps[-1], 1), "unit": "ms", "target": "<= 50",
            "statistic": f"max event-loop gap (5 ms sleeps) over {seconds:.0f} s while 4 runs train",
            "p99_ms": round(gaps[int(0.99 * (len(gaps) - 1))], 1), "curve_points_drawn": points,
            "max_gap_while_building_ms (model builds on loader threads)": round(max(build or [0.0]), 1),
            "runs": "convnext, vit-plain, vit-convstem, coatnet (bundled configs), batch 16, a point every 10 steps",
            "torch_threads": _threads(), "load_average_1m": _load()}


def lab_memory_growth_mb(steps: int = 20_000, warmup: int = 1_000) -> dict:
    from models.lab.records import LabRunSpec

    app, ctx, page = _page(tiny=True)
    spec = LabRunSpec("convnext", 1000, 0, warmup + steps, batch=4, eval_every=200, eval_size=100)
    (trainer,) = _start(app, page, [spec])
    t0 = time.perf_counter()
    try:
        _wait(app, lambda: trainer.step >= warmup, 3600)
        import gc

        gc.collect()
        before = _rss_mb()
        _wait(app, lambda: page.session.is_done(spec), 3600)
        gc.collect()
        app.processEvents()
        growth = _rss_mb() - before
    finally:
        _close(app, ctx, page)
    return {"name": "lab_memory_growth_mb", "value": round(growth, 1), "unit": "MB", "target": "<= 50",
            "statistic": f"RSS after {steps:,} live steps minus RSS after a {warmup:,}-step warm-up",
            "model": f"tiny ConvNeXt dims {TINY_DIMS}, batch 4, a point every 200 steps",
            "seconds": round(time.perf_counter() - t0, 1), "torch_threads": _threads(), "load_average_1m": _load()}


BENCHMARKS = {"lab_live_throughput_ratio": lab_live_throughput_ratio, "gui_max_stall_ms_lab": gui_max_stall_ms_lab,
              "lab_memory_growth_mb": lab_memory_growth_mb}

"""GAN tab benchmarks: training speed with and without the live view, GUI stalls while training, memory
over 100,000 steps of the 2-D mode, curve redraws at 1,000,000 points, 2-D iterations per second.

Every figure is measured through the real tab and worker service (offscreen). Each result also gives the
1-minute load average: on a shared machine, wall-clock figures move with the load.
"""
from __future__ import annotations

import os
import time

SETTLE_S = 1.0


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 1)
    except OSError:
        return float("nan")


def _app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(imageAxisOrder="row-major")
    return app


def _wait(app, cond, timeout: float) -> None:
    end = time.perf_counter() + timeout
    while not cond() and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def _tab(new_run: bool = True):
    """A GanTab on a fresh context, shown offscreen once torch is loaded; with new_run, a new run of the
    default settings is ready."""
    from app.context import AppContext
    from app.gan_session import RunState
    from app.tabs.gan_tab import GanTab

    app = _app()
    ctx = AppContext("cpu")
    tab = GanTab(ctx)
    tab.resize(1280, 800)
    tab.show()
    _wait(app, lambda: ctx.torch_loaded, 120)
    if new_run:
        tab.image_page.reset()
        _wait(app, lambda: tab.image_page.session.state == RunState.READY, 120)
    return app, ctx, tab


def _train_for(app, tab, seconds: float, view: bool, gaps: list[float] | None = None) -> float:
    """Steps per second of the tab's run for `seconds`: through the tab (view) or a bare job (no view)."""
    from models.gan.control import TrainingControl
    from models.gan.job import train_job

    page = tab.image_page
    trainer = page.session.run
    control = page.control if view else TrainingControl()
    if view:
        page.start()
    else:
        control.clear()
        tab.ctx.worker.submit(train_job, trainer, control, channel="gan", title="bench")
    _wait(app, lambda: False, SETTLE_S)  # past the first grid and warm-up
    s0, t0 = trainer.step, time.perf_counter()
    last = t0
    while time.perf_counter() - t0 < seconds:
        app.processEvents()
        now = time.perf_counter()
        if gaps is not None:
            gaps.append((now - last) * 1000)
        last = now
        time.sleep(0.005)
    rate = (trainer.step - s0) / (time.perf_counter() - t0)
    (page.pause if view else control.request_pause)()
    _wait(app, lambda: not tab.ctx.worker.is_busy("gan") and not page.session.busy, 60)
    return rate


def gan_live_throughput() -> tuple[float, float, float]:
    """(ratio, steps/s with view, steps/s without), alternating 4 runs of each to share the load's drift."""
    app, ctx, tab = _tab()
    with_view, without = [], []
    try:
        for _ in range(4):
            with_view.append(_train_for(app, tab, 6.0, view=True))
            without.append(_train_for(app, tab, 6.0, view=False))
    finally:
        tab.shutdown()
        ctx.worker.shutdown()
    a, b = sum(with_view) / len(with_view), sum(without) / len(without)
    return a / b, a, b


def gan_live_throughput_ratio() -> dict:
    ratio, a, b = gan_live_throughput()
    return {"name": "gan_live_throughput_ratio", "value": round(ratio, 3), "unit": "ratio", "target": ">= 0.97",
            "with_view_steps_per_s": round(a, 2), "without_view_steps_per_s": round(b, 2), "load_avg": _load()}


def gan_max_stall_ms() -> dict:
    """Largest gap between two GUI event-loop turns (5 ms sleeps) while the tab trains and draws."""
    app, ctx, tab = _tab()
    gaps: list[float] = []
    try:
        _train_for(app, tab, 15.0, view=True, gaps=gaps)
    finally:
        tab.shutdown()
        ctx.worker.shutdown()
    gaps.sort()
    return {"name": "gan_max_stall_ms", "value": round(gaps[-1], 1), "unit": "ms", "target": "<= 50",
            "p99_ms": round(gaps[int(0.99 * (len(gaps) - 1))], 1), "load_avg": _load()}


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gan_memory_growth_mb(iterations: int = 100_000) -> dict:
    """RSS growth over 100,000 iterations of the 2-D job, 30 frames/s built as for the view (after warm-up)."""
    from models.gan.control import TrainingControl
    from models.gan.toy2d import ToyConfig, ToyGan, toy_job
    from models.jobs import JobContext, run_to_completion

    toy = ToyGan(ToyConfig())
    run_to_completion(toy_job, toy, TrainingControl(), max_iterations=2000)
    before = _rss_mb()
    t0 = time.perf_counter()
    gen = toy_job(JobContext(), toy, TrainingControl(), max_iterations=iterations)
    frames = sum(1 for _ in gen)  # frames are dropped as a view that drew them would
    growth = _rss_mb() - before
    rate = iterations / (time.perf_counter() - t0)
    return {"name": "gan_memory_growth_mb", "value": round(growth, 1), "unit": "MB", "target": "<= 50",
            "iterations": iterations, "frames": frames, "iterations_per_s": round(rate), "load_avg": _load()}


def gan_curves_fps_1m() -> dict:
    """Redraws per second of the tab's curves (6 series + diversity) holding 1,000,000 steps each."""
    import numpy as np

    from widgets.live_curves import LiveCurves

    app = _app()
    w = LiveCurves()
    for name, plot in (("G loss", "Losses"), ("D loss", "Losses"), ("D(x)", "D"), ("D(G(z))", "D"),
                       ("|grad G|", "Gradient norms"), ("|grad D|", "Gradient norms"), ("diversity", "Diversity")):
        w.add_series(name, plot=plot)
    w.resize(900, 700)
    w.show()
    n = 1_000_000
    rng = np.random.default_rng(0)
    steps = np.arange(1, n + 1)
    w.append(steps, *[rng.normal(1, 0.3, n) for _ in range(7)])
    app.processEvents()
    frames, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < 4.0:
        w.append(n + frames + 1, *[1.0] * 7)  # a new point each frame, so every curve really redraws
        w.redraw_now()
        w.graphics.repaint()
        app.processEvents()
        frames += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    w.close()
    return {"name": "gan_curves_fps_1m", "value": round(frames / wall, 1), "unit": "fps", "target": ">= 30",
            "points": 7 * n, "cpu_ms_per_frame": round(1000 * cpu / frames, 1), "load_avg": _load()}


def gan_2d_iterations_per_s() -> dict:
    """2-D mode through the tab: training iterations per second while the view shows ~30 frames per second."""
    app, ctx, tab = _tab(new_run=False)
    tab.show_view("2d")
    session = tab.toy_page.session
    tab.toy_page.toggle()  # Play
    _wait(app, lambda: False, SETTLE_S)
    i0, f0, t0, c0 = session.iteration, session.frames, time.perf_counter(), time.process_time()
    _wait(app, lambda: False, 8.0)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    its, fps = (session.iteration - i0) / dt, (session.frames - f0) / dt
    per_cpu_s = (session.iteration - i0) / max(cpu, 1e-9)
    tab.shutdown()
    ctx.worker.shutdown()
    return {"name": "gan_2d_iterations_per_s", "value": round(its), "unit": "it/s", "target": ">= 500",
            "view_fps": round(fps, 1), "iterations_per_cpu_s": round(per_cpu_s), "cpu_share": round(cpu / dt, 2),
            "load_avg": _load()}


BENCHMARKS = {
    "gan_live_throughput_ratio": gan_live_throughput_ratio,
    "gan_max_stall_ms": gan_max_stall_ms,
    "gan_memory_growth_mb": gan_memory_growth_mb,
    "gan_curves_fps_1m": gan_curves_fps_1m,
    "gan_2d_iterations_per_s": gan_2d_iterations_per_s,
}

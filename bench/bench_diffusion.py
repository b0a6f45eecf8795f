"""Diffusion tab benchmarks.

diffusion_capture_overhead_ratio: a DDIM run (50 steps, batch 16, guidance 2.5, the bundled sprite
  DDPM) with the whole trajectory captured and streamed as partial results, divided by the bare
  model calls for the same steps. CPU time of the process, one thread, median of interleaved rounds.
diffusion_scrub_ms: showing another step of a finished 1000-step run with a batch of 16 (three grids
  of 16 sprites: x_t, x0_hat, predicted noise), including Qt's repaint, offscreen. Median.
gui_max_stall_ms_diffusion: the largest gap of a 10 ms GUI heartbeat while the worker samples.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np


def _model():
    import torch
    torch.set_num_threads(1)
    from models.diffusion.bundled import WEIGHTS_PATH, load_unet_file
    from models.diffusion.specs import random_sprite_ddpm
    return load_unet_file(WEIGHTS_PATH) if WEIGHTS_PATH.is_file() else random_sprite_ddpm()


def _request():
    from models.diffusion.results import SamplingRequest
    return SamplingRequest(sampler="ddim", steps=50, batch=16, class_ids=tuple(range(6)), guidance=2.5, seed=0)


def diffusion_capture_overhead_ratio(rounds: int = 5) -> dict:
    import torch
    from models.diffusion.samplers import plan, sample_job
    from models.jobs import run_to_completion

    model, req = _model(), _request()
    timesteps = plan(model, req)
    labels = torch.as_tensor(np.resize(req.class_ids, req.batch))
    x = torch.randn(req.batch, 3, model.image_size, model.image_size)

    def bare() -> float:
        t0 = time.process_time()
        with torch.inference_mode():
            for t in timesteps:
                model.eps(x, int(t), labels, req.guidance, torch.tensor(float(model.schedule.alpha_bar[t])))
        return time.process_time() - t0

    def captured() -> float:
        t0 = time.process_time()
        run_to_completion(sample_job, model, req)  # keeps every partial, as the GUI would receive them
        return time.process_time() - t0

    bare()  # warm-up
    b, c = [], []
    for _ in range(rounds):
        b.append(bare())
        c.append(captured())
    ratio = statistics.median(c) / statistics.median(b)
    return {"name": "diffusion_capture_overhead_ratio", "value": round(ratio, 3), "unit": "x", "target": 1.10,
            "bare_s": round(statistics.median(b), 3), "captured_s": round(statistics.median(c), 3),
            "setup": f"DDIM {len(timesteps)} steps, batch {req.batch}, guidance {req.guidance}, {model.title}, 1 thread"}


def diffusion_scrub_ms(rounds: int = 200) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.diffusion_session import ReverseSession
    from models.diffusion.results import SamplingResult, Trajectory
    from widgets.diffusion_reverse import ReversePage

    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    steps, b = 1000, 16
    traj = Trajectory(timesteps=np.arange(steps - 1, -1, -1), x_t=rng.integers(0, 256, (steps + 1, b, 32, 32, 3), np.uint8),
                      eps_hat=rng.integers(0, 256, (steps, b, 32, 32, 3), np.uint8),
                      x0_hat=rng.integers(0, 256, (steps, b, 32, 32, 3), np.uint8),
                      labels=np.arange(b) % 6, class_names=("a",) * 6, sampler="ddpm", guidance=2.5)
    session = ReverseSession()
    page = ReversePage()

    def draw(pos: int) -> None:  # what the tab does when the scrubber moves
        f = session.frame(pos)
        page.show_grids(f.position, f.x_t, f.x0_hat, f.eps_hat)

    page.position_changed.connect(draw)
    page.resize(1100, 700)
    page.show()
    view = session.on_result(SamplingResult(traj, traj.x_t[-1], 1.0))
    page.show_run(view.new_run, view.maximum, view.available, view.labels, view.info)
    app.processEvents()
    times = []
    for pos in rng.integers(0, steps + 1, rounds):
        t0 = time.perf_counter()
        page.scrubber.set_position(int(pos))
        page.repaint()  # synchronous repaint of the grids
        app.processEvents()
        times.append((time.perf_counter() - t0) * 1000)
    page.close()
    return {"name": "diffusion_scrub_ms", "value": round(statistics.median(times), 2), "unit": "ms", "target": 16,
            "p95_ms": round(float(np.percentile(times, 95)), 2), "setup": "1000-step run, batch 16, 3 grids"}


def _sample_for_stall(ctx):
    from models.diffusion.samplers import sample_job
    model = _model()
    return (yield from sample_job(ctx, model, _request()))


def _warm(ctx):
    _model()
    yield None


def gui_max_stall_ms_diffusion() -> dict:
    from bench.gui_stall import max_heartbeat_gap_ms
    gap, seconds = max_heartbeat_gap_ms(_sample_for_stall, warmup_job=_warm)
    return {"name": "gui_max_stall_ms_diffusion", "value": round(gap, 1), "unit": "ms", "target": 50,
            "job_s": round(seconds, 1), "setup": "DDIM 50 steps, batch 16, guidance 2.5 in the worker"}


BENCHMARKS = {
    "diffusion_capture_overhead_ratio": diffusion_capture_overhead_ratio,
    "diffusion_scrub_ms": diffusion_scrub_ms,
    "gui_max_stall_ms_diffusion": gui_max_stall_ms_diffusion,
}

"""A slow model load beside a GAN training (issue 11, item 2): the GUI keeps its heartbeat and the GAN keeps stepping.

`gui_max_stall_ms_model_load`: the GAN tab trains with its live view (as in bench_gan) while the shared ViT
session loads an uncached ViT-B/16 (torchvision architecture, random weights: 86 M parameters built
through the registry, several seconds on a CPU) and runs it on a sample image. A 10 ms QTimer on the GUI
thread beats throughout; the figure is the largest gap between two beats from the request until the
load's loader thread has ended. Three runs (the model cache is emptied before each); the value is the
median, each run's gap, load seconds and GAN steps during the load are listed beside it, with
`baseline_max_gap_ms`: the same heartbeat for as long, with the training alone (what the machine gives).
"""
from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from pathlib import Path
from typing import Callable

from .bench_gan import SETTLE_S, _load, _tab, _wait

MODEL = "vit/torchvision-b16"
SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "samples" / "chelsea.jpg"
RUNS = 3


def _loading() -> bool:
    return any(t.name.startswith("vision-explorer-loader") for t in threading.enumerate())


def _one_run(session, trainer, start: Callable[[], None], expect_failure: bool = False) -> dict:
    """start() makes the ViT session load an uncached model (then run it) beside the training; the gaps."""
    from PySide6.QtCore import QEventLoop, QTimer

    from models.model_cache import MODEL_CACHE

    MODEL_CACHE.clear()
    beats: list[tuple[float, float, int]] = []  # (time, gap ms since the previous beat, GAN step)
    load_start: list[float] = []  # the first beat that saw the loader thread
    load_end: list[float] = []  # the first beat after it ended
    t0 = time.perf_counter()

    def beat() -> None:
        now = time.perf_counter()
        beats.append((now, (now - (beats[-1][0] if beats else t0)) * 1000.0, trainer.step))
        if _loading():
            load_start[:] = load_start or [now]
        elif load_start and not load_end:
            load_end.append(now)

    done = QEventLoop()
    arrived: list[object] = []

    def finish(result) -> None:
        arrived.append(result)
        done.quit()

    session.result_ready.connect(finish)
    session.failed.connect(finish)
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(beat)
    steps0 = trainer.step
    heartbeat.start()
    start()
    QTimer.singleShot(180_000, done.quit)
    done.exec()
    heartbeat.stop()
    session.result_ready.disconnect(finish)
    session.failed.disconnect(finish)
    if not arrived or isinstance(arrived[0], str) != expect_failure:
        raise RuntimeError(f"the ViT session did not answer as expected: {arrived[0] if arrived else 'timed out'}")
    end = load_end[0] if load_end else beats[-1][0]
    during = [b for b in beats if b[0] <= end] or beats[:1]
    load_s = end - t0
    steps = during[-1][2] - steps0
    return {"max_gap_ms": round(max(g for _, g, _ in during), 1), "load_s": round(load_s, 2),
            "gan_steps_during_load": steps, "gan_steps_per_s_during_load": round(steps / max(load_s, 1e-9), 1),
            "max_gap_ms_with_forward": round(max(g for _, g, _ in beats), 1),
            **({"message": arrived[0][:160]} if expect_failure else {})}


def _baseline(trainer, seconds: float) -> float:
    """The largest heartbeat gap over `seconds` of the same training without a load: what the machine gives."""
    from PySide6.QtCore import QEventLoop, QTimer

    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000.0)
        last[0] = now

    loop = QEventLoop()
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    heartbeat.stop()
    return round(max(gaps), 1)


def _offline_lookup(session, trainer, ref: str) -> dict:
    """The ViT session asked for an uncached Hugging Face id while the hub does not answer."""
    srv = socket.socket()  # listens and never answers: a network that swallows requests
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    saved = {k: os.environ.pop(k, None) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT")}
    os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{srv.getsockname()[1]}"
    try:
        return _one_run(session, trainer, lambda: session.set_model("vit/huggingface", "huggingface", ref), True)
    finally:
        srv.close()
        os.environ.pop("HF_ENDPOINT")
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def gui_max_stall_ms_model_load() -> dict:
    from app.image_io import load_image_file
    from app.vit_session import shared_session

    app, ctx, tab = _tab()
    runs = []
    try:
        session = shared_session(ctx)
        session.set_model(MODEL, "random")
        image = load_image_file(SAMPLE, max_side=512).pixels
        load_before = _load()
        page = tab.image_page
        page.start()
        _wait(app, lambda: False, SETTLE_S)
        trainer = page.session.run
        s0, t0 = trainer.step, time.perf_counter()
        _wait(app, lambda: False, 3.0)
        steps_per_s_before = (trainer.step - s0) / (time.perf_counter() - t0)
        def again() -> None:
            session.rerun()  # forget the last result: with the cache empty, the model loads again
            session.request(image)

        for _ in range(RUNS):
            run = _one_run(session, trainer, again)
            run["baseline_max_gap_ms"] = _baseline(trainer, run["load_s"])
            runs.append(run)
        offline = []  # the case: an uncached Hugging Face id, no network (was: 24 s, nothing else moved)
        for i in range(2):  # the first also imports transformers on the loader thread
            offline.append(_offline_lookup(session, trainer, f"someone/not-cached-vit-{i}"))
        page.pause()
        _wait(app, lambda: not ctx.worker.is_busy("gan") and not page.session.busy, 60)
    finally:
        tab.shutdown()
        ctx.worker.shutdown()
    gaps = [r["max_gap_ms"] for r in runs]
    return {"name": "gui_max_stall_ms_model_load", "value": statistics.median(gaps), "unit": "ms",
            "target": "<= 50", "runs": runs, "model": f"{MODEL} (random weights)",
            "gan_steps_per_s_before": round(steps_per_s_before, 1),
            "baseline_median_ms": statistics.median(r["baseline_max_gap_ms"] for r in runs),
            "offline_hub_lookups": offline,
            "gan_kept_stepping": all(r["gan_steps_during_load"] > 0 for r in runs), "load_avg_before": load_before,
            "load_avg": _load()}


BENCHMARKS = {"gui_max_stall_ms_model_load": gui_max_stall_ms_model_load}

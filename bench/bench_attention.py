"""Attention tab benchmarks: capture overhead, redraw time, GUI stall during a ViT-B/16 forward.

    python -m bench attention_capture_overhead_ratio attention_redraw_ms attention_redraw_p90_ms gui_max_stall_ms_vit
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

_MODELS: dict = {}


def _photo() -> np.ndarray:
    from pathlib import Path

    from PIL import Image

    path = Path(__file__).resolve().parent.parent / "assets" / "samples" / "chelsea.jpg"
    if path.is_file():
        return np.asarray(Image.open(path).convert("RGB"))
    return np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)


def _vit_b16():
    """torchvision ViT-B/16 with random weights, through the registry (cached for the other benchmarks)."""
    if "b16" not in _MODELS:
        import torch

        from models.registry import ModelSource, SourceKind, get
        from models.vit import specs  # noqa: F401

        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        _MODELS["b16"] = get("vit/torchvision-b16").load(ModelSource(SourceKind.RANDOM))
    return _MODELS["b16"]


def attention_capture_overhead_ratio() -> dict:
    """Median time of a captured forward (all attention + hidden states, to numpy) / a plain forward."""
    import torch

    from models.vit.capture import capture, square_resize, to_input

    vit = _vit_b16()
    image = _photo()
    plain_t, capture_t = [], []
    with torch.inference_mode():
        for i in range(9):  # interleaved, so load changes on a shared machine hit both alike
            t0 = time.perf_counter()
            vit.plain_forward(to_input(square_resize(image, 224), vit.preprocessing(224)))
            t1 = time.perf_counter()
            capture(vit, image)
            t2 = time.perf_counter()
            if i >= 2:  # warm-up
                plain_t.append(t1 - t0)
                capture_t.append(t2 - t1)
    # the fastest of 7 runs each: on a shared machine, other processes only ever add time
    ratio = min(capture_t) / min(plain_t)
    return {"name": "attention_capture_overhead_ratio", "value": round(ratio, 3), "unit": "x", "target": "<= 1.2",
            "statistic": "fastest of 7 interleaved runs each",
            "model": "torchvision ViT-B/16 (random weights), 224x224, CPU",
            "plain_ms": round(min(plain_t) * 1000, 1), "capture_ms": round(min(capture_t) * 1000, 1),
            "median_ratio": round(statistics.median(capture_t) / statistics.median(plain_t), 3)}


_REDRAW: dict = {}


def _redraw_times() -> list[float]:
    """Milliseconds from a control change (layer, head, patch, fusion, mode, discard) until the changed widgets
    have painted (the event loop delivers their update requests), on a ViT-B/16 result. Measured once per
    process: attention_redraw_ms and attention_redraw_p90_ms are two figures of the same run."""
    if "times" in _REDRAW:
        return _REDRAW["times"]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.context import AppContext
    from app.tabs.attention_tab import AttentionTab
    from models.vit.capture import capture

    app = QApplication.instance() or QApplication([])
    result = capture(_vit_b16(), _photo())
    ctx = AppContext(start_worker=False)
    tab = AttentionTab(ctx)
    tab.resize(1400, 860)
    tab.show()
    tab.show_result(result)
    tab.session.maps.precompute()  # what the worker does right after a result arrives (no worker runs here)
    app.processEvents()
    changes = []
    for layer in range(12):
        changes.append(lambda l=layer: tab.layer_slider.setValue(l + 1))
        changes.append(lambda l=layer: tab.select_patch((l * 17) % 196))
        changes.append(lambda l=layer: tab.select_tile(l, l % 12))
        changes.append(lambda l=layer: tab.fusion_combo.setCurrentText(("mean", "max", "min")[l % 3]))
        changes.append(lambda l=layer: tab.mode_buttons[("cls", "rollout", "patch")[l % 3]].click())
        changes.append(lambda l=layer: tab.discard_slider.setValue((l % 4) * 0.2))
    times, cpu = [], []
    for change in changes:
        t0, c0 = time.perf_counter(), time.thread_time()
        change()
        app.processEvents()  # delivers the update requests: the changed widgets paint now
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    tab.shutdown()
    ctx.worker.shutdown()
    _REDRAW["times"] = times[6:]  # first round warms caches (rollout per fusion/discard is cached after)
    _REDRAW["cpu"] = cpu[6:]
    return _REDRAW["times"]


def _redraw_figures(times: list[float]) -> dict:
    cpu = _REDRAW["cpu"]  # CPU time of the GUI thread: what a redraw costs when no other process wants the cores
    return {"median_ms": round(statistics.median(times), 2), "p90_ms": round(float(np.percentile(times, 90)), 2),
            "max_ms": round(max(times), 2), "changes": len(times),
            "cpu_median_ms": round(statistics.median(cpu), 2), "cpu_p90_ms": round(float(np.percentile(cpu, 90)), 2),
            "model": "ViT-B/16 result (12 layers x 12 heads, 14x14 patches)",
            "load_average_1min": round(os.getloadavg()[0], 2), "cpu_cores": os.cpu_count()}


def attention_redraw_ms() -> dict:
    """Median redraw time after a control change (see _redraw_times)."""
    times = _redraw_times()
    return {"name": "attention_redraw_ms", "value": round(statistics.median(times), 2), "unit": "ms",
            "target": "<= 16", "statistic": "median over layer/head/patch/fusion/mode/discard changes",
            **_redraw_figures(times)}


def attention_redraw_p90_ms() -> dict:
    """90th percentile of the same redraw times: the slow redraws a user notices as a hitch."""
    times = _redraw_times()
    return {"name": "attention_redraw_p90_ms", "value": round(float(np.percentile(times, 90)), 2), "unit": "ms",
            "target": "<= 16", "statistic": "90th percentile over layer/head/patch/fusion/mode/discard changes",
            **_redraw_figures(times)}


def _build_b16(ctx):
    _vit_b16()
    return None


def _b16_capture_job(ctx):
    from models.vit.capture import capture_job

    return (yield from capture_job(ctx, _vit_b16(), _photo()))


def _sleep_job(ctx, seconds: float):
    """A job that only waits (holds no GIL): its heartbeat gaps are the machine's own scheduling noise."""
    time.sleep(seconds)
    return None


def gui_max_stall_ms_vit() -> dict:
    """Largest gap of a 10 ms GUI heartbeat while a ViT-B/16 captured forward runs in the worker service."""
    from bench.gui_stall import max_heartbeat_gap_ms

    gap, seconds = max_heartbeat_gap_ms(_b16_capture_job, warmup_job=_build_b16)
    baseline, _ = max_heartbeat_gap_ms(_sleep_job, seconds)
    return {"name": "gui_max_stall_ms_vit", "value": round(gap, 1), "unit": "ms", "target": "<= 50",
            "job_seconds": round(seconds, 2), "model": "torchvision ViT-B/16 (random weights), CPU",
            "baseline_max_gap_ms": round(baseline, 1),
            "baseline": "same heartbeat while a job only sleeps as long: the machine's scheduling noise"}


BENCHMARKS = {
    "attention_capture_overhead_ratio": attention_capture_overhead_ratio,
    "attention_redraw_ms": attention_redraw_ms,
    "attention_redraw_p90_ms": attention_redraw_p90_ms,
    "gui_max_stall_ms_vit": gui_max_stall_ms_vit,
}

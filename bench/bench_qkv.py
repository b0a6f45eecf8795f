"""Q/K/V view benchmark: a new query patch or head on a ViT-B/16 capture, until the changed widgets painted.

    python -m bench qkv_update_ms
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np


def _capture_b16():
    """torchvision ViT-B/16 with random weights (through the registry), one forward with Q/K/V hooks."""
    import torch

    from models.registry import ModelSource, SourceKind, get
    from models.vit import specs  # noqa: F401
    from models.vit.qkv import capture_qkv

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    model = get("vit/torchvision-b16").load(ModelSource(SourceKind.RANDOM))
    image = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    return capture_qkv(model, image)


def _page(ctx):
    """The Q/K/V page inside the Attention tab (its real size there), or alone if the tab has no such view."""
    from app.tabs.attention_tab import AttentionTab
    from app.tabs.qkv_page import QKVPage

    tab = AttentionTab(ctx)
    page = getattr(tab, "qkv_page", None)
    if page is None:
        page = QKVPage(ctx)
        tab.add_view("qkv", "Q, K, V step by step", page, page.controls)
    tab.resize(1360, 800)
    tab.show()
    tab.show_view("qkv")
    return tab, page


def qkv_update_ms() -> dict:
    """Median time from a new query patch or head (alternating) to the repainted view, ViT-B/16 capture."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from app.context import AppContext

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(imageAxisOrder="row-major")
    capture = _capture_b16()
    ctx = AppContext(start_worker=False)
    tab, page = _page(ctx)
    page.show_capture(capture)
    app.processEvents()
    gh, gw = capture.grid
    rng = np.random.default_rng(0)
    times, cpu = [], []
    for i in range(70):
        if i % 2:
            change = lambda: page.select_patch(int(rng.integers(gh)), int(rng.integers(gw)))  # noqa: E731
        else:
            change = lambda: page.head_slider.setValue(int(rng.integers(capture.num_heads)) + 1)  # noqa: E731
        t0, c0 = time.perf_counter(), time.process_time()
        change()
        app.processEvents()  # delivers the update requests: the changed widgets paint now
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    times, cpu = times[10:], cpu[10:]  # warm-up
    numpy_ms = []  # the per-query work alone (session frame: numpy, no widgets)
    for i in range(60):
        t0 = time.perf_counter()
        page.session.select(token=1 + i % (capture.num_tokens - 1), head=i % capture.num_heads)
        numpy_ms.append((time.perf_counter() - t0) * 1000)
    tab.shutdown()
    ctx.worker.shutdown()
    return {"name": "qkv_update_ms", "value": round(statistics.median(times), 2), "unit": "ms", "target": "<= 16",
            "statistic": "median over 60 alternating new-query-patch / new-head changes",
            "p90_ms": round(float(np.percentile(times, 90)), 2), "max_ms": round(max(times), 2),
            "cpu_median_ms": round(statistics.median(cpu), 2), "cpu_cores": os.cpu_count(),
            "session_frame_median_ms": round(statistics.median(numpy_ms[5:]), 2),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "model": "torchvision ViT-B/16 (random weights), 12 layers x 12 heads, 197 tokens, d_k 64"}


BENCHMARKS = {"qkv_update_ms": qkv_update_ms}

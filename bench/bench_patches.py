"""Patch embeddings tab: time to redraw after changing the layer or the clicked patch (no new forward).

ViT-B/16 at 224 px: 196 patch tokens + CLS, 12 layers x 12 heads, width 768. The arrays have the
contract's exact shapes (random values: the cost of PCA, similarity and drawing does not depend on
them). Each update = the slider move or click, the recompute (PCA, cosine similarity) and Qt's
handling of the resulting events (layouts, repaint of the changed views), offscreen, on the CPU.
``value`` is the larger of the two wall-clock medians (layer change, patch click); the
``*_cpu_*`` figures are the CPU time of the GUI thread (what an update costs when the cores are not
shared with other work), and ``layer_uncached_*`` a layer whose PCA the tab had not yet computed in
idle time after the forward.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np


def vit_b16_shaped_result(seed: int = 0):
    from models.vit.result import ViTForwardResult

    rng = np.random.default_rng(seed)
    grid, ps, layers, heads, d = (14, 14), 16, 12, 12, 768
    n = 1 + 196
    att = rng.random((layers, heads, n, n), dtype=np.float32)
    att /= att.sum(-1, keepdims=True)
    return ViTForwardResult(
        model_key="bench/vit_b_16", model_title="ViT-B/16 (bench arrays)",
        image=(rng.random((224, 224, 3)) * 255).astype(np.uint8), patch_size=ps, grid=grid,
        prefix_tokens=("CLS",), attentions=att,
        hidden_states=rng.normal(size=(layers + 1, n, d)).astype(np.float32), logits=None, class_names=None,
        embedding_filters=rng.normal(size=(d, 3, ps, ps)).astype(np.float32),
        position_embeddings=rng.normal(size=(196, d)).astype(np.float32))


def patches_update_ms(rounds: int = 30) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("VISION_EXPLORER_SETTINGS", f"/tmp/ve-bench-patches-{os.getpid()}.ini")
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(imageAxisOrder="row-major")
    from app.context import AppContext
    from app.tabs.patches_tab import PatchesTab

    ctx = AppContext()
    tab = PatchesTab(ctx)
    tab.resize(1400, 860)
    tab.show()
    tab.show_result(vit_b16_shaped_result())
    app.processEvents()

    cpu_ms: list[float] = []

    def timed(action) -> float:
        time.sleep(0.1)  # a person changes the layer or clicks at most a few times a second
        t0, c0 = time.perf_counter(), time.thread_time()
        action()
        app.processEvents()  # layouts and the repaint of what changed, as the event loop does after a click
        cpu_ms.append((time.thread_time() - c0) * 1000)
        return (time.perf_counter() - t0) * 1000

    rng = np.random.default_rng(1)

    def next_layer():
        tab.layer_slider.setValue((tab.layer + 5) % 13)

    # 1. layer changes as a user makes them: the tab has filled its PCA cache in idle time after the forward
    tab.show_view("pca")
    deadline = time.monotonic() + 60
    while len(tab.session.pca_cache) < 13 and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    layer_ms = [timed(next_layer) for _ in range(rounds)]
    layer_cpu = cpu_ms[:]
    # 2. worst case: a layer whose PCA was never computed (a change right after the forward arrived)
    cold_ms = []
    for _ in range(rounds // 2):
        tab.session.pca_cache.clear()
        cold_ms.append(timed(next_layer))
    cold_cpu = cpu_ms[len(layer_cpu):]
    tab.shutdown()  # stops filling the PCA cache in idle time
    # 3. clicking patches in the similarity view
    tab.show_view("similarity")
    mark = len(cpu_ms)
    patch_ms = [timed(lambda: tab.set_selected(int(rng.integers(196)))) for _ in range(rounds)]
    patch_cpu = cpu_ms[mark:]
    tab.close()
    ctx.worker.shutdown()
    med = lambda xs: round(statistics.median(xs), 1)  # noqa: E731
    return {"name": "patches_update_ms", "value": max(med(layer_ms), med(patch_ms)), "unit": "ms",
            "target": "<= 50",
            "layer_median_ms": med(layer_ms), "patch_median_ms": med(patch_ms),
            "layer_uncached_median_ms": med(cold_ms),
            "layer_cpu_median_ms": med(layer_cpu), "patch_cpu_median_ms": med(patch_cpu),
            "layer_uncached_cpu_median_ms": med(cold_cpu),
            "max_ms": round(max(layer_ms + patch_ms + cold_ms), 1),
            "load_average_1min": round(os.getloadavg()[0], 2), "cpu_cores": os.cpu_count()}


BENCHMARKS = {"patches_update_ms": patches_update_ms}

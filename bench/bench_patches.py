"""Patch embeddings tab: time to redraw after changing the layer or the clicked patch (no new forward).

ViT-B/16 at 224 px: 196 patch tokens + CLS, 12 layers x 12 heads, width 768. The arrays have the
contract's exact shapes (random values: the cost of PCA, similarity and drawing does not depend on
them). Each update = recompute (PCA of an uncached layer, or cosine similarity) + a synchronous repaint
of the whole tab, offscreen, on the CPU. ``value`` is the wall-clock median; ``gui_thread_cpu_median_ms`` is the CPU time the GUI
thread spent (what the update costs when the cores are not shared with other work).
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
        t0, c0 = time.perf_counter(), time.thread_time()
        action()
        app.processEvents()
        tab.repaint()
        cpu_ms.append((time.thread_time() - c0) * 1000)
        return (time.perf_counter() - t0) * 1000

    names = list(tab.views)
    layer_ms, patch_ms = [], []
    rng = np.random.default_rng(1)
    tab.view_list.setCurrentRow(names.index("pca"))
    for i in range(rounds):
        tab._pca_cache.clear()  # worst case: a layer never shown before
        layer_ms.append(timed(lambda: tab.layer_slider.setValue((tab.layer + 5) % 13)))
    tab.view_list.setCurrentRow(names.index("similarity"))
    layer_cpu = list(cpu_ms)
    for i in range(rounds):
        patch_ms.append(timed(lambda: tab.set_selected(int(rng.integers(196)))))
    patch_cpu = cpu_ms[len(layer_cpu):]
    tab.close()
    ctx.worker.shutdown()
    all_ms = layer_ms + patch_ms
    return {"name": "patches_update_ms", "value": round(statistics.median(all_ms), 1), "unit": "ms",
            "target": "<= 50", "max_ms": round(max(all_ms), 1),
            "layer_median_ms": round(statistics.median(layer_ms), 1),
            "patch_median_ms": round(statistics.median(patch_ms), 1),
            "gui_thread_cpu_median_ms": round(statistics.median(cpu_ms), 1),
            "layer_cpu_median_ms": round(statistics.median(layer_cpu), 1),
            "patch_cpu_median_ms": round(statistics.median(patch_cpu), 1),
            "load_average_1min": round(os.getloadavg()[0], 2), "cpu_cores": os.cpu_count()}


BENCHMARKS = {"patches_update_ms": patches_update_ms}

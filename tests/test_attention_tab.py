"""The Attention tab driven like a user: an image arrives, sliders and clicks redraw from the cached forward."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from models.shapes import SHAPE_CLASSES
from models.vit.rollout import fuse_heads

IMAGE = np.random.default_rng(2).integers(0, 256, (80, 100, 3), dtype=np.uint8)


@pytest.fixture
def tab(qtbot, open_tab):
    from app.tabs.attention_tab import AttentionTab

    page = open_tab(AttentionTab, (1300, 800))
    page.session.set_model("vit/bundled-shapes", "random")  # the bundled architecture, random weights
    with qtbot.waitSignal(page.session.result_ready, timeout=120_000):
        page.set_image(IMAGE)
    return page


def _click(qtbot, graphics_view, view_box, x, y):
    """A real mouse click at data coordinates (x, y) of a pyqtgraph view box."""
    pos = graphics_view.mapFromScene(view_box.mapViewToScene(QPointF(x, y)))
    qtbot.mouseClick(graphics_view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))


def test_result_shows_overlay_grid_and_top5(tab):
    res = tab.result
    assert res.image.shape == (64, 64, 3) and res.grid == (8, 8)
    assert tab.image_view.overlay_item.isVisible() and tab.image_view.grid_item.isVisible()
    assert tab.image_view.colorbar.isVisible()
    names = [label.text() for label in tab.topk.names if label.isVisibleTo(tab)]
    assert len(names) == 5 and set(names) <= set(SHAPE_CLASSES)
    assert tab.explanation.text() and "Rollout" in tab.caption.text()
    assert not tab.is_busy()


def test_sliders_redraw_from_the_cached_forward(tab, qtbot):
    res = tab.result
    tab.mode_buttons["cls"].click()
    with qtbot.assertNotEmitted(tab.ctx.worker.job_started, wait=50):
        tab.layer_slider.setValue(2)
        tab.fusion_combo.setCurrentText("max")
    assert tab.result is res
    np.testing.assert_allclose(tab.rendered.heatmap.ravel(), fuse_heads(res.attentions[1], "max")[0, 1:])
    tab.single_head.setChecked(True)
    tab.head_slider.setValue(3)
    np.testing.assert_allclose(tab.rendered.heatmap.ravel(), res.attentions[1, 2, 0, 1:])


def test_click_a_patch_shows_what_it_attends_to_and_reverse(tab, qtbot):
    res = tab.result
    # patch (row 2, col 5) of the 8x8 grid of 8 px patches: its centre is at x = 44, y = 20
    _click(qtbot, tab.image_view, tab.image_view.view, 44, 20)
    assert tab.view.mode == "patch" and tab.view.patch == 2 * 8 + 5
    a = fuse_heads(res.attentions[-1], "mean")
    np.testing.assert_allclose(tab.rendered.heatmap.ravel(), a[1 + 21, 1:], atol=1e-6)
    assert tab.patch_frame.isVisible()
    tab.reverse_check.setChecked(True)
    np.testing.assert_allclose(tab.rendered.heatmap.ravel(), a[1:, 1 + 21], atol=1e-6)


def test_overview_click_selects_layer_and_head(tab, qtbot):
    res = tab.result
    # 4 layers x 4 heads of 8x8 tiles with 1 px gaps: tile (layer 3, head 2) starts at x = 9, y = 18
    _click(qtbot, tab.overview_view, tab.overview_view.plot.vb, 9 + 4, 18 + 4)
    assert (tab.view.layer, tab.view.head) == (2, 1)
    assert tab.layer_slider.value() == 3 and tab.head_slider.value() == 2
    np.testing.assert_allclose(tab.rendered.heatmap.ravel(), res.attentions[2, 1, 0, 1:])


def test_export_raw_attention(tab, tmp_path):
    tab.save_attention(str(tmp_path / "att.npy"))
    saved = np.load(tmp_path / "att.npy")
    assert saved.shape == tab.result.attentions.shape
    assert not tab.export_widget().grab().isNull()


def test_same_image_twice_runs_no_new_forward(tab, qtbot):
    with qtbot.assertNotEmitted(tab.ctx.worker.job_started, wait=100):
        tab.set_image(IMAGE.copy())
    assert not tab.is_busy()


def test_a_bad_model_gives_a_message_and_keeps_the_view(tab, qtbot, tmp_path):
    before = tab.result
    with qtbot.waitSignal(tab.ctx.error, timeout=60_000) as blocker:
        tab.session.set_model("vit/huggingface", "huggingface", str(tmp_path / "missing"))
    assert "missing" in blocker.args[0]
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=10_000)
    assert tab.result is before and tab.image_view.overlay_item.isVisible()

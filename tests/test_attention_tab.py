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
    page.vit.set_model("vit/bundled-shapes", "random")  # the bundled architecture, random weights
    with qtbot.waitSignal(page.vit.result_ready, timeout=120_000):
        page.set_image(IMAGE)
    # the heads are fused every other way on the worker right after the result: let that finish first
    qtbot.waitUntil(lambda: not page.ctx.worker.is_busy(), timeout=60_000)
    return page


def make_result(grid=(8, 8), ps=8, prefix=("CLS",), d=16, layers=3, heads=4, seed=0, classes=6):
    """A forward result of the contract's shapes from random numbers (softmax attention rows)."""
    from models.vit.result import ViTForwardResult

    rng = np.random.default_rng(seed)
    gh, gw = grid
    n = len(prefix) + gh * gw
    att = np.exp(rng.normal(size=(layers, heads, n, n)) * 2)
    att /= att.sum(-1, keepdims=True)
    return ViTForwardResult(
        model_key="test/random", model_title="Random test ViT",
        image=(rng.random((gh * ps, gw * ps, 3)) * 255).astype(np.uint8), patch_size=ps, grid=grid,
        prefix_tokens=tuple(prefix), attentions=att.astype(np.float32),
        hidden_states=rng.normal(size=(layers + 1, n, d)).astype(np.float32),
        logits=rng.normal(size=classes).astype(np.float32) if classes else None,
        class_names=tuple(SHAPE_CLASSES[:classes]) if classes else None,
        embedding_filters=None, position_embeddings=None)


@pytest.fixture
def drawn(open_tab):
    """A page drawing a made-up forward result (no model run): 8x8 patches of 8 px, 3 layers x 4 heads."""
    from app.tabs.attention_tab import AttentionTab

    page = open_tab(AttentionTab, (1300, 800))
    page.show_result(make_result())
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
    np.testing.assert_allclose(tab.frame.heatmap.ravel(), fuse_heads(res.attentions[1], "max")[0, 1:])
    tab.single_head.setChecked(True)
    tab.head_slider.setValue(3)
    np.testing.assert_allclose(tab.frame.heatmap.ravel(), res.attentions[1, 2, 0, 1:])


def test_click_a_patch_shows_what_it_attends_to_and_reverse(tab, qtbot):
    res = tab.result
    # patch (row 2, col 5) of the 8x8 grid of 8 px patches: its centre is at x = 44, y = 20
    _click(qtbot, tab.image_view, tab.image_view.view, 44, 20)
    assert tab.session.view.mode == "patch" and tab.session.view.patch == 2 * 8 + 5
    a = fuse_heads(res.attentions[-1], "mean")
    np.testing.assert_allclose(tab.frame.heatmap.ravel(), a[1 + 21, 1:], atol=1e-6)
    assert tab.image_view.outline_item.isVisible()
    tab.reverse_check.setChecked(True)
    np.testing.assert_allclose(tab.frame.heatmap.ravel(), a[1:, 1 + 21], atol=1e-6)


def test_overview_click_selects_layer_and_head(tab, qtbot):
    res = tab.result
    # 4 layers x 4 heads of 8x8 tiles with 1 px gaps: tile (layer 3, head 2) starts at x = 9, y = 18
    _click(qtbot, tab.overview_view, tab.overview_view.plot.vb, 9 + 4, 18 + 4)
    assert (tab.session.view.layer, tab.session.view.head) == (2, 1)
    assert tab.layer_slider.value() == 3 and tab.head_slider.value() == 2
    np.testing.assert_allclose(tab.frame.heatmap.ravel(), res.attentions[2, 1, 0, 1:])


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
        tab.vit.set_model("vit/huggingface", "huggingface", str(tmp_path / "missing"))
    assert "missing" in blocker.args[0]
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=10_000)
    assert tab.result is before and tab.image_view.overlay_item.isVisible()


def _move(qtbot, graphics_view, view_box, x, y):
    """A real mouse move to data coordinates (x, y) of a pyqtgraph view box."""
    pos = graphics_view.mapFromScene(view_box.mapViewToScene(QPointF(x, y)))
    qtbot.mouseMove(graphics_view.viewport(), QPoint(pos.x(), pos.y()))


def _key(qtbot, slider, key):
    """A real key press sent to the widget that has the keyboard focus after the slider is focused."""
    from PySide6.QtWidgets import QApplication

    slider.setFocus()
    qtbot.waitUntil(lambda: slider.isAncestorOf(QApplication.focusWidget()) or slider.hasFocus(), timeout=2000)
    qtbot.keyClick(QApplication.focusWidget(), key)


def test_decimal_sliders_step_with_arrow_keys_and_page_keys(drawn, qtbot):
    drawn.mode_buttons["rollout"].click()
    _key(qtbot, drawn.discard_slider, Qt.Key.Key_Right)
    assert drawn.session.view.discard_ratio == pytest.approx(0.01)
    _key(qtbot, drawn.discard_slider, Qt.Key.Key_PageUp)
    assert drawn.session.view.discard_ratio == pytest.approx(0.11)
    assert "discard ratio 0.11" in drawn.caption.text()
    _key(qtbot, drawn.opacity_slider, Qt.Key.Key_PageDown)
    assert drawn.opacity_slider.value() == pytest.approx(0.5)
    assert drawn.image_view.overlay_item.opacity() == pytest.approx(0.5)
    _key(qtbot, drawn.opacity_slider, Qt.Key.Key_Left)
    assert drawn.image_view.overlay_item.opacity() == pytest.approx(0.49)


def test_follow_the_mouse_keeps_a_clicked_patch_pinned(drawn, qtbot):
    view, vb = drawn.image_view, drawn.image_view.view
    assert drawn.hover_check.isChecked()
    drawn.mode_buttons["patch"].click()
    _move(qtbot, view, vb, 4, 4)  # patch (0, 0) of the 8x8 grid of 8 px patches
    qtbot.waitUntil(lambda: drawn.session.view.patch == 0, timeout=2000)
    _click(qtbot, view, vb, 44, 20)  # patch (2, 5): pinned
    assert drawn.session.view.patch == 21 and drawn.session.pinned and "pinned" in drawn.caption.text()
    _move(qtbot, view, vb, 60, 60)  # patch (7, 7)
    _move(qtbot, view, vb, 12, 52)  # patch (6, 1)
    qtbot.wait(50)
    assert drawn.session.view.patch == 21  # the click is not lost on the next mouse move
    _click(qtbot, view, vb, 44, 20)  # the pinned patch again: follow the mouse again
    assert not drawn.session.pinned
    _move(qtbot, view, vb, 60, 4)  # patch (0, 7)
    qtbot.waitUntil(lambda: drawn.session.view.patch == 7, timeout=2000)


def test_loading_placeholder_until_the_first_result(qtbot, open_tab):
    from app.tabs.attention_tab import AttentionTab

    page = open_tab(AttentionTab, (1300, 800))
    assert not page.maps.showing_content() and "Loading the model" in page.maps.message.text()
    assert page.maps.message.isVisible() and not page.image_view.isVisible() and not page.overview_view.isVisible()
    page.show_result(make_result())  # what the shared ViT session delivers
    assert page.maps.showing_content() and page.image_view.isVisible() and page.overview_view.isVisible()


def test_picture_keeps_its_place_when_the_texts_change(drawn, qtbot):
    geometry = drawn.image_view.geometry()
    box = drawn.image_view.view.sceneBoundingRect()
    texts = set()
    for action in (lambda: drawn.mode_buttons["cls"].click(), lambda: drawn.mode_buttons["patch"].click(),
                   lambda: _click(qtbot, drawn.image_view, drawn.image_view.view, 44, 20),
                   lambda: drawn.reverse_check.setChecked(True), lambda: drawn.mode_buttons["rollout"].click()):
        action()
        qtbot.wait(20)  # the layouts run
        texts.add((drawn.explanation.text(), drawn.share_label.text(), drawn.caption.text()))
        assert drawn.image_view.geometry() == geometry
        assert drawn.image_view.view.sceneBoundingRect() == box
    assert len({t[0] for t in texts}) >= 3 and "" in {t[1] for t in texts}  # the texts did change


def test_image_view_does_not_move_when_the_colour_bar_first_appears(qtbot):
    from widgets.image_view import ImageView

    view = ImageView()
    qtbot.addWidget(view)
    view.resize(500, 420)
    view.show()
    qtbot.waitExposed(view)
    view.set_image(IMAGE)
    qtbot.wait(20)
    before = view.view.sceneBoundingRect()
    assert not view.colorbar.isVisible()
    view.set_overlay(np.random.default_rng(0).random((8, 10)))
    qtbot.wait(20)
    assert view.colorbar.isVisible() and view.view.sceneBoundingRect() == before
    view.set_overlay(np.random.default_rng(0).random((8, 10)) * 12345.0)  # longer tick labels
    qtbot.wait(20)
    assert view.view.sceneBoundingRect() == before


def test_add_view_adds_a_sub_view_with_its_own_controls(qtbot, open_tab):
    from PySide6.QtWidgets import QLabel

    from app.tabs.attention_tab import AttentionTab

    page = open_tab(AttentionTab, (1300, 800))
    assert page.views == ("maps", "qkv", "qkv-toy") and page.view_bar.isVisible()  # the Q/K/V views (issue 14)
    extra, controls = QLabel("extra view"), QLabel("extra controls")
    page.add_view("extra", "Extra", extra, controls)
    assert page.views == ("maps", "qkv", "qkv-toy", "extra") and page.current_view() == "maps"
    page.show_view("extra")
    assert page.current_view() == "extra" and extra.isVisible() and controls.isVisible()
    assert not page.discard_slider.isVisible() and page.model_picker.isVisible()  # the picker stays
    assert page.export_widget() is extra
    page.view_bar.setCurrentIndex(0)  # the tab bar switches back
    assert page.current_view() == "maps" and page.discard_slider.isVisible() and not controls.isVisible()
    with pytest.raises(ValueError):
        page.add_view("extra", "Again", QLabel())
    with pytest.raises(ValueError, match="no view"):
        page.show_view("no-such-view")


def test_patch_explanation_names_the_outline_colours_drawn(drawn, qtbot):
    """The text said "outlined in blue" while a clicked (pinned) patch is drawn amber."""
    names = {"#4fc3f7": "blue", "#ffd54f": "amber"}  # the outline colours of widgets/image_view.py
    view, vb = drawn.image_view, drawn.image_view.view
    drawn.mode_buttons["patch"].click()
    _move(qtbot, view, vb, 4, 4)
    qtbot.waitUntil(lambda: drawn.session.view.patch == 0, timeout=2000)
    followed = names[view.outline_item.pen().color().name()]
    _click(qtbot, view, vb, 44, 20)
    assert drawn.session.pinned
    pinned = names[view.outline_item.pen().color().name()]
    assert followed != pinned
    text = drawn.explanation.text()
    assert f"outlined in {followed}" in text and f"outlined in {pinned}" in text


def test_export_dialogs_start_in_the_export_folder_and_write_the_confirmed_name(drawn, monkeypatch, tmp_path):
    """They proposed attention.png / attention.npy in the working folder, and np.save added ".npy" to a name
    confirmed without it."""
    from PySide6.QtWidgets import QFileDialog

    from app.folders import pictures_dir

    starts: list[str] = []
    answer = [""]
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, title, start, filt: (starts.append(start) or answer[0], filt))
    drawn._export_png()
    drawn._export_npy()
    assert starts == [str(pictures_dir() / "attention.png"), str(pictures_dir() / "attention.npy")]
    answer[0] = str(tmp_path / "raw")
    drawn._export_npy()
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]
    assert np.load(tmp_path / "raw").shape == drawn.session.result.attentions.shape
    drawn._export_png()  # the next dialog starts where the last export went
    assert starts[-1] == str(tmp_path / "attention.png")


def test_top5_note_is_a_wrapped_warning_shown_only_when_there_is_one(qtbot):
    from widgets.attention_topk import TopKBars

    bars = TopKBars()
    qtbot.addWidget(bars)
    bars.set_predictions([("triangle", 0.85)], "This image is unlike anything this model was trained on.")
    assert not bars.note.isHidden() and bars.note.wordWrap() and "unlike" in bars.note.text()
    bars.set_predictions([("triangle", 0.99)], "")
    assert bars.note.isHidden()

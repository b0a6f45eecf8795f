"""The Patch embeddings tab driven like a user: a forward result arrives, clicks on patches and points."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, Qt  # noqa: E402

from models.vit import tokens as T  # noqa: E402
from models.vit.result import ViTForwardResult  # noqa: E402


def make_result(grid=(5, 7), ps=8, prefix=("CLS", "REG0"), d=24, layers=3, heads=2, seed=0, filters=True):
    """A forward result of the contract's shapes from random numbers (softmax attention rows)."""
    rng = np.random.default_rng(seed)
    gh, gw = grid
    n = len(prefix) + gh * gw
    logits = rng.normal(size=(layers, heads, n, n)) * 2
    att = np.exp(logits)
    att /= att.sum(-1, keepdims=True)
    return ViTForwardResult(
        model_key="test/random", model_title="Random test ViT",
        image=(rng.random((gh * ps, gw * ps, 3)) * 255).astype(np.uint8), patch_size=ps, grid=grid,
        prefix_tokens=tuple(prefix), attentions=att.astype(np.float32),
        hidden_states=rng.normal(size=(layers + 1, n, d)).astype(np.float32), logits=None, class_names=None,
        embedding_filters=rng.normal(size=(d, 3, ps, ps)).astype(np.float32) if filters else None,
        position_embeddings=rng.normal(size=(gh * gw, d)).astype(np.float32) if filters else None)


@pytest.fixture
def tab(open_tab):
    from app.tabs.patches_tab import PatchesTab

    return open_tab(PatchesTab)


def click(qtbot, view, pos):
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(round(pos.x()), round(pos.y())))


def show(tab, qtbot, name):
    tab.show_view(name)
    qtbot.wait(10)


def test_click_patch_shows_cosine_similarity_of_its_token(tab, qtbot):
    r = make_result()
    tab.show_result(r)
    show(tab, qtbot, "similarity")
    view = tab.pages["similarity"].image_view
    target = 2 * 7 + 5  # row 2, col 5
    click(qtbot, view, view.widget_pos_of_patch(target))
    assert tab.selected == target
    expected = T.cosine_to(r.hidden_states[tab.layer], 2 + target)[2:].reshape(5, 7)
    np.testing.assert_allclose(view.overlay_item.image, expected, atol=1e-5)
    assert view.overlay_item.image[2, 5] == pytest.approx(1.0, abs=1e-5)
    rect = view.highlight.rect()
    assert (rect.x(), rect.y()) == (5 * 8, 2 * 8) and view.highlight.isVisible()


def test_pca_scatter_and_image_are_linked_both_ways(tab, qtbot):
    r = make_result(seed=3)
    tab.show_result(r)
    show(tab, qtbot, "pca")
    pca_view = tab.pages["pca"]
    # the scatter holds PC1/PC2 of the patch tokens at the shown layer
    res = T.pca(r.hidden_states[tab.layer, 2:], 3)
    x, y = pca_view.scatter.scatter.getData()
    np.testing.assert_allclose(x, res.scores[:, 0], atol=1e-4)
    np.testing.assert_allclose(y, res.scores[:, 1], atol=1e-4)
    # point -> patch: pick the point farthest from the others so the click hits only it
    xy = np.stack([x, y], 1)
    far = int(np.argmax(np.linalg.norm(xy - xy.mean(0), axis=1)))
    click(qtbot, pca_view.scatter, pca_view.scatter.widget_pos_of_point(far))
    assert tab.selected == far
    rr, cc = divmod(far, 7)
    rect = pca_view.image_view.highlight.rect()
    assert (rect.x(), rect.y()) == (cc * 8, rr * 8)
    # patch -> point
    click(qtbot, pca_view.image_view, pca_view.image_view.widget_pos_of_patch(0))
    assert tab.selected == 0
    rx, ry = pca_view.scatter.ring.getData()
    assert (rx[0], ry[0]) == pytest.approx((x[0], y[0]))


def test_layer_change_recomputes_pca_and_export_follows_layer(tab, qtbot):
    r = make_result(seed=5)
    tab.show_result(r)
    show(tab, qtbot, "pca")
    before = tab.pages["pca"].scatter.scatter.getData()[0].copy()
    tab.layer_slider.setValue(0)
    after = tab.pages["pca"].scatter.scatter.getData()[0]
    np.testing.assert_allclose(after, T.pca(r.hidden_states[0, 2:], 3).scores[:, 0], atol=1e-4)
    assert not np.allclose(before, after)
    out = tab.tokens_for_export()
    assert out.shape == (2 + 35, 24) and np.array_equal(out, r.hidden_states[0])


def test_every_view_draws_and_models_without_filters_get_a_message(tab, qtbot):
    tab.show_result(make_result(filters=False, prefix=()))
    for name in tab.views:
        show(tab, qtbot, name)
    assert "does not expose" in tab.pages["filters"].status.text()
    assert "no learned position" in tab.pages["position"].status.text()
    tab.show_result(make_result(grid=(4, 4)))
    for name in tab.views:
        show(tab, qtbot, name)
    pos = tab.pages["position"].maps_view.image_item.image
    assert pos.shape == (4 * 5 + 1, 4 * 5 + 1)
    assert tab.export_widget() is tab.pages["distance"]
    mad = tab.pages["distance"].plot.scatter.getData()[1]
    assert len(mad) == 3 * 2


def test_hover_in_sequence_strip_shows_that_token(tab, qtbot):
    r = make_result()
    tab.show_result(r)
    show(tab, qtbot, "patchify")
    view = tab.pages["patchify"]
    view.show_token(0)  # CLS
    assert "CLS" in view.info.text() and not view.image_view.highlight.isVisible()
    view.show_token(2 + 9)
    assert "row 1, column 2" in view.info.text()
    np.testing.assert_array_equal(view.block_view.image_item.image,
                                  (T.patch_block(r.image, r.grid, 8, 9) / 255.0 * 255).astype(np.uint8))


def test_tab_shows_the_shared_session_forward_without_its_own(tab, qtbot):
    from app.vit_session import shared_session

    session = shared_session(tab.ctx)
    session.set_model("vit/bundled-shapes", "random")
    submitted = []
    original = tab.ctx.worker.submit
    tab.ctx.worker.submit = lambda *a, **k: submitted.append(k.get("channel")) or original(*a, **k)
    image = (np.random.default_rng(0).random((80, 100, 3)) * 255).astype(np.uint8)
    with qtbot.waitSignal(session.result_ready, timeout=60_000):
        tab.set_image(image)
    assert tab.result is session.result and tab.result.grid == (8, 8)
    tab.ctx.worker.submit = original
    assert submitted == ["vit"]  # one forward, through the session's channel
    tab.set_image(image)  # same image again (the Attention tab asking too): no second forward
    assert not session.is_busy()
    show(tab, qtbot, "distance")
    assert len(tab.pages["distance"].plot.scatter.getData()[0]) == tab.result.num_layers * tab.result.num_heads


def test_similarity_to_a_special_token(tab, qtbot):
    r = make_result(seed=7)
    tab.show_result(r)
    show(tab, qtbot, "similarity")
    view = tab.pages["similarity"]
    assert [view.query.itemText(i) for i in range(view.query.count())] == ["clicked patch", "CLS", "REG0"]
    view.query.setCurrentIndex(1)  # CLS
    expected = T.cosine_to(r.hidden_states[tab.layer], 0)[2:].reshape(5, 7)
    np.testing.assert_allclose(view.image_view.overlay_item.image, expected, atol=1e-5)
    assert not view.image_view.highlight.isVisible() and "CLS" in view.status.text()
    click(qtbot, view.image_view, view.image_view.widget_pos_of_patch(3))  # a click makes the patch the query
    assert view.query.currentIndex() == 0 and tab.selected == 3
    assert view.image_view.overlay_item.image[0, 3] == pytest.approx(1.0, abs=1e-5)


def test_next_image_keeps_layer_and_patch_but_another_model_resets_them(tab, qtbot):
    tab.show_result(make_result(seed=1))
    tab.layer_slider.setValue(1)
    tab.set_selected(4)
    tab.show_result(make_result(seed=2))  # same model, new image
    assert (tab.layer, tab.selected, tab.layer_slider.value()) == (1, 4, 1)
    tab.show_result(make_result(grid=(4, 4), layers=2, seed=3))
    assert (tab.layer, tab.selected, tab.layer_slider.value()) == (2, 2 * 4 + 2, 2)


def test_pca_of_every_layer_is_ready_after_idle_time(tab, qtbot):
    r = make_result(seed=9)
    tab.show_result(r)
    qtbot.waitUntil(lambda: len(tab.session.pca_cache) == 4, timeout=5000)
    for layer in range(4):
        np.testing.assert_allclose(tab.session.pca_cache[layer].scores, T.pca(r.hidden_states[layer, 2:], 10).scores)


def test_hovering_a_patch_shows_its_pixels_and_embedding(tab, qtbot):
    r = make_result(seed=11)
    tab.show_result(r)
    show(tab, qtbot, "patchify")
    view = tab.pages["patchify"]
    pos = view.image_view.widget_pos_of_patch(3 * 7 + 6)
    qtbot.mouseMove(view.image_view.viewport(), QPoint(round(pos.x()), round(pos.y())))
    qtbot.waitUntil(lambda: "row 3, column 6" in view.info.text(), timeout=2000)
    token = 2 + 3 * 7 + 6
    shown = view.vector_view.image_item.image.ravel()[:24]
    np.testing.assert_allclose(shown, r.hidden_states[0, token], atol=1e-6)
    assert view.strip.highlight.isVisible()


def _key(qtbot, slider, key):
    """A real key press sent to the widget that has the keyboard focus after the slider is focused."""
    from PySide6.QtWidgets import QApplication

    slider.setFocus()
    qtbot.waitUntil(lambda: slider.isAncestorOf(QApplication.focusWidget()) or slider.hasFocus(), timeout=2000)
    qtbot.keyClick(QApplication.focusWidget(), key)


def test_opacity_sliders_step_with_arrow_keys_and_page_keys(tab, qtbot):
    tab.show_result(make_result(seed=4))
    show(tab, qtbot, "pca")
    pca = tab.pages["pca"]
    _key(qtbot, pca.opacity, Qt.Key.Key_PageDown)
    assert pca.image_view.overlay_item.opacity() == pytest.approx(0.75)
    _key(qtbot, pca.opacity, Qt.Key.Key_Right)
    assert pca.image_view.overlay_item.opacity() == pytest.approx(0.76)
    show(tab, qtbot, "similarity")
    sim = tab.pages["similarity"]
    _key(qtbot, sim.opacity, Qt.Key.Key_PageUp)
    assert sim.image_view.overlay_item.opacity() == pytest.approx(0.85)
    _key(qtbot, sim.opacity, Qt.Key.Key_Left)
    assert sim.image_view.overlay_item.opacity() == pytest.approx(0.84)


def test_loading_placeholder_until_the_first_result_then_the_pca_view(tab, qtbot):
    assert not tab.content.showing_content() and "Loading the model" in tab.content.message.text()
    assert not tab.pages["pca"].isVisible()
    tab.show_result(make_result())
    assert tab.content.showing_content() and tab.pages["pca"].isVisible() and tab.current_view() == "pca"


def test_views_are_addressable_by_name(tab, qtbot):
    tab.show_result(make_result())
    assert tab.views[0] == "pca" and set(tab.views) == set(tab.pages)
    tab.show_view("filters")
    assert tab.current_view() == "filters" and tab.view_list.currentRow() == 1
    with pytest.raises(ValueError, match="no view"):
        tab.show_view("qkv")


def test_the_view_keeps_its_place_when_its_status_changes(open_tab, qtbot):
    from app.tabs.patches_tab import PatchesTab

    tab = open_tab(PatchesTab, (900, 700))
    tab.show_result(make_result(prefix=()))
    show(tab, qtbot, "similarity")
    view = tab.pages["similarity"]
    geometry = view.image_view.geometry()
    one_line = view.status.text()
    tab.show_result(make_result(prefix=("CLS", "REG0", "REG1", "REG2"), seed=1))  # "...; to CLS: 0.12; to REG0: ..."
    qtbot.wait(20)
    metrics = view.status.fontMetrics()
    assert metrics.horizontalAdvance(one_line) < view.status.width() < metrics.horizontalAdvance(view.status.text())
    assert view.image_view.geometry() == geometry

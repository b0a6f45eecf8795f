"""The ViT Q/K/V session (Qt-free), its widgets' pure helpers, and the page driven like a user."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from app.qkv_session import QKVSession, token_labels
from models.vit.qkv import capture_qkv


@pytest.fixture(scope="module")
def cap():
    from models.vit.bundled import ShapesViT, ViTConfig
    from models.vit.capture_bundled import BundledViT

    torch.manual_seed(0)
    image = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    return capture_qkv(BundledViT(ShapesViT(ViTConfig())), image)


def test_token_labels_name_prefix_tokens_then_patches():
    assert token_labels(("CLS",), (2, 3)) == ("CLS", "patch (0,0)", "patch (0,1)", "patch (0,2)", "patch (1,0)",
                                               "patch (1,1)", "patch (1,2)")


def test_a_new_capture_starts_on_the_last_layer_and_the_centre_patch(cap):
    s = QKVSession()
    s.set_capture(cap)
    gh, gw = cap.grid
    assert s.selection.layer == cap.num_layers - 1
    assert s.patch_of_token(s.selection.token) == (gh // 2, gw // 2)
    assert s.token_at_patch(*s.patch_of_token(5)) == 5
    assert s.patch_of_token(0) is None and s.patch_rect(0) is None  # CLS
    assert s.token_at_pixel(8 * 2 + 1, 8 * 3 + 7) == s.token_at_patch(3, 2)  # 8-pixel patches
    assert s.patch_rect(s.token_at_patch(3, 2)) == (16.0, 24.0, 8.0, 8.0)
    assert s.token_at_pixel(-1, 3) is None and s.token_at_pixel(3, 64) is None


def test_frame_holds_every_step_and_matches_the_capture(cap):
    s = QKVSession()
    s.set_capture(cap)
    f = s.select(layer=1, head=2, token=s.token_at_patch(3, 4))
    n, d_k, heads = cap.num_tokens, cap.d_k, cap.num_heads
    assert f.q.values.shape == (1, d_k) and f.k.values.shape == f.v.values.shape == (n, d_k)
    assert f.k.highlight_row == f.selection.token and f.k.row_labels[f.selection.token] == "patch (3,4)"
    assert f.scores.values.shape == f.scaled.values.shape == f.weights.values.shape == (n,)
    np.testing.assert_allclose(f.weights.values, cap.attentions[1, 2, f.selection.token], atol=1e-5)
    gh, gw = cap.grid
    assert f.weights_map.shape == (gh, gw)
    np.testing.assert_allclose(f.weights_map.sum() + f.prefix_share, 1.0, atol=1e-5)
    assert f.heads_maps.shape == (1, heads, gh, gw)
    np.testing.assert_allclose(f.heads_maps[0, 2], f.weights_map, atol=1e-6)
    assert f.heads_out.values.shape == (heads, d_k)
    concat, projected, hooked = f.projection.values
    np.testing.assert_allclose(concat, f.heads_out.values.reshape(-1), atol=1e-6)
    np.testing.assert_allclose(projected, hooked, atol=1e-5)
    r_in, branch, r_out = f.residual.values
    np.testing.assert_allclose(r_out, cap.residual[1, f.selection.token], atol=1e-5)
    assert "max |diff|" in f.checks and "Layer 2, head 3" in f.query_text


def test_temperature_off_is_a_what_if_with_sharper_weights(cap):
    s = QKVSession()
    s.set_capture(cap)
    on = s.select(use_scale=True)
    off = s.select(use_scale=False)
    assert off.selection.use_scale is False
    np.testing.assert_allclose(off.scores.values, on.scores.values)
    assert off.weights.values.max() >= on.weights.values.max()
    assert off.projection.values.shape[0] == 2  # no hooked row: the model never computes this
    assert "what-if" in off.checks and "Without" in off.explanation


def test_selection_survives_a_new_capture_of_the_same_shape(cap):
    s = QKVSession()
    s.set_capture(cap)
    s.select(layer=0, head=3, token=7)
    s.set_capture(cap)
    assert (s.selection.layer, s.selection.head, s.selection.token) == (0, 3, 7)


def test_widget_hover_texts():
    from widgets.qkv_bars import bar_hover_text, nice_bound
    from widgets.qkv_matrix import hover_text

    m = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert hover_text(m, ("CLS", "patch (0,0)"), "d", 2.5, 1.2) == "patch (0,0), d2: +5.00000"
    assert hover_text(m, ("CLS",), "d", 3.1, 0.0) is None
    assert bar_hover_text(np.array([0.25, 0.75]), ("CLS", "p"), 0.8) == "1 = p: +0.75000"
    assert bar_hover_text(np.array([0.25]), (), 3.0) is None
    assert [nice_bound(x) for x in (0, 0.3, 1.0, 1.1, 2.2, 31.0)] == [0, 0.5, 1.0, 2.0, 2.5, 50.0]


def test_page_click_head_and_temperature(qtbot, cap):
    from app.context import AppContext
    from app.tabs.qkv_page import QKVPage

    page = QKVPage(AppContext(start_worker=False))
    qtbot.addWidget(page)
    page.resize(1400, 860)
    page.show_capture(cap)
    gh, gw = cap.grid
    h, w = cap.image.shape[:2]
    page._on_image_clicked((2 + 0.5) * w / gw, (1 + 0.5) * h / gh)  # the patch at row 1, column 2
    assert page.session.selection.token == page.session.token_at_patch(1, 2)
    assert page.token_spin.value() == page.session.selection.token
    np.testing.assert_allclose(page.weights_bars.values, cap.attentions[-1, 0, page.session.selection.token], atol=1e-5)
    page.head_slider.setValue(3)
    np.testing.assert_allclose(page.weights_bars.values, cap.attentions[-1, 2, page.session.selection.token], atol=1e-5)
    assert page.k_map.values.shape == (cap.num_tokens, cap.d_k)
    lo, hi = page.scores_bars.axis_text.split("axis ")[1].split(" .. ")
    assert float(lo) <= page.scores_bars.values.min() and float(hi) >= page.scores_bars.values.max()
    assert page.weights_bars.axis_text.startswith("axis 0 .. ")
    page.scale_check.setChecked(False)
    assert page.session.selection.use_scale is False and "what-if" in page.notes.text()
    page.shutdown()
    page.ctx.worker.shutdown()

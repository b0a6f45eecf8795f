"""The Attention tab's session without a display: state, pinning, tile selection, frames."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from app.attention_session import AttentionSession, top_k
from models.vit.result import ViTForwardResult
from models.vit.rollout import fuse_heads


def make_result(grid=(4, 6), ps=8, prefix=("CLS",), layers=3, heads=2, seed=0, logits=True):
    rng = np.random.default_rng(seed)
    gh, gw = grid
    n = len(prefix) + gh * gw
    att = np.exp(rng.normal(size=(layers, heads, n, n)))
    att /= att.sum(-1, keepdims=True)
    return ViTForwardResult(
        model_key="test/random", model_title="Random", image=np.zeros((gh * ps, gw * ps, 3), np.uint8),
        patch_size=ps, grid=grid, prefix_tokens=tuple(prefix), attentions=att.astype(np.float32),
        hidden_states=rng.normal(size=(layers + 1, n, 8)).astype(np.float32),
        logits=np.array([0.0, 2.0, 1.0], np.float32) if logits else None,
        class_names=("a", "b", "c") if logits else None, embedding_filters=None, position_embeddings=None)


def test_the_session_module_needs_no_qt():
    code = ("import sys, app.attention_session, app.patches_session; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'superqt')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_new_result_starts_at_the_last_layer_and_the_centre_patch():
    s = AttentionSession()
    frame = s.set_result(make_result())
    assert frame.controls.layer == 3 and s.view.patch == 2 * 6 + 3
    assert [name for name, _ in frame.predictions] == ["b", "c", "a"] and frame.cls_button_text == "CLS"
    assert s.set_result(make_result(prefix=(), logits=False)).predictions is None
    assert "no classifier" in s.set_result(make_result(logits=False)).predictions_note


def test_a_click_pins_the_patch_while_following_the_mouse():
    s = AttentionSession()
    res = make_result()
    s.set_result(res)
    s.set_mode("patch")
    assert s.hover(4, 4).patch_rect == (0.0, 0.0, 8.0, 8.0)  # follows: patch 0
    frame = s.click(20, 12)  # patch (1, 2)
    assert s.view.patch == 8 and frame.pinned and "pinned" in frame.caption
    assert s.hover(44, 28) is None and s.view.patch == 8  # the next mouse move does not lose it
    np.testing.assert_allclose(frame.heatmap.ravel(), fuse_heads(res.attentions[-1], "mean")[1 + 8, 1:], atol=1e-6)
    assert not s.click(20, 12).pinned  # clicking the pinned patch again lets it follow the mouse
    assert s.hover(44, 28) is not None and s.view.patch == 3 * 6 + 5
    s.click(4, 4)
    s.set_follow_mouse(False)
    s.set_follow_mouse(True)  # switching following off and on releases the pin too
    assert not s.pinned and s.hover(44, 28).patch_rect == (40.0, 24.0, 8.0, 8.0)


def test_without_following_a_click_selects_and_hovering_does_nothing():
    s = AttentionSession()
    s.set_result(make_result())
    s.set_follow_mouse(False)
    frame = s.click(4, 4)
    assert s.view.mode == "patch" and s.view.patch == 0 and not frame.pinned
    assert s.hover(44, 28) is None and s.click(float("nan"), 3) is None and s.click(500, 3) is None


def test_a_tile_selects_layer_and_head_and_leaves_rollout():
    s = AttentionSession()
    res = make_result()
    s.set_result(res)
    assert s.view.mode == "rollout"
    frame = s.select_tile(1, 1)
    assert frame.controls.mode == "cls" and (frame.controls.layer, frame.controls.head) == (2, 2)
    assert frame.controls.single_head and frame.overview_selected == (1, 1)
    np.testing.assert_allclose(frame.heatmap.ravel(), res.attentions[1, 1, 0, 1:])
    assert s.set_single_head(False).heads_selected is None
    assert s.change(mode="cls") is None  # nothing changed: nothing to draw


def test_texts_and_share_of_the_prefix_tokens():
    s = AttentionSession()
    res = make_result()
    s.set_result(res)
    frame = s.set_mode("cls")
    share = float(fuse_heads(res.attentions[-1], "mean")[0, 0])
    assert f"{share * 100:.1f}%" in frame.share_text and "CLS" in frame.share_text
    assert frame.explanation in "".join(s.explanation_texts())  # the page reserves room for every text
    assert s.set_result(make_result(prefix=())) and s.render().share_text == ""


def test_top_k():
    assert top_k(np.array([1.0, 3.0, 2.0]), None, 2)[0] == ("class 1", pytest.approx(0.665, abs=1e-3))

"""The Patch embeddings tab's session without a display: layer and patch state, PCA cache, frames."""
from __future__ import annotations

import numpy as np
import pytest

from app.patches_session import VIEWS, PatchesSession
from models.errors import UserFacingError
from models.vit import tokens as T
from models.vit.result import ViTForwardResult


def make_result(grid=(3, 4), ps=4, prefix=("CLS",), d=12, layers=2, heads=2, seed=0, key="test/a"):
    rng = np.random.default_rng(seed)
    gh, gw = grid
    n = len(prefix) + gh * gw
    att = np.exp(rng.normal(size=(layers, heads, n, n)))
    att /= att.sum(-1, keepdims=True)
    return ViTForwardResult(
        model_key=key, model_title="Random", image=(rng.random((gh * ps, gw * ps, 3)) * 255).astype(np.uint8),
        patch_size=ps, grid=grid, prefix_tokens=tuple(prefix), attentions=att.astype(np.float32),
        hidden_states=rng.normal(size=(layers + 1, n, d)).astype(np.float32), logits=None, class_names=None,
        embedding_filters=rng.normal(size=(d, 3, ps, ps)).astype(np.float32),
        position_embeddings=rng.normal(size=(gh * gw, d)).astype(np.float32))


def test_a_new_model_starts_at_the_last_layer_and_the_centre_patch_a_new_image_keeps_them():
    s = PatchesSession()
    with pytest.raises(UserFacingError):
        s.tokens_for_export()
    s.set_result(make_result())
    assert (s.layer, s.selected, s.num_layers()) == (2, 1 * 4 + 2, 3)
    assert s.set_layer(1) and not s.set_layer(1) and s.set_selected(3)
    s.set_result(make_result(seed=1))
    assert (s.layer, s.selected) == (1, 3)
    s.set_result(make_result(key="test/b"))
    assert (s.layer, s.selected) == (2, 6)
    np.testing.assert_array_equal(s.tokens_for_export(), s.result.hidden_states[2])


def test_only_out_of_date_views_are_redrawn():
    s = PatchesSession()
    assert not s.take_dirty("pca")
    s.set_result(make_result())
    assert all(s.take_dirty(v) for v in VIEWS) and not s.take_dirty("pca")
    s.set_layer(0)
    assert s.take_dirty("pca") and s.take_dirty("similarity") and not s.take_dirty("distance")
    s.set_selected(2)
    assert s.take_dirty("similarity") and not s.take_dirty("pca")


def test_frames_hold_what_the_views_draw():
    s = PatchesSession()
    r = make_result()
    s.set_result(r)
    s.set_layer(1)
    pca = s.frame("pca")
    np.testing.assert_allclose(pca.scores, T.pca(r.hidden_states[1, 1:], 10).scores, atol=1e-5)
    assert pca.rgb.shape == (3, 4, 3) and pca.layer_text == "Tokens after block 1"
    sim = s.frame("similarity")
    assert sim.similarity[s.selected // 4, s.selected % 4] == pytest.approx(1.0, abs=1e-5)
    cls = s.frame("similarity", query_prefix=0)
    np.testing.assert_allclose(cls.similarity.ravel(), T.cosine_to(r.hidden_states[1], 0)[1:], atol=1e-6)
    assert cls.selected is None and "CLS" in cls.query_name
    assert s.frame("distance").mad.shape == (2, 2)
    assert s.frame("filters").n_filters == 12 and s.frame("position").mosaic_img is not None
    assert s.frame("patchify").names[0] == "CLS"


def test_the_pca_of_every_layer_fills_in_one_step_at_a_time():
    s = PatchesSession()
    s.set_result(make_result())
    steps = 1
    while s.precompute_next_layer():
        steps += 1
    assert steps == 3 and sorted(s.pca_cache) == [0, 1, 2]

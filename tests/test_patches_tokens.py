"""Token maths of the Patch embeddings tab (no Qt, no torch)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from models.errors import UserFacingError
from models.vit import tokens as T


@pytest.mark.parametrize("shape", [(196, 64), (49, 200)])  # more tokens than width, and fewer
def test_pca_agrees_with_numpy_svd_up_to_sign(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape) @ rng.normal(size=(shape[1], shape[1])) + 3.0  # correlated, non-centred
    res = T.pca(x, k=5)
    xc = x - x.mean(0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    for i in range(5):
        sign = np.sign(res.axes[i] @ vt[i])
        assert sign != 0
        np.testing.assert_allclose(res.axes[i], sign * vt[i], atol=1e-7)
        np.testing.assert_allclose(res.scores[:, i], sign * u[:, i] * s[i], rtol=1e-7, atol=1e-7 * s[0])
    np.testing.assert_allclose(res.explained, s[:5] ** 2 / (s**2).sum())
    assert np.all(np.diff(res.explained) <= 0)


def test_pca_sign_is_stable_when_data_is_negated_around_mean():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 8))
    a, b = T.pca(x, 3), T.pca(-x, 3)
    np.testing.assert_allclose(np.abs(a.axes), np.abs(b.axes), atol=1e-10)
    # same rule for both: largest |loading| positive
    for axes in (a.axes, b.axes):
        assert np.all(axes[np.arange(3), np.abs(axes).argmax(1)] > 0)


def test_pca_rgb_in_unit_range_and_mask_blackens_background():
    rng = np.random.default_rng(2)
    grid = (6, 7)
    tok = rng.normal(size=(42, 16))
    rgb = T.pca_rgb(tok, grid)
    assert rgb.shape == (6, 7, 3) and rgb.min() >= 0 and rgb.max() <= 1
    mask = np.zeros(grid, bool)
    mask[2:4, 2:5] = True
    rgbm = T.pca_rgb(tok, grid, mask)
    assert np.all(rgbm[~mask] == 0) and rgbm[mask].max() > 0


def test_foreground_mask_picks_the_centre_object_whatever_the_sign():
    grid = (8, 8)
    comp = -np.ones(64)
    obj = np.zeros((8, 8), bool)
    obj[2:6, 3:6] = True
    comp[obj.ravel()] = 2.0
    np.testing.assert_array_equal(T.foreground_mask(comp, grid), obj)
    np.testing.assert_array_equal(T.foreground_mask(-comp, grid), obj)


def test_position_similarity_symmetric_with_ones_on_diagonal():
    rng = np.random.default_rng(3)
    grid = (5, 7)  # non-square, as after interpolation to a wide input
    pos = rng.normal(size=(35, 24))
    maps = T.position_similarity(pos, grid)
    assert maps.shape == (5, 7, 5, 7)
    flat = maps.reshape(35, 35)
    np.testing.assert_allclose(flat, flat.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(flat), 1.0, atol=1e-12)
    # map (r, c) peaks at (r, c) itself
    for r, c in [(0, 0), (4, 6), (2, 3)]:
        assert np.unravel_index(np.argmax(maps[r, c]), (5, 7)) == (r, c)


def test_position_similarity_layout_follows_rows_on_non_square_grid():
    # embeddings that encode (row, col) smoothly: the nearest neighbours of a map must be its grid neighbours
    gh, gw = 4, 9
    rr, cc = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    freqs = np.arange(1, 5)
    pos = np.concatenate([np.cos(rr.reshape(-1, 1) * freqs * 0.4), np.sin(rr.reshape(-1, 1) * freqs * 0.4),
                          np.cos(cc.reshape(-1, 1) * freqs * 0.3), np.sin(cc.reshape(-1, 1) * freqs * 0.3)], 1)
    maps = T.position_similarity(pos, (gh, gw))
    m = maps[1, 4].copy()
    m[1, 4] = -np.inf
    r, c = np.unravel_index(np.argmax(m), (gh, gw))
    assert abs(r - 1) + abs(c - 4) == 1


def test_position_similarity_rejects_wrong_count():
    with pytest.raises(UserFacingError, match="position embeddings"):
        T.position_similarity(np.zeros((10, 4)), (3, 3))


def test_mean_attention_distance_of_uniform_attention_is_mean_pairwise_distance():
    grid, ps, prefix = (4, 5), 16, 1
    n = prefix + 20
    att = np.full((2, 3, n, n), 1.0 / n, np.float32)
    mad = T.mean_attention_distance(att, grid, ps, prefix)
    # independent: loops over all ordered pairs of patch centres (self-pairs included)
    cents = [((c + 0.5) * ps, (r + 0.5) * ps) for r in range(4) for c in range(5)]
    dists = [math.dist(a, b) for a, b in itertools.product(cents, cents)]
    expected = sum(dists) / len(dists)
    assert mad.shape == (2, 3)
    np.testing.assert_allclose(mad, expected, rtol=1e-6)


def test_mean_attention_distance_zero_for_self_attention_and_grows_with_reach():
    grid, ps = (6, 6), 8
    n = 36
    eye = np.broadcast_to(np.eye(n), (1, 2, n, n)).copy()
    assert np.allclose(T.mean_attention_distance(eye, grid, ps, 0), 0)
    d = T.pairwise_patch_distances(grid, ps)
    near = np.exp(-d / 8)
    far = np.exp(-d / 40)
    att = np.stack([near / near.sum(1, keepdims=True), far / far.sum(1, keepdims=True)])[None]
    mad = T.mean_attention_distance(att, grid, ps, 0)
    assert mad[0, 0] < mad[0, 1]


def test_patch_helpers_agree():
    img = np.arange(32 * 48 * 3, dtype=np.uint8).reshape(32, 48, 3)
    grid, ps = (4, 6), 8
    idx = T.patch_at(41, 17, grid, ps)
    assert idx == 2 * 6 + 5 and T.patch_rc(idx, grid) == (2, 5)
    np.testing.assert_array_equal(T.patch_block(img, grid, ps, idx), img[16:24, 40:48])
    assert T.patch_at(48, 3, grid, ps) is None and T.patch_at(-1, 3, grid, ps) is None
    names = T.token_names(("CLS", "REG0"), grid)
    assert names[:3] == ["CLS", "REG0", "0,0"] and names[-1] == "3,5" and len(names) == 26
    cx, cy = T.patch_centers(grid, ps)[idx]
    assert T.patch_at(cx, cy, grid, ps) == idx


def test_filter_tiles_and_components():
    rng = np.random.default_rng(4)
    basis = rng.normal(size=(2, 3 * 4 * 4))
    filt = (rng.normal(size=(40, 2)) @ basis).reshape(40, 3, 4, 4)  # rank 2
    tiles = T.filter_tiles(filt)
    assert tiles.shape == (40, 4, 4, 3) and tiles.min() >= 0 and tiles.max() <= 1
    comps, explained = T.filter_components(filt, k=5)
    assert comps.shape[1:] == (4, 4, 3)
    assert explained[:2].sum() > 0.999  # two components hold all the variance
    mos = T.mosaic(tiles[:10], cols=4, pad=1)
    assert mos.shape == (3 * 5 + 1, 4 * 5 + 1, 3)


def test_cosine_to_matches_matrix():
    x = np.random.default_rng(5).normal(size=(30, 10))
    np.testing.assert_allclose(T.cosine_to(x, 7), T.cosine_matrix(x)[7], atol=1e-12)

"""The Patch embeddings maths on real captured forwards (bundled and torchvision ViTs, random weights)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.models.vision_transformer import VisionTransformer

from models.vit import tokens as T
from models.vit.bundled import ShapesViT, ViTConfig
from models.vit.capture import capture
from models.vit.capture_bundled import BundledViT
from models.vit.capture_torchvision import TorchvisionViT


def _image(size=64, seed=0):
    return (np.random.default_rng(seed).random((size, size, 3)) * 255).astype(np.uint8)


def _smooth_torchvision_vit(grid: int = 4, dim: int = 32) -> TorchvisionViT:
    """A tiny torchvision ViT whose position embeddings vary smoothly over the grid (as trained ones do)."""
    torch.manual_seed(0)
    model = VisionTransformer(image_size=grid * 8, patch_size=8, num_layers=1, num_heads=2, hidden_dim=dim,
                              mlp_dim=2 * dim, num_classes=3)
    rr, cc = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    f = np.linspace(0.3, 1.2, dim // 4)
    pos = np.concatenate([np.cos(rr.reshape(-1, 1) * f), np.sin(rr.reshape(-1, 1) * f),
                          np.cos(cc.reshape(-1, 1) * f), np.sin(cc.reshape(-1, 1) * f)], 1)
    with torch.no_grad():
        model.encoder.pos_embedding[0, 1:] = torch.tensor(pos, dtype=torch.float32)
    return TorchvisionViT(model, "test/tiny", "tiny", None)


@pytest.mark.parametrize("size", [32, 48])  # trained size, and interpolated to a 6x6 grid
def test_position_maps_follow_the_grid_after_interpolation(size):
    result = capture(_smooth_torchvision_vit(), _image(size), input_size=size)
    g = size // 8
    assert result.grid == (g, g) and result.position_embeddings.shape[0] == g * g
    maps = T.position_similarity(result.position_embeddings, result.grid)
    flat = maps.reshape(g * g, g * g)
    np.testing.assert_allclose(np.diag(flat), 1.0, atol=1e-6)
    for r in range(g):
        for c in range(g):
            m = maps[r, c].copy()
            assert np.unravel_index(np.argmax(m), (g, g)) == (r, c)
            m[r, c] = -np.inf
            nr, nc = np.unravel_index(np.argmax(m), (g, g))
            assert max(abs(nr - r), abs(nc - c)) == 1  # the most similar other position is a neighbour


def test_bundled_capture_feeds_every_computation():
    torch.manual_seed(0)
    vit = BundledViT(ShapesViT(ViTConfig()))
    result = capture(vit, _image(96), input_size=96)  # 12x12 grid: interpolated position embeddings
    gh, gw = result.grid
    assert (gh, gw) == (12, 12)
    mad = T.mean_attention_distance(result.attentions, result.grid, result.patch_size, result.num_prefix)
    assert mad.shape == (result.num_layers, result.num_heads)
    assert np.all(mad >= 0) and np.all(mad <= T.pairwise_patch_distances(result.grid, result.patch_size).max())
    maps = T.position_similarity(result.position_embeddings, result.grid)
    assert maps.shape == (12, 12, 12, 12)
    res = T.pca(T.patch_tokens(result.hidden_states, result.num_layers, result.num_prefix), 3)
    assert res.scores.shape == (144, 3)
    tiles, explained = T.filter_components(result.embedding_filters, 8)
    assert tiles.shape[1:] == result.embedding_filters.shape[2:] + (3,) and np.all(np.diff(explained) <= 1e-12)

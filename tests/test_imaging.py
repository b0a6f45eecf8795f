"""models/imaging.py: the one to_uint8 and the one tiling that the diffusion, GAN and ViT code share."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models import imaging
from models.diffusion import grid as diffusion_grid
from models.diffusion.samplers import to_uint8 as sampler_to_uint8
from models.gan.data import to_uint8_hwc
from models.gan.trainer import make_grid
from models.vit.tokens import mosaic as token_mosaic


def test_to_uint8_maps_the_range_ends_and_rounds_to_the_nearest_level():
    x = np.array([-2.0, -1.0, 0.0, 1.0 / 255, 1.0, 3.0])
    assert imaging.to_uint8(x).tolist() == [0, 0, 128, 128, 255, 255]  # 127.5 rounds to even 128
    assert imaging.to_uint8(np.array([0.0, 0.5, 1.0]), 0.0, 1.0).tolist() == [0, 128, 255]


def test_torch_batches_become_hwc_uint8_the_same_way_everywhere():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 5, 7, generator=g) * 2.4 - 1.2  # (B, C, H, W), some values out of range
    want = imaging.to_uint8(x.permute(0, 2, 3, 1).numpy())  # (B, H, W, C)
    assert np.array_equal(sampler_to_uint8(x), want)
    assert np.array_equal(to_uint8_hwc(x), want)
    old_gan = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(to_uint8_hwc(x), old_gan)
    grey = to_uint8_hwc(x[:, :1])
    assert grey.shape == (3, 5, 7, 3) and np.array_equal(grey[..., 0], grey[..., 2])


def _tiles(b, h=4, w=3, c=3):
    return (np.arange(b * h * w * c) % 250 + 1).astype(np.uint8).reshape(b, h, w, c)


@pytest.mark.parametrize("b", [1, 4, 9, 10])
def test_mosaic_places_tile_i_at_row_i_div_cols(b):
    tiles = _tiles(b)
    out = imaging.mosaic(tiles, columns=4, gap=2, fill=7, border=1)
    rows = -(-b // 4)
    assert out.shape == (2 + rows * 6 - 2, 2 + 4 * 5 - 2, 3)
    for i in range(b):
        r, q = divmod(i, 4)
        assert np.array_equal(out[1 + r * 6: 1 + r * 6 + 4, 1 + q * 5: 1 + q * 5 + 3], tiles[i])
    assert out[0, 0, 0] == 7 and out[5, 1, 0] == 7  # border and gap


def test_the_gan_grid_is_the_shared_mosaic_with_a_border():
    tiles = _tiles(9, 6, 6)
    grid = make_grid(tiles)
    assert grid.shape == (3 * 7 + 1, 3 * 7 + 1, 3) and grid[0, 0, 0] == 60
    assert np.array_equal(grid[1 + 7:1 + 7 + 6, 1 + 14:1 + 14 + 6], tiles[5])


def test_the_vit_token_mosaic_is_the_shared_mosaic_in_float():
    tiles = np.random.default_rng(0).random((5, 3, 3)).astype(np.float32)
    out = token_mosaic(tiles, cols=2, pad=1, fill=np.nan)
    assert out.dtype == np.float64 and out.shape == (3 * 4 + 1, 2 * 4 + 1)
    assert np.allclose(out[1 + 2 * 4: 1 + 2 * 4 + 3, 1:4], tiles[4]) and np.isnan(out[0, 0])


def test_the_diffusion_names_are_the_shared_functions():
    assert diffusion_grid.mosaic is imaging.mosaic and diffusion_grid.to_uint8 is imaging.to_uint8

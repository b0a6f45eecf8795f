"""Compare-tab maths: automatic stage layouts and token reshapes, ERF on a net whose field is known by
construction, equivariance of a pure convolution, gradient-weighted rollout against a reference loop."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from models.compare.architectures import ARCHITECTURES
from models.compare.attribution import cam_target, explain, grad_rollout, methods_for
from models.compare.catalog import _bundled_loader
from models.compare.equivariance import equivariance_errors, occlusion_map, shift_image, shuffle_tiles
from models.compare.hierarchy import hierarchy, stage_features
from models.compare.receptive_field import effective_rf, erf_radius, theoretical_rf
from models.compare.stages import StageInfo, StageModel, describe_output, stage_at_depth, to_map, trace_stages
from models.registry import ModelSource, SourceKind


class Chain(nn.Module):
    """Three 3x3 convolutions (stride 1, no bias, positive weights): receptive field exactly 7x7."""

    def __init__(self, stride: int = 1):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.c3 = nn.Conv2d(4, 4, 3, stride=stride, padding=1, bias=False)
        for c in (self.c1, self.c2, self.c3):
            nn.init.uniform_(c.weight, 0.1, 1.0)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.c3(self.c2(self.c1(x))).mean(dim=(2, 3)))


def _chain_model(stride: int = 1) -> StageModel:
    torch.manual_seed(0)
    return StageModel(Chain(stride).eval(), ("c1", "c2", "c3"), ("a", "b"), (32, 32))


def test_erf_of_a_known_field_is_exactly_that_field():
    sm = _chain_model()
    stages = trace_stages(sm)
    erf = effective_rf(sm, torch.rand(2, 3, 32, 32), stages[2])
    ys, xs = np.nonzero(erf > 0)
    # the 32x32 map is even: its centre is the 2x2 cells (15..16, 15..16), each seeing 7x7 -> rows 12..19
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (12, 19, 12, 19)
    assert theoretical_rf(sm, stages[2]) == 7.0
    assert theoretical_rf(sm, stages[0]) == 3.0
    assert 1.0 <= erf_radius(erf) <= 4.0 * np.sqrt(2)


def test_erf_radius_of_a_disc():
    yy, xx = np.mgrid[0:41, 0:41]
    disc = (np.hypot(yy - 20, xx - 20) <= 10).astype(np.float32)
    assert erf_radius(disc) == pytest.approx(10 / np.sqrt(2), abs=0.8)  # half the mass of a disc of radius 10


def test_pure_convolution_is_equivariant_at_stride_multiples():
    sm = _chain_model(stride=2)
    stages = trace_stages(sm)
    assert [s.stride for s in stages] == [1, 1, 2]
    err = equivariance_errors(sm, torch.rand(2, 3, 32, 32), stages, [0, 2, 4, 8])
    assert np.nanmax(err) < 1e-5
    odd = equivariance_errors(sm, torch.rand(2, 3, 32, 32), stages, [1, 3])
    assert odd[:, 2].min() > 1e-3  # half-cell shifts of the stride-2 map are not exact: the lesson's contrast


def test_a_vit_is_not_equivariant():
    sm = _bundled_loader(ARCHITECTURES["vit-plain"])(ModelSource(SourceKind.RANDOM))
    stages = trace_stages(sm)
    err = equivariance_errors(sm, torch.rand(2, 3, 64, 64), stages, [4])
    assert err.min() > 0.05


def test_shift_uses_reflection_and_shuffle_is_a_permutation():
    x = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(1, 3, 1, 1)
    moved = shift_image(x, 1)
    assert torch.equal(moved[0, 0, 1:, 1:], x[0, 0, :3, :3])
    assert torch.equal(moved[0, 0, 0, 1:], x[0, 0, 1, :3])  # row -1 reflects row 1
    img = torch.rand(1, 3, 64, 64)
    shuffled = shuffle_tiles(img, 4)
    assert not torch.equal(shuffled, img)
    assert torch.allclose(shuffled.sort(dim=-1).values.sum(), img.sort(dim=-1).values.sum())


@pytest.mark.parametrize("shape,layout,grid,stride,prefix", [
    ((1, 32, 16, 16), "nchw", (16, 16), 4, 0),
    ((1, 16, 16, 32), "nhwc", (16, 16), 4, 0),  # channels-last (Swin)
    ((1, 65, 96), "tokens", (8, 8), 8, 1),  # CLS
    ((1, 66, 96), "tokens", (8, 8), 8, 2),  # CLS + distillation
    ((1, 69, 96), "tokens", (8, 8), 8, 5),  # CLS + 4 registers
])
def test_layouts_and_prefix_tokens_are_found(shape, layout, grid, stride, prefix):
    found = describe_output(torch.zeros(shape), (64, 64))
    assert (found[0], found[2], found[3], found[4]) == (layout, grid, stride, prefix)


def test_non_square_grid_reshapes_row_major():
    info_t = describe_output(torch.zeros(1, 1 + 4 * 8, 5), (32, 64))
    assert info_t[:1] + info_t[2:] == ("tokens", (4, 8), 8, 1)
    info = StageInfo(0, "x", "tokens", 5, (4, 8), 8, 1, 0.0)
    tokens = torch.randn(2, 33, 5)
    fmap = to_map(tokens, info)  # (2, 5, 4, 8)
    assert fmap.shape == (2, 5, 4, 8)
    assert torch.equal(fmap[1, :, 2, 3], tokens[1, 1 + 2 * 8 + 3])


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
def test_every_bundled_architecture_explains_with_every_method(key):
    sm = _bundled_loader(ARCHITECTURES[key])(ModelSource(SourceKind.RANDOM))
    stages = trace_stages(sm)
    last = stage_at_depth(stages, 1.0)
    assert last is stages[-1] and stage_at_depth(stages, 0.0) is stages[0]
    has_cls = last.prefix_tokens > 0
    for method in methods_for(last, has_cls):
        a = explain(sm, torch.rand(1, 3, 64, 64), last, method)
        assert a.heatmap.shape == (64, 64) and np.isfinite(a.heatmap).all()
        assert a.heatmap.max() <= 1.0 + 1e-6 and a.heatmap.min() >= 0.0
    if ARCHITECTURES[key].family == "vit":
        assert isinstance(cam_target(sm, last), nn.LayerNorm)  # patch tokens after the last block get no gradient
        assert {"rollout", "grad-rollout"} <= set(methods_for(last, has_cls))


def test_gradient_weighted_rollout_matches_a_reference_loop():
    rng = np.random.default_rng(0)
    attn = [torch.from_numpy(rng.random((3, 5, 5))) for _ in range(4)]
    grads = [torch.from_numpy(rng.standard_normal((3, 5, 5))) for _ in range(4)]
    ref = np.eye(5)
    for a, g in zip(attn, grads):
        cam = np.zeros((5, 5))
        for h in range(3):
            for i in range(5):
                for j in range(5):
                    cam[i, j] += max(float(g[h, i, j] * a[h, i, j]), 0.0) / 3
        ref = ref + cam @ ref
    assert np.allclose(grad_rollout(attn, grads), ref)


def test_hierarchy_and_features_read_the_model():
    sm = _bundled_loader(ARCHITECTURES["convnext"])(ModelSource(SourceKind.RANDOM))
    stages = trace_stages(sm)
    costs = hierarchy(sm, torch.rand(1, 3, 64, 64), stages, runs=2)
    assert [c.shape_text for c in costs] == ["16x16 x 32 ch", "8x8 x 64 ch", "4x4 x 128 ch", "2x2 x 192 ch"]
    assert all(c.flops > 0 and c.parameters > 0 for c in costs)
    assert sum(c.parameters for c in costs) < sum(p.numel() for p in sm.model.parameters())
    chans, idx = stage_features(sm, torch.rand(1, 3, 64, 64), stages[0])
    assert chans.shape == (16, 16, 16) and len(set(idx.tolist())) == 16
    vit = _bundled_loader(ARCHITECTURES["vit-convstem"])(ModelSource(SourceKind.RANDOM))
    rgb, _ = stage_features(vit, torch.rand(1, 3, 64, 64), trace_stages(vit)[1])
    assert rgb.shape == (8, 8, 3)


def test_occlusion_drops_where_the_evidence_is():
    class Corner(nn.Module):  # class 0's logit is the brightness of the top-left 16x16 corner
        def forward(self, x):
            v = x[:, :, :16, :16].mean(dim=(1, 2, 3)) * 20
            return torch.stack([v, torch.zeros_like(v)], 1)

    sm = StageModel(Corner(), (), ("corner", "other"), (64, 64))
    img = torch.zeros(1, 3, 64, 64)
    img[..., :16, :16] = 1.0
    drop = occlusion_map(sm, img, 0, size=16, stride=8)
    assert drop[:16, :16].mean() > 5 * max(drop[40:, 40:].mean(), 1e-6)


def test_erf_of_an_even_map_is_centred():
    sm = _chain_model(stride=2)  # last stage: 16x16 map (even), no middle cell
    stages = trace_stages(sm)
    erf = effective_rf(sm, torch.rand(2, 3, 32, 32), stages[2])
    ys, xs = np.nonzero(erf > 0)
    assert abs((ys.min() + ys.max()) / 2 - 15.5) <= 1.0 and abs((xs.min() + xs.max()) / 2 - 15.5) <= 1.0

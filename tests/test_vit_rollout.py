"""Attention rollout and the per-patch maps against straightforward reference code."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.vit.bundled import ShapesViT, ViTConfig
from models.vit.capture import capture
from models.vit.capture_bundled import BundledViT
from models.vit.rollout import box_density_ratio, fuse_heads, patch_map, received_map, rollout


@pytest.fixture(scope="module")
def attentions() -> np.ndarray:
    torch.manual_seed(1)
    vit = BundledViT(ShapesViT(ViTConfig(image_size=32, stem_channels=(8, 8, 16), dim=32, depth=3, heads=4)))
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return capture(vit, image).attentions  # (3, 4, 17, 17)


def reference_rollout(att: np.ndarray, fusion: str, discard: float) -> np.ndarray:
    """Abnar & Zuidema, written out with loops over layers, rows and sorted entries."""
    L, H, N, _ = att.shape
    result = np.eye(N)
    for layer in range(L):
        heads = [att[layer, h].astype(np.float64) for h in range(H)]
        fused = np.zeros((N, N))
        for i in range(N):
            for j in range(N):
                values = [h[i, j] for h in heads]
                fused[i, j] = {"mean": np.mean, "max": np.max, "min": np.min}[fusion](values)
        if discard > 0:
            candidates = sorted((fused[i, j], i, j) for i in range(N) for j in range(N) if j != 0)
            for _value, i, j in candidates[:int(N * N * discard)]:
                fused[i, j] = 0.0
        a = 0.5 * fused + 0.5 * np.eye(N)
        for i in range(N):
            a[i] /= a[i].sum()
        result = a @ result
    return result


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard", [0.0, 0.5, 0.9])
def test_rollout_equals_reference(attentions, fusion, discard):
    ours = rollout(attentions, fusion, discard)
    np.testing.assert_allclose(ours, reference_rollout(attentions, fusion, discard), atol=1e-5)
    np.testing.assert_allclose(ours.sum(-1), 1.0, atol=1e-5)


def test_discard_keeps_the_cls_column(attentions):
    fused = fuse_heads(attentions[0], "mean")
    out = rollout(attentions[:1], "mean", 0.99)
    # with everything else discarded each row keeps only itself and the CLS column
    n = fused.shape[0]
    a = 0.5 * np.where(np.arange(n)[None, :] == 0, fused, 0.0) + 0.5 * np.eye(n)
    np.testing.assert_allclose(out, a / a.sum(-1, keepdims=True), atol=1e-5)


def test_batched_rollout_matches_single(attentions):
    both = rollout(np.stack([attentions, attentions[::-1]]), "max", 0.3)
    np.testing.assert_allclose(both[1], rollout(attentions[::-1], "max", 0.3), atol=1e-6)


def test_patch_maps_read_rows_and_columns(attentions):
    a = fuse_heads(attentions[1], "mean")  # (17, 17), 1 prefix token, 4x4 grid
    forward = patch_map(a, 1, (4, 4), patch=5)
    reverse = patch_map(a, 1, (4, 4), patch=5, reverse=True)
    np.testing.assert_allclose(forward.ravel(), a[6, 1:])
    np.testing.assert_allclose(reverse.ravel(), a[1:, 6])
    np.testing.assert_allclose(received_map(a, 1, (4, 4)).ravel(), a[1:, 1:].mean(0))


def test_box_density_ratio_rewards_mass_inside_the_box():
    maps = np.ones((2, 4, 4))
    assert box_density_ratio(maps, np.array([[0, 0, 16, 16], [16, 16, 16, 16]], np.float32), 32) == pytest.approx(1.0)
    focused = np.zeros((1, 4, 4)) + 0.01
    focused[0, :2, :2] = 1.0  # all mass in the top-left 16x16 pixels
    ratio = box_density_ratio(focused, np.array([[0, 0, 16, 16]], np.float32), 32)
    assert ratio == pytest.approx((1.0 / 256) / (0.01 / 256), rel=1e-6)


def test_unknown_fusion_is_refused(attentions):
    with pytest.raises(ValueError, match="fusion"):
        rollout(attentions, "median")

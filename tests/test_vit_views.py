"""The Attention tab's maps come straight from the captured attention, for models with and without CLS."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from timm.models.vision_transformer import VisionTransformer as TimmVisionTransformer

from models.vit.bundled import ShapesViT, ViTConfig
from models.vit.capture import capture
from models.vit.capture_bundled import BundledViT
from models.vit.capture_timm import TimmViT
from models.vit.rollout import fuse_heads, rollout
from models.vit.views import AttentionView, AttentionViews

IMAGE = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def with_cls():
    torch.manual_seed(0)
    vit = BundledViT(ShapesViT(ViTConfig(image_size=32, stem_channels=(8, 8, 16), dim=32, depth=3, heads=4)))
    return capture(vit, IMAGE)


@pytest.fixture(scope="module")
def without_cls():
    torch.manual_seed(0)
    model = TimmVisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, class_token=False,
                                  global_pool="avg", num_classes=4)
    return capture(TimmViT(model, "vit/timm", "no-CLS timm ViT"), IMAGE)


def test_cls_view_is_the_cls_row_of_the_chosen_layer_and_head(with_cls):
    out = AttentionViews(with_cls).render(AttentionView(mode="cls", layer=1, head=2))
    np.testing.assert_allclose(out.heatmap.ravel(), with_cls.attentions[1, 2, 0, 1:])
    assert out.heads.shape == (1, 4, 4, 4) and out.overview.shape == (3, 4, 4, 4)
    np.testing.assert_allclose(out.overview[2, 3].ravel(), with_cls.attentions[2, 3, 0, 1:])
    assert out.prefix_share == pytest.approx(float(with_cls.attentions[1, 2, 0, 0]))
    fused = AttentionViews(with_cls).render(AttentionView(mode="cls", layer=-1, fusion="max"))
    np.testing.assert_allclose(fused.heatmap.ravel(), fuse_heads(with_cls.attentions[2], "max")[0, 1:])


def test_rollout_view_uses_layers_up_to_the_chosen_one(with_cls):
    views = AttentionViews(with_cls)
    out = views.render(AttentionView(mode="rollout", layer=1, fusion="min", discard_ratio=0.4))
    expected = rollout(with_cls.attentions[:2], "min", 0.4)[0, 1:]
    np.testing.assert_allclose(out.heatmap.ravel(), expected, atol=1e-6)
    assert "layers 1-2" in out.caption


def test_patch_view_and_reverse(with_cls):
    views = AttentionViews(with_cls)
    a = with_cls.attentions[2, 1]
    out = views.render(AttentionView(mode="patch", layer=2, head=1, patch=6))
    np.testing.assert_allclose(out.heatmap.ravel(), a[7, 1:])
    rev = views.render(AttentionView(mode="patch", layer=2, head=1, patch=6, reverse=True))
    np.testing.assert_allclose(rev.heatmap.ravel(), a[1:, 7])
    np.testing.assert_allclose(rev.overview[0, 0].ravel(), with_cls.attentions[0, 0, 1:, 7])
    assert "row 2, col 3" in out.caption


def test_model_without_cls_shows_mean_attention_received_and_says_so(without_cls):
    assert without_cls.prefix_tokens == () and not without_cls.has_cls
    views = AttentionViews(without_cls)
    out = views.render(AttentionView(mode="cls", layer=0, head=None, fusion="mean"))
    np.testing.assert_allclose(out.heatmap.ravel(), without_cls.attentions[0].mean(0).mean(0), atol=1e-6)
    assert "no CLS token" in out.explanation and "no CLS token" in out.caption
    roll = views.render(AttentionView(mode="rollout", layer=-1))
    assert "no CLS token" in roll.explanation
    np.testing.assert_allclose(roll.heatmap.ravel(), rollout(without_cls.attentions, "mean", 0.0, None).mean(0),
                               atol=1e-6)
    assert out.prefix_share is None


def test_every_view_has_a_short_explanation(with_cls):
    views = AttentionViews(with_cls)
    for mode in ("cls", "rollout", "patch"):
        text = views.render(AttentionView(mode=mode, patch=0)).explanation
        sentences = [s for s in text.split(". ") if s.strip()]
        assert 2 <= len(sentences) <= 4, (mode, text)

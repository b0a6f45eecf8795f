"""The Compare tab's bundled architectures: sizes, stage shapes, and what makes each what it is."""
from __future__ import annotations

import pytest
import torch

from models.compare.architectures import ARCHITECTURES
from models.compare.coatnet import CoAtNetShapes, RelativeAttention
from models.compare.convnext import ConvNeXtShapes
from models.compare.plain_vit import LinearPatchEmbed, PlainViT


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
def test_each_builds_classifies_and_stays_small(key):
    arch = ARCHITECTURES[key]
    torch.manual_seed(0)
    model = arch.build(arch.config)
    arch.init(model)
    logits = model.eval()(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, 6) and torch.isfinite(logits).all()
    assert sum(p.numel() for p in model.parameters()) <= 1_500_000


def test_convnext_stages_halve_resolution_and_use_7x7_depthwise():
    model = ConvNeXtShapes().eval()
    shapes = [tuple(o.shape[1:]) for o in model.stage_outputs(torch.rand(1, 3, 64, 64))]
    assert shapes == [(32, 16, 16), (64, 8, 8), (128, 4, 4), (192, 2, 2)]
    dw = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert dw and all(m.kernel_size == (7, 7) and m.groups == m.in_channels for m in dw)


def test_convnext_blocks_use_layernorm_gelu_and_an_inverted_bottleneck_with_either_stem():
    from models.compare.convnext import ConvNeXtBlock, ConvNeXtConfig

    for cfg in (ConvNeXtConfig(), ConvNeXtConfig(stem="patchify", downsample_norm="layer", layer_scale=1e-6)):
        model = ConvNeXtShapes(cfg).eval()
        shapes = [tuple(o.shape[1:]) for o in model.stage_outputs(torch.rand(1, 3, 64, 64))]
        assert shapes == [(32, 16, 16), (64, 8, 8), (128, 4, 4), (192, 2, 2)], cfg
        block = next(m for m in model.modules() if isinstance(m, ConvNeXtBlock))
        assert isinstance(block.norm, torch.nn.LayerNorm) and isinstance(block.act, torch.nn.GELU)
        assert block.pwconv1.out_features == 4 * block.pwconv1.in_features
        assert torch.all(block.gamma == cfg.layer_scale)
    conv_stem = [m for m in ConvNeXtShapes().stem if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in conv_stem] == [((3, 3), (2, 2))] * 2


def test_convnext_config_round_trips_and_refuses_unknown_choices():
    from models.compare.convnext import LAYER_SCALE_INIT, ConvNeXtConfig
    from models.errors import CheckpointError

    cfg = ConvNeXtConfig(stem="patchify", layer_scale=0.5)
    assert ConvNeXtConfig.from_metadata(cfg.to_metadata()) == cfg
    old = {k: v for k, v in ConvNeXtConfig().to_metadata().items() if k not in ("stem", "downsample_norm", "layer_scale")}
    assert ConvNeXtConfig.from_metadata(old) == ConvNeXtConfig(stem="patchify", downsample_norm="layer",
                                                               layer_scale=LAYER_SCALE_INIT)
    with pytest.raises(CheckpointError, match="stem"):
        ConvNeXtConfig.from_metadata(ConvNeXtConfig().to_metadata() | {"stem": "pickle"})


def test_coatnet_is_conv_conv_then_attention():
    model = CoAtNetShapes().eval()
    shapes = [tuple(o.shape[1:]) for o in model.stage_outputs(torch.rand(1, 3, 64, 64))]
    assert shapes == [(48, 16, 16), (64, 8, 8), (128, 8, 8), (160, 4, 4)]
    has_attention = [any(isinstance(m, RelativeAttention) for m in s.modules()) for s in model.stages]
    assert has_attention == [False, False, True, True]


def test_relative_bias_depends_only_on_the_offset():
    attn = RelativeAttention(16, 2, grid=4)
    with torch.no_grad():
        attn.rel_bias.copy_(torch.randn_like(attn.rel_bias))
    bias = attn.rel_bias[:, attn.rel_index]  # (heads, N, N)
    # token (0,0)->(1,1) and (2,2)->(3,3) have the same offset: the same bias
    assert torch.equal(bias[:, 0, 5], bias[:, 10, 15])
    assert not torch.equal(bias[:, 0, 5], bias[:, 0, 6])


def test_plain_vit_embeds_patches_linearly():
    model = PlainViT().eval()
    assert isinstance(model.stem, LinearPatchEmbed)
    x = torch.rand(1, 3, 64, 64)
    tokens = model.stem.proj(x)  # (1, D, 8, 8)
    w, b = model.stem.proj.weight, model.stem.proj.bias  # (D, 3, 8, 8)
    by_hand = w.flatten(1) @ x[0, :, 8:16, 16:24].flatten() + b  # patch (row 1, col 2) flattened
    assert torch.allclose(tokens[0, :, 1, 2], by_hand, atol=1e-5)

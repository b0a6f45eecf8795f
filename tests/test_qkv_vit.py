"""Q/K/V step-through on real ViT architectures (random init): the numbers equal the model's own hooks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.qkv_math import entropy_bits, head_step, multi_head_step, softmax, toy_attention
from models.vit.qkv import capture_qkv

pytestmark = pytest.mark.usefixtures("one_thread")  # torch on one thread: faster on 2 shared cores


def _image(size=64, seed=0):
    return (np.random.default_rng(seed).random((size, size, 3)) * 255).astype(np.uint8)


def _bundled():
    from models.vit.bundled import ShapesViT, ViTConfig
    from models.vit.capture_bundled import BundledViT

    return BundledViT(ShapesViT(ViTConfig())), None


def _torchvision_b16():
    from torchvision.models import vit_b_16

    from models.vit.capture_torchvision import TorchvisionViT

    return TorchvisionViT(vit_b_16(), "test/b16", "ViT-B/16 random", None), 224


def _hf_vit():
    from transformers import ViTConfig, ViTForImageClassification

    from models.vit.capture import Preprocessing
    from models.vit.capture_hf import HFViT

    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=96, num_labels=3, attn_implementation="eager", initializer_range=0.2)
    return HFViT(ViTForImageClassification(cfg), "test/hf", "HF ViT", Preprocessing(32)), None


def _hf_dinov2_layer_scale():
    from transformers import Dinov2Config, Dinov2Model

    from models.vit.capture import Preprocessing
    from models.vit.capture_hf import HFViT

    cfg = Dinov2Config(image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=96, layerscale_value=0.5, attn_implementation="eager", initializer_range=0.2)
    return HFViT(Dinov2Model(cfg), "test/dino", "DINOv2", Preprocessing(32)), None


def _timm():
    import timm

    from models.vit.capture_timm import TimmViT

    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, depth=2)
    return TimmViT(model, "test/timm", "timm"), None


FAMILIES = {"bundled": _bundled, "torchvision-b16": _torchvision_b16, "hf-vit": _hf_vit,
            "hf-dinov2-layerscale": _hf_dinov2_layer_scale, "timm": _timm}


@pytest.fixture(scope="module", params=list(FAMILIES))
def captured(request):
    torch.manual_seed(0)
    model, size = FAMILIES[request.param]()
    return model, capture_qkv(model, _image(), size)


def _queries(cap):
    return sorted({0, cap.num_prefix, cap.num_tokens // 2, cap.num_tokens - 1})


def test_softmax_weights_equal_the_captured_attention_of_every_head(captured):
    _model, cap = captured
    assert cap.q.shape == cap.k.shape == cap.v.shape == (cap.num_layers, cap.num_heads, cap.num_tokens, cap.d_k)
    np.testing.assert_allclose(cap.scale, cap.d_k ** -0.5, rtol=1e-6)
    for layer in range(cap.num_layers):
        for head in range(cap.num_heads):
            for tok in _queries(cap):
                step = head_step(cap.q[layer, head, tok], cap.k[layer, head], cap.v[layer, head], cap.scale[layer])
                np.testing.assert_allclose(step.weights, cap.attentions[layer, head, tok], atol=1e-5, rtol=0)
                np.testing.assert_allclose(step.scaled, step.scores * cap.scale[layer])
                np.testing.assert_allclose(step.output, step.weights @ cap.v[layer, head, :].astype(np.float64))


def test_concat_and_w_o_give_the_hooked_attention_output_and_the_residual(captured):
    _model, cap = captured
    for layer in range(cap.num_layers):
        for tok in _queries(cap):
            multi = multi_head_step(cap.q[layer, :, tok], cap.k[layer], cap.v[layer], cap.scale[layer],
                                    cap.w_o[layer], cap.b_o[layer])
            hooked = cap.attn_out[layer, tok]
            np.testing.assert_allclose(multi.projected, hooked, atol=1e-5 * max(1.0, np.abs(hooked).max()), rtol=0)
            np.testing.assert_allclose(multi.weights, cap.attentions[layer, :, tok], atol=1e-5, rtol=0)
            np.testing.assert_allclose(cap.block_in[layer, tok] + cap.branch_out[layer, tok], cap.residual[layer, tok],
                                       atol=1e-5, rtol=0)


def test_the_block_input_is_the_previous_block_residual_path(captured):
    """block_in of layer l+1 is the previous block's output (so the residual shown really is the model's stream)."""
    _model, cap = captured
    assert cap.block_in.shape == cap.residual.shape == cap.normed.shape
    assert not np.allclose(cap.block_in[0], cap.residual[0])  # attention added something


def test_layer_scale_is_part_of_the_residual_branch():
    torch.manual_seed(0)
    model, _ = _hf_dinov2_layer_scale()
    cap = capture_qkv(model, _image())
    assert cap.has_layer_scale
    np.testing.assert_allclose(cap.branch_out, cap.attn_out * 0.5, atol=1e-6)


def test_the_capture_reads_the_models_own_projection_weights():
    """Change W_q of one head in the model: q of that head changes, the others do not."""
    torch.manual_seed(0)
    model, _ = _bundled()
    before = capture_qkv(model, _image())
    attn = model.model.blocks[0].attn
    d_k = attn.head_dim
    with torch.no_grad():
        attn.qkv.weight[d_k:2 * d_k] *= 2.0  # rows of W_q for head 2
    after = capture_qkv(model, _image())
    assert not np.allclose(after.q[0, 1], before.q[0, 1])
    np.testing.assert_allclose(after.q[0, 0], before.q[0, 0], atol=1e-6)
    np.testing.assert_allclose(after.k[0], before.k[0], atol=1e-6)


def test_hooks_do_not_change_the_prediction():
    torch.manual_seed(0)
    model, _ = _bundled()
    from models.vit.capture import square_resize, to_input

    x = to_input(square_resize(_image(), 64), model.preprocessing(64))
    with torch.inference_mode():
        plain = model.plain_forward(x)
    capture_qkv(model, _image())
    with torch.inference_mode():
        again = model.plain_forward(x)
    torch.testing.assert_close(plain, again)


def test_without_scaling_the_softmax_is_sharper():
    rng = np.random.default_rng(0)
    for d_k in (4, 64, 256):
        q, k, v = rng.normal(size=d_k), rng.normal(size=(50, d_k)), rng.normal(size=(50, d_k))
        scaled = head_step(q, k, v, d_k ** -0.5, use_scale=True)
        raw = head_step(q, k, v, d_k ** -0.5, use_scale=False)
        assert entropy_bits(raw.weights) < entropy_bits(scaled.weights)
        np.testing.assert_allclose(raw.weights, softmax(raw.scores))
    # the collapse grows with d_k without the scaling, and not with it (mean largest weight over 20 queries)
    top = {}
    for d_k in (4, 64, 256):
        draws = [(rng.normal(size=d_k), rng.normal(size=(50, d_k))) for _ in range(20)]
        top[d_k] = [np.mean([head_step(q, k, k, d_k ** -0.5, use_scale=on).weights.max() for q, k in draws])
                    for on in (False, True)]
    assert top[4][0] < 0.5 < 0.8 < top[64][0] <= top[256][0] + 0.05
    assert all(scaled < 0.2 for _raw, scaled in top.values())


def test_toy_attention_matches_the_formula():
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    toy = toy_attention(q, k, v)
    assert toy.scores.shape == toy.weights.shape == (4, 4) and toy.output.shape == (4, 3)
    np.testing.assert_allclose(toy.scores, q @ k.T)
    np.testing.assert_allclose(toy.scaled, q @ k.T / np.sqrt(3))
    np.testing.assert_allclose(toy.weights.sum(1), 1.0)
    e = np.exp(toy.scaled - toy.scaled.max(1, keepdims=True))
    np.testing.assert_allclose(toy.output, (e / e.sum(1, keepdims=True)) @ v)
    np.testing.assert_allclose(toy_attention(q, k, v, use_scale=False).weights, softmax(q @ k.T))

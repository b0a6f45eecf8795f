"""Captured attention is the model's real attention, from one forward that leaves the outputs unchanged."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.models.vision_transformer import VisionTransformer

from models.errors import ImageLoadError, JobCancelled
from models.jobs import JobContext, run_to_completion
from models.vit.bundled import ShapesViT, ViTConfig
from models.vit.capture import capture, capture_job, square_resize, to_input
from models.vit.capture_bundled import BundledViT
from models.vit.capture_torchvision import TorchvisionViT

TINY = ViTConfig(image_size=32, stem_channels=(8, 16, 16), dim=32, depth=3, heads=4, num_classes=6)


def _image(h=50, w=70, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _bundled() -> BundledViT:
    torch.manual_seed(0)
    return BundledViT(ShapesViT(TINY))


def _torchvision(image_size=32) -> TorchvisionViT:
    torch.manual_seed(0)
    model = VisionTransformer(image_size=image_size, patch_size=8, num_layers=3, num_heads=4, hidden_dim=32,
                              mlp_dim=64, num_classes=10)
    return TorchvisionViT(model, "vit/test", "tiny torchvision ViT", tuple(f"c{i}" for i in range(10)))


def _reference_softmax(q: torch.Tensor, k: torch.Tensor, heads: int) -> np.ndarray:
    """softmax(Q K^T / sqrt(d_head)) per head, written out independently. q, k: (N, D) -> (heads, N, N)"""
    n, d = q.shape
    hd = d // heads
    q = q.reshape(n, heads, hd).transpose(0, 1).double()
    k = k.reshape(n, heads, hd).transpose(0, 1).double()
    scores = q @ k.transpose(1, 2) / np.sqrt(hd)
    e = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
    return (e / e.sum(dim=-1, keepdim=True)).numpy()


def test_bundled_attention_equals_softmax_of_its_own_q_and_k():
    vit = _bundled()
    result = capture(vit, _image())
    assert result.attentions.shape == (3, 4, 1 + 16, 1 + 16)
    assert np.allclose(result.attentions.sum(-1), 1.0, atol=1e-5)
    for layer, block in enumerate(vit.model.blocks):
        with torch.no_grad():
            x = block.norm1(torch.from_numpy(result.hidden_states[layer]))
            q, k, _v = block.attn.qkv(x).chunk(3, dim=-1)
        ref = _reference_softmax(q, k, TINY.heads)
        np.testing.assert_allclose(result.attentions[layer], ref, atol=1e-5)


def test_torchvision_attention_equals_softmax_of_its_own_q_and_k():
    vit = _torchvision()
    result = capture(vit, _image())
    assert np.allclose(result.attentions.sum(-1), 1.0, atol=1e-5)
    for layer, block in enumerate(vit.model.encoder.layers):
        mha = block.self_attention
        with torch.no_grad():
            x = block.ln_1(torch.from_numpy(result.hidden_states[layer]))
            w_q, w_k, _ = mha.in_proj_weight.chunk(3)
            b_q, b_k, _ = mha.in_proj_bias.chunk(3)
            ref = _reference_softmax(x @ w_q.T + b_q, x @ w_k.T + b_k, mha.num_heads)
        np.testing.assert_allclose(result.attentions[layer], ref, atol=1e-5)


@pytest.mark.parametrize("make", [_bundled, _torchvision])
def test_capture_leaves_logits_unchanged(make):
    vit = make()
    image = _image(64, 64, seed=3)
    result = capture(vit, image)
    x = to_input(result.image, vit.preprocessing(result.image.shape[0]))
    with torch.no_grad():
        plain = vit.plain_forward(x)[0].numpy()
    np.testing.assert_allclose(result.logits, plain, rtol=1e-5, atol=1e-5)


def test_hidden_states_cover_every_block_and_the_embedding():
    vit = _bundled()
    result = capture(vit, _image())
    with torch.no_grad():
        x = to_input(result.image, vit.preprocessing(None))
        embedded = vit.model.embed(x)[0].numpy()
    assert result.hidden_states.shape == (TINY.depth + 1, 17, TINY.dim)
    np.testing.assert_allclose(result.hidden_states[0], embedded, atol=1e-6)
    # the last hidden state, normed and classified, gives the logits
    with torch.no_grad():
        logits = vit.model.classify(torch.from_numpy(result.hidden_states[-1])[None])[0].numpy()
    np.testing.assert_allclose(logits, result.logits, atol=1e-5)


def test_other_input_sizes_interpolate_position_embeddings():
    vit = _torchvision()
    result = capture(vit, _image(), input_size=48)
    assert result.grid == (6, 6)
    assert result.image.shape == (48, 48, 3)
    assert result.attentions.shape[-1] == 1 + 36
    assert result.position_embeddings.shape == (36, 32)
    # the model at its own size is untouched
    assert capture(vit, _image()).grid == (4, 4)
    bundled = capture(_bundled(), _image(), input_size=50)  # rounded down to a multiple of the stem stride
    assert bundled.grid == (6, 6) and bundled.image.shape == (48, 48, 3)


def test_capture_stops_between_blocks_when_cancelled():
    vit = _bundled()
    ctx = JobContext()
    seen = []

    def cancel_after_first_block(*_):
        seen.append(1)
        ctx.cancel_event.set()

    vit.model.blocks[0].register_forward_hook(cancel_after_first_block)
    with pytest.raises(JobCancelled):
        run_to_completion(capture_job, vit, _image(), ctx=ctx)
    assert seen == [1]  # block 1 never ran past its cancel check


def test_bad_image_is_a_user_facing_error():
    with pytest.raises(ImageLoadError):
        square_resize(np.zeros((10, 10), np.uint8), 32)

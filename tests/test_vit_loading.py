"""Loading real-format weights through the registry's code paths (no mocks, no network)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.errors import CheckpointError, UserFacingError, WeightsUnavailableError
from models.loading import save_safetensors
from models.registry import ModelSource, SourceKind, get, specs_for
from models.vit import specs  # noqa: F401  (registers)
from models.vit.bundled import ShapesViT, ViTConfig
from models.vit.capture import capture, to_input

IMAGE = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)


def test_every_vit_model_is_registered():
    keys = {s.key for s in specs_for("vit")}
    assert {"vit/bundled-shapes", "vit/torchvision-b16", "vit/torchvision-b32", "vit/torchvision-l16",
            "vit/huggingface", "vit/timm"} <= keys


@pytest.mark.slow  # writes and reads a real 350 MB ViT-B/32 state dict
def test_torchvision_weights_load_from_the_hub_cache(tmp_path, monkeypatch):
    """A random ViT-B/32 state dict saved where torchvision looks is what the model then holds."""
    from torchvision.models import ViT_B_32_Weights, vit_b_32

    # TORCH_HOME only (monkeypatch restores it): torch.hub.set_dir(old) would pin the hub folder for every
    # later test, which then ignored their own TORCH_HOME (test_detection_models failed after this file)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert torch.hub.get_dir() == str(tmp_path / "hub")
    torch.manual_seed(5)
    reference = vit_b_32(weights=None)
    with torch.no_grad():
        reference.heads.head.weight.normal_(0, 0.02)  # torchvision zero-inits the head: make logits differ
    url = ViT_B_32_Weights.IMAGENET1K_V1.url
    target = tmp_path / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    target.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), target)
    vit = get("vit/torchvision-b32").load(ModelSource(SourceKind.TORCHVISION))
    for (name, a), b in zip(reference.state_dict().items(), vit.model.state_dict().values()):
        assert torch.equal(a, b), name
    result = capture(vit, IMAGE)
    assert result.class_names[:2] == ("tench", "goldfish") and len(result.class_names) == 1000
    with torch.no_grad():
        expected = reference.eval()(to_input(result.image, vit.preprocessing(None)))[0].numpy()
    np.testing.assert_allclose(result.logits, expected, rtol=1e-5, atol=1e-5)


def test_torchvision_offline_without_cache_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("urllib.request.urlopen", _no_network)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub folder, restored after the test
    assert torch.hub.get_dir() == str(tmp_path / "hub")
    with pytest.raises(WeightsUnavailableError, match="cache"):
        get("vit/torchvision-b16").load(ModelSource(SourceKind.TORCHVISION))


def test_the_hub_folder_still_follows_torch_home_after_the_tests_above(tmp_path, monkeypatch):
    """Isolation: no test above leaves the torch hub folder pinned (set_dir) for the tests that follow."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert torch.hub.get_dir() == str(tmp_path / "hub")


def _no_network(*_a, **_k):
    import urllib.error

    raise urllib.error.URLError("no network in tests")


def _tiny_hf(kind: str, folder):
    import transformers as tf

    common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                  image_size=32, patch_size=8)
    torch.manual_seed(0)
    if kind == "vit":
        model = tf.ViTForImageClassification(tf.ViTConfig(num_labels=3, id2label={0: "a", 1: "b", 2: "c"}, **common))
    elif kind == "deit":
        model = tf.DeiTForImageClassificationWithTeacher(tf.DeiTConfig(num_labels=3, **common))
    else:
        model = tf.Dinov2WithRegistersModel(tf.Dinov2WithRegistersConfig(num_register_tokens=2, **common))
    model.save_pretrained(folder)
    return model


@pytest.mark.parametrize("kind, prefix, classifier", [
    ("vit", ("CLS",), True), ("deit", ("CLS", "DIST"), True), ("dinov2", ("CLS", "REG0", "REG1"), False)])
def test_hugging_face_folder_loads_with_all_attention(tmp_path, kind, prefix, classifier):
    original = _tiny_hf(kind, tmp_path).eval()
    vit = get("vit/huggingface").load(ModelSource(SourceKind.HUGGINGFACE, str(tmp_path)))
    result = capture(vit, IMAGE)
    assert result.prefix_tokens == prefix
    assert result.attentions.shape == (2, 4, len(prefix) + 16, len(prefix) + 16)
    assert np.allclose(result.attentions.sum(-1), 1.0, atol=1e-5)
    x = to_input(result.image, vit.preprocessing(None))
    original.set_attn_implementation("eager")
    with torch.no_grad():
        out = original(pixel_values=x, output_attentions=True)
    np.testing.assert_allclose(result.attentions, torch.stack(out.attentions)[:, 0].numpy(), atol=1e-5)
    if classifier:
        np.testing.assert_allclose(result.logits, out.logits[0].numpy(), rtol=1e-5, atol=1e-5)
    else:
        assert result.logits is None and result.class_names is None
    bigger = capture(vit, IMAGE, input_size=48)  # position embeddings interpolated to 6x6
    assert bigger.grid == (6, 6) and bigger.attentions.shape[-1] == len(prefix) + 36


def test_hugging_face_errors_are_clear(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="Hugging Face"):
        get("vit/huggingface").load(ModelSource(SourceKind.HUGGINGFACE, "nobody/no-such-model-here"))
    import transformers as tf

    tf.BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="bert"):
        get("vit/huggingface").load(ModelSource(SourceKind.HUGGINGFACE, str(tmp_path)))


def test_bundled_checkpoint_round_trip_and_mismatch(tmp_path):
    torch.manual_seed(3)
    model = ShapesViT(ViTConfig())
    path = save_safetensors(model, tmp_path / "vit.safetensors", ViTConfig().to_metadata())
    vit = get("vit/bundled-shapes").load(ModelSource(SourceKind.CHECKPOINT, str(path)))
    for a, b in zip(model.state_dict().values(), vit.model.state_dict().values()):
        assert torch.equal(a, b)
    wrong = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
    save_safetensors(wrong, tmp_path / "wrong.safetensors")
    with pytest.raises(CheckpointError):
        get("vit/bundled-shapes").load(ModelSource(SourceKind.CHECKPOINT, str(tmp_path / "wrong.safetensors")))


def test_timm_unknown_name_is_refused():
    with pytest.raises(UserFacingError, match="timm"):
        get("vit/timm").load(ModelSource(SourceKind.RANDOM, "not_a_model_xyz"))

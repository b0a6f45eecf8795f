"""Issue 11 item 4: errors reach the user as one clear sentence, never raw. Crafted files in the real formats."""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from models.errors import CheckpointError, UserFacingError
from models.registry import ModelSource, SourceKind

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py
MODELS = Path(__file__).resolve().parents[1] / "models"


class _Evil:
    """Pickles to a call of os.system: loading it with plain pickle would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_file(path: Path, marker: Path) -> Path:
    torch.save({"weight": torch.zeros(2), "payload": _Evil(marker)}, path)
    return path


# ---- trust_remote_code=False on every from_pretrained in models/
def test_every_from_pretrained_in_models_passes_trust_remote_code_false():
    offenders = []
    for path in MODELS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained":
                ok = any(k.arg == "trust_remote_code" and isinstance(k.value, ast.Constant) and k.value.value is False
                         for k in node.keywords)
                if not ok:
                    offenders.append(f"{path.relative_to(MODELS.parent)}:{node.lineno}")
    assert offenders == []


# ---- torch.load refusals: one sentence, no colour codes, no advice to turn weights_only off
def test_a_pickle_with_code_is_refused_in_one_clean_sentence(tmp_path):
    from models.loading import load_state_dict_file

    marker = tmp_path / "ran"
    with pytest.raises(CheckpointError) as info:
        load_state_dict_file(_evil_file(tmp_path / "evil.pt", marker))
    message = str(info.value)
    assert "refused for safety" in message and not marker.exists()
    assert "\x1b" not in message and "weights_only" not in message and "\n" not in message
    assert "arbitrary code" not in message and "trusted source" not in message


# ---- diffusion files with the right keys and wrong shapes name the tensor
def test_diffusion_weights_of_other_shapes_name_the_tensor(tmp_path):
    from models.diffusion.bundled import load_unet_file, save_unet
    from models.diffusion.unet import UNet, UNetConfig

    cfg = UNetConfig(channels=(8, 16), time_dim=16, num_classes=2, attention_resolutions=(16,), groups=4, heads=2)
    path = tmp_path / "ddpm.safetensors"
    save_unet(UNet(cfg), path, "linear", 40, class_names=("a", "b"))
    tensors = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    tensors["stem.weight"] = torch.zeros(8, 3, 5, 5)  # the right key, another shape
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(CheckpointError, match=r"stem\.weight"):
        load_unet_file(path)


def test_training_checkpoint_of_other_shapes_names_the_tensor(tmp_path):
    from models.diffusion.live import LiveSession
    from models.diffusion.training import TrainConfig, Trainer
    from models.diffusion.unet import UNetConfig

    unet = UNetConfig(channels=(8, 16), time_dim=16, attention_resolutions=(16,), groups=4, heads=2)
    state = Trainer(TrainConfig(unet=unet, dataset_size=8, batch=2)).state_dict()
    state["ema"]["stem.weight"] = torch.zeros(8, 3, 1, 1)
    torch.save(state, tmp_path / "t.pt")
    with pytest.raises(CheckpointError, match=r"stem\.weight"):
        LiveSession().load(tmp_path / "t.pt", "cpu")
    marker = tmp_path / "ran"
    with pytest.raises(CheckpointError, match="refused for safety"):
        LiveSession().load(_evil_file(tmp_path / "evil.pt", marker), "cpu")
    assert not marker.exists()


# ---- GAN run files: every known failure is a CheckpointError
def _run_file(tmp_path, edit):
    from models.gan.checkpoint import save_run
    from models.gan.config import GanConfig, TrainConfig
    from models.gan.trainer import GanTrainer

    cfg = TrainConfig(gan=GanConfig(image_size=32, latent_size=8, width=4), batch_size=4, num_train_images=16,
                      grid_samples=4)
    trainer = GanTrainer(cfg, torch.randint(0, 255, (16, 3, 32, 32), dtype=torch.uint8))
    trainer.make_samples()
    path = save_run(trainer, tmp_path / "run.safetensors")
    with safe_open(str(path), "pt") as f:
        header = json.loads(f.metadata()["vision_explorer"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    header = edit(header, tensors)
    save_file(tensors, str(path), metadata={"vision_explorer": json.dumps(header)})
    return path


def _set(d, key, value):
    d[key] = value
    return d


@pytest.mark.parametrize("edit", [
    lambda h, t: [h],  # a header that is not a table
    lambda h, t: _set(h, "version", "two"),
    lambda h, t: _set(h, "step", "many"),
    lambda h, t: _set(h, "grid_steps", [0, 5, 9]),  # grids that are not in the file
    lambda h, t: (t.pop("history.metrics"), h)[1],
    lambda h, t: (t.__setitem__("history.metrics", torch.zeros(3, 2)), h)[1],  # other width
    lambda h, t: (t.__setitem__("fixed_z", torch.zeros(2, 2)), h)[1],
    lambda h, t: (t.pop("rng"), h)[1],
    lambda h, t: (t.__setitem__("real_batch", torch.zeros(4, 3, 8, 8)), h)[1],  # not images of this run
    lambda h, t: _set(h, "opt_g_groups", [{"params": [0]}]),
    lambda h, t: _set(h, "config", "not a table"),
], ids=["header-list", "version", "step", "grids", "no-metrics", "metrics-width", "fixed-z", "no-rng", "real-batch",
        "opt-groups", "config"])
def test_gan_run_files_fail_with_a_clear_message(tmp_path, edit):
    from models.gan.checkpoint import load_run

    path = _run_file(tmp_path, edit)
    with pytest.raises(CheckpointError, match="run.safetensors"):
        load_run(path, images=torch.randint(0, 255, (16, 3, 32, 32), dtype=torch.uint8))


# ---- Hugging Face folders
def _tiny_vit(folder: Path):
    import transformers as tf

    torch.manual_seed(0)
    config = tf.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                          image_size=32, patch_size=8, num_labels=3, id2label={0: "a", 1: "b", 2: "c"})
    tf.ViTForImageClassification(config).save_pretrained(folder)
    return folder


def _edit_json(path: Path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _load_vit(folder):
    from models.vit.capture_hf import load_hf_vit

    return load_hf_vit(str(folder), "vit/huggingface")


def test_hf_vit_with_a_pickled_pytorch_model_bin_is_refused_clearly(tmp_path):
    folder = _tiny_vit(tmp_path / "vit")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "ran"
    _evil_file(folder / "pytorch_model.bin", marker)
    with pytest.raises(CheckpointError, match="refused for safety") as info:
        _load_vit(folder)
    assert not marker.exists() and "weights_only" not in str(info.value)


@pytest.mark.parametrize("changes, match", [
    ({"id2label": {"0": "a", "5": "b", "7": "c"}}, "entry"),  # a classifier without every class index
    ({"patch_size": 0}, "patch_size"),
    ({"hidden_size": "abc"}, "hidden_size"),
    ({"intermediate_size": 48}, "shapes"),  # the weights no longer fit
    ({"num_hidden_layers": 10**6}, "num_hidden_layers"),  # refused before anything is built
])
def test_hf_vit_config_failures_are_clear(tmp_path, changes, match):
    folder = _tiny_vit(tmp_path / "vit")
    _edit_json(folder / "config.json", **changes)
    with pytest.raises(CheckpointError, match=match):
        _load_vit(folder)


def test_hf_vit_folder_with_unreadable_config_says_so(tmp_path):
    folder = _tiny_vit(tmp_path / "vit")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        _load_vit(folder)


def _tiny_detr(folder: Path):
    from transformers import DetrConfig, DetrForObjectDetection, ResNetConfig

    torch.manual_seed(0)
    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 8, 16, 16], depths=[1, 1, 1, 1], out_features=["stage4"])
    config = DetrConfig(use_timm_backbone=False, use_pretrained_backbone=False, backbone_config=backbone, d_model=32,
                        encoder_layers=1, decoder_layers=1, encoder_ffn_dim=32, decoder_ffn_dim=32,
                        encoder_attention_heads=2, decoder_attention_heads=2, num_queries=5,
                        id2label={0: "cat", 1: "dog"}, label2id={"cat": 0, "dog": 1})
    DetrForObjectDetection(config).save_pretrained(folder)
    return folder


def test_hf_detector_failures_are_clear(tmp_path):
    from models.detection.jobs import load_detector

    folder = _tiny_detr(tmp_path / "detr")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "ran"
    _evil_file(folder / "pytorch_model.bin", marker)
    with pytest.raises(CheckpointError, match="refused for safety"):
        load_detector("detection/hf-detr", str(folder), "cpu")
    assert not marker.exists()

    folder = _tiny_detr(tmp_path / "detr2")
    _edit_json(folder / "config.json", d_model=10**6)  # refused before anything is built
    with pytest.raises(CheckpointError, match="d_model"):
        load_detector("detection/hf-detr", str(folder), "cpu")
    _edit_json(folder / "config.json", d_model=32, encoder_ffn_dim=48)  # the weights no longer fit
    with pytest.raises(CheckpointError, match="shapes"):
        load_detector("detection/hf-detr", str(folder), "cpu")


def test_diffusers_unet_with_a_pickled_bin_is_refused_clearly(tmp_path):
    diffusers = pytest.importorskip("diffusers")
    from models.diffusion.hf import load_diffusers_unet

    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(sample_size=16, in_channels=3, out_channels=3, layers_per_block=1,
                                 block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)
    unet.save_pretrained(tmp_path)
    diffusers.DDPMScheduler(num_train_timesteps=10).save_pretrained(tmp_path)
    (tmp_path / "diffusion_pytorch_model.safetensors").unlink()
    marker = tmp_path / "ran"
    _evil_file(tmp_path / "diffusion_pytorch_model.bin", marker)
    with pytest.raises(UserFacingError, match="refused for safety"):
        load_diffusers_unet(str(tmp_path))
    assert not marker.exists()
    _edit_json(tmp_path / "config.json", block_out_channels=[8, 10**6])
    with pytest.raises(CheckpointError, match="block_out_channels"):
        load_diffusers_unet(str(tmp_path))


def test_bundled_vit_source_refuses_a_pickle_clearly(tmp_path):
    from models.vit import specs

    marker = tmp_path / "ran"
    with pytest.raises(CheckpointError, match="refused for safety") as info:
        specs.load_bundled(ModelSource(SourceKind.CHECKPOINT, str(_evil_file(tmp_path / "evil.pt", marker))))
    assert not marker.exists() and "weights_only" not in str(info.value) and "\n" not in str(info.value)

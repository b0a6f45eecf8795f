"""Issue 11 item 1: every number read from a weights, run or checkpoint file is checked before anything
is built. Crafted files, one field each; each is refused with a CheckpointError naming the field."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from models import config_checks
from models.errors import CheckpointError
from models.registry import ModelSource, SourceKind

pytestmark = pytest.mark.usefixtures("one_thread")


def _no_real_build(monkeypatch, module, name):
    """Building `name` in `module` for real (not on the meta device) fails the test."""
    real = getattr(module, name)

    def guarded(*args, **kwargs):
        assert torch.empty(0).device.type == "meta", f"{name} was built from an unchecked config"
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, guarded)


# ---- the shared helper
def test_reader_checks_types_ranges_names_and_the_budget():
    r = config_checks.ConfigReader({"a": "12", "b": 2e9, "c": True, "d": "nan", "e": [1, "x"], "f": "/etc"}, "'f'")
    assert r.integer("a", 1, 20) == 12 and r.integer("missing", 0, 5, 3) == 3
    for call in (lambda: r.integer("b", 1, 10**6), lambda: r.integer("c", 0, 5), lambda: r.number("d", 0, 1),
                 lambda: r.ints("e", 0, 9, 1, 4), lambda: r.choice("f", ("shapes",)), lambda: r.integer("gone", 0, 1)):
        with pytest.raises(CheckpointError, match="'f'"):
            call()
    with pytest.raises(CheckpointError, match="parameters"):
        config_checks.check_budget(lambda: torch.nn.Linear(20_000, 20_000), "'big'")  # 400 M, on the meta device
    with pytest.raises(CheckpointError, match="table"):
        config_checks.ConfigReader([1, 2], "'f'")


# ---- ViT (safetensors metadata)
def _vit_file(tmp_path, **meta):
    from models.vit.bundled import ShapesViT, ViTConfig

    path = tmp_path / "vit.safetensors"
    model = ShapesViT(ViTConfig())
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
              metadata={**ViTConfig().to_metadata(), **{k: str(v) for k, v in meta.items()}})
    return path


@pytest.mark.parametrize("field, value", [
    ("dim", 32768), ("depth", 10**6), ("heads", 0), ("image_size", 100_000), ("stem_channels", "(4096, 4096, 4096, 4096, 4096, 4096)"),
    ("mlp_ratio", "inf"), ("num_classes", "1e12"), ("dim", "96.5"), ("heads", 5)])
def test_vit_metadata_fields_are_checked_before_building(tmp_path, monkeypatch, field, value):
    from models.vit import specs

    path = _vit_file(tmp_path, **{field: value})
    _no_real_build(monkeypatch, specs, "ShapesViT")
    with pytest.raises(CheckpointError, match=field):
        specs.load_bundled(ModelSource(SourceKind.CHECKPOINT, str(path)))


def test_vit_parameter_budget_is_computed_before_building(tmp_path, monkeypatch):
    from models.vit import specs

    path = _vit_file(tmp_path, dim=2048, depth=48, heads=16)  # every field in range, 1.6 G parameters in all
    _no_real_build(monkeypatch, specs, "ShapesViT")
    with pytest.raises(CheckpointError, match="parameters"):
        specs.load_bundled(ModelSource(SourceKind.CHECKPOINT, str(path)))


def test_vit_default_metadata_still_loads(tmp_path):
    from models.vit import specs

    model = specs.load_bundled(ModelSource(SourceKind.CHECKPOINT, str(_vit_file(tmp_path))))
    assert model.title.startswith("Shapes ViT")


# ---- DETR (safetensors metadata)
def _detr_file(tmp_path, **meta):
    from models.detection.config import DetrConfig
    from models.detection.detr_model import ShapesDETR

    path = tmp_path / "detr.safetensors"
    save_file({k: v.contiguous() for k, v in ShapesDETR(DetrConfig()).state_dict().items()}, str(path),
              metadata={**DetrConfig().to_metadata(), **{k: str(v) for k, v in meta.items()}})
    return path


@pytest.mark.parametrize("field, value", [
    ("d_model", 65536), ("ffn", 10**9), ("encoder_layers", 1000), ("decoder_layers", 1000), ("queries", 10**7),
    ("backbone_channels", "100000,64,128"), ("image_size", 50_000), ("heads", -1), ("dropout", "2"),
    ("num_classes", 7), ("class_names", "a,b")])
def test_detr_metadata_fields_are_checked_before_building(tmp_path, monkeypatch, field, value):
    from models.detection import bundled

    path = _detr_file(tmp_path, **{field: value})
    _no_real_build(monkeypatch, bundled, "ShapesDETR")
    with pytest.raises(CheckpointError, match=field):
        bundled.load_bundled_model(path)


def test_detr_parameter_budget(tmp_path, monkeypatch):
    from models.detection import bundled

    path = _detr_file(tmp_path, d_model=1024, ffn=8192, encoder_layers=12, decoder_layers=12, heads=8)
    _no_real_build(monkeypatch, bundled, "ShapesDETR")
    with pytest.raises(CheckpointError, match="parameters"):
        bundled.load_bundled_model(path)


# ---- diffusion weights (safetensors metadata) and training checkpoints (.pt)
def _unet_file(tmp_path, schedule="linear", timesteps="40", names=None, **unet):
    from models.diffusion.unet import UNet, UNetConfig

    cfg = UNetConfig(channels=(8, 16), time_dim=16, num_classes=2, attention_resolutions=(16,), groups=4, heads=2)
    path = tmp_path / "ddpm.safetensors"
    meta = {"unet_config": json.dumps({**cfg.to_dict(), **unet}), "schedule": schedule, "timesteps": timesteps,
            "class_names": json.dumps(names if names is not None else ["a", "b"])}
    save_file({k: v.contiguous() for k, v in UNet(cfg).state_dict().items()}, str(path), metadata=meta)
    return path


@pytest.mark.parametrize("field, kwargs", [
    ("channels", {"channels": [32768, 32768]}), ("channels", {"channels": [8] * 40}),
    ("image_size", {"image_size": 4096}), ("attention_resolutions", {"attention_resolutions": [128]}),
    ("res_blocks", {"res_blocks": 10**6}), ("time_dim", {"time_dim": 10**7}), ("num_classes", {"num_classes": 10**9}),
    ("upsample_conv", {"upsample_conv": "rm -rf"}), ("in_channels", {"in_channels": 0}),
    ("schedule", {"schedule": "../../evil"}), ("timesteps", {"timesteps": "500000000"}),
    ("class_names", {"names": ["a"]})])
def test_diffusion_metadata_fields_are_checked_before_building(tmp_path, monkeypatch, field, kwargs):
    from models.diffusion import bundled

    path = _unet_file(tmp_path, **kwargs)
    _no_real_build(monkeypatch, bundled, "UNet")
    with pytest.raises(CheckpointError, match=field):
        bundled.load_unet_file(path)


def test_diffusion_parameter_budget(tmp_path, monkeypatch):
    from models.diffusion import bundled

    path = _unet_file(tmp_path, channels=[1024, 1024, 1024], groups=8, heads=8, res_blocks=4, image_size=32)
    _no_real_build(monkeypatch, bundled, "UNet")
    with pytest.raises(CheckpointError, match="parameters"):
        bundled.load_unet_file(path)


def _training_checkpoint(tmp_path, **changes):
    from models.diffusion.training import TrainConfig, Trainer
    from models.diffusion.unet import UNetConfig

    unet = UNetConfig(channels=(8, 16), time_dim=16, attention_resolutions=(16,), groups=4, heads=2)
    state = Trainer(TrainConfig(unet=unet, dataset_size=8, batch=2)).state_dict()
    unet_changes = changes.pop("unet", {})
    state["config"].update(changes)
    state["config"]["unet"].update(unet_changes)
    path = tmp_path / "train.pt"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("field, changes", [
    ("dataset_size", {"dataset_size": 2e9}), ("dataset_size", {"dataset_size": "lots"}),
    ("batch", {"batch": 10**8}), ("timesteps", {"timesteps": 10**9}), ("lr", {"lr": float("nan")}),
    ("schedule", {"schedule": "nope"}), ("channels", {"unet": {"channels": [65536, 65536]}})])
def test_training_checkpoint_settings_are_checked_before_anything_is_built(tmp_path, monkeypatch, field, changes):
    from models.diffusion import live

    path = _training_checkpoint(tmp_path, **changes)
    monkeypatch.setattr(live, "sprite_arrays", lambda *a, **k: pytest.fail("drew the training set"))
    _no_real_build(monkeypatch, live, "Trainer")
    with pytest.raises(CheckpointError, match=field):
        live.LiveSession().load(path, "cpu")


# ---- GAN run files
def _gan_run(tmp_path, header_changes=None, tensor_changes=None):
    from models.gan.checkpoint import save_run
    from models.gan.config import GanConfig, TrainConfig
    from models.gan.trainer import GanTrainer

    cfg = TrainConfig(gan=GanConfig(image_size=32, latent_size=8, width=4), batch_size=4, num_train_images=16,
                      grid_samples=4)
    images = torch.randint(0, 255, (16, 3, 32, 32), dtype=torch.uint8)
    path = save_run(GanTrainer(cfg, images), tmp_path / "run.safetensors")
    with safe_open(str(path), "pt") as f:
        header = json.loads(f.metadata()["vision_explorer"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for key, value in (header_changes or {}).items():
        section = header["config"]["gan"] if key.startswith("gan.") else header["config"]
        section[key.removeprefix("gan.")] = value
    tensors.update(tensor_changes or {})
    save_file(tensors, str(path), metadata={"vision_explorer": json.dumps(header)})
    return path


@pytest.mark.parametrize("field, value", [
    ("gan.width", 4096), ("gan.latent_size", 10**6), ("gan.image_size", 48), ("gan.channels", 2),
    ("num_train_images", 2e9), ("grid_samples", 5e8), ("batch_size", 10**9), ("d_steps", 10**6),
    ("dataset", "../../etc"), ("loss", "evil"), ("lr_g", "inf"), ("seed", -1)])
def test_gan_run_settings_are_checked_before_anything_is_built(tmp_path, monkeypatch, field, value):
    from models.gan import checkpoint, data

    path = _gan_run(tmp_path, {field: value})
    monkeypatch.setattr(data, "load_images", lambda *a, **k: pytest.fail("loaded training images"))
    _no_real_build(monkeypatch, checkpoint, "GanTrainer")
    with pytest.raises(CheckpointError, match=field.removeprefix("gan.")):
        checkpoint.load_run(path)


def _recording_dataset(monkeypatch, key):
    """Replace the loader of dataset `key` by one that records the request (no network, no disk)."""
    from models.gan import data

    seen = []

    def load(req, progress):
        seen.append(req)
        return torch.zeros(16, 3, req.image_size, req.image_size, dtype=torch.uint8)

    monkeypatch.setitem(data.DATASETS, key, data.DatasetSource(key, key, 3, data.DATASETS[key].needs_folder, load))
    return seen


def test_gan_run_never_takes_a_data_folder_from_the_file(tmp_path, monkeypatch):
    from models.gan.checkpoint import load_run

    seen = _recording_dataset(monkeypatch, "cifar10")
    path = _gan_run(tmp_path, {"dataset": "cifar10", "data_ref": str(tmp_path / "attacker-chosen")})
    trainer = load_run(path)
    assert [r.ref for r in seen] == [""]  # the app's default data folder, not the one in the file
    assert trainer.config.data_ref == ""
    assert not (tmp_path / "attacker-chosen").exists()


def test_gan_folder_run_does_not_scan_a_folder_named_in_the_file(tmp_path, monkeypatch):
    from models.gan.checkpoint import load_run

    seen = _recording_dataset(monkeypatch, "folder")
    path = _gan_run(tmp_path, {"dataset": "folder", "data_ref": "/"})
    with pytest.raises(CheckpointError, match="folder"):
        load_run(path)
    assert seen == []
    load_run(path, data_ref=str(tmp_path))  # a folder the user picked is used
    assert [r.ref for r in seen] == [str(tmp_path)]


def test_gan_run_budget_is_computed_before_building(tmp_path, monkeypatch):
    from models.gan import checkpoint

    path = _gan_run(tmp_path, {"gan.width": 256, "gan.image_size": 64, "gan.latent_size": 1024})
    _no_real_build(monkeypatch, checkpoint, "GanTrainer")
    with pytest.raises(CheckpointError, match="parameters"):
        checkpoint.load_run(path, images=torch.zeros(4, 3, 64, 64, dtype=torch.uint8))

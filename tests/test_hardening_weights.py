"""Issue 11 item 5: weights with NaN/Inf are refused, a GAN never rolls back to a broken state, saves write
exactly the confirmed path, stale temp files from a crash are cleaned, live weights use a private temp dir."""
from __future__ import annotations

import os
import stat
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from models.errors import CheckpointError
from models.registry import ModelSource, SourceKind

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _poison(path, key_part, value=float("nan")):
    """Put one NaN/Inf into the first tensor whose name contains key_part, keeping the file's metadata."""
    tensors = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    key = next(k for k in tensors if key_part in k and tensors[k].is_floating_point())
    tensors[key].view(-1)[0] = value
    save_file(tensors, str(path), metadata=meta)
    return key


# ---- NaN / Inf weights are refused, naming the tensor
def test_vit_weights_with_nan_are_refused(tmp_path):
    from models.loading import save_safetensors
    from models.vit import specs
    from models.vit.bundled import ShapesViT, ViTConfig

    path = save_safetensors(ShapesViT(ViTConfig()), tmp_path / "vit.safetensors", ViTConfig().to_metadata())
    key = _poison(path, "qkv.weight")
    with pytest.raises(CheckpointError, match=f"NaN or Inf.*{key}"):
        specs.load_bundled(ModelSource(SourceKind.CHECKPOINT, str(path)))


def test_detr_weights_with_inf_are_refused(tmp_path):
    from models.detection.bundled import load_bundled_model
    from models.detection.config import DetrConfig
    from models.detection.detr_model import ShapesDETR
    from models.loading import save_safetensors

    path = save_safetensors(ShapesDETR(DetrConfig()), tmp_path / "detr.safetensors", DetrConfig().to_metadata())
    key = _poison(path, "class_head", float("inf"))
    with pytest.raises(CheckpointError, match=f"NaN or Inf.*{key}"):
        load_bundled_model(path)


def test_diffusion_weights_with_nan_are_refused(tmp_path):
    from models.diffusion.bundled import load_unet_file, save_unet
    from models.diffusion.unet import UNet, UNetConfig

    cfg = UNetConfig(channels=(8, 16), time_dim=16, num_classes=2, attention_resolutions=(16,), groups=4, heads=2)
    path = tmp_path / "ddpm.safetensors"
    save_unet(UNet(cfg), path, "linear", 40, class_names=("a", "b"))
    key = _poison(path, "stem")
    with pytest.raises(CheckpointError, match=f"NaN or Inf.*{key}"):
        load_unet_file(path)


def _tiny_gan():
    from models.gan.config import GanConfig, TrainConfig
    from models.gan.trainer import GanTrainer

    cfg = TrainConfig(gan=GanConfig(image_size=32, latent_size=8, width=4), batch_size=4, num_train_images=16,
                      grid_samples=4)
    return GanTrainer(cfg, torch.randint(0, 255, (16, 3, 32, 32), dtype=torch.uint8), snapshot_every=1)


def test_gan_run_with_inf_weights_or_optimiser_state_is_refused(tmp_path):
    from models.gan.checkpoint import load_run, save_run

    trainer = _tiny_gan()
    trainer.train_step()
    images = trainer.images
    for part in ("G.", "opt_d."):
        path = save_run(trainer, tmp_path / f"{part}safetensors")
        _poison_run(path, part)
        with pytest.raises(CheckpointError, match="NaN or Inf"):
            load_run(path, images)


def _poison_run(path, prefix):
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    key = next(k for k in tensors if k.startswith(prefix) and tensors[k].is_floating_point() and tensors[k].numel())
    tensors[key].view(-1)[0] = float("inf")
    save_file(tensors, str(path), metadata=meta)


def test_gan_never_keeps_a_non_finite_state_as_the_last_good_one():
    from models.gan.trainer import NonFiniteError

    t = _tiny_gan()
    t.train_step()
    good_step = t.step
    with torch.no_grad():
        next(t.G.parameters()).fill_(float("inf"))  # as if a run had loaded or drifted into Inf weights
    t.take_snapshot()  # must not replace the finite snapshot
    with pytest.raises(NonFiniteError):
        t.train_step()
    assert t.all_finite() and t.step == good_step  # back to the finite state: no rollback loop
    row = t.train_step()
    assert np.isfinite(row).all() and t.step == good_step + 1


# ---- saving: exactly the confirmed path
def _live_session():
    from models.diffusion.live import LiveSession
    from models.diffusion.training import TrainConfig, Trainer
    from models.diffusion.unet import UNetConfig

    session = LiveSession()
    unet = UNetConfig(channels=(8, 16), time_dim=16, attention_resolutions=(16,), groups=4, heads=2)
    session.trainer = Trainer(TrainConfig(unet=unet, dataset_size=8, batch=2))
    return session


def test_diffusion_checkpoint_writes_exactly_the_confirmed_path(tmp_path):
    session = _live_session()
    (tmp_path / "X.safetensors").write_bytes(b"the user's other file")
    (tmp_path / "X.tmp").write_bytes(b"the user's notes")
    assert session.save(tmp_path / "X.pt") == tmp_path / "X.pt"
    assert (tmp_path / "X.safetensors").read_bytes() == b"the user's other file"
    assert (tmp_path / "X.tmp").read_bytes() == b"the user's notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.pt", "X.safetensors", "X.tmp"]
    session.save(tmp_path / "plain")  # no suffix: that name, not "plain.pt"
    assert (tmp_path / "plain").is_file() and not (tmp_path / "plain.pt").exists()
    from models.diffusion.live import LiveSession

    assert LiveSession().load(tmp_path / "X.pt", "cpu") == session.trainer.step


def _stale(folder, name, age_s=3600.0):
    path = folder / name
    path.write_bytes(b"half a checkpoint")
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def _save_gan(trainer, path):
    from models.gan.checkpoint import save_run

    save_run(trainer, path)


@pytest.mark.parametrize("kind", ["diffusion", "gan", "safetensors"])
def test_stale_temp_files_of_a_crashed_save_are_cleaned_on_the_next_save(tmp_path, kind):
    from models.loading import save_safetensors

    name = {"diffusion": "run.pt", "gan": "run.safetensors", "safetensors": "w.safetensors"}[kind]
    target = tmp_path / name
    stale = [_stale(tmp_path, f"{name}.a1b2c3d4.tmp"), _stale(tmp_path, f"{name}x9y8z7w6.tmp")]  # ours, and the old GAN naming
    fresh = _stale(tmp_path, f"{name}.q1w2e3r4.tmp", age_s=0)  # may belong to a save running right now
    kept = [_stale(tmp_path, "run.tmp"), _stale(tmp_path, f"{name}.notes.tmp"), _stale(tmp_path, "other.pt.a1b2c3d4.tmp")]
    if kind == "diffusion":
        _live_session().save(target)
    elif kind == "gan":
        _save_gan(_tiny_gan(), target)
    else:
        save_safetensors({"w": torch.zeros(2)}, target)
    assert target.is_file() and fresh.exists()
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
    assert sorted(tmp_path.glob("*.tmp")) == sorted([fresh] + kept)  # and the save left no temp file of its own


# ---- live weights for sampling: a private temp dir, cleaned up
def test_live_weights_go_to_a_private_temp_dir_that_is_cleaned_up():
    from models.diffusion import app_jobs
    from models.jobs import run_to_completion

    session = _live_session()
    predictable = Path(tempfile.gettempdir()) / f"vision-explorer-live-ddpm-step{session.trainer.step}.safetensors"
    before = predictable.stat().st_mtime_ns if predictable.exists() else None
    first, _ = run_to_completion(app_jobs.live_weights_job, session)
    path = Path(first.ref)
    folder = path.parent
    try:
        assert path.is_file() and folder != Path(tempfile.gettempdir())
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # only this user can read or plant files there
        assert (predictable.stat().st_mtime_ns if predictable.exists() else None) == before  # not written
        session.trainer.step += 1
        second, _ = run_to_completion(app_jobs.live_weights_job, session)
        assert not path.exists() and Path(second.ref).is_file()  # only the latest is kept
    finally:
        app_jobs.LIVE_WEIGHTS_DIR.remove()  # what happens at exit (atexit)
    assert not folder.exists()


def test_a_save_that_cannot_be_written_is_a_clear_message(tmp_path):
    from models.errors import UserFacingError
    from models.gan.checkpoint import save_run

    (tmp_path / "a-file").write_text("not a folder")
    for save in (lambda p: _live_session().save(p), lambda p: save_run(_tiny_gan(), p)):
        with pytest.raises(UserFacingError, match="Could not save"):
            save(tmp_path / "a-file" / "run.pt")  # its parent is a file: an OSError inside
        with pytest.raises(UserFacingError, match="folder"):
            save(tmp_path)  # a folder, not a file name
    assert (tmp_path / "a-file").read_text() == "not a folder"

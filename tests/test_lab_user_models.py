"""Data lab, "your own images": replacing the head of any classifier (bundled, torchvision, timm), head-only
freezing, the fine-tune job (live updates, pause/resume, stop, NaN, unreadable files), saving as safetensors + card,
registering in the model pickers, identical logits after reloading, and crafted files refused."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file
from torch import nn

from models.compare.stages import StageModel
from models.errors import CheckpointError, UserFacingError
from models.jobs import run_to_completion
from models.lab.finetune_run import FineTuneConfig, FolderFineTuner
from models.lab.heads import HeadNotFoundError, find_head_paths, replace_head
from models.lab.image_folder import index_folder_job, split
from models.lab.user_model_store import WEIGHTS_FILE, register_user_models
from models.lab.user_models import (FineTunePaused, FineTuneResult, FineTuneUpdate, fine_tune_folder_job,
                                    resume_fine_tune_job)
from models.registry import ModelSource, SourceKind, get, specs_for

pytestmark = pytest.mark.usefixtures("one_thread")  # small ops: 2 threads wait on each other on a busy machine
COLOURS = {"blue": (40, 60, 220), "green": (40, 200, 60), "red": (220, 40, 40)}
RANDOM = ModelSource(SourceKind.RANDOM)


def make_folder(root, per_class=8, seed=0):
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            size = (int(rng.integers(30, 70)), int(rng.integers(30, 70)))
            im = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
            ImageDraw.Draw(im).ellipse((2, 2, 28, 28), fill=colour)
            im.save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = make_folder(tmp_path_factory.mktemp("data") / "colours")
    (root / "red" / "broken.png").write_bytes(b"not a png")  # unreadable among good ones
    return run_to_completion(index_folder_job, root)[0]


class PauseAfter:
    """A LabControl stand-in that asks for a pause after `n` polls."""

    def __init__(self, n: int, stop: bool = False):
        self.n, self.stop = n, stop

    @property
    def pause_requested(self) -> bool:
        self.n -= 1
        return self.n < 0

    @property
    def stop_requested(self) -> bool:
        return self.stop and self.n <= 0


def _logits(sm: StageModel, seed=0) -> torch.Tensor:
    torch.manual_seed(seed)
    x = torch.rand(2, 3, *sm.image_size)
    with torch.no_grad():
        return sm.model.eval()(x)


def _tuner(folder, tmp_path, key="compare/convnext", size=None, **config) -> FolderFineTuner:
    sm = get(key).load(RANDOM)
    if size is not None:  # a torchvision CNN runs at any size: 64 px keeps the test quick
        sm.image_size = (size, size)
    cfg = FineTuneConfig(**{"steps": 4, "batch": 6, "eval_every": 2, **config})
    return FolderFineTuner(sm, key, RANDOM, folder, cfg, "cpu", out_dir=tmp_path / "models")


def test_head_is_found_generically_and_replaced_for_a_bundled_model():
    sm = get("compare/convnext").load(RANDOM)
    new, paths = replace_head(sm, ("a", "b", "c"))
    assert len(paths) == 1 and new.class_names == ("a", "b", "c")
    assert tuple(_logits(new).shape) == (2, 3)


def test_timm_model_with_two_heads_fine_tunes_saves_and_reloads_identically(folder, tmp_path):
    tuner = _tuner(folder, tmp_path, "compare/timm-levit", steps=1, batch=2)
    assert tuner.head_paths == ("net.head.linear", "net.head_dist.linear")  # LeViT's distilled pair, found generically
    result = run_to_completion(resume_fine_tune_job, tuner, None)[0]
    assert register_user_models(tmp_path / "models").registered == (result.model_key,)
    loaded = get(result.model_key).load()  # rebuilt from timm's architecture (RANDOM), new heads, saved weights
    assert torch.equal(_logits(loaded), _logits(tuner.sm)) and tuple(_logits(loaded).shape) == (2, 3)


def test_declared_head_paths_win_and_missing_heads_are_clear():
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 5))
    assert find_head_paths(model, 5) == ("2",)
    assert find_head_paths(model, 5, declared=("0",)) == ("0",)
    with pytest.raises(HeadNotFoundError, match="not part"):
        find_head_paths(model, 5, declared=("9",))
    with pytest.raises(HeadNotFoundError, match="No Linear layer with 7 outputs"):
        find_head_paths(model, 7)
    bad = StageModel(nn.Sequential(nn.Flatten(), nn.Linear(48, 3), nn.Linear(3, 3), nn.Flatten(0)), (), ("x", "y", "z"), (4, 4))
    with pytest.raises(HeadNotFoundError):
        replace_head(bad, ("p", "q"))


def test_head_only_trains_the_head_and_leaves_the_rest_untouched(folder, tmp_path):
    for key, size in (("compare/convnext", None), ("compare/resnet50", 64)):  # resnet: batch-norm stats stay too
        tuner = _tuner(folder, tmp_path, key, size, mode="head", batch=2, lr=1e-2)
        assert key != "compare/resnet50" or tuner.head_paths == ("net.fc",)  # torchvision, found generically
        assert tuple(_logits(tuner.sm).shape) == (2, 3)
        before = {k: v.clone() for k, v in tuner.sm.model.state_dict().items()}
        tuner.train_step()
        after = tuner.sm.model.state_dict()
        changed = {k for k in before if not torch.equal(before[k], after[k])}
        assert changed and all(k.startswith(tuner.head_paths) for k in changed), (key, changed)
        trainable = {n for n, p in tuner.sm.model.named_parameters() if p.requires_grad}
        assert trainable == {n for n, _ in tuner.sm.model.named_parameters() if n.startswith(tuner.head_paths)}


def test_all_layers_mode_trains_the_body_too(folder, tmp_path):
    tuner = _tuner(folder, tmp_path, mode="all", lr=1e-2)
    before = {k: v.clone() for k, v in tuner.sm.model.state_dict().items()}
    tuner.train_step()
    changed = {k for k, v in tuner.sm.model.state_dict().items() if not torch.equal(before[k], v)}
    assert any(not k.startswith(tuner.head_paths) for k in changed)


def test_fine_tune_job_pauses_resumes_saves_registers_and_reloads_with_identical_logits(folder, tmp_path):
    out = tmp_path / "models"
    paused, partials = run_to_completion(fine_tune_folder_job, "compare/convnext", RANDOM, folder,
                                         FineTuneConfig(steps=4, batch=6, eval_every=2), PauseAfter(2), out, "cpu",
                                         min_update_s=0.0)
    assert isinstance(paused, FineTunePaused) and paused.step == 2 and paused.steps == 4
    result, more = run_to_completion(resume_fine_tune_job, paused.tuner, PauseAfter(100), min_update_s=0.0)
    assert isinstance(result, FineTuneResult) and result.steps_done == 4 and not result.stopped_early
    updates = [p for p in partials + more if isinstance(p, FineTuneUpdate)]
    assert [u.step for u in updates if u.held_out_accuracy is not None] == [2, 4]
    assert all(np.isfinite(u.loss) for u in updates) and [p.step for p in result.curve] == [2, 4]
    assert result.classes == ("blue", "green", "red") and result.confusion.shape == (3, 3)
    readable_held_out = [p for p, _ in split(folder, 0.2, 0).held_out if not p.endswith("broken.png")]
    assert result.confusion.sum() == result.held_out_images == len(readable_held_out) >= 5  # 2 per class
    assert result.skipped_unreadable == 1 and any("unreadable" in n for n in result.notes)
    assert result.held_out_accuracy == pytest.approx(np.trace(result.confusion) / result.held_out_images)
    for img, true, pred, conf in result.most_confused:
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8 and true != pred and 0 < conf <= 1
    assert len(result.most_confused) == result.held_out_images - np.trace(result.confusion)
    card = open(result.card_path, encoding="utf-8").read()
    assert "- blue" in card and "- red" in card and "compare/convnext" in card and "Held-out accuracy" in card
    scan = register_user_models(out)  # as the app does at start-up and when a result arrives
    assert scan.registered == (result.model_key,) and not scan.skipped
    spec = get(result.model_key)
    assert spec in specs_for("compare") and "fine-tuned on colours, 3 classes" in spec.title
    loaded = get(result.model_key).load()
    assert loaded.class_names == result.classes
    assert torch.equal(_logits(loaded), _logits(paused.tuner.sm))


def test_stop_finishes_early_and_saves(folder, tmp_path):
    stopped = run_to_completion(resume_fine_tune_job, _tuner(folder, tmp_path, steps=50), PauseAfter(1, stop=True))[0]
    assert stopped.stopped_early and stopped.steps_done == 1 and any("Stopped at step 1" in n for n in stopped.notes)
    assert open(stopped.saved_path, "rb").read(8)


def test_nan_loss_and_all_unreadable_images_give_clear_errors_and_save_nothing(folder, tmp_path):
    tuner = _tuner(folder, tmp_path)
    with torch.no_grad():
        tuner.sm.model.get_submodule(tuner.head_paths[0]).bias.fill_(float("nan"))
    with pytest.raises(UserFacingError, match="loss became nan"):
        run_to_completion(resume_fine_tune_job, tuner, None)
    assert not (tmp_path / "models").exists()
    bad = tmp_path / "bad"
    for c in "ab":
        (bad / c).mkdir(parents=True)
        for i in range(3):
            (bad / c / f"{i}.png").write_bytes(b"junk")
    index = run_to_completion(index_folder_job, bad)[0]
    with pytest.raises(UserFacingError, match="None of the 4 training images"):
        run_to_completion(fine_tune_folder_job, "compare/convnext", RANDOM, index, FineTuneConfig(steps=2), None,
                          tmp_path / "models", "cpu")


def test_bad_settings_are_refused():
    for bad in (dict(mode="some"), dict(steps=0), dict(lr=float("nan")), dict(held_out_fraction=0.9), dict(batch=True)):
        with pytest.raises(UserFacingError, match="refused"):
            FineTuneConfig(**bad).checked()


def _rewrite(src_dir, dst_dir, change=None, tensors_change=None):
    dst_dir.mkdir()
    tensors = load_file(str(src_dir / WEIGHTS_FILE))
    from safetensors import safe_open

    with safe_open(str(src_dir / WEIGHTS_FILE), "pt") as f:
        meta = dict(f.metadata())
    meta.update(change or {})
    if tensors_change:
        tensors_change(tensors)
    save_file(tensors, str(dst_dir / WEIGHTS_FILE), metadata=meta)


def test_crafted_or_broken_files_are_skipped_with_a_message(folder, tmp_path):
    out = tmp_path / "models"
    tuner = _tuner(folder, tmp_path, steps=1)
    good = run_to_completion(resume_fine_tune_job, tuner, None)[0]
    src = out / good.model_key.rsplit("/", 1)[1]
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    cases = {
        "classes-not-json": {"classes": "blue, red"},
        "one-class": {"classes": json.dumps(["blue"])},
        "nan-accuracy": {"held_out_accuracy": "nan"},
        "huge-count": {"train_images": "99999999999999"},
        "unknown-base": {"base_model": "compare/not-a-model"},
        "path-as-name": {"base_ref": "../../etc/passwd"},
        "other-format": {"format": "something-else"},
    }
    for name, change in cases.items():
        _rewrite(src, crafted / name, change)
    (crafted / "garbage").mkdir()
    (crafted / "garbage" / WEIGHTS_FILE).write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    _rewrite(src, crafted / "four-classes", {"classes": json.dumps(["a", "b", "c", "d"])})  # head has 3 rows
    _rewrite(src, crafted / "inf-weights", tensors_change=lambda t: t[next(k for k, v in t.items() if v.is_floating_point())].fill_(float("inf")))
    scan = register_user_models(crafted)
    skipped = {s.split(":")[0] for s in scan.skipped}
    assert skipped == set(cases) | {"garbage"}
    assert all(len(s) < 300 for s in scan.skipped)
    assert {k.rsplit("/", 1)[1] for k in scan.registered} == {"four-classes", "inf-weights"}
    twins = tmp_path / "twins"
    twins.mkdir()
    for name, created in (("a", "2026-01-01 10:00:00 UTC"), ("b", "2026-01-01 11:00:00 UTC")):
        _rewrite(src, twins / name, {"created": created})
    keys = register_user_models(twins).registered
    assert len(keys) == 2 and get(keys[0]).title != get(keys[1]).title  # same base and folder: the date differs
    for key in scan.registered:  # metadata fine, tensors not: refused when loaded, never half-loaded
        with pytest.raises(CheckpointError):
            get(key).load()
    assert register_user_models(tmp_path / "missing").registered == ()

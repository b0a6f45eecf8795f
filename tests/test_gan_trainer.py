"""The DCGAN trainer and its job: what a user relies on when training, pausing, saving and resuming."""
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from models.errors import CheckpointError, JobCancelled, UserFacingError
from models.gan.checkpoint import load_run, save_run
from models.gan.config import GanConfig, TrainConfig
from models.gan.control import TrainingControl
from models.gan.data import DataRequest, load_images
from models.gan.health import check_health, diversity_ratio
from models.gan.job import GanRunEnd, GanUpdate, train_job
from models.gan.losses import LOSSES
from models.gan.trainer import GanTrainer
from models.jobs import JobContext, run_to_completion

TINY = TrainConfig(gan=GanConfig(image_size=32, latent_size=16, width=8), batch_size=8, num_train_images=64,
                   sample_every=4, grid_samples=9)


@pytest.fixture(scope="module")
def images(one_thread):
    return load_images("shapes", DataRequest("", 32, 0, 64))


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_one_step_changes_the_weights_of_g_and_d(images):
    t = GanTrainer(TINY, images)
    g0, d0 = _params(t.G), _params(t.D)
    row = t.train_step()
    assert t.step == 1 and np.isfinite(row).all()
    assert any(not torch.equal(a, b) for a, b in zip(g0, t.G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, t.D.parameters()))


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_trains_with_finite_metrics(images, loss):
    t = GanTrainer(TINY.with_(loss=loss), images)
    rows = np.stack([t.train_step() for _ in range(2)])
    assert np.isfinite(rows).all()


def test_pause_ends_the_job_and_the_step_counter_stops(images):
    t = GanTrainer(TINY, images)
    control = TrainingControl(min_update_interval_s=0.0)
    gen = train_job(JobContext(), t, control)
    updates = [next(gen) for _ in range(4)]
    assert all(isinstance(u, GanUpdate) for u in updates)
    control.request_pause()
    end = None
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        end = stop.value
    assert isinstance(end, GanRunEnd) and end.reason == "paused"
    frozen = t.step
    assert end.step == frozen
    assert t.step == frozen  # nothing trains while paused
    # resuming is a new job on the same trainer: it continues from the same step
    _, parts = run_to_completion(train_job, t, TrainingControl(), 2)
    assert t.step == frozen + 2
    assert [u.first_step for u in parts if len(u.metrics)][0] == frozen + 1


def test_cancel_stops_between_steps(images):
    t = GanTrainer(TINY, images)
    ctx = JobContext()
    gen = train_job(ctx, t, TrainingControl(min_update_interval_s=0.0))
    next(gen)
    ctx.cancel_event.set()
    with pytest.raises(JobCancelled):
        for _ in range(10):
            next(gen)
    assert len(t.metrics) == t.step  # consistent state: every step recorded once


def test_resume_from_checkpoint_reproduces_the_next_steps_exactly(images, tmp_path):
    a = GanTrainer(TINY.with_(loss="wgan-gp"), images)  # random interpolation too
    for _ in range(3):
        a.train_step()
    a.make_samples()
    path = save_run(a, tmp_path / "run.safetensors")
    expected = np.stack([a.train_step() for _ in range(3)])
    b = load_run(path, images)
    assert b.step == 3 and len(b.metrics) == 3 and len(b.grids.items) == 1
    got = np.stack([b.train_step() for _ in range(3)])
    np.testing.assert_array_equal(got, expected)
    for p, q in zip(a.G.parameters(), b.G.parameters()):
        assert torch.equal(p, q)
    np.testing.assert_array_equal(a.metrics.view(), b.metrics.view())  # the curve history continues seamlessly


def test_forced_nan_pauses_and_keeps_the_last_good_state(images):
    t = GanTrainer(TINY.with_(lr_d=0.01), images, snapshot_every=2)
    for _ in range(4):
        t.train_step()
    good = [p.detach().clone() for p in t.D.parameters()]
    with torch.no_grad():
        next(t.D.parameters()).view(-1)[0] = float("nan")  # a broken weight: the next loss is NaN
    control = TrainingControl(min_update_interval_s=0.0)
    end, _ = run_to_completion(train_job, t, control)
    assert end.reason == "non_finite" and "NaN" in end.message
    assert end.rolled_back_to == 4 and t.step == 4
    assert control.pause_requested
    assert t.all_finite()
    for p, q in zip(good, t.D.parameters()):
        assert torch.equal(p, q)
    assert len(t.metrics) == 4


def test_learning_rates_change_while_training(images):
    t = GanTrainer(TINY, images)
    control = TrainingControl(min_update_interval_s=0.0)
    control.set_hparams(lr_g=1e-3, beta1_d=0.0, d_steps=2)
    run_to_completion(train_job, t, control, 1)
    assert t.opt_g.param_groups[0]["lr"] == 1e-3
    assert t.opt_d.param_groups[0]["betas"][0] == 0.0
    assert t.d_steps == 2


def test_save_while_running_writes_a_loadable_file(images, tmp_path):
    t = GanTrainer(TINY, images)
    control = TrainingControl(min_update_interval_s=0.0)
    path = tmp_path / "live.safetensors"
    control.request_save(str(path))
    _, parts = run_to_completion(train_job, t, control, 2)
    assert any("Saved" in p.message for p in parts)
    assert load_run(path, images).step == 0  # saved between steps, before the first one
    assert not list(tmp_path.glob("*.tmp"))  # the temporary file was renamed away


def test_broken_and_foreign_checkpoints_give_a_clear_message(images, tmp_path):
    good = save_run(GanTrainer(TINY, images), tmp_path / "good.safetensors")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="damaged"):
        load_run(broken, images)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"conv.weight": torch.zeros(3, 3)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a saved GAN run"):
        load_run(foreign, images)
    text = tmp_path / "notes.safetensors"
    text.write_text("hello")
    with pytest.raises(CheckpointError):
        load_run(text, images)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_run(tmp_path / "missing.safetensors", images)


def test_a_checkpoint_of_another_architecture_is_refused(images, tmp_path):
    path = save_run(GanTrainer(TINY, images), tmp_path / "run.safetensors")
    other = load_images("shapes", DataRequest("", 64, 0, 8))
    with pytest.raises(UserFacingError):  # saved at 32 px, data at 64 px
        load_run(path, other)


def test_bad_settings_are_refused_with_a_message():
    with pytest.raises(UserFacingError, match="Image size"):
        GanConfig(image_size=48)
    with pytest.raises(UserFacingError, match="Batch size"):
        TrainConfig(batch_size=1)
    with pytest.raises(UserFacingError, match="Unknown GAN loss"):
        GanTrainer(TrainConfig(loss="nope"), torch.zeros(4, 3, 32, 32, dtype=torch.uint8))


def test_an_empty_folder_dataset_says_what_is_wrong(tmp_path):
    with pytest.raises(UserFacingError, match="holds no images"):
        load_images("folder", DataRequest(str(tmp_path), 32, 0, 0))


def test_health_flags_collapse_and_an_overpowering_d():
    rng = np.random.default_rng(0)
    real = torch.rand(16, 3, 32, 32) * 2 - 1
    same = real[:1].repeat(16, 1, 1, 1)
    assert diversity_ratio(real, real) == pytest.approx(1.0)
    assert diversity_ratio(same, real) < 0.05
    div = np.array([[400, 0.1], [425, 0.08], [450, 0.05]], np.float32)
    acc = np.ones(500, np.float32)
    norms = np.abs(rng.normal(1, 0.1, (500, 2)))
    keys = {w.key for w in check_health(acc, norms, div)}
    assert keys == {"mode_collapse", "d_overpowers"}
    norms[-3] = 500.0
    assert "exploding_gradients" in {w.key for w in check_health(acc * 0.6, norms, div[:0])}
    assert check_health(acc * 0.6, np.abs(rng.normal(1, 0.1, (500, 2))), div[:0]) == ()


@pytest.mark.parametrize("size", [32, 64])
def test_both_resolutions_make_images_of_that_size(size):
    from models.gan.networks import Discriminator, Generator

    cfg = GanConfig(image_size=size, latent_size=8, channels=1, width=4)
    fake = Generator(cfg)(torch.randn(2, 8))
    assert fake.shape == (2, 1, size, size) and fake.abs().max() <= 1
    assert Discriminator(cfg)(fake).shape == (2,)

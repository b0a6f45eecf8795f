"""Sampling jobs, trajectory capture, guidance and the bundled weights format (no Qt)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.diffusion.bundled import load_unet_file, save_unet
from models.diffusion.model import DiffusionModel
from models.diffusion.results import SamplingPartial, SamplingRequest
from models.diffusion.samplers import sample_job, to_uint8
from models.diffusion.schedule import linear_schedule
from models.diffusion.unet import UNet, UNetConfig
from models.errors import CheckpointError, JobCancelled, UserFacingError
from models.jobs import JobContext, run_to_completion

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


TINY = UNetConfig(image_size=16, channels=(8, 16), attention_resolutions=(8,), num_classes=3, time_dim=32,
                  groups=4, heads=2)


def _randomise(net: UNet, seed: int = 0) -> UNet:
    """Zero-initialised output layers would make every prediction 0: give all weights random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return net.eval()


@pytest.fixture(scope="module")
def model() -> DiffusionModel:
    net = _randomise(UNet(TINY))
    return DiffusionModel(key="test", title="tiny", net=net, schedule=linear_schedule(40), image_size=16,
                          class_names=("a", "b", "c"), module=net)


def _run(model, **kw):
    req = SamplingRequest(**{"sampler": "ddim", "steps": 8, "batch": 3, "class_ids": (0, 1, 2),
                             "stream_interval_s": 0.0, **kw})
    return run_to_completion(sample_job, model, req)


def test_ddim_eta0_is_deterministic_for_a_seed(model):
    a, _ = _run(model, seed=3)
    b, _ = _run(model, seed=3)
    c, _ = _run(model, seed=4)
    assert np.array_equal(a.final, b.final)
    assert np.array_equal(a.trajectory.x0_hat, b.trajectory.x0_hat)
    assert not np.array_equal(a.final, c.final)


def test_ddpm_with_noise_differs_between_seeds_but_repeats_for_one(model):
    a, _ = _run(model, sampler="ddpm", seed=1)
    b, _ = _run(model, sampler="ddpm", seed=1)
    c, _ = _run(model, sampler="ddpm", seed=2)
    assert a.trajectory.num_steps == 40
    assert np.array_equal(a.final, b.final) and not np.array_equal(a.final, c.final)


def test_trajectory_keeps_every_step_and_streams_in_order(model):
    result, partials = _run(model, seed=0)
    tr = result.trajectory
    assert tr.timesteps.tolist() == sorted(tr.timesteps.tolist(), reverse=True)
    assert tr.timesteps[0] == 39 and tr.timesteps[-1] == 0 and tr.num_steps == 8
    assert tr.x_t.shape == (9, 3, 16, 16, 3) and tr.eps_hat.shape == tr.x0_hat.shape == (8, 3, 16, 16, 3)
    start = torch.randn((3, 3, 16, 16), generator=torch.Generator().manual_seed(0))
    assert np.array_equal(tr.x_t[0], to_uint8(start))  # the first frame is the starting noise
    assert np.array_equal(tr.x_t[-1], result.final)
    done = [p.steps_done for p in partials if isinstance(p, SamplingPartial)]
    assert done == sorted(done) and done[-1] == 8
    assert all(p.trajectory is tr for p in partials)  # streamed without copies
    assert len({tr.x0_hat[i].tobytes() for i in range(8)}) == 8  # every step differs


def test_cancel_stops_between_steps(model):
    ctx = JobContext()
    gen = sample_job(ctx, model, SamplingRequest(steps=8, batch=2, stream_interval_s=0.0))
    next(gen)
    ctx.cancel_event.set()
    with pytest.raises(JobCancelled):
        for _ in gen:
            pass


def test_guidance_mixes_conditional_and_unconditional(model):
    x = torch.randn(2, 3, 16, 16)
    labels = torch.tensor([0, 2])
    ab = torch.tensor(0.5)
    with torch.no_grad():
        cond = model.eps(x, 10, labels, 1.0, ab)
        uncond = model.eps(x, 10, None, 1.0, ab)
        guided = model.eps(x, 10, labels, 3.0, ab)
        zero = model.eps(x, 10, labels, 0.0, ab)
    assert not torch.allclose(cond, uncond)
    assert torch.allclose(zero, uncond, atol=1e-5)
    assert torch.allclose(guided, uncond + 3.0 * (cond - uncond), atol=1e-4)


def test_bad_requests_get_clear_messages(model):
    with pytest.raises(UserFacingError, match="Class ids"):
        _run(model, class_ids=(5,))
    with pytest.raises(UserFacingError, match="GB"):
        _run(model, sampler="ddpm", batch=200000)
    with pytest.raises(UserFacingError, match="sampler"):
        _run(model, sampler="euler")


def test_saved_weights_load_back_identically(model, tmp_path):
    path = tmp_path / "m.safetensors"
    save_unet(model.module, path, "linear", 40, class_names=("a", "b", "c"))
    again = load_unet_file(path)
    assert again.class_names == ("a", "b", "c") and again.schedule.num_steps == 40
    a, _ = _run(model, seed=5)
    b, _ = _run(again, seed=5)
    assert np.array_equal(a.final, b.final)


def test_foreign_or_broken_weights_are_refused(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError):
        load_unet_file(bad)
    from safetensors.torch import save_file
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(CheckpointError, match="unet_config"):
        load_unet_file(other)
    with pytest.raises(CheckpointError):
        load_unet_file(tmp_path / "missing.safetensors")


def test_status_bar_and_scrubber_name_the_newest_step_alike(model):
    """The scrubber said "step 38/50 (t = 112)" while the status bar said "DDIM step 39/50 (t = 112)"."""
    from app.diffusion_session import ReverseSession
    from models.jobs import Progress
    req = SamplingRequest(sampler="ddim", steps=5, batch=2, class_ids=(0, 1), stream_interval_s=0.0)
    session, message, checked = ReverseSession(), None, 0
    gen = sample_job(JobContext(), model, req)
    try:
        while True:
            item = next(gen)
            if isinstance(item, Progress):
                message = item.message
            elif isinstance(item, SamplingPartial):
                view = session.on_partial(item)
                newest = view.labels[view.available - 1]
                if item.steps_done < item.trajectory.num_steps:
                    assert message == f"DDIM {newest}"
                    checked += 1
                else:
                    assert message.endswith(f"step {req.steps}/{req.steps} (t = 0)") and f"{req.steps}/{req.steps}" in newest
    except StopIteration:
        pass
    assert checked == req.steps - 1

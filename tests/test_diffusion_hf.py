"""diffusers UNet2DModel checkpoints in their real on-disk format (save_pretrained of a tiny config)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from models.diffusion.results import SamplingRequest  # noqa: E402
from models.diffusion.samplers import sample_job  # noqa: E402
from models.errors import CheckpointError, UserFacingError  # noqa: E402
from models.jobs import run_to_completion  # noqa: E402
from models.registry import ModelSource, SourceKind, get  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _tiny_unet():
    torch.manual_seed(0)
    return diffusers.UNet2DModel(sample_size=16, in_channels=3, out_channels=3, layers_per_block=1,
                                 block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)


def _load(ref):
    import models.diffusion.specs  # noqa: F401  (registers)
    return get("diffusion/diffusers").load(ModelSource(SourceKind.HUGGINGFACE, str(ref)))


@pytest.mark.parametrize("layout", ["pipeline", "flat"])
def test_folder_loads_with_its_own_scheduler(tmp_path, layout):
    unet = _tiny_unet()
    sched = diffusers.DDPMScheduler(num_train_timesteps=60, beta_schedule="squaredcos_cap_v2",
                                    prediction_type="v_prediction", clip_sample=False)
    if layout == "pipeline":
        unet.save_pretrained(tmp_path / "unet")
        sched.save_pretrained(tmp_path / "scheduler")
    else:
        unet.save_pretrained(tmp_path)
        sched.save_pretrained(tmp_path)
    model = _load(tmp_path)
    assert model.image_size == 16 and model.class_names == () and model.schedule.num_steps == 60
    assert model.prediction_type == "v_prediction" and model.clip_sample is False
    assert np.allclose(model.schedule.alpha_bar, sched.alphas_cumprod.double().numpy(), rtol=1e-6)
    # the wrapped network is the saved one
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([5, 5])
    with torch.no_grad():
        assert torch.allclose(model.net(x, t, None), unet(x, t).sample, atol=1e-5)
    result, _ = run_to_completion(sample_job, model, SamplingRequest(sampler="ddim", steps=4, batch=2, seed=0))
    assert result.final.shape == (2, 16, 16, 3) and result.trajectory.num_steps == 4


def test_v_prediction_is_turned_into_noise_correctly(tmp_path):
    unet = _tiny_unet()
    unet.save_pretrained(tmp_path)
    diffusers.DDPMScheduler(num_train_timesteps=50, prediction_type="v_prediction").save_pretrained(tmp_path)
    model = _load(tmp_path)
    ab = torch.tensor(float(model.schedule.alpha_bar[20]))
    x0, eps = torch.rand(1, 3, 16, 16) * 2 - 1, torch.randn(1, 3, 16, 16)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    v = ab.sqrt() * eps - (1 - ab).sqrt() * x0
    model.net = lambda x, t, labels: v  # a perfect v-predictor
    assert torch.allclose(model.eps(x_t, 20, None, 1.0, ab), eps, atol=1e-5)


def test_bad_folders_and_offline_ids_get_clear_messages(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a diffusers"):
        _load(tmp_path / "empty")
    f = tmp_path / "file.bin"
    f.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="is a file"):
        _load(f)
    with pytest.raises(UserFacingError):
        _load("nobody/no-such-ddpm-model")  # offline in tests: not cached, not downloadable

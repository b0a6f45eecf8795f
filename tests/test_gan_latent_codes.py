"""The discrete latent code of an unconditional GAN (InfoGAN without labels): the code is the argmax of the first
K noise dimensions, G switches per code, D's Q head learns to tell the codes from colourless, turned images,
and runs with codes save, resume and refuse crafted headers."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from models.errors import CheckpointError, UserFacingError
from models.gan.augment import code_view
from models.gan.checkpoint import load_run, save_run
from models.gan.config import GanConfig, TrainConfig
from models.gan.data import DataRequest, load_labelled_images
from models.gan.evaluate import judge_run
from models.gan.networks import Discriminator, Generator, latent_code
from models.gan.trainer import GanTrainer
from models.safetensors_io import read_metadata

CODES = GanConfig(image_size=32, latent_size=16, width=8, spectral_norm=True, latent_codes=6)
TINY_CODES = TrainConfig(gan=CODES, loss="hinge", batch_size=8, num_train_images=64, sample_every=4,
                         grid_samples=9, diffaugment="translation", g_ema=0.9)


@pytest.fixture(scope="module")
def data(one_thread):
    return load_labelled_images("shapes", DataRequest("", 32, 0, 64))


def test_the_code_is_the_argmax_of_the_first_dimensions_and_uniform_for_gaussian_noise():
    z = torch.randn(30000, 16, generator=torch.Generator().manual_seed(0))
    code = latent_code(z, 6)
    assert torch.equal(code, z[:, :6].argmax(1))
    shares = torch.bincount(code, minlength=6).float() / len(z)
    assert shares.min() > 0.155 and shares.max() < 0.178  # 1/6 each, up to sampling noise


def test_the_generator_switches_with_the_code_only():
    torch.manual_seed(0)
    g = Generator(CODES).eval()
    with torch.no_grad():
        g.net[1].embed.weight[:, :64].add_(torch.randn(6, 64))  # make the codes' BatchNorm scales differ
    z = torch.randn(1, 16).repeat(2, 1)
    z[:, :6] = -5.0
    z[0, 2], z[1, 4] = 3.0, 3.0  # the same noise with code 2 and code 4
    z_same = z[:1].clone()
    z_same[0, 2] = 2.9  # still code 2, nearly the same noise
    with torch.no_grad():
        a, b, c = g(z)[0], g(z)[1], g(z_same)[0]
    assert (a - b).abs().mean() > 20 * (a - c).abs().mean()  # a jump between codes, a small step within one


def test_code_view_removes_colour_and_turns_each_image_differently():
    x = -torch.ones(2, 3, 32, 32)
    x[0, 0, 8:24, 8:24] = 1.0  # a red square
    x[1, 1, 4:28, 12:20] = 0.5  # a dim green bar
    a = code_view(x, torch.Generator().manual_seed(0))
    b = code_view(x[:, [2, 0, 1]], torch.Generator().manual_seed(0))  # blue square, red bar
    assert torch.allclose(a, b, atol=1e-6)  # colour does not change what Q sees
    assert torch.allclose(a[:, 0], a[:, 1]) and a.min() >= -1 - 1e-6  # grey, background stays black
    many = code_view(x[:1].repeat(16, 1, 1, 1), torch.Generator().manual_seed(1))
    assert len({tuple(m[0].flatten().round(decimals=3).tolist()) for m in many}) == 16  # turned differently
    x.requires_grad_(True)
    code_view(x, torch.Generator().manual_seed(0)).sum().backward()
    assert x.grad.abs().sum() > 0  # G learns through it


def test_the_code_term_reaches_g_and_trains_the_q_head(data):
    images, labels = data
    out = {}
    for weight in (0.0, 1.0):
        t = GanTrainer(TINY_CODES.with_(code_weight=weight), images, labels=labels)
        q0 = [p.detach().clone() for p in t.D.q_head.parameters()]
        g0 = [p.detach().clone() for p in t.G.parameters()]
        t.train_step()
        assert np.isfinite(t.last_code_loss)
        out[weight] = ([p.detach() - q for p, q in zip(t.D.q_head.parameters(), q0)],
                       [p.detach() - q for p, q in zip(t.G.parameters(), g0)])
    assert all(float(d.abs().sum()) == 0 for d in out[0.0][0])  # no term: Q is not trained
    assert all(float(d.abs().sum()) > 0 for d in out[1.0][0])
    g_diff = sum(float((a - b).abs().sum()) for a, b in zip(out[0.0][1], out[1.0][1]))
    assert g_diff > 0  # G's update includes the code term


def test_q_learns_to_tell_the_codes_apart(data):
    images, labels = data
    cfg = TINY_CODES.with_(gan=GanConfig(image_size=32, latent_size=16, width=16, spectral_norm=True, latent_codes=6),
                           lr_d=1e-3, lr_g=1e-3, batch_size=16, diffaugment="", g_ema=0.0, sample_every=1000)
    t = GanTrainer(cfg, images, labels=labels)
    losses = []
    for _ in range(110):
        t.train_step()
        losses.append(t.last_code_loss)
    assert np.mean(losses[:5]) > 1.6  # ~ln 6 at the start: Q guesses
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:5])  # Q tells them apart: G draws them differently


def test_a_code_run_saves_resumes_and_reports_per_code(tmp_path, data):
    images, labels = data
    t = GanTrainer(TINY_CODES.with_(code_weight=2.5), images, labels=labels)
    for _ in range(4):
        t.train_step()
    path = save_run(t, tmp_path / "codes.safetensors")
    back = load_run(path, images, labels=labels)
    assert back.config.gan.latent_codes == 6 and back.config.code_weight == 2.5 and not back.conditional
    assert torch.equal(back.sample(), t.sample())
    from models.judge.model import load_judge

    report = judge_run(back, load_judge(), n=60)
    assert set(report["per_code"]) == {str(c) for c in range(6)}
    assert all(abs(sum(v.values()) - 1) < 0.05 for v in report["per_code"].values())
    assert "as_asked" not in report  # nobody asked for a class


@pytest.mark.parametrize("change, message", [({"latent_codes": 1}, "latent_codes"),
                                             ({"latent_codes": 40}, "latent_codes"),
                                             ({"latent_codes": 6, "num_classes": 6}, "latent_codes"),
                                             ({"code_mode": "labels"}, "code_mode")])
def test_crafted_code_settings_in_a_run_file_are_refused(tmp_path, data, change, message):
    images, labels = data
    path = save_run(GanTrainer(TINY_CODES, images, labels=labels), tmp_path / "run.safetensors")
    meta = read_metadata(path)
    header = json.loads(meta["vision_explorer"])
    header["config"]["gan"].update(change)
    meta["vision_explorer"] = json.dumps(header)
    save_file(load_file(str(path)), str(path), metadata=meta)
    with pytest.raises(CheckpointError, match=message):
        load_run(path, images, labels=labels)


def test_code_settings_are_checked():
    with pytest.raises(UserFacingError, match="2 to"):
        GanConfig(latent_codes=1)
    with pytest.raises(UserFacingError, match="not both"):
        GanConfig(latent_codes=6, num_classes=6)
    with pytest.raises(UserFacingError, match="weight"):
        TrainConfig(code_weight=-1)
    assert not hasattr(Discriminator(GanConfig(width=8)), "q_head")  # only runs with codes have a Q head


def test_latent_strips_say_where_the_code_changes(data):
    from models.gan.latent_job import code_note

    images, labels = data
    t = GanTrainer(TINY_CODES, images, labels=labels)
    z = torch.zeros(4, 16)
    z[:2, 1], z[2:, 4] = 1.0, 1.0  # code 2 (shown 1-based) for two images, then code 5
    assert code_note(t, z) == "; discrete code 2 → 5 between images 2 and 3 (G jumps there)"
    assert code_note(t, z[:2]) == "; discrete code 2 all along"
    plain = GanTrainer(TINY_CODES.with_(gan=GanConfig(image_size=32, latent_size=16, width=8)), images)
    assert code_note(plain, z) == ""

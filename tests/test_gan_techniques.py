"""The GAN training options: DiffAugment, spectral normalisation, hinge loss, widths and the class-conditional
GAN (conditional BatchNorm in G, projection D): what each promises, and that runs with them save and resume."""
import numpy as np
import pytest
import torch

from models.errors import CheckpointError, UserFacingError
from models.gan.augment import AUGMENTS, color, cutout, diff_augment, parse_policy, translation
from models.gan.checkpoint import load_run, save_run
from models.gan.config import GanConfig, TrainConfig
from models.gan.data import DataRequest, load_labelled_images
from models.gan.losses import get_loss
from models.gan.networks import Discriminator, Generator
from models.gan.trainer import GanTrainer

TINY = TrainConfig(gan=GanConfig(image_size=32, latent_size=16, width=8), batch_size=8, num_train_images=64,
                   sample_every=4, grid_samples=9)
TINY_COND = TINY.with_(gan=GanConfig(image_size=32, latent_size=16, width=8, spectral_norm=True, num_classes=6),
                       loss="hinge", diffaugment="color,translation,cutout", grid_samples=36, g_ema=0.9)


@pytest.fixture(scope="module")
def data(one_thread):
    return load_labelled_images("shapes", DataRequest("", 32, 0, 64))


@pytest.mark.parametrize("op", sorted(AUGMENTS))
def test_each_diffaugment_op_keeps_the_shape_and_passes_gradients(op):
    x = torch.rand(4, 3, 32, 32, requires_grad=True)
    out = AUGMENTS[op](x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # differentiable: G learns through it


def test_translation_moves_content_and_pads_with_zeros():
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 7:9, 7:9] = 1.0  # a small square in the middle
    out = translation(x, torch.Generator().manual_seed(1))
    assert torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)))  # a shift of <= 2 px keeps the square inside
    centres = (out[:, 0] > 0).nonzero()[:, 1:].float().view(64, 4, 2).mean(1)  # (64, 2) centre of each square
    assert len(torch.unique(centres, dim=0)) > 5  # moved differently per image
    edge = torch.ones(8, 1, 16, 16)
    shifted = translation(edge, torch.Generator().manual_seed(2))
    assert (shifted == 0).any()  # what comes in at the border is zero padding


def test_cutout_blanks_a_square_of_half_the_side():
    out = cutout(torch.ones(16, 3, 32, 32), torch.Generator().manual_seed(0))
    blanked = (out[:, 0] == 0).sum((1, 2))  # (16,) pixels zeroed per image
    assert (blanked > 0).all() and (blanked <= 16 * 16).all() and (blanked == 256).any()


def test_color_changes_brightness_and_contrast_but_not_the_layout():
    x = torch.rand(8, 3, 32, 32)
    out = color(x, torch.Generator().manual_seed(0))
    assert not torch.allclose(out, x)
    assert (out.mean((1, 2, 3)) - x.mean((1, 2, 3))).abs().max() <= 0.5 + 1e-5  # brightness +-0.5 only


def test_the_same_generator_seed_gives_the_same_augmentation_and_policies_are_checked():
    x = torch.rand(4, 3, 32, 32)
    a = diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(3))
    b = diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(diff_augment(x, ""), x)
    assert parse_policy(" color, cutout ") == ("color", "cutout")
    with pytest.raises(UserFacingError, match="Unknown DiffAugment op 'zoom'"):
        TrainConfig(diffaugment="translation,zoom")


def _top_singular_values(model: torch.nn.Module) -> list[float]:
    out = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            out.append(float(torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)))
    return out


def test_spectral_norm_bounds_every_d_layer_even_after_large_updates():
    cfg = GanConfig(image_size=32, latent_size=16, width=8, spectral_norm=True)
    d, plain = Discriminator(cfg), Discriminator(GanConfig(image_size=32, latent_size=16, width=8))
    with torch.no_grad():
        for p in list(d.parameters()) + list(plain.parameters()):
            p.mul_(50.0)  # a huge step
    x = torch.randn(16, 3, 32, 32)
    for _ in range(30):  # the power iteration converges while D runs in training mode
        d(x)
    d.eval()
    assert max(_top_singular_values(d)) <= 1.05
    assert max(_top_singular_values(plain)) > 5.0  # without it nothing bounds the weights


def test_hinge_loss_ignores_samples_beyond_the_margin():
    hinge = get_loss("hinge")
    assert float(hinge.d_loss(torch.tensor([2.0, 3.0]), torch.tensor([-2.0, -5.0]))) == 0.0
    assert float(hinge.d_loss(torch.tensor([0.0]), torch.tensor([0.0]))) == pytest.approx(2.0)
    assert float(hinge.g_loss(torch.tensor([1.0, 3.0]))) == pytest.approx(-2.0)


def test_a_wider_d_has_more_parameters_than_g_of_the_same_width():
    small = sum(p.numel() for p in Discriminator(GanConfig(width=8)).parameters())
    wide = sum(p.numel() for p in Discriminator(GanConfig(width=8, d_width=16)).parameters())
    assert wide > 3 * small
    with pytest.raises(UserFacingError):
        GanConfig(width=8, d_width=2)


def test_the_conditional_generator_draws_per_class_outputs():
    torch.manual_seed(0)
    g = Generator(GanConfig(image_size=32, latent_size=16, width=8, num_classes=6)).eval()
    with torch.no_grad():
        for cbn in (m for m in g.modules() if hasattr(m, "embed")):
            cbn.embed.weight.normal_()  # distinct per-class scales and shifts
        z = torch.randn(1, 16).repeat(6, 1)  # one noise vector, every class
        out = g(z, torch.arange(6))
    assert out.shape == (6, 3, 32, 32)
    assert min(float((out[i] - out[j]).abs().mean()) for i in range(6) for j in range(i)) > 1e-3
    with pytest.raises(ValueError, match="needs a class"):
        g(z)


def test_the_projection_discriminator_scores_depend_on_the_class():
    d = Discriminator(GanConfig(image_size=32, latent_size=16, width=8, num_classes=6))
    x = torch.randn(1, 3, 32, 32).repeat(6, 1, 1, 1)
    scores = d(x, torch.arange(6))
    assert scores.shape == (6,) and len(torch.unique(scores)) == 6


def test_a_conditional_run_with_every_option_trains_saves_and_resumes_exactly(data, tmp_path):
    images, labels = data
    t = GanTrainer(TINY_COND, images, labels=labels)
    rows = np.stack([t.train_step() for _ in range(3)])
    assert np.isfinite(rows).all()
    assert t.fixed_y.tolist()[:7] == [0] * 6 + [1]  # one class per row of the grid
    t.make_samples()
    t.coverage.extend(np.arange(9, dtype=np.float32)[None])
    path = save_run(t, tmp_path / "run.safetensors")
    back = load_run(path, images, labels=labels)
    assert back.config == TINY_COND and back.step == 3
    np.testing.assert_array_equal(back.coverage.view(), t.coverage.view())  # the coverage history is kept
    assert torch.equal(back.sample(), t.sample())
    a, b = t.train_step(), back.train_step()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_samples_come_from_the_averaged_generator_which_lags_behind_g(data):
    images, _ = data
    t = GanTrainer(TINY.with_(g_ema=0.99), images)
    for _ in range(30):
        t.train_step()
    g, e = torch.cat([p.flatten() for p in t.G.parameters()]), torch.cat([p.flatten() for p in t.G_ema.parameters()])
    assert not torch.allclose(g, e)  # an average, not a copy
    t.G.eval()
    with torch.no_grad():
        from_g = t.G(t.fixed_z)
    t.G.train()
    assert torch.allclose(t.sample(), t.G_ema(t.fixed_z)) and not torch.allclose(t.sample(), from_g)


def test_a_conditional_run_without_labels_says_why_it_cannot_train(data):
    images, _ = data
    t = GanTrainer(TINY_COND, images)
    assert t.sample().shape == (36, 3, 32, 32)  # sampling needs no labels
    with pytest.raises(UserFacingError, match="no class labels"):
        t.train_step()


def test_an_unknown_augment_op_in_a_run_file_is_refused(data, tmp_path):
    images, labels = data
    t = GanTrainer(TINY.with_(diffaugment="translation"), images)
    path = save_run(t, tmp_path / "run.safetensors")
    from models.safetensors_io import read_with_metadata
    import json
    meta, tensors = read_with_metadata(path)
    header = json.loads(meta["vision_explorer"])
    header["config"]["diffaugment"] = "translation,evil"
    from models.loading import write_safetensors
    write_safetensors(tensors, tmp_path / "bad.safetensors", {"vision_explorer": json.dumps(header)})
    with pytest.raises(CheckpointError, match="diffaugment"):
        load_run(tmp_path / "bad.safetensors", images)

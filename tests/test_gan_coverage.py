"""Coverage and collapse as the sprite judge sees them (issue 15 item 3, model side)."""
import numpy as np
import pytest
import torch

from models.gan.coverage import (CollapseConfig, class_shares, collapse_warnings, coverage_report, judge_fd, real_reference,
                                 summarise, summarise_samples)
from models.gan.health import diversity_ratio
from models.judge.model import JUDGE_CLASSES, REJECT, judge_images, load_judge, model_range_to_uint8
from models.judge.negatives import blob
from models.shapes import SHAPE_CLASSES, sprite_arrays

STAR = SHAPE_CLASSES.index("star")


def _shares(*rows):
    return np.array(rows, np.float64)


def _even():
    return np.r_[np.full(6, 0.15), 0.1]


def test_class_shares():
    s = class_shares(np.array([0, 0, 3, REJECT]))
    assert s.shape == (7,) and s.sum() == pytest.approx(1) and s[0] == 0.5 and s[REJECT] == 0.25
    assert class_shares(np.array([], np.int64)).sum() == 0


def test_judge_fd_is_zero_for_the_same_set_and_grows_with_a_mean_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 8))
    assert judge_fd(a, a) == pytest.approx(0, abs=1e-4)
    assert judge_fd(a, a + 2.0) == pytest.approx(8 * 4.0, rel=1e-3)  # |shift|^2, same covariance
    b = rng.normal(size=(2000, 8)) * 3
    assert judge_fd(a, b) == pytest.approx(judge_fd(b, a), rel=1e-6) and judge_fd(a, b) > 10
    with pytest.raises(ValueError):
        judge_fd(a[:1], b)


def test_identical_blobs_at_step_220_warn():
    """The issue's case: 36 identical purple blobs at step 220 (all 'not a shape', diversity near 0)."""
    blobs = np.zeros(7)
    blobs[REJECT] = 1.0
    keys = {w.key for w in collapse_warnings(np.array([200, 220]), _shares(blobs, blobs),
                                             np.array([[200, 0.05], [220, 0.02]]))}
    assert "diversity_falling" in keys


def test_one_shape_above_half_warns():
    stars = np.r_[np.full(6, 0.05), 0.05]
    stars[STAR] = 0.7
    ws = collapse_warnings(np.array([1000]), _shares(stars), np.array([[1000, 0.9]]))
    assert [w.key for w in ws] == ["class_dominates"] and "stars" in ws[0].text


def test_a_shape_absent_for_a_stretch_warns_and_a_single_gap_does_not():
    no_circle = _even()
    no_circle[0], no_circle[1] = 0.0, 0.3
    steps = np.arange(1000, 1500, 100)
    div = np.array([[1000, 0.9]])
    ws = collapse_warnings(steps, _shares(*[no_circle] * 5), div)
    assert [w.key for w in ws] == ["class_absent"] and "circles" in ws[0].text
    assert collapse_warnings(steps, _shares(*[_even()] * 4, no_circle), div) == ()


def test_diversity_falling_from_its_best_warns():
    div = np.array([[500, 0.9], [1000, 0.95], [1500, 0.4]])
    keys = [w.key for w in collapse_warnings(np.array([1500]), _shares(_even()), div)]
    assert keys == ["diversity_falling"]
    assert collapse_warnings(np.array([1500]), _shares(_even()), div[:2]) == ()


def test_no_warning_for_a_healthy_run_or_an_untrained_generator():
    steps = np.arange(100, 1100, 100)
    assert collapse_warnings(steps, _shares(*[_even()] * 10), np.c_[steps, np.full(10, 0.9)]) == ()
    noise = np.zeros(7)
    noise[REJECT] = 1
    assert collapse_warnings(np.array([0, 50]), _shares(noise, noise), np.array([[0, 0.01], [50, 0.02]])) == ()


def test_mostly_not_shapes_late_in_training_warns():
    late = np.r_[np.full(6, 0.05), 0.7]
    cfg = CollapseConfig()
    ws = collapse_warnings(np.array([cfg.not_shape_min_step]), _shares(late), np.array([[cfg.not_shape_min_step, 0.9]]))
    assert [w.key for w in ws] == ["not_shapes"]


# A generator forced to collapse, judged by the bundled judge.

@pytest.fixture(scope="module")
def judge():
    torch.set_num_threads(1)
    return load_judge()


def _real_range(imgs):
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1  # (B, 3, S, S)


def _history(judge, samples: torch.Tensor, real: torch.Tensor, steps):
    v = judge_images(judge, model_range_to_uint8(samples))
    shares = np.stack([class_shares(v.classes)] * len(steps))
    div = np.array([[s, diversity_ratio(samples, real)] for s in steps])
    return shares, div


def test_a_generator_collapsed_onto_one_blob_warns(judge):
    one_blob = blob(np.random.default_rng(3), 32)
    samples = _real_range(np.stack([one_blob] * 36))  # every noise vector gives the same blob
    real = _real_range(sprite_arrays(36, seed=5)[0])
    shares, div = _history(judge, samples, real, [200, 220])
    assert shares[-1][REJECT] > 0.9
    assert "diversity_falling" in {w.key for w in collapse_warnings(np.array([200, 220]), shares, div)}


def test_a_generator_collapsed_onto_stars_warns_and_a_real_sampler_does_not(judge):
    real = _real_range(sprite_arrays(36, seed=5)[0])
    stars = _real_range(sprite_arrays(36, seed=6, cls=STAR)[0])
    steps = [1000, 1100, 1200, 1300, 1400]
    shares, div = _history(judge, stars, real, steps)
    keys = {w.key for w in collapse_warnings(np.array(steps), shares, div)}
    assert {"class_dominates", "class_absent"} <= keys
    good = _real_range(sprite_arrays(36, seed=7)[0])
    shares, div = _history(judge, good, real, steps)
    assert collapse_warnings(np.array(steps), shares, div) == ()


def test_summary_of_real_sprites_against_real_sprites(judge):
    ref = judge_images(judge, sprite_arrays(400, seed=11)[0])
    other = judge_images(judge, sprite_arrays(400, seed=12)[0])
    blobs = judge_images(judge, np.stack([blob(np.random.default_rng(i), 32) for i in range(400)]))
    s_real, s_blob = summarise(other, ref), summarise(blobs, ref)
    assert s_real.accepted > 0.9 and s_real.min_shape_share > 0.1
    assert s_blob.accepted < 0.05 and s_blob.judge_fd > 5 * s_real.judge_fd


def test_coverage_report_gives_samples_and_real_sprites_the_same_figures(judge):
    blobs = np.stack([blob(np.random.default_rng(i), 32) for i in range(50)])
    report = coverage_report(judge, blobs, n_real=200)
    assert set(report) == {"samples", "real_sprites"}
    for figures in report.values():
        assert set(figures) == {"shares", "accepted", "judge_fd"}
        assert list(figures["shares"]) == list(JUDGE_CLASSES) and sum(figures["shares"].values()) == pytest.approx(1, abs=1e-3)
    assert report["samples"]["shares"]["not a shape"] > 0.9 and report["samples"]["accepted"] < 0.1
    assert report["real_sprites"]["accepted"] > 0.95
    assert report["samples"]["judge_fd"] > 10 * report["real_sprites"]["judge_fd"]


def test_the_bundled_generator_forced_to_collapse_warns(judge):
    """The bundled DCGAN with every noise vector replaced by the first one: 36 identical samples."""
    from models.gan.checkpoint import load_run
    from models.loading import bundled_weights_path
    trainer = load_run(bundled_weights_path("gan_dcgan_sprites32.safetensors"),
                       images=torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    z = torch.randn(36, trainer.config.gan.latent_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        collapsed = trainer.sample(z[:1].expand(36, -1).contiguous())  # (36, 3, 32, 32), all the same
        healthy = trainer.sample(z)
    real = _real_range(sprite_arrays(36, seed=5)[0])
    steps = [220, 240, 260, 280, 300]
    shares, div = _history(judge, collapsed, real, steps)
    keys = {w.key for w in collapse_warnings(np.array(steps), shares, div)}
    assert "diversity_falling" in keys and keys & {"class_dominates", "class_absent"}
    shares, div = _history(judge, healthy, real, steps)
    assert "diversity_falling" not in {w.key for w in collapse_warnings(np.array(steps), shares, div)}
    ref = real_reference(judge, 200)
    one, many = summarise_samples(judge, collapsed, ref), summarise_samples(judge, healthy, ref)
    assert max(one.shares) == 1.0 and max(many.shares) < 1.0 and one.judge_fd > many.judge_fd

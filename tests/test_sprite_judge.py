"""The sprite judge (issue 15 item 1): negatives, config checks, calibration, and the bundled judge's behaviour."""
import numpy as np
import pytest
import torch

from models.errors import CheckpointError, WeightsUnavailableError
from models.judge.calibration import expected_calibration_error, fit_temperature, softmax
from models.judge.model import (ACCEPT_CONFIDENCE, JUDGE_CLASSES, JUDGE_FILE, REJECT, JudgeConfig, JudgeVerdict,
                                SpriteJudgeNet, judge_images, load_judge, model_range_to_uint8)
from models.judge.negatives import NEGATIVE_KINDS, negative_arrays, positive_arrays
from models.loading import WEIGHTS_DIR, save_safetensors
from models.shapes import SHAPE_CLASSES, render_sprite, sprite_arrays


@pytest.fixture(scope="module")
def judge():
    torch.set_num_threads(1)
    return load_judge()


def test_every_negative_kind_is_seeded_and_a_32px_uint8_image():
    a, names = negative_arrays(2 * len(NEGATIVE_KINDS), seed=5)
    b, _ = negative_arrays(2 * len(NEGATIVE_KINDS), seed=5)
    assert a.shape == (2 * len(NEGATIVE_KINDS), 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and set(names) == set(NEGATIVE_KINDS)
    assert not np.array_equal(a, negative_arrays(2 * len(NEGATIVE_KINDS), seed=6)[0])
    for kind in ("blob", "noise", "ellipse", "two_shapes"):  # something is drawn
        assert a[names == kind].max() > 100


def test_positive_sprites_keep_their_labels():
    imgs, labels = positive_arrays(60, seed=1)
    assert imgs.shape == (60, 32, 32, 3) and set(labels.tolist()) <= set(range(len(SHAPE_CLASSES)))


def test_preprocess_ignores_colour_and_brightness_scale():
    img, _ = render_sprite(np.random.default_rng(0), 32)
    recoloured = img[..., ::-1].copy()
    dim = (img * 0.5).astype(np.uint8)
    x = SpriteJudgeNet.preprocess(np.stack([img, recoloured, dim]))
    assert x.shape == (3, 1, 32, 32)
    assert torch.allclose(x[0], x[1]) and torch.allclose(x[0], x[2], atol=0.02)
    assert SpriteJudgeNet.preprocess(np.zeros((1, 64, 64, 3), np.uint8)).shape == (1, 1, 32, 32)


def test_preprocess_reads_a_dim_grey_background_as_black():
    img, _ = render_sprite(np.random.default_rng(1), 32)
    grey = np.maximum(img, np.uint8(60))  # the shape over a grey background, as the DDPM sometimes draws it
    x = SpriteJudgeNet.preprocess(np.stack([img, grey]))
    assert float(x[1, 0, :2].max()) == 0.0  # the frame is background: zero
    assert float((x[0] - x[1]).abs().mean()) < 0.02


def test_model_range_to_uint8():
    x = torch.tensor([-1.0, 0.0, 1.0, 2.0]).reshape(1, 1, 2, 2)
    out = model_range_to_uint8(x)
    assert out.shape == (1, 2, 2, 3) and out.dtype == np.uint8
    assert out[0, :, :, 0].ravel().tolist() == [0, 128, 255, 255]


def test_config_round_trips_through_metadata_and_bad_settings_are_refused():
    cfg = JudgeConfig(temperature=0.7)
    assert JudgeConfig.from_metadata(cfg.to_metadata()) == cfg
    for key, bad in [("channels", "4096,4096,4096,4096,4096"), ("temperature", "-1"), ("num_classes", "6"),
                     ("class_names", "a,b,c,d,e,f,g"), ("image_size", "huge")]:
        with pytest.raises(CheckpointError, match="judge.safetensors"):
            JudgeConfig.from_metadata({**cfg.to_metadata(), key: bad}, where="'judge.safetensors'")


def test_load_judge_checks_file_and_shapes(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="models.judge.train"):
        load_judge(tmp_path / "none.safetensors")
    cfg = JudgeConfig(channels=(4, 8), temperature=0.5)
    path = save_safetensors(SpriteJudgeNet(cfg), tmp_path / "j.safetensors", cfg.to_metadata())
    model = load_judge(path)
    assert model.cfg == cfg and model.feature_dim == 8
    meta = {**cfg.to_metadata(), "channels": "4,16"}  # the tensors do not fit the config
    save_safetensors(SpriteJudgeNet(cfg), tmp_path / "k.safetensors", meta)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_judge(tmp_path / "k.safetensors")


def test_verdict_accepts_only_confident_shapes():
    probs = np.array([[0.95, 0.01, 0.01, 0.01, 0.01, 0.005, 0.005],  # confident circle: accepted
                      [0.85, 0.05, 0.05, 0.05, 0.0, 0.0, 0.0],  # circle below 0.9: rejected
                      [0.0, 0.0, 0.0, 0.0, 0.0, 0.02, 0.98]])  # not a shape: rejected
    v = JudgeVerdict(probs, np.zeros((3, 4)))
    assert v.classes.tolist() == [0, 0, REJECT] and v.accepted.tolist() == [True, False, False]
    assert ACCEPT_CONFIDENCE == 0.9 and JUDGE_CLASSES[REJECT] == "not a shape"


def test_ece_is_zero_when_calibrated_and_large_when_overconfident():
    rng = np.random.default_rng(0)
    n = 20000
    conf = rng.uniform(0.5, 1.0, n)
    correct = rng.random(n) < conf  # right exactly as often as the confidence says
    probs = np.stack([conf, 1 - conf], 1)
    labels = np.where(correct, 0, 1)
    assert expected_calibration_error(probs, labels) < 0.02
    over = np.stack([np.full(n, 0.99), np.full(n, 0.01)], 1)
    assert expected_calibration_error(over, labels) > 0.15


def test_temperature_scaling_recovers_the_temperature_of_the_data():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (5000, 7))
    true_t = 2.5  # the labels follow softmax(logits / 2.5): the raw logits are over-confident
    p = softmax(logits, true_t)
    labels = np.array([rng.choice(7, p=row) for row in p])
    t = fit_temperature(logits, labels)
    assert abs(t - true_t) < 0.25
    assert expected_calibration_error(softmax(logits, t), labels) < expected_calibration_error(softmax(logits), labels)


# The bundled judge: small fresh sets (other seeds than training, calibration and the card's evaluation).

def test_bundled_judge_is_small_and_calibrated(judge):
    assert (WEIGHTS_DIR / JUDGE_FILE).is_file()
    assert sum(p.numel() for p in judge.parameters()) < 200_000
    assert 0.05 < judge.cfg.temperature < 20 and judge.cfg.temperature != 1.0


def test_bundled_judge_accepts_real_sprites_of_every_class(judge):
    imgs, labels = sprite_arrays(420, seed=777)
    v = judge_images(judge, imgs)
    assert (v.classes == labels).mean() >= 0.98
    assert v.accepted.mean() >= 0.9
    for c in range(len(SHAPE_CLASSES)):
        assert (v.classes[labels == c] == c).mean() >= 0.95


@pytest.mark.parametrize("level", [40, 70])
def test_bundled_judge_accepts_sprites_on_a_dim_grey_background(judge, level):
    """The first judge rejected clean DDPM stars on a grey background (0.3% correct at level 60)."""
    imgs, labels = sprite_arrays(120, seed=781)
    v = judge_images(judge, np.maximum(imgs, np.uint8(level)))
    assert (v.classes == labels).mean() >= 0.97 and v.accepted.mean() >= 0.9


def test_bundled_judge_rejects_blobs_and_noise(judge):
    imgs, names = negative_arrays(300, seed=778, kinds=("blob", "noise"))
    v = judge_images(judge, imgs)
    assert (~v.accepted).mean() >= 0.95
    assert (v.classes == REJECT).mean() >= 0.9


def test_bundled_judge_rejects_cut_merged_and_paired_shapes(judge):
    imgs, _ = negative_arrays(300, seed=779, kinds=("cut_by_border", "two_shapes", "blurred"))
    assert (~judge_images(judge, imgs).accepted).mean() >= 0.9


def test_generator_output_range_is_judged_like_uint8(judge):
    imgs, labels = sprite_arrays(60, seed=780)
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1  # (B, 3, S, S) in [-1, 1]
    v = judge_images(judge, model_range_to_uint8(x))
    assert (v.classes == labels).mean() >= 0.95
    assert v.features.shape == (60, judge.feature_dim)


def test_training_resumes_from_its_checkpoint(tmp_path):
    from models.judge.train import train
    lines = []
    model, step = train(tmp_path, steps=3, n_pos=30, n_neg=20, batch=8, log=lines.append)
    assert step == 3 and (tmp_path / "ckpt.pt").is_file() and not any("resumed" in s for s in lines)
    again, step2 = train(tmp_path, steps=3, n_pos=30, n_neg=20, batch=8, log=lines.append)
    assert step2 == 3 and any("resumed at step 3" in s for s in lines)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_conditional_figures_count_the_class_asked_for_and_acceptance():
    from models.judge.evaluate import conditional_figures
    probs = np.zeros((4, 7))
    probs[0, 0] = probs[1, 0] = 1.0  # two confident circles
    probs[2, 1], probs[2, 2] = 0.6, 0.4  # an unsure square
    probs[3, REJECT] = 1.0  # a blob
    f = conditional_figures(JudgeVerdict(probs, np.zeros((4, 2))), np.array([0, 1, 1, 2]))
    assert f["accuracy"] == 0.5 and f["accepted_as_asked"] == 0.25 and f["not_a_shape"] == 0.25
    assert f["per_class"] == {"circle": 1.0, "square": 0.5, "triangle": 0.0}

"""The out-of-distribution check of the bundled classifiers: calibrated on held-out shapes, warns on photos."""
from __future__ import annotations

import numpy as np
from PIL import Image

from models.compare.architectures import ARCHITECTURES
from models.compare.catalog import _bundled_loader
import pytest

from models.shapes_ood import assess, calibrate, colour_bins, longest_outline
from models.registry import ModelSource, SourceKind
from models.shapes_wide import wide_arrays

SAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "assets" / "samples"


def _small(name: str) -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / name).convert("RGB").resize((64, 64)))


def test_colour_bins_counts_what_covers_the_pixels():
    img = np.zeros((10, 10, 3), np.uint8)
    assert colour_bins(img) == 1
    img[:, 5:] = 255
    assert colour_bins(img) == 2
    rng = np.random.default_rng(0)
    assert colour_bins(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) > 100


def test_photos_are_more_colourful_than_shapes():
    images, _, _ = wide_arrays(200, 77)
    q99 = np.quantile([colour_bins(im) for im in images], 0.99)
    assert colour_bins(_small("astronaut.jpg")) > q99
    assert colour_bins(_small("coffee.jpg")) > q99
    assert colour_bins(_small("shapes_scene_1.png")) <= q99


def test_longest_outline_measures_the_largest_connected_edge():
    img = np.zeros((64, 64, 3), np.uint8)
    assert longest_outline(img) == 0
    img[20:40, 20:40] = 255  # a 20 px square: one closed outline
    square = longest_outline(img)
    assert 120 <= square <= 200  # perimeter 80 px, the gradient is 2 px wide
    specks = np.zeros((64, 64, 3), np.uint8)
    specks[4::12, 4::12] = 255  # 25 bright specks, each its own small ring of edges
    assert 0 < longest_outline(specks) < 20


def test_every_shape_has_an_outline_a_field_of_specks_has_none():
    """The Hubble field passed every other score (the models said "star" at 92%): its longest edge is far below
    the shortest outline of fresh widened shapes and of the second renderer's shapes."""
    from models.shapes_wide import second_renderer_arrays

    images, _, _ = wide_arrays(300, 4242)
    second, _ = second_renderer_arrays(60, 7)
    shortest = min(longest_outline(im) for im in np.concatenate([images, second]))
    assert longest_outline(_small("hubble_deep_field.jpg")) < shortest / 2
    for photo in ("chelsea.jpg", "astronaut.jpg", "rocket.jpg", "shapes_star.png"):  # objects have outlines
        assert longest_outline(_small(photo)) > shortest


@pytest.fixture(scope="module")
def trained_vit():
    from models.vit.specs import load_bundled

    model = load_bundled(ModelSource(SourceKind.BUNDLED)).model
    return model, calibrate(model)


@pytest.mark.parametrize("photo", ["astronaut.jpg", "coffee.jpg"])
def test_colourful_photos_are_flagged_with_the_reason_and_what_the_model_knows(trained_vit, photo):
    model, cal = trained_vit
    v = assess(model, "the ViT", _small(photo), cal)
    assert v.unfamiliar and "six shapes" in v.message and "pretrained" in v.message and "colour" in v.message


def test_the_issues_cat_is_flagged_and_the_hubble_field_by_its_outline(trained_vit):
    model, cal = trained_vit  # the cat was "triangle 79.7%" before the warning existed
    cat = assess(model, "the ViT", _small("chelsea.jpg"), cal)
    assert cat.unfamiliar and "six shapes" in cat.message and "pretrained" in cat.message
    hubble = assess(model, "the ViT", _small("hubble_deep_field.jpg"), cal)
    assert hubble.unfamiliar and "outline" in hubble.message and cal.min_outline > 2 * hubble.outline


def test_drawn_shapes_pass_and_about_one_percent_of_fresh_shapes_are_flagged(trained_vit):
    model, cal = trained_vit
    for name in ("shapes_star.png", "shapes_circle.png", "shapes_cross.png"):
        v = assess(model, "the ViT", _small(name), cal)
        assert not v.unfamiliar and v.message == "", name
    images, _, _ = wide_arrays(200, 31337)
    flagged = sum(assess(model, "m", im, cal).unfamiliar for im in images)
    assert flagged <= 12  # three scores at the 1% tail each: a few per cent at most


def test_compare_column_warns_for_a_bundled_model_on_a_photo_not_for_imagenet_models():
    from models.compare.jobs import column_job
    from models.compare.results import ModelRef
    from models.jobs import JobContext, run_to_completion

    photo = np.asarray(Image.open(SAMPLES / "astronaut.jpg").convert("RGB"))
    # a trained model: it is sure of itself on shapes, so its calibrated confidence threshold means something
    bundled, _ = run_to_completion(column_job, ModelRef("compare/vit-convstem", "bundled"), photo, ctx=JobContext())
    assert "six shapes" in bundled.ood_warning and "pretrained" in bundled.ood_warning
    imagenet, _ = run_to_completion(column_job, ModelRef("compare/resnet50", "random"), photo, ctx=JobContext())
    assert imagenet.ood_warning == ""


def test_attention_tab_bundled_vit_warns_on_a_photo_not_on_a_drawn_shape():
    from app.attention_session import AttentionSession
    from models.vit.capture import capture
    from models.vit.specs import load_bundled

    vit = load_bundled(ModelSource(SourceKind.BUNDLED))
    cat = capture(vit, np.asarray(Image.open(SAMPLES / "coffee.jpg").convert("RGB")))
    assert "six shapes" in cat.ood_warning
    frame = AttentionSession().set_result(cat)
    assert frame.predictions and "six shapes" in frame.predictions_note  # the label stays, with the warning
    star = capture(vit, np.asarray(Image.open(SAMPLES / "shapes_star.png").convert("RGB")))
    assert star.ood_warning == ""

"""The out-of-distribution check of the bundled classifiers: calibrated on held-out shapes, warns on photos."""
from __future__ import annotations

import numpy as np
from PIL import Image

from models.compare.architectures import ARCHITECTURES
from models.compare.catalog import _bundled_loader
from models.compare.ood import OodCalibration, calibrate, check, colour_bins
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


def test_verdict_names_the_reasons_and_what_the_model_knows():
    sm = _bundled_loader(ARCHITECTURES["convnext"])(ModelSource(SourceKind.RANDOM))
    cal = OodCalibration(min_confidence=0.9, max_colour_bins=17)
    probs = np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    v = check(sm, _small("astronaut.jpg"), probs, cal)
    assert v.unfamiliar and "six shapes" in v.message and "confidence 50%" in v.message and "colour" in v.message
    shape = wide_arrays(1, 3)[0][0]
    ok = check(sm, shape, np.array([0.99, 0.002, 0.002, 0.002, 0.002, 0.002]), cal)
    assert not ok.unfamiliar and ok.message == ""


def test_calibration_flags_about_one_percent_of_held_out_shapes():
    sm = _bundled_loader(ARCHITECTURES["vit-plain"])(ModelSource(SourceKind.RANDOM))
    cal = calibrate(sm)
    assert 0.0 < cal.min_confidence < 1.0 and cal.max_colour_bins >= 2

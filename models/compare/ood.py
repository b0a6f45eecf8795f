"""Is this image like the bundled models' data? An out-of-distribution check calibrated on held-out shapes.

The bundled classifiers know six shapes; shown a photo they still answer ("triangle 79.7%" for the cat).
Two scores, each with a threshold at the `quantile` tail of 400 held-out widened shapes images:
- the model's confidence, max softmax probability (Hendrycks & Gimpel 2017): low on unfamiliar images;
- the image's colour complexity, model-free: how many of 512 coarse colour bins (8 levels per channel) it
  takes to cover 90% of the pixels. A shapes image is a background and a shape (q99 of held-out shapes:
  17 bins); the cat photo needs 18, the astronaut 42, the coffee 23 (at 64x64). It misses dark or plain
  photos (the Hubble field: 2), which the confidence score has to catch.
Either score outside its threshold -> a warning that names what this model knows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..shapes import SHAPE_CLASSES
from ..shapes_wide import wide_arrays
from ..vit.metrics import to_tensor
from .stages import StageModel

CALIBRATION_SEED = 5_000_011
CALIBRATION_SIZE = 400


def colour_bins(image: np.ndarray, coverage: float = 0.9, levels: int = 8) -> int:
    """Coarse colour bins (`levels` per channel) needed to cover `coverage` of the pixels of (H, W, 3) uint8."""
    q = image.reshape(-1, 3).astype(np.int32) * levels // 256
    codes = (q[:, 0] * levels + q[:, 1]) * levels + q[:, 2]
    counts = np.sort(np.bincount(codes, minlength=levels ** 3))[::-1]
    return int(np.searchsorted(np.cumsum(counts), coverage * counts.sum()) + 1)


@dataclass(frozen=True)
class OodCalibration:
    min_confidence: float  # below this max-softmax probability: unfamiliar
    max_colour_bins: int  # above this colour complexity: unlike the shapes data


@dataclass(frozen=True)
class OodVerdict:
    unfamiliar: bool
    confidence: float
    colour_bins: int
    message: str  # empty when familiar


def calibrate(sm: StageModel, quantile: float = 0.01) -> OodCalibration:
    images, _, _ = wide_arrays(CALIBRATION_SIZE, CALIBRATION_SEED)
    with torch.no_grad():
        conf = torch.softmax(sm.model(to_tensor(images)).float(), dim=1).max(dim=1).values.numpy()
    bins = np.array([colour_bins(im) for im in images])
    return OodCalibration(float(np.quantile(conf, quantile)), int(np.ceil(np.quantile(bins, 1 - quantile))))


def check(sm: StageModel, image: np.ndarray, probabilities: np.ndarray, cal: OodCalibration) -> OodVerdict:
    """Verdict for one (H, W, 3) uint8 image (as the model saw it) and its class probabilities."""
    conf, bins = float(np.max(probabilities)), colour_bins(image)
    reasons = []
    if conf < cal.min_confidence:
        reasons.append(f"its confidence {conf:.0%} is below what it shows on 99% of shapes ({cal.min_confidence:.0%})")
    if bins > cal.max_colour_bins:
        reasons.append(f"the image has more colours than shapes images ({bins} colour bins, shapes <= {cal.max_colour_bins})")
    if not reasons:
        return OodVerdict(False, conf, bins, "")
    known = ", ".join(SHAPE_CLASSES)
    return OodVerdict(True, conf, bins,
                      f"This image is unlike anything {sm.title or 'this model'} was trained on: "
                      f"{' and '.join(reasons)}. It knows only six shapes ({known}), so its label means little "
                      "here; pick a pretrained model (e.g. ResNet-50 or ViT-B/16) for photos.")

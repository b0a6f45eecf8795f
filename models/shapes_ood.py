"""Is this image like the bundled classifiers' data? An out-of-distribution check calibrated on held-out shapes.

The bundled classifiers know six shapes; shown a photo they still answer ("triangle 79.7%" for the cat).
Three scores, each with a threshold at the `quantile` tail of 400 held-out widened shapes images:
- the Mahalanobis distance of the model's head-input features to the nearest class mean (Lee et al. 2018):
  the strongest of the three (with label smoothing, max softmax alone passes the cat photo at 88%);
- the model's confidence, max softmax probability (Hendrycks & Gimpel 2017): low on unfamiliar images;
- the image's colour complexity, model-free: how many of 512 coarse colour bins (8 levels per channel) it
  takes to cover 90% of the pixels. A shapes image is a background and a shape (q99 of held-out shapes:
  17 bins); the cat photo needs 18, the astronaut 42, the coffee 23 (at 64x64). It misses dark or plain
  photos (the Hubble field: 2);
- the image's longest outline, model-free: the largest 8-connected set of edge pixels (RGB Sobel gradient > 30
  grey levels). Every shapes image has one shape of 19 px or more, so one closed outline (lowest of 1,000
  held-out widened images: 110 edge pixels; of the second renderer's: 155). A field of specks has none: the
  Hubble field's longest is 44, which the three other scores all pass (the models say "star" at 92%).
Any score outside its threshold -> a warning that names what this model knows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from torch import nn

from .shapes import SHAPE_CLASSES
from .shapes_wide import wide_arrays
from .vit.metrics import to_tensor

CALIBRATION_SEED = 5_000_011
CALIBRATION_SIZE = 400


def longest_outline(image: np.ndarray, edge: float = 30.0) -> int:
    """Pixels in the largest 8-connected set of edges of (H, W, 3) uint8 (RGB Sobel magnitude > `edge`)."""
    from scipy import ndimage

    f = image.astype(np.float32)
    grad = np.max([np.hypot(ndimage.sobel(f[..., k], 0), ndimage.sobel(f[..., k], 1)) for k in range(3)], 0) / 4
    labels, n = ndimage.label(grad > edge, structure=np.ones((3, 3), bool))
    return int(np.bincount(labels.ravel())[1:].max()) if n else 0


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
    class_means: np.ndarray  # (classes, D) float64: mean head-input feature per class on held-out shapes
    precision: np.ndarray  # (D, D) float64: inverse of the shared (shrunk) covariance
    max_distance: float  # above this Mahalanobis distance to the nearest class mean: unfamiliar
    min_outline: int = 0  # below this longest outline (edge pixels): no shape in the image


@dataclass(frozen=True)
class OodVerdict:
    unfamiliar: bool
    confidence: float
    colour_bins: int
    distance: float
    outline: int
    message: str  # empty when familiar
    probabilities: np.ndarray  # (classes,) float32: the model's softmax on the image (the same forward)


def _logits_and_features(model: nn.Module, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, classes) logits and (B, D) inputs of `model.head` (the features the classifier reads)."""
    seen: list[torch.Tensor] = []
    hook = model.head.register_forward_hook(lambda _m, args, _out: seen.append(args[0].detach()))
    param = next(model.parameters(), None)
    x = to_tensor(images) if param is None else to_tensor(images).to(param.device)
    try:
        with torch.no_grad():
            logits = model(x).float()
    finally:
        hook.remove()
    return logits.cpu().numpy(), seen[0].reshape(len(images), -1).double().cpu().numpy()


def _distances(features: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """(B,) Mahalanobis distance of each feature row to its nearest class mean."""
    diff = features[:, None, :] - means[None]  # (B, classes, D)
    return np.sqrt(np.einsum("bcd,de,bce->bc", diff, precision, diff).min(axis=1))


def calibrate(model: nn.Module, quantile: float = 0.01) -> OodCalibration:
    """Thresholds for a shapes classifier with a `head` (B, 3, 64, 64) in [0, 1] -> (B, 6) logits.

    Class means and covariance (Lee et al. 2018, shared covariance shrunk 10% towards its mean variance) are
    fitted on one half of the held-out images, the distance threshold is read on the other half."""
    images, labels, _ = wide_arrays(CALIBRATION_SIZE, CALIBRATION_SEED)
    logits, feats = _logits_and_features(model, images)
    conf = torch.softmax(torch.from_numpy(logits), dim=1).max(dim=1).values.numpy()
    bins = np.array([colour_bins(im) for im in images])
    fit = np.arange(len(images)) % 2 == 0
    means = np.stack([feats[fit & (labels == c)].mean(0) if np.any(fit & (labels == c)) else feats[fit].mean(0)
                      for c in range(len(SHAPE_CLASSES))])
    centred = feats[fit] - means[labels[fit]]
    cov = centred.T @ centred / max(1, len(centred) - 1)
    cov = 0.9 * cov + 0.1 * np.trace(cov) / len(cov) * np.eye(len(cov)) + 1e-9 * np.eye(len(cov))
    precision = np.linalg.inv(cov)
    dist = _distances(feats[~fit], means, precision)
    outlines = np.array([longest_outline(im) for im in images])
    return OodCalibration(float(np.quantile(conf, quantile)), int(np.ceil(np.quantile(bins, 1 - quantile))),
                          means, precision, float(np.quantile(dist, 1 - quantile)),
                          int(np.floor(np.quantile(outlines, quantile / 4))))


def assess(model: nn.Module, title: str, image: np.ndarray, cal: OodCalibration) -> OodVerdict:
    """Verdict for one (64, 64, 3) uint8 image as the model sees it."""
    logits, feats = _logits_and_features(model, image[None])
    probabilities = torch.softmax(torch.from_numpy(logits[0]), 0).numpy().astype(np.float32)
    distance = float(_distances(feats, cal.class_means, cal.precision)[0])
    conf, bins, outline = float(np.max(probabilities)), colour_bins(image), longest_outline(image)
    reasons = []
    if distance > cal.max_distance:
        reasons.append(f"its features lie {distance / cal.max_distance:.1f}x farther from every shape class than "
                       "99% of shapes images do")
    if conf < cal.min_confidence:
        reasons.append(f"its confidence {conf:.0%} is below what it shows on 99% of shapes ({cal.min_confidence:.0%})")
    if bins > cal.max_colour_bins:
        reasons.append(f"the image has more colours than shapes images ({bins} colour bins, shapes <= {cal.max_colour_bins})")
    if outline < cal.min_outline:
        reasons.append(f"it has no shape's outline (its longest edge is {outline} px; every shapes image has one "
                       f"of {cal.min_outline} px or more)")
    if not reasons:
        return OodVerdict(False, conf, bins, distance, outline, "", probabilities)
    known = ", ".join(SHAPE_CLASSES)
    return OodVerdict(True, conf, bins, distance, outline,
                      f"This image is unlike anything {title or 'this model'} was trained on: "
                      f"{'; '.join(reasons)}. It knows only six shapes ({known}), so its label means little "
                      "here; pick a pretrained model (e.g. ResNet-50 or ViT-B/16) for photos.", probabilities)

"""Scored boxes of many images at once, for evaluation (no attention kept). Detectors whose class is in
BATCH_PREDICTORS run in batches; any other Detector goes image by image through its own predict()."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from PIL import Image

from .boxes import batched_nms
from .bundled import BundledDetector
from .detector import Detector
from .postprocess import softmax_postprocess

Boxes = tuple[np.ndarray, np.ndarray, np.ndarray]  # (N, 4) xyxy pixels, (N,) scores, (N,) labels
MAX_DETECTIONS = 100  # COCOeval's maxDets
NMS_IOU = 0.5  # for detectors that need NMS (the app's default slider value)


def _shapes_detr_boxes(detector: BundledDetector, images: list[np.ndarray], check_cancelled) -> list[Boxes]:
    model = detector.model
    size = model.config.image_size
    small = [im if im.shape[:2] == (size, size) else
             np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in images]
    x = torch.from_numpy(np.stack(small)).permute(0, 3, 1, 2).float().div(255).to(detector.device)  # (B, 3, S, S)
    check_cancelled()
    with torch.inference_mode():
        out = model(x)
    logits, boxes = out["logits"][-1].cpu().numpy(), out["boxes"][-1].cpu().numpy()  # (B, Q, C+1), (B, Q, 4)
    res = []
    for j, im in enumerate(images):
        h, w = im.shape[:2]
        scores, labels, xyxy, _ = softmax_postprocess(logits[j], boxes[j], w, h)
        res.append((xyxy, scores, labels))
    return res


BATCH_PREDICTORS: dict[type, Callable[..., list[Boxes]]] = {BundledDetector: _shapes_detr_boxes}


def predict_boxes(detector: Detector, images: list[np.ndarray],
                  check_cancelled: Callable[[], None] = lambda: None) -> list[Boxes]:
    """Every image's scored boxes as the Detection tab would count them: all candidates of a set predictor;
    class-wise NMS at 0.5 for detectors that need it; at most the 100 best per image."""
    batched = BATCH_PREDICTORS.get(type(detector))
    if batched is not None:
        raw = batched(detector, images, check_cancelled)
    else:
        raw = []
        for im in images:
            r = detector.predict(im, check_cancelled)
            raw.append((r.boxes, r.scores, r.labels))
    out = []
    for boxes, scores, labels in raw:
        keep = (batched_nms(boxes, scores, labels, NMS_IOU) if detector.needs_nms
                else np.argsort(-scores, kind="stable"))[:MAX_DETECTIONS]
        out.append((boxes[keep], scores[keep], labels[keep]))
    return out

"""Worker jobs of the Detection tab. No torch at import: it is imported inside the jobs (worker thread)."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.jobs import JobContext, Progress

BUNDLED_KEY = "detection/bundled-shapes-detr"  # same as models.detection.bundled.KEY (kept torch-free here)
_CACHE_SIZE = 2
_loaded: "OrderedDict[tuple[str, str, str], Any]" = OrderedDict()  # touched on the worker thread only


@dataclass(frozen=True)
class DetectorInfo:
    key: str
    title: str
    description: str
    default_ref: str  # hub id / weights name the spec uses by default
    asks_for_ref: bool  # the user may type a Hugging Face id or pick a local folder
    needs_nms: bool


def list_detectors_job(ctx: JobContext):
    """Job: the registered detectors, for the model picker."""
    from models.registry import specs_for

    from . import specs  # noqa: F401  (registers)

    yield Progress(None, "Listing detectors")
    return [DetectorInfo(s.key, s.title, s.description, s.default_source.ref,
                         bool(s.capabilities.get("asks_for_ref")), bool(s.capabilities.get("needs_nms")))
            for s in specs_for("detection")]


def load_detector(key: str, ref: str, device: str, progress=None):
    """The loaded detector for (key, ref) on device; the last two stay loaded."""
    from models.registry import ModelSource, get

    from . import specs  # noqa: F401

    cache_key = (key, ref, device)
    if cache_key in _loaded:
        _loaded.move_to_end(cache_key)
        return _loaded[cache_key]
    spec = get(key)
    source = ModelSource(spec.default_source.kind, ref) if ref else spec.default_source
    detector = spec.load(source, device, progress)
    _loaded[cache_key] = detector
    while len(_loaded) > _CACHE_SIZE:
        _loaded.popitem(last=False)
    return detector


def detect_job(ctx: JobContext, key: str, ref: str, image: np.ndarray):
    """Job: load the detector if needed, run it on image; returns a DetectionResult."""
    import torch

    from .detector import check_image

    check_image(image)
    yield Progress(None, "Loading the detector")
    detector = load_detector(key, ref, ctx.device)
    ctx.check_cancelled()
    yield Progress(None, f"Detecting with {detector.title}")
    with torch.inference_mode():
        return detector.predict(image, ctx.check_cancelled)

"""Worker jobs of the Detection tab. No torch at import: it is imported inside the jobs (worker thread).

Loaded detectors live in the app's one model cache (`models.model_cache.MODEL_CACHE`, or the `cache` given),
keyed by (registry key, reference): a device change moves the cached detector instead of loading it again.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from models.jobs import JobContext, Progress

BUNDLED_KEY = "detection/bundled-shapes-detr"  # same as models.detection.bundled.KEY (kept torch-free here)


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


def load_detector(key: str, ref: str, device: str, progress=None, cache=None):
    """The detector for (key, ref) on device, from the shared model cache."""
    return cached_detector(key, ref, device, progress, cache)[0]


def cached_detector(key: str, ref: str, device: str, progress=None, cache=None):
    """(detector, loaded_now): as load_detector; loaded_now is True when this call loaded it (its first
    forward is then the warm-up)."""
    from models.model_cache import MODEL_CACHE  # imports torch: not at module level (the window imports this)
    from models.registry import ModelSource, get

    from . import specs  # noqa: F401

    cache = MODEL_CACHE if cache is None else cache
    loaded_now = []

    def load(dev: str):
        spec = get(key)
        source = ModelSource(spec.default_source.kind, ref) if ref else spec.default_source
        loaded_now.append(True)
        return spec.load(source, dev, progress)

    detector = cache.get(("detection", key, ref), device, load)
    if detector.device != device:  # a Detector is not an nn.Module: the cache does not move it itself
        detector = detector.to(device)
    return detector, bool(loaded_now)


def detector_job(key: str, ref: str, device: str, cache=None):
    """Job step (``yield from``): (detector, loaded_now) as cached_detector, but an uncached detector loads
    on the worker service's loader thread (models.jobs.Load), so the GPU job queue keeps going meanwhile."""
    from models.model_cache import MODEL_CACHE  # imports torch: not at module level (the window imports this)
    from models.registry import ModelSource, get

    from . import specs  # noqa: F401

    cache = MODEL_CACHE if cache is None else cache
    spec = get(key)
    source = ModelSource(spec.default_source.kind, ref) if ref else spec.default_source
    loaded_now = ("detection", key, ref) not in cache
    detector = yield from cache.load_job(("detection", key, ref), device, lambda dev: spec.load(source, dev),
                                         f"Loading {spec.title}")
    if detector.device != device:  # a Detector is not an nn.Module: the cache does not move it itself
        detector = detector.to(device)
    return detector, loaded_now


def detect_job(ctx: JobContext, key: str, ref: str, image: np.ndarray):
    """Job: load the detector if needed, run it on image; returns a DetectionResult (warm_up set on the
    first forward after a load: it includes one-off costs and is not the model's speed)."""
    import torch

    from .detector import check_image

    check_image(image)
    yield Progress(None, "Loading the detector")
    detector, loaded_now = yield from detector_job(key, ref, ctx.device)
    ctx.check_cancelled()
    yield Progress(None, f"Detecting with {detector.title}")
    with torch.inference_mode():
        result = detector.predict(image, ctx.check_cancelled)
    return dataclasses.replace(result, warm_up=loaded_now) if loaded_now else result

"""Worker jobs of the Compare tab. No torch at import: it is imported inside the jobs (worker thread).

One column = one model (registry task "compare"). `column_job` loads it and runs it once on the image
(stages by shape trace, prediction); every other job takes the column's ModelRef, its model-input image
and its stages, and computes one view's numbers. Loaded models live in `COMPARE_CACHE`, a model cache of
its own: three columns (plus a model being swapped in) must not evict each other or the other tabs'
models from the app's small shared cache. pytorch-grad-cam is imported by the first CAM job (slow once).
"""
from __future__ import annotations

import threading
import time
from functools import lru_cache

import numpy as np

from models.jobs import JobContext, Progress

from .results import (AttributionResult, ColumnBase, ColumnUnavailable, EquivarianceResult, FeaturesResult,
                      HierarchyResult, ModelRef, StageField)

ERF_IMAGES = 16
ERF_SEED = 4242
SHIFTS = tuple(range(0, 17))
SHUFFLE_GRIDS = (2, 4, 8)
TRAIN_HINT = ("weights not trained yet: run python -m models.compare.train {arch}\n"
              "(meanwhile: open this column's model box above and choose Random weights)")
_cache = None
# one load at a time: the columns' loads run on parallel loader threads, and random-weight loaders seed the
# global torch RNG (torch.manual_seed) before building: in parallel they would draw each other's numbers
_LOAD_LOCK = threading.Lock()
_OOD_CALIBRATIONS: dict = {}  # ModelRef -> OodCalibration, measured once per model and session


def _ood_verdict(ref: ModelRef, sm, seen: np.ndarray):
    """For a model trained here on shapes only: its OodVerdict on this image (prediction and warning, one forward)."""
    from ..shapes_ood import assess, calibrate

    if ref not in _OOD_CALIBRATIONS:
        _OOD_CALIBRATIONS[ref] = calibrate(sm.model)
    return assess(sm.model, sm.title, seen, _OOD_CALIBRATIONS[ref])


def compare_cache():
    """The Compare tab's model cache (made on first use: it imports torch)."""
    global _cache
    if _cache is None:
        from models.model_cache import ModelCache

        _cache = ModelCache(capacity=4)
    return _cache


def list_models_job(ctx: JobContext):
    """Job: the registered Compare models (registry specs), for the column pickers."""
    from models.registry import specs_for

    from . import catalog  # noqa: F401  (registers)

    yield Progress(None, "Listing models")
    return list(specs_for("compare"))


# ---- known objects of the bundled shapes samples (for the in-box ratio) ------------------------------------

@lru_cache(maxsize=1)
def _single_shape_samples() -> dict[str, tuple[np.ndarray, str]]:
    """image key -> (box [x, y, w, h] in pixels, class name) of assets/samples/shapes_<class>.png, rebuilt
    the way scripts/make_samples.py made them (seeded, so the same pixels)."""
    from PIL import Image

    from ..detection.ground_truth import image_key
    from ..shapes import CLASSIFICATION, NUM_CLASSES, SHAPE_CLASSES, generate

    side, found = 224, {}  # scripts/make_samples.py: CLASSIFICATION_SAVE, seed 2024, large objects
    for sample in generate(400, 2024, CLASSIFICATION):
        cls = int(sample.labels[0])
        w, h = sample.boxes[0][2:]
        if cls not in found and min(w, h) >= 0.45 * CLASSIFICATION.size:
            big = np.asarray(Image.fromarray(sample.image).resize((side, side), Image.NEAREST))
            scale = side / CLASSIFICATION.size
            found[cls] = (image_key(big), np.asarray(sample.boxes[0], np.float32) * scale, SHAPE_CLASSES[cls])
        if len(found) == NUM_CLASSES:
            break
    return {k: (box, name) for k, box, name in found.values()}


def known_objects(image: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Boxes (K, 4) [x, y, w, h] in the image's pixels and class names of the objects of a bundled shapes
    sample with exactly these pixels (a scene's annotations or a one-shape sample); else empty."""
    from ..detection.ground_truth import image_key, sample_ground_truth

    gt = sample_ground_truth(image)
    if gt is not None and len(gt.boxes):
        xyxy = np.asarray(gt.boxes, np.float32)
        boxes = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        return boxes, tuple(gt.class_name(int(c)) for c in gt.labels)
    hit = _single_shape_samples().get(image_key(image))
    if hit is not None:
        return hit[0][None], (hit[1],)
    return np.zeros((0, 4), np.float32), ()


def box_for(boxes: np.ndarray, names: tuple[str, ...], class_name: str) -> np.ndarray | None:
    """The largest known box of that class (the object the map should cover), or None."""
    idx = [i for i, n in enumerate(names) if n == class_name]
    if not idx:
        return None
    return boxes[max(idx, key=lambda i: float(boxes[i, 2] * boxes[i, 3]))]


# ---- the model -------------------------------------------------------------------------------------------

def _spec(ref: ModelRef):
    from models.registry import get

    from . import catalog  # noqa: F401

    return get(ref.key)


def unavailable_reason(ref: ModelRef) -> str:
    """Why the model cannot load at all ("" when it can): bundled weights that are not trained yet."""
    from ..loading import WEIGHTS_DIR

    spec = _spec(ref)
    weights = spec.capabilities.get("weights_file")
    if ref.kind == "bundled" and weights and not (WEIGHTS_DIR / weights).is_file():
        return TRAIN_HINT.format(arch=spec.key.split("/", 1)[-1])
    return ""


def locked_load(ref: ModelRef, device: str):
    """The StageModel for ref, loaded while no other Compare load runs (see _LOAD_LOCK)."""
    from models.registry import ModelSource, SourceKind

    with _LOAD_LOCK:
        return _spec(ref).load(ModelSource(SourceKind(ref.kind), ref.ref), device)


def model_job(ref: ModelRef, device: str, cache=None):
    """Job step (``yield from``): the StageModel for ref on device (loaded on the loader thread once)."""
    spec = _spec(ref)
    cache = compare_cache() if cache is None else cache
    sm = yield from cache.load_job(("compare", ref), device, lambda dev: locked_load(ref, dev),
                                   f"Loading {spec.title}")
    param = next(sm.model.parameters(), None)
    if param is not None and str(param.device) != str(device) and not str(param.device).startswith(device):
        sm.model.to(device)
    return sm


def to_input(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 -> (S, S, 3) uint8 at the model's input size (bilinear)."""
    from PIL import Image

    if image.shape[:2] == tuple(size):
        return np.ascontiguousarray(image[..., :3])
    return np.asarray(Image.fromarray(np.ascontiguousarray(image[..., :3])).resize((size[1], size[0]), Image.BILINEAR))


def _tensor(images: np.ndarray, device: str):
    import torch

    x = torch.from_numpy(np.array(images, np.float32)).div_(255.0)  # a copy: the GUI's arrays are read-only
    x = x[None] if x.ndim == 3 else x
    return x.permute(0, 3, 1, 2).contiguous().to(device)  # (B, 3, H, W) in [0, 1]


def column_job(ctx: JobContext, ref: ModelRef, image: np.ndarray):
    """Job: load the model, trace its stages, predict the image. ColumnBase, or ColumnUnavailable."""
    import torch

    from .attribution import attention_modules, rollout_note
    from .stages import trace_stages

    spec = _spec(ref)
    reason = unavailable_reason(ref)
    if reason:
        return ColumnUnavailable(ref, spec.title, reason)
    start = time.perf_counter()
    sm = yield from model_job(ref, ctx.device)
    ctx.check_cancelled()
    yield Progress(None, f"Running {sm.title or spec.title}")
    stages = tuple(trace_stages(sm))
    seen = to_input(image, sm.image_size)
    warning = ""
    if spec.capabilities.get("bundled"):  # trained on shapes only: the prediction comes with its OOD verdict
        verdict = _ood_verdict(ref, sm, seen)
        probs, warning = verdict.probabilities, verdict.message
    else:
        with torch.no_grad():
            probs = torch.softmax(sm.model(_tensor(seen, ctx.device))[0].float(), 0).cpu().numpy()
    boxes, names = known_objects(image)
    if len(boxes):
        h, w = image.shape[:2]
        scale = np.array([sm.image_size[1] / w, sm.image_size[0] / h] * 2, np.float32)
        boxes = boxes * scale
    has_cls = stages[-1].prefix_tokens > 0 and bool(attention_modules(sm))
    return ColumnBase(ref, sm.title or spec.title, str(spec.capabilities.get("family", "")), seen, stages,
                      tuple(sm.class_names), probs.astype(np.float32), has_cls, boxes.astype(np.float32), names,
                      time.perf_counter() - start, warning, "" if has_cls else rollout_note(sm))


def attribution_job(ctx: JobContext, ref: ModelRef, seen: np.ndarray, stage, method: str, class_index: int,
                    box: np.ndarray | None):
    """Job: the map of `method` for `class_index` at `stage` (a StageInfo), with its in-box ratio."""
    from .attribution import CAM_METHODS, explain, in_box_ratio

    sm = yield from model_job(ref, ctx.device)
    ctx.check_cancelled()
    if method in CAM_METHODS:
        yield Progress(None, "Loading pytorch-grad-cam (once)")
        import pytorch_grad_cam  # noqa: F401  (slow the first time; then cached by Python)
    start = time.perf_counter()
    a = explain(sm, _tensor(seen, ctx.device), stage, method, class_index)
    # an all-zero map (no positive evidence at this stage) has no density to compare
    ratio = in_box_ratio(a.heatmap, box) if box is not None and a.heatmap.max() > 0 else None
    return AttributionResult(ref, a.stage, method, a.class_index, a.heatmap, float(a.probabilities[a.class_index]),
                             ratio, time.perf_counter() - start)


def probe_images(size: tuple[int, int], n: int = ERF_IMAGES, seed: int = ERF_SEED) -> np.ndarray:
    """(n, S, S, 3) uint8: widened shapes images (64 px), resized for larger models."""
    from ..shapes_wide import wide_arrays

    images, _, _ = wide_arrays(n, seed)
    return images if images.shape[1:3] == tuple(size) else np.stack([to_input(im, size) for im in images])


def receptive_field_job(ctx: JobContext, ref: ModelRef, stages: tuple, order: tuple[int, ...]):
    """Job: the ERF of every stage in `order` (the one under the slider first); each StageField is yielded
    as it is done (a partial result) and all of them are returned."""
    from .receptive_field import effective_rf, erf_radius, theoretical_rf

    sm = yield from model_job(ref, ctx.device)
    images = _tensor(probe_images(sm.image_size), ctx.device)
    out = []
    for i in order:
        ctx.check_cancelled()
        yield Progress(None, f"Receptive field of stage {i + 1}")
        st = stages[i]
        erf = effective_rf(sm, images, st)
        field = StageField(ref, st.index, erf, erf_radius(erf), theoretical_rf(sm, st), len(images))
        out.append(field)
        yield field
    return tuple(out)


def equivariance_job(ctx: JobContext, ref: ModelRef, seen: np.ndarray, stages: tuple):
    """Job: equivariance error per stage and top-class probability for shifts 0..16 px, the patch-shuffle
    probe and the occlusion map, for the image as the model sees it."""
    import torch

    from .equivariance import equivariance_errors, occlusion_map, patch_shuffle, probabilities, shift_probabilities

    sm = yield from model_job(ref, ctx.device)
    x = _tensor(seen, ctx.device)
    cls = int(np.argmax(probabilities(sm, x)[0]))
    shifts = list(SHIFTS)
    yield Progress(0.1, "Shifting the image")
    errors = equivariance_errors(sm, x, list(stages), shifts)
    ctx.check_cancelled()
    shift_p = shift_probabilities(sm, x, shifts, cls)
    yield Progress(0.5, "Shuffling patches")
    shuffled, probs = patch_shuffle(sm, x, SHUFFLE_GRIDS)
    ctx.check_cancelled()
    yield Progress(0.6, "Occluding")
    size = max(4, seen.shape[0] // 4)
    occ = occlusion_map(sm, x, cls, size=size, stride=max(1, seen.shape[0] // 16))
    shuffled_u8 = (torch.cat(shuffled).permute(0, 2, 3, 1).clamp(0, 1) * 255).round().byte().cpu().numpy()
    return EquivarianceResult(ref, np.asarray(shifts), errors.astype(np.float32), cls, shift_p.astype(np.float32),
                              SHUFFLE_GRIDS, shuffled_u8, probs.argmax(1).astype(np.int64),
                              probs[:, cls].astype(np.float32), occ.astype(np.float32), size)


def hierarchy_job(ctx: JobContext, ref: ModelRef, seen: np.ndarray, stages: tuple):
    """Job: per stage output shape, parameters, FLOPs and measured time on the current device."""
    from .hierarchy import hierarchy

    sm = yield from model_job(ref, ctx.device)
    yield Progress(None, "Counting FLOPs and timing the stages")
    costs = hierarchy(sm, _tensor(seen, ctx.device), list(stages), runs=3)
    return HierarchyResult(ref, tuple(costs), ctx.device)


def features_job(ctx: JobContext, ref: ModelRef, seen: np.ndarray, stage):
    """Job: what one stage sees: its 16 most active channels, or token PCA as RGB."""
    from .hierarchy import stage_features

    sm = yield from model_job(ref, ctx.device)
    yield Progress(None, f"Features of stage {stage.index + 1}")
    values, channels = stage_features(sm, _tensor(seen, ctx.device), stage)
    if stage.kind == "tokens":
        return FeaturesResult(ref, stage.index, "tokens", None, channels, np.asarray(values, np.float32))
    return FeaturesResult(ref, stage.index, "conv", np.asarray(values, np.float32), channels, None)


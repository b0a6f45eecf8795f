"""The evaluation job: a detector over a data set, in the worker service (progress, cancel), then COCOeval
and the matching of every image. Torch is imported inside the job only."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from models.jobs import JobContext, Load, Progress

from .eval_data import EvalDataset
from .eval_metrics import CocoSummary, DatasetMatch, Predictions, coco_ground_truth, coco_summary, match_dataset

BATCH = 50


@dataclass(frozen=True)
class DatasetRequest:
    """Which data set: the bundled validation scenes (n, seed) or a COCO JSON with its image folder."""

    kind: str  # "scenes" | "coco"
    n: int = 500
    seed: int = 0  # 0: the validation seed
    json_path: str = ""
    folder: str = ""
    stamp: int = 0  # the JSON file's modification time when picked: an edited file is evaluated again

    def load(self) -> EvalDataset:
        from .eval_data import VALIDATION_SEED, bundled_scenes, load_coco_dataset

        if self.kind == "coco":
            return load_coco_dataset(self.json_path, self.folder)
        return bundled_scenes(self.n, self.seed or VALIDATION_SEED)


@dataclass(frozen=True)
class EvalRun:
    model_key: str
    model_ref: str
    model_title: str
    dataset: EvalDataset
    predictions: tuple[Predictions, ...]  # per image, labels in the data set's classes
    summary: CocoSummary
    match50: DatasetMatch  # matched at IoU 0.5 (other IoUs are matched when asked)
    left_out: int  # predictions of classes the data set does not have (not counted)
    predict_s: float  # detector time
    total_s: float  # detector + COCOeval + matching

    @property
    def images_per_s(self) -> float:
        return len(self.dataset) / max(self.total_s, 1e-9)


def evaluate_predictions(dataset: EvalDataset, raw: list, class_names: tuple[str, ...]):
    """(predictions in data-set labels, number left out, CocoSummary, DatasetMatch at 0.5)."""
    to_ds = {i: dataset.class_names.index(n) for i, n in enumerate(class_names) if n in dataset.class_names}
    lut = np.array([to_ds.get(i, -1) for i in range(len(class_names))], np.int64)
    preds, left_out = [], 0
    for boxes, scores, labels in raw:
        mapped = lut[labels] if len(labels) else np.zeros(0, np.int64)
        ok = mapped >= 0
        left_out += int((~ok).sum())
        preds.append(Predictions(np.asarray(boxes, np.float32)[ok], np.asarray(scores, np.float32)[ok], mapped[ok]))
    gt_doc = coco_ground_truth(list(dataset.gt_boxes), list(dataset.gt_labels), list(dataset.sizes),
                               dataset.class_names)
    summary = coco_summary(gt_doc, preds)
    match = match_dataset(preds, list(dataset.gt_boxes), list(dataset.gt_labels), len(dataset.class_names), 0.5)
    return tuple(preds), left_out, summary, match


def evaluate_job(ctx: JobContext, key: str, ref: str, request: DatasetRequest):
    """Job: load the data set and the detector, predict every image (in batches), evaluate; returns EvalRun."""
    from models.errors import UserFacingError

    from .batch_predict import predict_boxes
    from .jobs import detector_job

    yield Progress(None, "Reading the data set")
    dataset = yield Load(request.load, "Reading the data set")  # disk work: off the GPU job queue
    yield Progress(None, "Loading the detector")
    detector, _ = yield from detector_job(key, ref, ctx.device)
    if not set(detector.class_names) & set(dataset.class_names):
        raise UserFacingError(f"{detector.title} knows none of the data set's classes "
                              f"({', '.join(dataset.class_names[:6])}...): choose another model or data set.")
    t0 = time.perf_counter()
    raw = []
    n = len(dataset)
    for start in range(0, n, BATCH):
        ctx.check_cancelled()
        images = [dataset.image(i) for i in range(start, min(start + BATCH, n))]
        raw += predict_boxes(detector, images, ctx.check_cancelled)
        yield Progress(len(raw) / n * 0.9, f"Evaluating {detector.title}: {len(raw)}/{n} images")
    t1 = time.perf_counter()
    ctx.check_cancelled()
    yield Progress(0.92, "COCOeval and matching")
    preds, left_out, summary, match = evaluate_predictions(dataset, raw, tuple(detector.class_names))
    return EvalRun(key, ref, detector.title, dataset, preds, summary, match, left_out, t1 - t0,
                   time.perf_counter() - t0)

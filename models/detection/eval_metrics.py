"""Data-set metrics of a detector: pycocotools COCOeval for AP and PR curves, and this project's matching
(models.detection.matching) for TP / FP reasons / FN, the confusion matrix and the worst images.

No torch, no Qt. Labels are indices into the data set's class names (0..K-1); index K is "background".

- `coco_summary`: runs COCOeval once (all detections, maxDets 100) and keeps its `eval['precision']` and
  `eval['scores']` arrays (T x R x K x A x M). AP / AP50 / AP75 / AP small / medium / large per class are
  read from them exactly as COCOeval.summarize() does overall (mean of the entries > -1).
- `DatasetMatch`: every image matched once at one IoU threshold; verdicts hold at every score threshold
  (see matching.py), so a threshold change is a few numpy masks and bincounts (`at_threshold`).
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from .matching import BACKGROUND, DUPLICATE, LOCALISATION, TP, WRONG_CLASS, match_image

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # COCOeval's iouThrs
RECALL_GRID = np.linspace(0.0, 1.0, 101)  # COCOeval's recThrs (101-point interpolation)
AREAS = ("all", "small", "medium", "large")  # COCOeval's areaRngLbl
AP_COLUMNS = ("AP", "AP50", "AP75", "AP small", "AP medium", "AP large")


@dataclass(frozen=True)
class Predictions:
    """All scored boxes of one image (every candidate, before any threshold)."""

    boxes: np.ndarray  # (N, 4) float32 xyxy pixels
    scores: np.ndarray  # (N,) float32
    labels: np.ndarray  # (N,) int64 data-set class indices


@dataclass(frozen=True)
class CocoSummary:
    precision: np.ndarray  # (T, R, K, A, M) COCOeval eval['precision'] (-1: class without ground truth)
    scores: np.ndarray  # (T, R, K, A, M) eval['scores']: the score reaching each recall threshold
    stats: np.ndarray  # (12,) COCOeval.stats
    per_class: np.ndarray  # (K, 6) AP_COLUMNS per class (nan where undefined)
    overall: np.ndarray  # (6,) AP_COLUMNS over all classes (= COCOeval stats[:6], nan where it says -1)


def _mean_valid(x: np.ndarray) -> float:
    v = x[x > -1]
    return float(v.mean()) if v.size else float("nan")


def ap_table(precision: np.ndarray, k: int | slice = slice(None)) -> np.ndarray:
    """(6,) AP_COLUMNS from a COCOeval precision array, for class index k (or all): maxDets 100 (m = -1)."""
    p = precision
    return np.array([_mean_valid(p[:, :, k, 0, -1]), _mean_valid(p[0, :, k, 0, -1]), _mean_valid(p[5, :, k, 0, -1]),
                     _mean_valid(p[:, :, k, 1, -1]), _mean_valid(p[:, :, k, 2, -1]), _mean_valid(p[:, :, k, 3, -1])])


def coco_ground_truth(gt_boxes: list[np.ndarray], gt_labels: list[np.ndarray], sizes: list[tuple[int, int]],
                      class_names: tuple[str, ...]) -> dict:
    """A COCO dict of the ground truth: image ids 0..n-1, category ids 0..K-1, xywh boxes."""
    images, anns = [], []
    for i, (b, lab, (w, h)) in enumerate(zip(gt_boxes, gt_labels, sizes)):
        images.append({"id": i, "width": int(w), "height": int(h), "file_name": f"{i:06d}.png"})
        for box, c in zip(np.asarray(b, np.float64).reshape(-1, 4).tolist(), np.asarray(lab).tolist()):
            bw, bh = box[2] - box[0], box[3] - box[1]
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c), "bbox": [box[0], box[1], bw, bh],
                         "area": bw * bh, "iscrowd": 0})
    return {"images": images, "annotations": anns,
            "categories": [{"id": k, "name": n} for k, n in enumerate(class_names)]}


def coco_detections(predictions: list[Predictions]) -> list[dict]:
    out = []
    for i, p in enumerate(predictions):
        xyxy = np.asarray(p.boxes, np.float64).reshape(-1, 4)
        for (x0, y0, x1, y1), s, c in zip(xyxy.tolist(), p.scores.tolist(), p.labels.tolist()):
            out.append({"image_id": i, "category_id": int(c), "bbox": [x0, y0, x1 - x0, y1 - y0], "score": float(s)})
    return out


def run_cocoeval(gt_doc: dict, detections: list[dict], cat_ids: list[int] | None = None):
    """A finished COCOeval (evaluate, accumulate, summarize) with its printing silenced."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_doc
        gt.createIndex()
        dt = gt.loadRes(detections) if detections else COCO()
        ev = COCOeval(gt, dt, "bbox")
        if cat_ids is not None:
            ev.params.catIds = list(cat_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def coco_summary(gt_doc: dict, predictions: list[Predictions]) -> CocoSummary:
    k = len(gt_doc["categories"])
    ev = run_cocoeval(gt_doc, coco_detections(predictions))
    precision, scores = np.asarray(ev.eval["precision"]), np.asarray(ev.eval["scores"])
    per_class = np.stack([ap_table(precision, c) for c in range(k)]) if k else np.zeros((0, 6))
    return CocoSummary(precision, scores, np.asarray(ev.stats, np.float64), per_class, ap_table(precision))


def pr_curve(summary: CocoSummary, k: int, iou_index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(precision (R,), score (R,)) of class k over RECALL_GRID at IOU_THRESHOLDS[iou_index], all areas, 100 dets.
    Precision is nan where the class has no ground truth."""
    p = summary.precision[iou_index, :, k, 0, -1].astype(np.float64)
    return np.where(p < 0, np.nan, p), summary.scores[iou_index, :, k, 0, -1].astype(np.float64)


@dataclass(frozen=True)
class DatasetMatch:
    """Every prediction and ground truth of a data set, flat, matched once at one IoU threshold."""

    iou_threshold: float
    num_classes: int
    pred_image: np.ndarray  # (P,) int64
    pred_index: np.ndarray  # (P,) int64: index within its image's Predictions
    pred_score: np.ndarray  # (P,) float32
    pred_label: np.ndarray  # (P,) int64
    verdict: np.ndarray  # (P,) int8 (matching.TP ..)
    pred_gt_label: np.ndarray  # (P,) int64: class of the ground truth judged against (K: none)
    gt_image: np.ndarray  # (G,) int64
    gt_label: np.ndarray  # (G,) int64
    gt_tp_score: np.ndarray  # (G,) float32 (-inf: never matched)
    gt_confused_score: np.ndarray  # (G,) float32
    num_images: int


def match_dataset(predictions: list[Predictions], gt_boxes: list[np.ndarray], gt_labels: list[np.ndarray],
                  num_classes: int, iou_threshold: float) -> DatasetMatch:
    cols = {k: [] for k in ("pi", "px", "ps", "pl", "v", "pg", "gi", "gl", "gt", "gc")}
    for i, (p, gb, gl) in enumerate(zip(predictions, gt_boxes, gt_labels)):
        gl = np.asarray(gl, np.int64)
        m = match_image(p.boxes, p.scores, p.labels, gb, gl, iou_threshold)
        n = len(p.scores)
        cols["pi"].append(np.full(n, i, np.int64))
        cols["px"].append(np.arange(n))
        cols["ps"].append(np.asarray(p.scores, np.float32))
        cols["pl"].append(np.asarray(p.labels, np.int64))
        cols["v"].append(m.verdict)
        cols["pg"].append(np.where(m.gt_index >= 0, gl[np.maximum(m.gt_index, 0)] if len(gl) else num_classes,
                                   num_classes))
        cols["gi"].append(np.full(len(gl), i, np.int64))
        cols["gl"].append(gl)
        cols["gt"].append(m.gt_tp_score)
        cols["gc"].append(m.gt_confused_score)
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}
    return DatasetMatch(float(iou_threshold), num_classes, cat["pi"].astype(np.int64), cat["px"].astype(np.int64),
                        cat["ps"].astype(np.float32), cat["pl"].astype(np.int64), cat["v"].astype(np.int8),
                        cat["pg"].astype(np.int64), cat["gi"].astype(np.int64), cat["gl"].astype(np.int64),
                        cat["gt"].astype(np.float32), cat["gc"].astype(np.float32), len(predictions))


@dataclass(frozen=True)
class ThresholdStats:
    """What a score threshold gives, over the whole data set."""

    confusion: np.ndarray  # (K+1, K+1) int64: rows ground-truth class (K: background), columns predicted (K: none)
    tp: np.ndarray  # (K,) per class
    fp: np.ndarray  # (K,)
    fn: np.ndarray  # (K,)
    fp_reasons: np.ndarray  # (4,) duplicate, wrong class, localisation, background
    image_fp: np.ndarray  # (num_images,)
    image_fn: np.ndarray  # (num_images,)

    @property
    def precision(self) -> np.ndarray:  # (K,) nan where nothing is predicted
        d = self.tp + self.fp
        return np.where(d > 0, self.tp / np.maximum(d, 1), np.nan)

    @property
    def recall(self) -> np.ndarray:  # (K,) nan where the class has no ground truth
        d = self.tp + self.fn
        return np.where(d > 0, self.tp / np.maximum(d, 1), np.nan)


def at_threshold(m: DatasetMatch, score_threshold: float) -> ThresholdStats:
    k = m.num_classes
    keep = m.pred_score >= score_threshold
    v, lab = m.verdict[keep], m.pred_label[keep]
    rows = np.where(v == TP, lab, np.where(v == WRONG_CLASS, m.pred_gt_label[keep], k))
    confusion = np.bincount(rows * (k + 1) + lab, minlength=(k + 1) ** 2)
    tp_gt = m.gt_tp_score >= score_threshold
    missed = ~tp_gt
    confused = missed & (m.gt_confused_score >= score_threshold)  # counted in its wrong-class cell already
    lost = missed & ~confused
    confusion = confusion + np.bincount(m.gt_label[lost] * (k + 1) + k, minlength=(k + 1) ** 2)
    is_tp = v == TP
    return ThresholdStats(
        confusion=confusion.reshape(k + 1, k + 1),
        tp=np.bincount(lab[is_tp], minlength=k)[:k], fp=np.bincount(lab[~is_tp], minlength=k)[:k],
        fn=np.bincount(m.gt_label[missed], minlength=k)[:k],
        fp_reasons=np.array([(v == r).sum() for r in (DUPLICATE, WRONG_CLASS, LOCALISATION, BACKGROUND)]),
        image_fp=np.bincount(m.pred_image[keep][~is_tp], minlength=m.num_images),
        image_fn=np.bincount(m.gt_image[missed], minlength=m.num_images))


def cell_members(m: DatasetMatch, score_threshold: float, row: int, col: int) -> tuple[np.ndarray, np.ndarray]:
    """The detections behind one confusion-matrix cell: (prediction rows into the flat arrays, ground-truth
    rows) at this threshold. The background column lists missed ground truths; other cells predictions."""
    k = m.num_classes
    if col == k:
        missed = (m.gt_tp_score < score_threshold) & (m.gt_confused_score < score_threshold)
        return np.zeros(0, np.int64), np.flatnonzero(missed & (m.gt_label == row))
    keep = m.pred_score >= score_threshold
    v = m.verdict
    rows = np.where(v == TP, m.pred_label, np.where(v == WRONG_CLASS, m.pred_gt_label, k))
    return np.flatnonzero(keep & (rows == row) & (m.pred_label == col)), np.zeros(0, np.int64)

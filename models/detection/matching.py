"""Why each prediction is right or wrong: greedy COCO-style matching of one image's predictions to its
ground truth, with the reason of every false positive. numpy only (the GUI uses it before torch loads).

Predictions are taken best score first (as COCOeval does). Each one is, in this order of checks:
  TP          an unmatched ground truth of its class overlaps it with IoU >= iou_threshold (best IoU wins);
  duplicate   such a ground truth exists but an earlier (higher-scored) prediction already took it;
  wrong class a ground truth of another class overlaps it with IoU >= iou_threshold;
  localisation  some ground truth overlaps it, but only with loc_iou <= IoU < iou_threshold;
  background  nothing overlaps it (IoU < loc_iou with every ground truth).
A ground truth no TP took is a false negative (FN). Because a prediction's verdict depends only on the
predictions scored above it, the verdicts computed once at score threshold 0 hold at every threshold:
raising the threshold only removes predictions (and turns the ground truths they took into FNs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import pairwise_iou

TP, DUPLICATE, WRONG_CLASS, LOCALISATION, BACKGROUND = range(5)
VERDICT_NAMES = ("TP", "FP duplicate", "FP wrong class", "FP localisation", "FP background")
LOC_IOU = 0.1  # below this IoU with every ground truth, a false positive is "background"


@dataclass(frozen=True)
class ImageMatch:
    verdict: np.ndarray  # (N,) int8: TP .. BACKGROUND per prediction (input order)
    gt_index: np.ndarray  # (N,) int64: the ground truth each prediction was judged against, -1 for background
    iou: np.ndarray  # (N,) float32: its IoU with that ground truth (0 for background)
    gt_tp_score: np.ndarray  # (G,) float32: score of the TP that took each ground truth, -inf if none
    gt_confused_score: np.ndarray  # (G,) float32: best score of a wrong-class prediction on it, -inf if none

    def missed(self, score_threshold: float) -> np.ndarray:
        """(G,) bool: ground truths that are false negatives at this score threshold."""
        return self.gt_tp_score < score_threshold


def match_image(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, gt_boxes: np.ndarray,
                gt_labels: np.ndarray, iou_threshold: float = 0.5, loc_iou: float = LOC_IOU) -> ImageMatch:
    """boxes (N, 4) xyxy, scores (N,), labels (N,); gt_boxes (G, 4) xyxy, gt_labels (G,)."""
    n, g = len(scores), len(gt_labels)
    verdict = np.full(n, BACKGROUND, np.int8)
    gt_index = np.full(n, -1, np.int64)
    best_iou = np.zeros(n, np.float32)
    tp_score = np.full(g, -np.inf, np.float32)
    confused = np.full(g, -np.inf, np.float32)
    if n == 0 or g == 0:
        return ImageMatch(verdict, gt_index, best_iou, tp_score, confused)
    iou, _ = pairwise_iou(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(gt_boxes, np.float64).reshape(-1, 4))
    same = np.asarray(labels)[:, None] == np.asarray(gt_labels)[None, :]  # (N, G)
    taken = np.zeros(g, bool)
    for i in np.argsort(-np.asarray(scores), kind="stable").tolist():
        row = iou[i]
        free = np.where(same[i] & ~taken & (row >= iou_threshold), row, -1.0)
        j = int(free.argmax())
        if free[j] >= 0:
            verdict[i], gt_index[i], best_iou[i] = TP, j, row[j]
            taken[j] = True
            tp_score[j] = scores[i]
            continue
        dup = np.where(same[i] & taken & (row >= iou_threshold), row, -1.0)
        other = np.where(~same[i] & (row >= iou_threshold), row, -1.0)
        if dup.max() >= 0:
            j, verdict[i] = int(dup.argmax()), DUPLICATE
        elif other.max() >= 0:
            j, verdict[i] = int(other.argmax()), WRONG_CLASS
            confused[j] = max(confused[j], scores[i])
        elif row.max() >= loc_iou:
            j, verdict[i] = int(row.argmax()), LOCALISATION
        else:
            continue
        gt_index[i], best_iou[i] = j, row[j]
    return ImageMatch(verdict, gt_index, best_iou, tp_score, confused)


def verdict_text(verdict: int, gt_class: str = "", iou: float = 0.0) -> str:
    """Short text of one verdict for the table: 'TP', 'FP wrong class (hexagon)', ..."""
    name = VERDICT_NAMES[verdict]
    if verdict == WRONG_CLASS and gt_class:
        return f"{name} (is {gt_class})"
    if verdict == LOCALISATION:
        return f"{name} (IoU {iou:.2f})"
    return name

"""The Detection tab's data-set evaluation, without Qt: the finished runs (cached per model and data set),
the score threshold, the IoU threshold and the "hide true positives" switch, turned into frozen values the
evaluation page draws (PR curves, AP table, confusion matrix, worst images, texts).

A threshold change costs a few numpy masks (`models.detection.eval_metrics.at_threshold`); an IoU change
matches the data set again once per COCO IoU threshold (then cached)."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from models.detection.eval_job import EvalRun
from models.detection.eval_metrics import (AP_COLUMNS, IOU_THRESHOLDS, RECALL_GRID, DatasetMatch, ThresholdStats,
                                           at_threshold, cell_members, match_dataset, pr_curve)
from models.detection.ground_truth import GroundTruth
from models.detection.matching import VERDICT_NAMES

WORST_ROWS = 50
KEEP_RUNS = 4  # finished runs kept (each holds its data set's images)


@dataclass(frozen=True)
class CurvesView:
    """What depends on the run and the IoU threshold only."""

    recall: np.ndarray  # (R,) COCO's 101 recall points
    precision: np.ndarray  # (K, R) interpolated precision per class (nan: class without ground truth)
    class_names: tuple[str, ...]
    ap_names: tuple[str, ...]  # AP table rows: every class, then "all classes"
    ap_values: np.ndarray  # (K + 1, 6) AP_COLUMNS (nan: undefined)
    iou: float
    title: str


@dataclass(frozen=True)
class ThresholdView:
    """What changes with the score threshold (and the hide-TP switch)."""

    points: np.ndarray  # (K, 2) operating point per class: recall, precision at the threshold (nan: none)
    confusion: np.ndarray  # (K+1, K+1) counts; rows ground truth, columns prediction; last = background
    tp_hidden: bool  # the diagonal is blanked
    labels: tuple[str, ...]  # K class names + "background"
    worst: tuple[tuple[int, str, int, int], ...]  # (image index, name, FP, FN), most FP + FN first
    summary: str


class EvalSession:
    def __init__(self) -> None:
        self.runs: dict[tuple, EvalRun] = {}  # (model key, ref, data-set request) -> run
        self.run: EvalRun | None = None
        self.threshold = 0.5
        self.iou_index = 0  # into IOU_THRESHOLDS
        self.hide_tp = False
        self._matches: dict[int, DatasetMatch] = {}
        self.stats: ThresholdStats | None = None

    # ---- runs ----------------------------------------------------------------------------------
    def cached(self, model_key: str, ref: str, dataset_id) -> EvalRun | None:
        """The finished run of this model on this data set (dataset_id: the hashable request), if any."""
        return self.runs.get((model_key, ref, dataset_id))

    def set_run(self, run: EvalRun, dataset_id=None) -> None:
        key = (run.model_key, run.model_ref, dataset_id if dataset_id is not None else run.dataset.key)
        self.runs.pop(key, None)
        self.runs[key] = run
        while len(self.runs) > KEEP_RUNS:
            self.runs.pop(next(iter(self.runs)))
        self.run = run
        self._matches = {0: run.match50}

    @property
    def iou(self) -> float:
        return float(IOU_THRESHOLDS[self.iou_index])

    def set_iou(self, iou: float) -> None:
        """The IoU a prediction needs to count as a TP: the nearest of COCO's 0.50, 0.55, ..., 0.95."""
        self.iou_index = int(np.clip(round((float(iou) - 0.5) / 0.05), 0, len(IOU_THRESHOLDS) - 1))

    def match(self) -> DatasetMatch:
        t = self.iou_index
        if t not in self._matches:
            r = self.run
            self._matches[t] = match_dataset(list(r.predictions), list(r.dataset.gt_boxes), list(r.dataset.gt_labels),
                                             len(r.dataset.class_names), float(IOU_THRESHOLDS[t]))
        return self._matches[t]

    # ---- views ---------------------------------------------------------------------------------
    def curves(self) -> CurvesView:
        r = self.run
        names = r.dataset.class_names
        k = len(names)
        precision = np.stack([pr_curve(r.summary, c, self.iou_index)[0] for c in range(k)]) if k else np.zeros((0, 101))
        values = np.concatenate([r.summary.per_class, r.summary.overall[None]], 0)
        left = f"; {r.left_out} predictions of other classes left out" if r.left_out else ""
        title = (f"{r.model_title} on {r.dataset.title}: mAP@[.5:.95] {_fmt(r.summary.overall[0])}, "
                 f"mAP@0.5 {_fmt(r.summary.overall[1])} ({r.images_per_s:.0f} images/s{left})")
        return CurvesView(RECALL_GRID, precision, names, names + ("all",), values, self.iou, title)

    def set_threshold(self, value: float) -> ThresholdView:
        self.threshold = float(value)
        return self.view()

    def view(self) -> ThresholdView:
        r = self.run
        m = self.match()
        s = at_threshold(m, self.threshold)
        self.stats = s
        points = np.stack([s.recall, s.precision], 1)  # (K, 2)
        confusion = s.confusion.copy()
        if self.hide_tp:
            k = len(r.dataset.class_names)
            confusion[np.arange(k), np.arange(k)] = 0
        bad = s.image_fp + s.image_fn
        order = np.lexsort((np.arange(len(bad)), -bad))[:WORST_ROWS]
        order = order[bad[order] > 0]
        names = r.dataset.names
        worst = tuple((int(i), names[i], int(s.image_fp[i]), int(s.image_fn[i])) for i in order.tolist())
        reasons = ", ".join(f"{int(n)} {VERDICT_NAMES[i + 1][3:]}" for i, n in enumerate(s.fp_reasons.tolist()))
        summary = (f"Score >= {self.threshold:.2f}, IoU >= {self.iou:.2f}: {int(s.tp.sum())} TP, {int(s.fp.sum())} FP "
                   f"({reasons}), {int(s.fn.sum())} FN")
        return ThresholdView(points, confusion, self.hide_tp, r.dataset.class_names + ("background",), worst, summary)

    # ---- interaction ---------------------------------------------------------------------------
    def threshold_at(self, recall: float, precision: float, k: int | None = None) -> float | None:
        """The score threshold of the PR-curve point nearest to (recall, precision) (class k, or any class):
        dragging along a curve moves the threshold. None when no reachable point is near."""
        r = self.run
        if r is None:
            return None
        classes = [k] if k is not None else range(len(r.dataset.class_names))
        best, best_d = None, np.inf
        for c in classes:
            prec, scores = pr_curve(r.summary, c, self.iou_index)
            ok = np.isfinite(prec) & (scores > 0)
            if not ok.any():
                continue
            d = np.where(ok, (RECALL_GRID - recall) ** 2 + (prec - precision) ** 2, np.inf)
            i = int(d.argmin())
            if d[i] < best_d:
                best, best_d = float(scores[i]), float(d[i])
        return best

    def cell_lines(self, row: int, col: int) -> list[tuple[int, str]]:
        """(image index, text) of each detection (or missed object) behind a confusion-matrix cell."""
        r, m = self.run, self.match()
        names = r.dataset.class_names
        preds, gts = cell_members(m, self.threshold, row, col)
        out = []
        for j in preds.tolist():
            i = int(m.pred_image[j])
            gt = m.pred_gt_label[j]
            what = VERDICT_NAMES[int(m.verdict[j])] + (f" (is {names[gt]})" if m.verdict[j] == 2 else "")
            out.append((i, f"{r.dataset.names[i]}: {names[int(m.pred_label[j])]} {float(m.pred_score[j]):.2f}, {what}"))
        for j in gts.tolist():
            i = int(m.gt_image[j])
            out.append((i, f"{r.dataset.names[i]}: missed {names[int(m.gt_label[j])]} (FN)"))
        return out

    def image_for(self, i: int) -> tuple[np.ndarray, GroundTruth]:
        d = self.run.dataset
        return d.image(i), d.ground_truth(i)

    def export(self) -> dict:
        """The metrics as a JSON-able dict (AP table, thresholds, confusion matrix, per-class counts)."""
        r, s = self.run, self.view()
        names = r.dataset.class_names
        table = {n: {c: _num(v) for c, v in zip(AP_COLUMNS, row)}
                 for n, row in zip(names + ("all classes",), np.concatenate([r.summary.per_class, r.summary.overall[None]]))}
        return {"model": r.model_title, "model_key": r.model_key, "dataset": r.dataset.title, "images": len(r.dataset),
                "score_threshold": self.threshold, "iou_threshold": self.iou, "ap": table,
                "coco_stats": [float(v) for v in r.summary.stats],
                "per_class": {n: {"tp": int(s_tp), "fp": int(s_fp), "fn": int(s_fn)} for n, s_tp, s_fp, s_fn in
                              zip(names, self.stats.tp, self.stats.fp, self.stats.fn)},
                "confusion_matrix": {"labels": list(s.labels), "rows_are": "ground truth",
                                     "counts": self.stats.confusion.tolist()},
                "worst_images": [{"image": n, "fp": fp, "fn": fn} for _, n, fp, fn in s.worst]}

    def export_json(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(json.dumps(self.export(), indent=1))


def _num(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 6)


def _fmt(v: float) -> str:
    return "—" if not np.isfinite(v) else f"{v:.3f}"

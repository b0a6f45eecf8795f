"""The Detection tab's state and what it shows, without Qt: the page forwards the user's actions here and
draws the frozen values it gets back (tested without a display, tests/test_detection_session.py).

State: the last DetectionResult, score threshold, NMS IoU, which classes are ticked, the selected and
hovered rows, a clicked point, the attention head, and (when the image has annotations) its ground truth
with the IoU threshold at which predictions are judged TP / FP / FN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from models.detection.ground_truth import GroundTruth
from models.detection.matching import TP, ImageMatch, match_image, verdict_text
from models.detection.result import DetectionResult

from . import detection_texts as T

HOVER_HINT = ("Hover a box for its details. Click a box for its query's attention, "
              "anywhere else for the encoder's attention from that point.")


@dataclass(frozen=True)
class BoxesView:
    """Everything the canvas, table and class list draw for one filter state. Rows are in `shown` order."""

    shown: np.ndarray  # (S,) candidate indices on screen, best first
    boxes: np.ndarray  # (S, 4) float32 xyxy pixels
    labels: np.ndarray  # (S,) int64
    names: tuple[str, ...]  # class name per row
    scores: np.ndarray  # (S,) float32
    queries: np.ndarray | None  # (S,) int64 object query per row
    texts: tuple[str, ...]  # the label drawn on each box
    verdicts: tuple[str, ...] | None  # "TP" / "FP ..." per row; None without ground truth
    class_counts: dict  # {class index: (name, count)} before the class filter
    gt_boxes: np.ndarray  # (G, 4) ground truth to draw dashed (empty when hidden or absent)
    gt_labels: np.ndarray  # (G,)
    gt_missed: np.ndarray  # (G,) bool: false negatives at the current thresholds
    summary: str
    timing: str
    image_size: tuple[int, int]  # (width, height)


@dataclass(frozen=True)
class AttentionView:
    """What the attention layer over the image shows now."""

    kind: str  # "none" | "map" (values stretched over the image) | "points" (deformable sampling)
    values: np.ndarray | None = None  # (h, w) for "map"
    points: np.ndarray | None = None  # (P, 2) x, y pixels for "points"
    strength: np.ndarray | None = None  # (P,) in [0, 1] for "points"
    marker: tuple[float, float] | None = None  # the clicked point (encoder attention)
    explanation: str = T.BOXES_SET


def timing_text(result: DetectionResult) -> str:
    """The forward time; the first forward after loading a model is warm-up, not its speed."""
    if result.warm_up:
        return f"forward {result.forward_ms:.0f} ms (first run: warm-up)"
    return f"forward {result.forward_ms:.0f} ms"


class DetectionSession:
    def __init__(self) -> None:
        self.result: DetectionResult | None = None
        self.threshold = 0.5
        self.nms_iou = 0.5
        self.class_enabled: Callable[[str], bool] = lambda name: True  # the page passes its class list's
        self.head = -1  # -1: mean of heads
        self.selected = -1  # row of the current view
        self.hovered = -1
        self.clicked_point: tuple[float, float] | None = None
        self.ground_truth: GroundTruth | None = None  # as given (its own class names)
        self.match_iou = 0.5
        self.show_ground_truth = True
        self.view: BoxesView | None = None
        self._gt: GroundTruth | None = None  # relabelled to the result's classes
        self._match: ImageMatch | None = None  # of every candidate before the class filter, at match_iou

    # ---- inputs ------------------------------------------------------------------------------
    def set_result(self, result: DetectionResult) -> BoxesView:
        self.result = result
        self.selected = self.hovered = -1
        self.clicked_point = None
        self._rematch()
        return self.refilter()

    def set_ground_truth(self, gt: GroundTruth | None) -> None:
        """The annotations of the current image (None: it has none). Call refilter() afterwards."""
        self.ground_truth = gt
        self._rematch()

    def set_match_iou(self, iou: float) -> BoxesView | None:
        self.match_iou = float(iou)
        self._rematch()
        return self.refilter()

    def set_threshold(self, value: float) -> BoxesView | None:
        self.threshold = float(value)
        return self.refilter()

    def set_nms_iou(self, value: float) -> BoxesView | None:
        self.nms_iou = float(value)
        if self.needs_nms:
            self._rematch()  # NMS changes which candidates compete for the ground truth
        return self.refilter()

    def _rematch(self) -> None:
        r, gt = self.result, self.ground_truth
        self._gt = gt.relabelled(r.class_names) if (r is not None and gt is not None) else None
        self._match = None
        if self._gt is not None:
            keep = r.visible(0.0, None, self.nms_iou if r.needs_nms else None)
            m = match_image(r.boxes[keep], r.scores[keep], r.labels[keep], self._gt.boxes, self._gt.labels,
                            self.match_iou)
            self._match = (keep, m)

    @property
    def needs_nms(self) -> bool:
        return self.result is not None and self.result.needs_nms

    @property
    def heads(self) -> int:
        r = self.result
        return r.cross_attention.shape[1] if r is not None and r.cross_attention is not None else 0

    @property
    def nms_note(self) -> str:
        return T.NMS_NOTE_NMS if self.needs_nms else T.NMS_NOTE_SET

    # ---- filtering ---------------------------------------------------------------------------
    def refilter(self) -> BoxesView | None:
        """Threshold, NMS and class ticks applied to the saved candidates (no model run)."""
        r = self.result
        if r is None:
            return None
        nms_iou = self.nms_iou if r.needs_nms else None
        before_classes = r.visible(self.threshold, None, nms_iou)
        per_class = np.bincount(r.labels[before_classes])  # (max label + 1,) boxes per class
        present = np.flatnonzero(per_class).tolist()
        names_of = {c: r.class_name(c) for c in present}
        counts = {c: (names_of[c], n) for c, n in zip(present, per_class[present].tolist())}
        off = [c for c, name in names_of.items() if not self.class_enabled(name)]
        old = self.view
        previous = int(old.shown[self.selected]) if old is not None and 0 <= self.selected < len(old.shown) else -1
        shown = before_classes[~np.isin(r.labels[before_classes], off)] if off else before_classes
        names = tuple(names_of[c] for c in r.labels[shown].tolist())
        texts = tuple(f"{n} {s:.2f}" for n, s in zip(names, r.scores[shown].tolist()))
        verdicts, gt_missed, summary_gt = self._verdicts(shown)
        gt = self._gt if (self._gt is not None and self.show_ground_truth) else None
        w_h = (int(r.image.shape[1]), int(r.image.shape[0]))
        self.view = BoxesView(
            shown=shown, boxes=r.boxes[shown], labels=r.labels[shown], names=names, scores=r.scores[shown],
            queries=r.query_index[shown] if r.query_index is not None else None, texts=texts, verdicts=verdicts,
            class_counts=counts,
            gt_boxes=gt.boxes if gt is not None else np.zeros((0, 4), np.float32),
            gt_labels=gt.labels if gt is not None else np.zeros(0, np.int64),
            gt_missed=gt_missed if gt is not None else np.zeros(0, bool),
            summary=f"{len(shown)} shown of {len(r.scores)} candidates{summary_gt}",
            timing=timing_text(r), image_size=w_h)
        kept = np.flatnonzero(shown == previous) if previous >= 0 else ()
        self.selected = int(kept[0]) if len(kept) else -1
        if self.hovered >= len(shown):
            self.hovered = -1
        return self.view

    def _verdicts(self, shown: np.ndarray):
        """Per shown row its verdict text, the missed ground truths, and a summary suffix."""
        if self._match is None:
            return None, np.zeros(0, bool), ""
        keep, m = self._match
        pos = {int(c): i for i, c in enumerate(keep.tolist())}
        texts = []
        for c in shown.tolist():
            i = pos.get(int(c))
            if i is None:
                texts.append("")
                continue
            j = int(m.gt_index[i])
            texts.append(verdict_text(int(m.verdict[i]), self._gt.class_name(int(self._gt.labels[j])) if j >= 0
                                      else "", float(m.iou[i])))
        above = self.result.scores[keep] >= self.threshold
        n_tp = int((above & (m.verdict == TP)).sum())
        missed = m.missed(self.threshold)
        suffix = f" · {n_tp} TP, {int(above.sum()) - n_tp} FP, {int(missed.sum())} FN"
        return tuple(texts), missed, suffix

    # ---- selection, hover, click -------------------------------------------------------------
    def select(self, row: int) -> None:
        n = len(self.view.shown) if self.view is not None else 0
        self.selected = row if 0 <= row < n else -1
        if self.selected >= 0:
            self.clicked_point = None

    def hover(self, row: int) -> None:
        self.hovered = row

    def click_background(self, x: float, y: float) -> None:
        """A click outside every box: the encoder's attention from (x, y); nothing stays selected."""
        self.clicked_point = (float(x), float(y))
        self.selected = -1

    def clear(self) -> None:
        self.clicked_point = None
        self.selected = -1

    def query_of_row(self, row: int) -> int | None:
        v = self.view
        if v is None or v.queries is None or not 0 <= row < len(v.shown):
            return None
        return int(v.queries[row])

    def describe(self, row: int) -> str:
        v, r = self.view, self.result
        x0, y0, x1, y1 = v.boxes[row].tolist()
        q = self.query_of_row(row)
        query = f", object query {q}" if q is not None else ""
        verdict = f" · <b>{v.verdicts[row]}</b>" if v.verdicts is not None and v.verdicts[row] else ""
        return (f"<b>{r.class_name(int(v.labels[row]))}</b> score {float(v.scores[row]):.3f}{query}: box "
                f"({x0:.0f}, {y0:.0f}) to ({x1:.0f}, {y1:.0f}), {x1 - x0:.0f} x {y1 - y0:.0f} px{verdict}")

    def hover_text(self) -> str:
        """The line under the image: the hovered box, else the selected one, else the clicked point."""
        v, r = self.view, self.result
        n = len(v.shown) if v is not None else 0
        if 0 <= self.hovered < n:
            return self.describe(self.hovered)
        if 0 <= self.selected < n:
            return self.describe(self.selected)
        if self.clicked_point is not None and r is not None:
            if r.encoder_attention is None:
                return "This model has no dense encoder self-attention to show."
            x, y = self.clicked_point
            return f"Encoder attention from the point ({x:.0f}, {y:.0f}). Click a box for its query's attention."
        return HOVER_HINT

    # ---- attention ---------------------------------------------------------------------------
    def attention(self) -> AttentionView:
        r = self.result
        if r is None:
            return AttentionView("none")
        q = self.query_of_row(self.selected)
        if q is not None and r.cross_attention is not None:
            maps = r.cross_attention[q]  # (heads, h, w)
            values = maps.mean(0) if self.head < 0 else maps[self.head]
            return AttentionView("map", values=values, explanation=T.CROSS)
        if q is not None and r.sampling_points is not None:
            wts = r.sampling_weights[q]  # (P,)
            return AttentionView("points", points=r.sampling_points[q], strength=wts / max(float(wts.max()), 1e-9),
                                 explanation=T.DEFORMABLE)
        if self.clicked_point is not None and r.encoder_attention is not None and r.attention_grid:
            gh, gw = r.attention_grid
            h, w = r.image.shape[:2]
            x, y = self.clicked_point
            cell = min(int(y / h * gh), gh - 1) * gw + min(int(x / w * gw), gw - 1)
            return AttentionView("map", values=r.encoder_attention[cell].reshape(gh, gw), marker=(x, y),
                                 explanation=T.ENCODER)
        return AttentionView("none", explanation=T.BOXES_NMS + " " + T.NO_ATTENTION if r.needs_nms else T.BOXES_SET)

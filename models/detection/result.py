"""What one detector forward gives the Detection tab: every candidate, scored, with the model's attention.

CPU numpy arrays in a frozen dataclass: the tab re-filters (threshold, classes, NMS) and redraws from it
without running the model again. Boxes are xyxy in pixels of `image` (the image the user gave).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import batched_nms


@dataclass(frozen=True)
class DetectionResult:
    model_key: str
    model_title: str
    image: np.ndarray  # (H, W, 3) uint8, the original image; boxes are in its pixels
    boxes: np.ndarray  # (N, 4) float32 xyxy pixels, every candidate (before threshold / NMS)
    scores: np.ndarray  # (N,) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64 indices into class_names
    class_names: tuple[str, ...]
    needs_nms: bool  # False for set predictors (DETR family): one-to-one matching already removed duplicates
    query_index: np.ndarray | None = None  # (N,) int64: which object query produced each candidate
    cross_attention: np.ndarray | None = None  # (Q, heads, h, w) float32: last decoder layer, per query
    encoder_attention: np.ndarray | None = None  # (h * w, h * w) float32: last encoder layer, mean over heads
    attention_grid: tuple[int, int] | None = None  # (h, w) of the feature map both attentions live on
    sampling_points: np.ndarray | None = None  # (Q, P, 2) float32 (x, y) pixels: deformable sampling locations
    sampling_weights: np.ndarray | None = None  # (Q, P) float32: their attention weights
    forward_ms: float = 0.0
    postprocess_ms: float = 0.0
    warm_up: bool = False  # the first forward after loading: forward_ms includes one-off costs

    @property
    def num_queries(self) -> int | None:
        if self.cross_attention is not None:
            return int(self.cross_attention.shape[0])
        if self.sampling_points is not None:
            return int(self.sampling_points.shape[0])
        return None

    def class_name(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else f"class {label}"

    def visible(self, threshold: float, classes: set[int] | None = None, nms_iou: float | None = None) -> np.ndarray:
        """Indices of the candidates to show, best score first: score >= threshold, class enabled, and
        (only for detectors that need it) class-wise NMS at nms_iou."""
        keep = np.flatnonzero(self.scores >= threshold)
        if classes is not None:
            keep = keep[np.isin(self.labels[keep], np.fromiter(classes, np.int64, len(classes)))]
        if self.needs_nms and nms_iou is not None and len(keep):
            keep = keep[batched_nms(self.boxes[keep], self.scores[keep], self.labels[keep], nms_iou)]
        return keep[np.argsort(-self.scores[keep], kind="stable")]

    def to_coco(self, indices: np.ndarray, image_id: int = 0) -> list[dict]:
        """COCO results format ([x, y, w, h] pixels) for the given candidates."""
        out = []
        for i in indices:
            x0, y0, x1, y1 = (float(v) for v in self.boxes[i])
            out.append({"image_id": image_id, "category_id": int(self.labels[i]),
                        "category_name": self.class_name(int(self.labels[i])),
                        "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                        "score": round(float(self.scores[i]), 4)})
        return out


def coco_document(result: DetectionResult, indices: np.ndarray, file_name: str = "image.png") -> dict:
    """A COCO-format dict (images, annotations with scores, categories) of the shown detections."""
    h, w = result.image.shape[:2]
    annotations = []
    for n, det in enumerate(result.to_coco(indices, image_id=1), start=1):
        x, y, bw, bh = det["bbox"]
        annotations.append({"id": n, "image_id": 1, "category_id": det["category_id"], "bbox": det["bbox"],
                            "area": round(bw * bh, 2), "iscrowd": 0, "score": det["score"]})
    used = sorted({a["category_id"] for a in annotations})
    return {"info": {"description": f"Detections by {result.model_title}"},
            "images": [{"id": 1, "width": int(w), "height": int(h), "file_name": file_name}],
            "annotations": annotations,
            "categories": [{"id": c, "name": result.class_name(c)} for c in used]}

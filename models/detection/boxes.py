"""Box formats and box geometry, in numpy (GUI side) and torch (training side).

Forms: "cxcywh" (centre x, centre y, width, height), "xyxy" (corners), "xywh" (COCO: top-left + size).
Normalised boxes are fractions of the image side (x by width, y by height); pixel boxes are in pixels.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# No torch import at module level: the GUI uses these on numpy arrays before torch is loaded.


def _is_torch(b) -> bool:
    return type(b).__module__.startswith("torch")


def _stack(parts, like):
    if _is_torch(like):
        import torch
        return torch.stack(parts, -1)
    return np.stack(parts, -1)


def cxcywh_to_xyxy(b):
    """(..., 4) centre-size -> corners; numpy array or torch tensor."""
    cx, cy, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    parts = [cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h]
    return _stack(parts, b)


def xyxy_to_cxcywh(b):
    x0, y0, x1, y1 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    parts = [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]
    return _stack(parts, b)


def xyxy_to_xywh(b):
    x0, y0, x1, y1 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    parts = [x0, y0, x1 - x0, y1 - y0]
    return _stack(parts, b)


def xywh_to_xyxy(b):
    x, y, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    parts = [x, y, x + w, y + h]
    return _stack(parts, b)


def _scale_vector(width: float, height: float, like):
    s = [width, height, width, height]
    if _is_torch(like):
        return like.new_tensor(s)
    return np.asarray(s, dtype=np.result_type(like, np.float32))


def to_pixels(b, width: float, height: float):
    """Normalised boxes (any of the three forms) -> pixel boxes of the same form."""
    return b * _scale_vector(width, height, b)


def to_normalised(b, width: float, height: float):
    """Pixel boxes (any of the three forms) -> normalised boxes of the same form."""
    return b / _scale_vector(width, height, b)


def box_area(b):
    """Area of xyxy boxes (..., 4) -> (...)."""
    return (b[..., 2] - b[..., 0]).clip(min=0) * (b[..., 3] - b[..., 1]).clip(min=0)


def pairwise_iou(a, b):
    """IoU of every xyxy box in a (N, 4) with every one in b (M, 4): (N, M), plus the union (N, M)."""
    area_a, area_b = box_area(a), box_area(b)
    if _is_torch(a):
        import torch
        lt = torch.maximum(a[:, None, :2], b[None, :, :2])
        rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    else:
        lt = np.maximum(a[:, None, :2], b[None, :, :2])
        rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clip(min=0)  # (N, M, 2)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / union.clip(min=1e-9), union


def generalized_iou(a: "torch.Tensor", b: "torch.Tensor") -> "torch.Tensor":
    """GIoU (Rezatofighi et al. 2019) of xyxy boxes a (N, 4) with b (M, 4): (N, M), in [-1, 1]."""
    import torch
    iou, union = pairwise_iou(a, b)
    lt = torch.minimum(a[:, None, :2], b[None, :, :2])
    rb = torch.maximum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    hull = (wh[..., 0] * wh[..., 1]).clamp(min=1e-9)
    return iou - (hull - union) / hull


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression over xyxy boxes (N, 4): indices kept, best score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    if len(order) == 0:
        return np.zeros(0, np.int64)
    iou, _ = pairwise_iou(boxes.astype(np.float64), boxes.astype(np.float64))
    suppressed = np.zeros(len(boxes), bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= iou[i] > iou_threshold
    return np.asarray(keep, np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float) -> np.ndarray:
    """NMS within each class separately; indices kept, in descending score order."""
    keep = [idx[nms(boxes[idx], scores[idx], iou_threshold)] for idx in
            (np.flatnonzero(labels == c) for c in np.unique(labels))]
    if not keep:
        return np.zeros(0, np.int64)
    allk = np.concatenate(keep)
    return allk[np.argsort(-scores[allk], kind="stable")]

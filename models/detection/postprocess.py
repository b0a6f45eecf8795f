"""From raw detector outputs to scored pixel boxes, following each family's published post-processing.

DETR (softmax): per query, softmax over the C real classes plus "no object"; drop "no object"; the score
is the best real class's probability, the label that class; boxes (normalised cxcywh) are scaled to the
original image size. Focal-loss families (Deformable DETR, Conditional DETR, RT-DETR) use a sigmoid per
class and keep the top-k (query, class) pairs instead.
"""
from __future__ import annotations

import numpy as np

from .boxes import cxcywh_to_xyxy, to_pixels


def softmax_postprocess(logits: np.ndarray, boxes: np.ndarray, width: int, height: int):
    """logits (Q, C+1) with "no object" last, boxes (Q, 4) normalised cxcywh ->
    scores (Q,), labels (Q,), xyxy pixel boxes (Q, 4), query index (Q,)."""
    z = logits.astype(np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))  # (Q, C+1) unnormalised softmax
    labels = e[:, :-1].argmax(-1)  # best real class ("no object" dropped)
    scores = np.take_along_axis(e, labels[:, None], 1)[:, 0] / e.sum(-1)  # its softmax probability
    b = boxes.astype(np.float64)
    half = b[:, 2:] / 2
    xyxy = np.concatenate([b[:, :2] - half, b[:, :2] + half], -1) * (width, height, width, height)  # (Q, 4) pixels
    return scores.astype(np.float32), labels.astype(np.int64), xyxy.astype(np.float32), np.arange(len(z))


def sigmoid_postprocess(logits: np.ndarray, boxes: np.ndarray, width: int, height: int, top_k: int = 100):
    """logits (Q, C) per-class sigmoid, boxes (Q, 4) normalised cxcywh -> the top_k (query, class) pairs."""
    prob = 1 / (1 + np.exp(-logits.astype(np.float64)))  # (Q, C)
    flat = prob.reshape(-1)
    k = min(top_k, flat.size)
    top = np.argpartition(-flat, k - 1)[:k]
    top = top[np.argsort(-flat[top], kind="stable")]
    queries, labels = np.divmod(top, prob.shape[1])
    xyxy = to_pixels(cxcywh_to_xyxy(boxes[queries].astype(np.float64)), width, height)
    return flat[top].astype(np.float32), labels.astype(np.int64), xyxy.astype(np.float32), queries.astype(np.int64)


POSTPROCESSORS = {"softmax": softmax_postprocess, "sigmoid": sigmoid_postprocess}

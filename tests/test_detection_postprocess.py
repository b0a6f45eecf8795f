"""DETR post-processing semantics and the DetectionResult filters (no Qt)."""
import numpy as np
import torch

from models.detection.postprocess import sigmoid_postprocess, softmax_postprocess
from models.detection.result import DetectionResult


def test_softmax_postprocess_matches_an_independent_computation():
    rng = np.random.default_rng(1)
    q, c, w, h = 12, 5, 640, 480
    logits = rng.normal(scale=3, size=(q, c + 1)).astype(np.float32)
    boxes = rng.uniform(0.1, 0.6, size=(q, 4)).astype(np.float32)
    scores, labels, xyxy, queries = softmax_postprocess(logits, boxes, w, h)
    # independent: torch softmax over all classes, drop the last ("no object"), best real class; scale boxes
    prob = torch.tensor(logits).softmax(-1)[:, :-1]
    ref_scores, ref_labels = prob.max(-1)
    cx, cy, bw, bh = torch.tensor(boxes).unbind(-1)
    ref_boxes = torch.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], -1)
    np.testing.assert_allclose(scores, ref_scores.numpy(), rtol=1e-5)
    np.testing.assert_array_equal(labels, ref_labels.numpy())
    np.testing.assert_allclose(xyxy, ref_boxes.numpy(), rtol=1e-5)
    np.testing.assert_array_equal(queries, np.arange(q))
    # "no object" never wins: a query certain of "no object" gets a tiny score
    logits[0] = -10
    logits[0, -1] = 10
    assert softmax_postprocess(logits, boxes, w, h)[0][0] < 1e-6


def test_sigmoid_postprocess_takes_top_pairs():
    logits = np.full((3, 2), -9.0, np.float32)
    logits[2, 1], logits[0, 0] = 3.0, 1.0
    boxes = np.tile(np.array([[0.5, 0.5, 0.2, 0.2]], np.float32), (3, 1))
    scores, labels, xyxy, queries = sigmoid_postprocess(logits, boxes, 100, 100, top_k=2)
    assert list(queries) == [2, 0] and list(labels) == [1, 0]
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-np.array([3.0, 1.0]))), rtol=1e-6)
    np.testing.assert_allclose(xyxy[0], [40, 40, 60, 60], rtol=1e-5)


def _result(needs_nms):
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    return DetectionResult("k", "t", np.zeros((64, 64, 3), np.uint8), boxes, np.array([0.9, 0.8, 0.3], np.float32),
                           np.array([0, 0, 1]), ("a", "b"), needs_nms)


def test_visible_filters_by_threshold_class_and_nms_only_when_needed():
    r = _result(needs_nms=True)
    assert list(r.visible(0.5)) == [0, 1]
    assert list(r.visible(0.5, nms_iou=0.5)) == [0]
    assert list(r.visible(0.0, classes={1})) == [2]
    assert list(_result(needs_nms=False).visible(0.5, nms_iou=0.5)) == [0, 1]  # set predictors: no NMS


def test_coco_export_uses_xywh_pixels():
    r = _result(needs_nms=False)
    (d,) = r.to_coco(np.array([2]), image_id=7)
    assert d["bbox"] == [50.0, 50.0, 10.0, 10.0] and d["category_id"] == 1 and d["image_id"] == 7
    assert d["category_name"] == "b"

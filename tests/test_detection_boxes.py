"""Box conversions, IoU/GIoU/NMS and Hungarian matching (no Qt)."""
import itertools

import numpy as np
import pytest
import torch

from models.detection.boxes import (batched_nms, cxcywh_to_xyxy, generalized_iou, nms, pairwise_iou, to_normalised,
                                    to_pixels, xywh_to_xyxy, xyxy_to_cxcywh, xyxy_to_xywh)
from models.detection.matcher import assign, hungarian_match


def _random_xyxy(rng, n, size=100.0):
    a = rng.uniform(0, size, (n, 2))
    b = a + rng.uniform(1, size / 2, (n, 2))
    return np.concatenate([a, b], 1)


def test_conversions_round_trip_numpy_and_torch():
    rng = np.random.default_rng(0)
    xyxy = _random_xyxy(rng, 50)
    np.testing.assert_allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(xyxy)), xyxy, atol=1e-9)
    np.testing.assert_allclose(xywh_to_xyxy(xyxy_to_xywh(xyxy)), xyxy, atol=1e-9)
    norm = to_normalised(xyxy, 120, 80)
    np.testing.assert_allclose(to_pixels(norm, 120, 80), xyxy, atol=1e-9)
    t = torch.tensor(xyxy, dtype=torch.float64)
    torch.testing.assert_close(cxcywh_to_xyxy(xyxy_to_cxcywh(t)), t)
    torch.testing.assert_close(to_pixels(to_normalised(t, 120, 80), 120, 80), t)


def test_conversions_known_values():
    # a 20x10 box at (30, 40): centre (40, 45)
    xywh = np.array([30.0, 40, 20, 10])
    xyxy = xywh_to_xyxy(xywh)
    np.testing.assert_allclose(xyxy, [30, 40, 50, 50])
    np.testing.assert_allclose(xyxy_to_cxcywh(xyxy), [40, 45, 20, 10])
    np.testing.assert_allclose(to_normalised(xyxy, 100, 50), [0.3, 0.8, 0.5, 1.0])


def test_iou_and_giou():
    a = torch.tensor([[0.0, 0, 2, 2]])
    b = torch.tensor([[1.0, 1, 3, 3], [4.0, 0, 6, 2], [0.0, 0, 2, 2]])
    iou, _ = pairwise_iou(a, b)
    torch.testing.assert_close(iou[0], torch.tensor([1 / 7, 0.0, 1.0]))
    giou = generalized_iou(a, b)[0]
    # disjoint boxes: hull 6x2=12, union 8 -> 0 - 4/12
    torch.testing.assert_close(giou, torch.tensor([1 / 7 - 2 / 9, -1 / 3, 1.0]))


def test_nms_keeps_best_and_respects_classes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    assert list(nms(boxes, scores, 0.5)) == [0, 2]
    labels = np.array([0, 0, 0, 1])
    assert list(batched_nms(boxes, scores, labels, 0.5)) == [0, 2, 3]
    assert list(nms(boxes, scores, 1.0)) == [0, 1, 2, 3]


@pytest.mark.parametrize("rows,cols", [(3, 3), (5, 2), (6, 4)])
def test_assignment_is_optimal_against_brute_force(rows, cols):
    rng = np.random.default_rng(rows * 10 + cols)
    for _ in range(20):
        cost = rng.normal(size=(rows, cols))
        r, c = assign(cost)
        assert len(set(r)) == len(r) == cols and len(set(c)) == cols
        best = min(sum(cost[p[j], j] for j in range(cols)) for p in itertools.permutations(range(rows), cols))
        assert cost[r, c].sum() == pytest.approx(best)


def test_hungarian_match_pairs_queries_with_their_objects():
    # 4 queries, 2 objects: queries 2 and 0 predict them (right class, right box); 1 and 3 are elsewhere
    boxes = torch.tensor([[[0.7, 0.7, 0.2, 0.2], [0.1, 0.9, 0.1, 0.1], [0.3, 0.3, 0.2, 0.2], [0.9, 0.1, 0.1, 0.1]]])
    logits = torch.full((1, 4, 3), -5.0)
    logits[0, 2, 0] = logits[0, 0, 1] = 5.0
    logits[0, [1, 3], 2] = 5.0  # "no object"
    targets = [{"labels": torch.tensor([0, 1]), "boxes": torch.tensor([[0.3, 0.3, 0.2, 0.2], [0.7, 0.7, 0.2, 0.2]])}]
    (qi, ti), = hungarian_match(logits, boxes, targets)
    assert dict(zip(ti.tolist(), qi.tolist())) == {0: 2, 1: 0}

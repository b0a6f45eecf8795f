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


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("iou_threshold", [0.3, 0.5, 0.7])
def test_nms_equals_torchvision(seed, iou_threshold):
    """torchvision.ops.nms / batched_nms are the oracle (random overlapping boxes, distinct scores)."""
    from torchvision.ops import batched_nms as tv_batched_nms
    from torchvision.ops import nms as tv_nms

    rng = np.random.default_rng(seed)
    boxes = _random_xyxy(rng, 60, size=60.0).astype(np.float32)  # crowded: many overlaps
    scores = rng.permutation(60).astype(np.float32) / 60 + 0.01
    labels = rng.integers(0, 3, 60)
    tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
    assert nms(boxes, scores, iou_threshold).tolist() == tv_nms(tb, ts, iou_threshold).tolist()
    expected = tv_batched_nms(tb, ts, torch.from_numpy(labels), iou_threshold).tolist()
    assert batched_nms(boxes, scores, labels, iou_threshold).tolist() == expected


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

"""Hungarian matching of predicted boxes to ground truth (DETR's set-prediction assignment).

For each image: cost[q, t] = w_class * (-p_q(class_t)) + w_l1 * |box_q - box_t|_1 + w_giou * (-GIoU),
then scipy's linear_sum_assignment picks the one-to-one assignment of least total cost.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .boxes import cxcywh_to_xyxy, generalized_iou


@dataclass(frozen=True)
class MatchCosts:
    cls: float = 1.0
    l1: float = 5.0
    giou: float = 2.0


def assign(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-cost one-to-one assignment of rows (queries) to columns (targets): (row indices, column indices)."""
    rows, cols = linear_sum_assignment(cost)
    return rows.astype(np.int64), cols.astype(np.int64)


def match_cost(logits: torch.Tensor, boxes: torch.Tensor, tgt_labels: torch.Tensor, tgt_boxes: torch.Tensor,
               costs: MatchCosts) -> torch.Tensor:
    """Cost matrix (Q, T) for one image. logits (Q, C+1), boxes (Q, 4) normalised cxcywh; targets (T,), (T, 4)."""
    prob = logits.softmax(-1)  # (Q, C+1)
    c_cls = -prob[:, tgt_labels]  # (Q, T)
    c_l1 = torch.cdist(boxes, tgt_boxes, p=1)  # (Q, T)
    c_giou = -generalized_iou(cxcywh_to_xyxy(boxes), cxcywh_to_xyxy(tgt_boxes))  # (Q, T)
    return costs.cls * c_cls + costs.l1 * c_l1 + costs.giou * c_giou


@torch.no_grad()
def hungarian_match(logits: torch.Tensor, boxes: torch.Tensor, targets: list[dict],
                    costs: MatchCosts = MatchCosts()) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per image (query indices, target indices). logits (B, Q, C+1), boxes (B, Q, 4); targets[i] has
    'labels' (T,) and 'boxes' (T, 4) normalised cxcywh."""
    out = []
    for b, tgt in enumerate(targets):
        if len(tgt["labels"]) == 0:
            empty = torch.zeros(0, dtype=torch.int64)
            out.append((empty, empty))
            continue
        cost = match_cost(logits[b].float(), boxes[b].float(), tgt["labels"], tgt["boxes"], costs)
        rows, cols = assign(cost.cpu().numpy())
        out.append((torch.as_tensor(rows), torch.as_tensor(cols)))
    return out

"""DETR's set loss: Hungarian matching, then class cross-entropy (with a down-weighted "no object"),
L1 and GIoU on the matched boxes, on every decoder layer's output (auxiliary losses)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .boxes import cxcywh_to_xyxy, generalized_iou
from .matcher import MatchCosts, hungarian_match


@dataclass(frozen=True)
class LossWeights:
    cls: float = 1.0
    l1: float = 5.0
    giou: float = 2.0
    no_object: float = 0.1


def set_loss(logits: torch.Tensor, boxes: torch.Tensor, targets: list[dict], num_classes: int,
             w: LossWeights = LossWeights()) -> tuple[torch.Tensor, dict[str, float]]:
    """logits (L, B, Q, C+1), boxes (L, B, Q, 4). Returns the total loss and its parts (last layer)."""
    class_weight = torch.ones(num_classes + 1, device=logits.device)
    class_weight[num_classes] = w.no_object
    num_boxes = max(sum(len(t["labels"]) for t in targets), 1)
    costs = MatchCosts(w.cls, w.l1, w.giou)
    total = logits.new_zeros(())
    parts: dict[str, float] = {}
    for layer in range(logits.shape[0]):
        lg, bx = logits[layer], boxes[layer]  # (B, Q, C+1), (B, Q, 4)
        matches = hungarian_match(lg, bx, targets, costs)
        tgt_cls = torch.full(lg.shape[:2], num_classes, dtype=torch.int64, device=lg.device)  # (B, Q)
        src_boxes, tgt_boxes = [], []
        for b, (qi, ti) in enumerate(matches):
            tgt_cls[b, qi] = targets[b]["labels"][ti]
            src_boxes.append(bx[b, qi])
            tgt_boxes.append(targets[b]["boxes"][ti])
        loss_cls = F.cross_entropy(lg.flatten(0, 1), tgt_cls.flatten(), weight=class_weight)
        sb, tb = torch.cat(src_boxes), torch.cat(tgt_boxes)
        loss_l1 = F.l1_loss(sb, tb, reduction="sum") / num_boxes
        loss_giou = (1 - torch.diag(generalized_iou(cxcywh_to_xyxy(sb), cxcywh_to_xyxy(tb)))).sum() / num_boxes
        total = total + w.cls * loss_cls + w.l1 * loss_l1 + w.giou * loss_giou
        parts = {"cls": float(loss_cls.detach()), "l1": float(loss_l1.detach()), "giou": float(loss_giou.detach())}
    return total, parts

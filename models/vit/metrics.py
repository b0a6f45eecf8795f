"""The bundled ViT's two quality figures: held-out accuracy and the rollout in-box / out-of-box density ratio.

Used by the training script (periodic evaluation, stopping rule) and by ``python -m models.vit.evaluate``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .bundled import Attention, ShapesViT
from .rollout import box_density_ratio, rollout

EVAL_SEED = 1_000_003  # held-out images: the training set uses other seeds
EVAL_SIZE = 1000


@dataclass(frozen=True)
class Quality:
    accuracy: float  # fraction of held-out images classified correctly
    box_ratio: float  # mean rollout density inside the object's box / outside it (mean fusion, no discard)

    def __str__(self) -> str:
        return f"accuracy {self.accuracy * 100:.2f}%  rollout in-box/out-of-box density ratio {self.box_ratio:.2f}"


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def logits_and_attention(model: ShapesViT, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits (B, C) and attention (B, L, heads, N, N) of the bundled model, from one forward."""
    captured: list[torch.Tensor] = []
    hooks = [m.attend.register_forward_hook(lambda _m, _i, out: captured.append(out))
             for m in model.modules() if isinstance(m, Attention)]
    try:
        logits = model(to_tensor(images))
    finally:
        for h in hooks:
            h.remove()
    return logits.numpy(), torch.stack(captured, dim=1).numpy()


def evaluate(model: ShapesViT, images: np.ndarray, labels: np.ndarray, boxes: np.ndarray,
             batch: int = 250) -> Quality:
    was_training = model.training
    model.eval()
    correct, maps = 0, []
    g = model.cfg.grid
    try:
        for i in range(0, len(images), batch):
            logits, att = logits_and_attention(model, images[i:i + batch])
            correct += int((logits.argmax(1) == labels[i:i + batch]).sum())
            roll = rollout(att, "mean", 0.0)  # (b, N, N)
            maps.append(roll[:, 0, 1:].reshape(-1, g, g))
    finally:
        model.train(was_training)
    ratio = box_density_ratio(np.concatenate(maps), boxes, images.shape[1])
    return Quality(correct / len(images), ratio)

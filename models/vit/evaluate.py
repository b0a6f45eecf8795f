"""Print the bundled ViT's quality figures from the saved weights: ``python -m models.vit.evaluate``.

Held-out test images (a seed used neither for training nor for the training script's stopping rule):
classification accuracy, and the attention-rollout in-box / out-of-box density ratio (head fusion mean,
no discarding: the plain Abnar & Zuidema rollout). Other rollout settings are printed for reference.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ..loading import WEIGHTS_DIR
from ..registry import ModelSource, SourceKind
from ..shapes import CLASSIFICATION, SHAPE_CLASSES, classification_arrays
from .metrics import EVAL_SEED, evaluate, logits_and_attention
from .rollout import box_density_ratio, rollout
from .specs import load_bundled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(WEIGHTS_DIR / "vit_shapes.safetensors"))
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    vit = load_bundled(ModelSource(SourceKind.CHECKPOINT, args.weights))
    model = vit.model.eval()
    t0 = time.time()
    images, labels, boxes = classification_arrays(args.images, EVAL_SEED, CLASSIFICATION)
    q = evaluate(model, images, labels, boxes)
    print(f"bundled shapes ViT, {args.images} held-out images (seed {EVAL_SEED}):")
    print(f"  accuracy: {q.accuracy * 100:.2f}%   (target >= 98%)")
    print(f"  rollout in-box / out-of-box density ratio (mean fusion, no discard): {q.box_ratio:.2f}   (target >= 4)")
    logits, att = [], []
    for i in range(0, len(images), 250):
        lo, at = logits_and_attention(model, images[i:i + 250])
        logits.append(lo)
        att.append(at)
    logits, att = np.concatenate(logits), np.concatenate(att)
    pred = logits.argmax(1)
    g = model.cfg.grid
    print("  other rollout settings (for reference):")
    for fusion, discard in (("max", 0.0), ("min", 0.0), ("mean", 0.5), ("mean", 0.9)):
        maps = rollout(att, fusion, discard)[:, 0, 1:].reshape(-1, g, g)
        print(f"    {fusion:>4}, discard {discard:.1f}: {box_density_ratio(maps, boxes, images.shape[1]):.2f}")
    print("  per-class accuracy: " + ", ".join(
        f"{name} {np.mean(pred[labels == c] == c) * 100:.1f}%" for c, name in enumerate(SHAPE_CLASSES)))
    print(f"  ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Score generated sprites with the sprite classifier: does the model draw the class it was asked for?

    python -m models.diffusion.evaluate [--per-class 100] [--guidance 2.5] [--steps 50]

prints the accuracy of the classifier (trained on real sprites) on generated ones, overall and per class.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ..shapes import SHAPE_CLASSES
from .model import DiffusionModel
from .samplers import SamplingRequest, sample_final
from .sprite_classifier import classify


def class_accuracy(model: DiffusionModel, classifier, per_class: int, guidance: float = 2.5,
                   steps: int = 50, sampler: str = "ddim", seed: int = 0, batch: int = 60):
    """Sample per_class images of every class; return (accuracy, {class: accuracy})."""
    n = per_class * len(model.class_names)
    wanted = np.repeat(np.arange(len(model.class_names)), per_class)
    preds = []
    for i in range(0, n, batch):
        ids = tuple(int(c) for c in wanted[i:i + batch])
        req = SamplingRequest(sampler=sampler, steps=steps, eta=0.0, seed=seed + i, batch=len(ids),
                              class_ids=ids, guidance=guidance)
        preds.append(classify(classifier, sample_final(model, req)))
    pred = np.concatenate(preds)
    per = {name: float((pred[wanted == c] == c).mean()) for c, name in enumerate(model.class_names)}
    return float((pred == wanted).mean()), per


def main(argv=None) -> None:
    from .bundled import WEIGHTS_PATH, load_unet_file
    from .sprite_classifier import load_classifier
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weights", default=str(WEIGHTS_PATH))
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--guidance", type=float, nargs="+", default=[2.5])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--sampler", default="ddim")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_unet_file(args.weights)
    classifier = load_classifier()
    for g in args.guidance:
        t0 = time.time()
        acc, per = class_accuracy(model, classifier, args.per_class, guidance=g, steps=args.steps,
                                  sampler=args.sampler, seed=12345)
        label = f"{args.sampler.upper()} {args.steps if args.sampler == 'ddim' else model.schedule.num_steps} steps"
        print(f"{label}, guidance {g}: accuracy {acc:.4f} on {args.per_class * len(SHAPE_CLASSES)} samples "
              f"({time.time() - t0:.0f} s)")
        print("  per class: " + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))


if __name__ == "__main__":
    main()

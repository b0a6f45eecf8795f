"""Score generated sprites with the sprite judge: does the model draw the class it was asked for?

    python -m models.diffusion.evaluate [--per-class 100] [--guidance 2.5] [--steps 50] [--old-classifier]

prints, for generated sprites, the share the sprite judge (models.judge: six shapes + "not a shape",
calibrated) names as the class asked for, the share also accepted (confidence >= 0.9), the share judged
"not a shape", and the per-class shares; --old-classifier adds the six-way sprite classifier's accuracy.
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


def class_samples(model: DiffusionModel, per_class: int, guidance: float = 2.5, steps: int = 50,
                  sampler: str = "ddim", seed: int = 0, batch: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """per_class samples of every class: the class asked for (N,) and the images (N, H, W, C) uint8."""
    n = per_class * len(model.class_names)
    wanted = np.repeat(np.arange(len(model.class_names)), per_class)
    images = []
    for i in range(0, n, batch):
        ids = tuple(int(c) for c in wanted[i:i + batch])
        req = SamplingRequest(sampler=sampler, steps=steps, eta=0.0, seed=seed + i, batch=len(ids),
                              class_ids=ids, guidance=guidance)
        images.append(sample_final(model, req))
    return wanted, np.concatenate(images)


def class_accuracy(model: DiffusionModel, classifier, per_class: int, guidance: float = 2.5,
                   steps: int = 50, sampler: str = "ddim", seed: int = 0, batch: int = 60):
    """Sample per_class images of every class; return (accuracy, {class: accuracy}) of the six-way classifier."""
    wanted, images = class_samples(model, per_class, guidance, steps, sampler, seed, batch)
    pred = classify(classifier, images)
    per = {name: float((pred[wanted == c] == c).mean()) for c, name in enumerate(model.class_names)}
    return float((pred == wanted).mean()), per


def main(argv=None) -> None:
    from ..judge.evaluate import conditional_figures
    from ..judge.model import judge_images, load_judge
    from .bundled import WEIGHTS_PATH, load_unet_file
    from .sprite_classifier import load_classifier
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weights", default=str(WEIGHTS_PATH))
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--guidance", type=float, nargs="+", default=[2.5])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--sampler", default="ddim")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--old-classifier", action="store_true", help="also the six-way sprite classifier's accuracy")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_unet_file(args.weights)
    judge = load_judge()
    classifier = load_classifier() if args.old_classifier else None
    for g in args.guidance:
        t0 = time.time()
        wanted, images = class_samples(model, args.per_class, guidance=g, steps=args.steps,
                                       sampler=args.sampler, seed=12345)
        f = conditional_figures(judge_images(judge, images), wanted)
        label = f"{args.sampler.upper()} {args.steps if args.sampler == 'ddim' else model.schedule.num_steps} steps"
        print(f"{label}, guidance {g}, {args.per_class * len(SHAPE_CLASSES)} samples ({time.time() - t0:.0f} s): "
              f"sprite judge: the class asked for {f['accuracy']:.4f}, accepted as asked {f['accepted_as_asked']:.4f}, "
              f"not a shape {f['not_a_shape']:.4f}")
        print("  per class: " + ", ".join(f"{k} {v:.2f}" for k, v in f["per_class"].items()))
        if classifier is not None:
            print(f"  six-way sprite classifier: accuracy {float((classify(classifier, images) == wanted).mean()):.4f}")


if __name__ == "__main__":
    main()

"""Every figure of the sprite judge, on fresh held-out data (seeds never used in training or calibration).

    python -m models.judge.evaluate [--weights FILE] [--gan RUN.safetensors] [--real 3000] [--per-kind 300]

Prints: real sprites (accuracy, accepted share, false-rejection rate), real sprites with mild imperfections,
the rejection rate of each "not a shape" kind, the calibration error (ECE) with and without the fitted
temperature, and, when a GAN run is given (default: the bundled one), the judge's class shares, accepted share
and judge FD of 1,000 samples from fixed noise, with the same figures for real sprites beside them.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ..loading import WEIGHTS_DIR
from ..shapes import SHAPE_CLASSES, sprite_arrays
from .calibration import expected_calibration_error
from .model import REJECT, JudgeVerdict, judge_images, load_judge, model_range_to_uint8
from .negatives import NEGATIVE_KINDS, negative_arrays, positive_arrays

TEST_SEEDS = (301, 302, 303)  # clean sprites, imperfect sprites, negatives
GAN_NOISE_SEED = 1234  # as models.gan.evaluate


def sprite_figures(v: JudgeVerdict, labels: np.ndarray) -> dict[str, float]:
    return {"accuracy": float((v.classes == labels).mean()),
            "accepted": float(v.accepted.mean()),
            "false_rejection": float(1 - v.accepted.mean()),
            "accepted_wrong_class": float((v.accepted & (v.classes != labels)).mean())}


def conditional_figures(v: JudgeVerdict, wanted: np.ndarray) -> dict[str, float | dict[str, float]]:
    """Figures of a class-conditional generator: `wanted` (N,) the class asked for each sample.
    accuracy: judged the class asked for; accepted_as_asked: that, and accepted (confidence >= 0.9)."""
    right = v.classes == wanted
    return {"accuracy": float(right.mean()), "accepted_as_asked": float((right & v.accepted).mean()),
            "not_a_shape": float((v.classes == REJECT).mean()),
            "per_class": {name: float(right[wanted == c].mean()) for c, name in enumerate(SHAPE_CLASSES)
                          if (wanted == c).any()}}


def gan_samples(run: str | Path, n: int = 1000, seed: int = GAN_NOISE_SEED) -> np.ndarray:
    """n samples (N, S, S, 3) uint8 of a saved GAN run, from fixed noise (seeded)."""
    from ..gan.checkpoint import load_run
    trainer = load_run(run, images=torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    z = torch.randn(n, trainer.config.gan.latent_size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return np.concatenate([model_range_to_uint8(trainer.sample(chunk)) for chunk in z.split(250)])


def main(argv=None) -> None:
    from ..gan.coverage import coverage_report
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--real", type=int, default=3000)
    ap.add_argument("--per-kind", type=int, default=300)
    ap.add_argument("--gan", default=str(WEIGHTS_DIR / "gan_dcgan_sprites32.safetensors"), help="'' to skip")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = load_judge(args.weights)
    print(f"judge: {sum(p.numel() for p in model.parameters()):,} parameters, temperature {model.cfg.temperature:.3f}")

    real, labels = sprite_arrays(args.real, TEST_SEEDS[0])
    v_real = judge_images(model, real)
    f = sprite_figures(v_real, labels)
    print(f"real sprites ({args.real}, seed {TEST_SEEDS[0]}): accuracy {f['accuracy']:.2%}, accepted {f['accepted']:.2%}, "
          f"false rejections {f['false_rejection']:.2%}, accepted as a wrong shape {f['accepted_wrong_class']:.2%}")
    imp, imp_labels = positive_arrays(args.real, TEST_SEEDS[1])
    f = sprite_figures(judge_images(model, imp), imp_labels)
    print(f"real sprites with faint noise/background/blur ({args.real}): accuracy {f['accuracy']:.2%}, "
          f"false rejections {f['false_rejection']:.2%}")

    kinds = tuple(NEGATIVE_KINDS)
    neg, names = negative_arrays(args.per_kind * len(kinds), TEST_SEEDS[2])
    v_neg = judge_images(model, neg)
    print(f"'not a shape' images ({args.per_kind} per kind, seed {TEST_SEEDS[2]}): rejected = not accepted "
          "(judged 'not a shape', or a shape below confidence 0.9); [judged 'not a shape']")
    for k in kinds:
        sel = names == k
        print(f"  {k:15s} rejected {1 - v_neg.accepted[sel].mean():.2%}  [{(v_neg.classes[sel] == REJECT).mean():.2%}]")
    bn = np.isin(names, ("blob", "noise"))
    print(f"  blob + noise    rejected {1 - v_neg.accepted[bn].mean():.2%}; all kinds {1 - v_neg.accepted.mean():.2%}")

    raw = judge_images(model, np.concatenate([real, neg]), temperature=1.0)
    cal = JudgeVerdict(np.concatenate([v_real.probs, v_neg.probs]), raw.features)
    y = np.concatenate([labels, np.full(len(neg), REJECT)])
    print(f"calibration on the fresh set ({len(y)} images, 15 bins): ECE {expected_calibration_error(raw.probs, y):.4f} "
          f"at T=1 -> {expected_calibration_error(cal.probs, y):.4f} at T={model.cfg.temperature:.3f}")

    batch36 = real[:36]
    judge_images(model, batch36)
    t0 = time.perf_counter()
    for _ in range(20):
        judge_images(model, batch36)
    print(f"speed: {(time.perf_counter() - t0) / 20 * 1000:.1f} ms for a grid of 36 sprites (one thread)")

    if args.gan:
        report = coverage_report(model, gan_samples(args.gan))
        print(f"GAN {Path(args.gan).name}, 1000 samples from fixed noise (seed {GAN_NOISE_SEED}), "
              "against 1000 real sprites (seed 99):")
        for who, figures in (("samples", report["samples"]), ("real sprites (seed 98)", report["real_sprites"])):
            shares = ", ".join(f"{k} {v:.1%}" for k, v in figures["shares"].items())
            print(f"  {who}: {shares}; accepted {figures['accepted']:.1%}; judge FD {figures['judge_fd']:.3f}")


if __name__ == "__main__":
    main()

"""Training speed of the Compare tab's bundled classifiers: ``python scripts/compare_train_speed.py [--threads 2]``.

Times `--steps` optimisation steps of the one recipe (batch 64, augmentation, the ViTs' patch-token loss) per
architecture after a short warm-up, on random data of the right shape, and prints seconds per step and the
projected wall-clock minutes for the bundled runs' 4,000 steps (evaluation excluded). Run it on a quiet machine:
it answers "how long does the recipe take on this CPU with N threads", which the trainings' own clocks could
not on a shared machine.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.compare.architectures import ARCHITECTURES  # noqa: E402
from models.compare.train import Recipe, loss_fn, param_groups  # noqa: E402
from models.vit.train import augment  # noqa: E402

BUNDLED_STEPS = 4_000


def seconds_per_step(key: str, steps: int, warmup: int = 5) -> float:
    arch, recipe = ARCHITECTURES[key], Recipe()
    torch.manual_seed(0)
    model = arch.build(arch.config)
    arch.init(model)
    model.train()
    opt = torch.optim.AdamW(param_groups(model, recipe.weight_decay), lr=recipe.lr)
    gen = torch.Generator().manual_seed(1)
    images, labels = torch.rand(recipe.batch, 3, 64, 64), torch.randint(0, 6, (recipe.batch,))
    start = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        loss = loss_fn(arch, model, augment(images, gen), labels, recipe)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / steps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} thread(s), {args.steps} timed steps each")
    for key in ARCHITECTURES:
        s = seconds_per_step(key, args.steps)
        print(f"{key:13s} {s * 1000:6.0f} ms/step -> {BUNDLED_STEPS:,} steps in {s * BUNDLED_STEPS / 60:4.1f} min",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

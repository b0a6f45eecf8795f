"""Shrink a saved run for bundling: keep at most N sample grids (evenly thinned); everything else
(G, D, both optimisers, curves, random state) stays, so training can continue from the bundled run.

    python -m models.gan.pack_bundled runs/gan_bundled/run.safetensors assets/weights/gan_dcgan_sprites32.safetensors
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .checkpoint import load_run, save_run


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("src")
    p.add_argument("dest")
    p.add_argument("--max-grids", type=int, default=16)
    args = p.parse_args()
    torch.set_num_threads(1)
    placeholder = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)  # training data is not stored; the real batch is
    trainer = load_run(args.src, images=placeholder)
    grids = trainer.grids
    while len(grids.items) > args.max_grids:
        grids.items = grids.items[::2]
        grids.stride *= 2
    grids.capacity = max(grids.capacity, args.max_grids)
    save_run(trainer, args.dest, trainer.elapsed_s)
    size = Path(args.dest).stat().st_size / 2**20
    print(f"{args.dest}: step {trainer.step}, {len(grids.items)} grids, {size:.1f} MB")


if __name__ == "__main__":
    main()

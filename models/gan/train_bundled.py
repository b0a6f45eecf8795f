"""Train the bundled DCGAN on 32x32 shape sprites; resumable, stops by itself when good enough.

    nohup .venv/bin/python -m models.gan.train_bundled > runs/gan_bundled/log.txt 2>&1 &

Checkpoints the whole run to runs/gan_bundled/run.safetensors every few minutes and resumes from it;
every `--eval-every` steps scores 1000 samples with a sprite judge (models.gan.evaluate) and stops once
the targets are met (or at --max-steps), then writes assets/weights/gan_dcgan_sprites32.safetensors
(the whole run with at most --max-grids sample grids; `models.gan.pack_bundled` does the same for a
run stopped by hand).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .checkpoint import load_run, save_run
from .config import GanConfig, TrainConfig
from .data import DataRequest, load_images
from .evaluate import score_samples, train_judge
from .trainer import GanTrainer

from .session import BUNDLED_FILE
BUNDLED_CONFIG = TrainConfig(gan=GanConfig(image_size=32, latent_size=64, channels=3, width=32), dataset="shapes",
                             loss="bce", batch_size=64, seed=0, num_train_images=8192)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="runs/gan_bundled")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--max-steps", type=int, default=12000)
    p.add_argument("--save-every-s", type=float, default=120)
    p.add_argument("--target-recognisable", type=float, default=0.9, help="share of the real sprites' score")
    p.add_argument("--target-coverage", type=float, default=0.5)
    p.add_argument("--max-grids", type=int, default=16, help="sample grids kept in the bundled file")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "run.safetensors"
    cfg = BUNDLED_CONFIG
    images = load_images(cfg.dataset, DataRequest("", cfg.gan.image_size, cfg.seed, cfg.num_train_images))
    if ckpt.exists():
        trainer = load_run(ckpt, images)
        print(f"resumed from step {trainer.step}", flush=True)
    else:
        trainer = GanTrainer(cfg, images)
    t0 = time.time() - trainer.elapsed_s
    judge = train_judge(cfg.gan.image_size, cache=out / "judge.safetensors")
    print(f"judge ready ({time.time() - t0:.0f}s)", flush=True)
    last_save = time.time()
    history = []
    while trainer.step < args.max_steps:
        row = trainer.train_step()
        if trainer.step % 100 == 0:
            print(f"step {trainer.step} g {row[0]:.3f} d {row[1]:.3f} D(x) {row[2]:.2f} D(G(z)) {row[3]:.2f} "
                  f"{time.time() - t0:.0f}s", flush=True)
        if trainer.step % trainer.config.sample_every == 0:
            trainer.make_samples()
        if time.time() - last_save > args.save_every_s:
            save_run(trainer, ckpt, time.time() - t0)
            last_save = time.time()
        if trainer.step % args.eval_every == 0:
            g = torch.Generator().manual_seed(1234)
            samples = trainer.sample(torch.randn(1000, cfg.gan.latent_size, generator=g))
            s = score_samples(judge, samples)
            history.append({"step": trainer.step, "minutes": (time.time() - t0) / 60, **asdict(s)})
            print("EVAL " + json.dumps(history[-1]), flush=True)
            (out / "evals.json").write_text(json.dumps(history, indent=1))
            if s.recognisable >= args.target_recognisable * s.real_recognisable and s.coverage >= args.target_coverage:
                print("targets met", flush=True)
                break
    save_run(trainer, ckpt, time.time() - t0)
    dest = Path(__file__).resolve().parents[2] / "assets" / "weights" / BUNDLED_FILE
    while len(trainer.grids.items) > args.max_grids:  # keep the bundled file small (<= 10 MB)
        trainer.grids.items = trainer.grids.items[::2]
        trainer.grids.stride *= 2
    save_run(trainer, dest, time.time() - t0)
    print(f"wrote {dest} ({dest.stat().st_size / 2**20:.1f} MB) at step {trainer.step}", flush=True)


if __name__ == "__main__":
    main()

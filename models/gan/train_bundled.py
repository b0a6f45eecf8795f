"""Train a bundled sprite GAN on 32x32 shape sprites; resumable, stops by itself when good enough.

    nohup .venv/bin/python -m models.gan.train_bundled --threads 2 > runs/gan_clusters/log.txt 2>&1 &
    nohup .venv/bin/python -m models.gan.train_bundled --recipe conditional > runs/gan_conditional/log.txt 2>&1 &

Checkpoints the whole run to OUT/run.safetensors every few minutes and resumes from it; judges every sample
grid with the sprite judge (the coverage history saved in the run); every `--eval-every` steps scores 1,000
samples from fixed noise with the judge and stops once the targets are met (every shape >= 10% of the
samples, >= 80% accepted as a shape with confidence >= 0.9; a conditional run also needs >= 80% of the
samples asked for class c judged c) or at --max-steps, then writes the bundled file (the whole run with at
most --max-grids sample grids; `models.gan.pack_bundled` does the same for a run stopped by hand).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .catalog import BUNDLED_FILE, CONDITIONAL_FILE
from .checkpoint import load_run, save_run
from .config import GanConfig, TrainConfig
from .data import DataRequest, load_labelled_images
from .evaluate import judge_run
from .trainer import GanTrainer

@dataclass(frozen=True)
class Recipe:
    config: TrainConfig
    out: str  # run folder
    bundled_file: str  # in assets/weights


# the conditional run's networks and optimiser: G and D of width 48, hinge loss, spectral norm in D, DiffAugment
# translation, TTUR (D learns 2x faster than G), batch 32, samples from an averaged G (decay 0.999); the recipes
# below differ from it only in how G is told what to draw
WIDE = TrainConfig(
    gan=GanConfig(image_size=32, latent_size=64, channels=3, width=48, d_width=48, spectral_norm=True),
    dataset="shapes", loss="hinge", lr_g=2e-4, lr_d=4e-4, beta1_g=0.0, beta2_g=0.9, beta1_d=0.0,
    beta2_d=0.9, batch_size=32, seed=0, num_train_images=20000, diffaugment="translation", g_ema=0.999)

RECIPES: dict[str, Recipe] = {
    # earlier unconditional recipes, kept to compare (none met the targets; see the DCGAN card):
    # width 32, batch 64, lr_g 1e-4 (D learns 4x faster than G), otherwise as WIDE
    "unconditional": Recipe(WIDE.with_(gan=replace(WIDE.gan, width=32, d_width=0), lr_g=1e-4, batch_size=64),
                            "runs/gan_bundled_v2", BUNDLED_FILE),
    # the conditional run's recipe without the labels
    "unconditional-wide": Recipe(WIDE, "runs/gan_bundled_wide", BUNDLED_FILE),
    # plus a 6-way discrete code in the noise (InfoGAN, no labels): G can jump between separate shapes instead
    # of morphing one into the next; Q tells the codes apart from colourless, randomly turned and scaled
    # images, so the codes come to mean outlines
    "unconditional-codes": Recipe(WIDE.with_(gan=replace(WIDE.gan, latent_codes=6), code_weight=1.0),
                                  "runs/gan_codes", BUNDLED_FILE),
    # unconditional, no labels: G's 6-way code (from the noise) is matched to k-means clusters of the real
    # sprites' outlines (models.gan.shape_clusters), and D is a projection D over those codes - the conditional
    # run with clusters in place of classes
    "unconditional-clusters": Recipe(WIDE.with_(gan=replace(WIDE.gan, latent_codes=6, code_mode="clusters")),
                                     "runs/gan_clusters", BUNDLED_FILE),
    # class-conditional (conditional BatchNorm in G, projection D): the width-32 runs plateaued at ~10% accepted
    # with D unable to tell their wobbly shapes from real ones
    "conditional": Recipe(WIDE.with_(gan=replace(WIDE.gan, num_classes=6)), "runs/gan_conditional", CONDITIONAL_FILE),
}


def targets_met(report: dict, min_share: float, min_accepted: float) -> bool:
    s = report["samples"]
    shapes = [v for k, v in s["shares"].items() if k != "not a shape"]
    ok = min(shapes) >= min_share and s["accepted"] >= min_accepted
    return ok and report.get("as_asked", 1.0) >= min_accepted


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--recipe", choices=tuple(RECIPES), default="unconditional-clusters")
    p.add_argument("--out", default="", help="run folder (default: the recipe's)")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--max-steps", type=int, default=20000)
    p.add_argument("--max-minutes", type=float, default=60.0, help="stop after this much training time")
    p.add_argument("--max-cpu-minutes", type=float, default=60.0,
                   help="stop after this much process CPU time (on a shared machine wall time runs ahead of it)")
    p.add_argument("--save-every-s", type=float, default=120)
    p.add_argument("--min-share", type=float, default=0.10, help="every shape's share of the samples")
    p.add_argument("--min-accepted", type=float, default=0.80, help="share accepted with confidence >= 0.9")
    p.add_argument("--max-grids", type=int, default=16, help="sample grids kept in the bundled file")
    p.add_argument("--no-bundle", action="store_true", help="do not write assets/weights (probes)")
    p.add_argument("--seed", type=int, default=-1, help="override the recipe's seed (>= 0)")
    p.add_argument("--code-weight", type=float, default=-1.0, help="override the recipe's code weight (>= 0)")
    p.add_argument("--codes", type=int, default=-1, help="override the recipe's number of discrete codes (>= 2)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the bundled runs used 1)")
    args = p.parse_args()
    torch.set_num_threads(max(1, args.threads))
    from ..judge.model import load_judge
    from .live_judge import LiveJudge

    recipe = RECIPES[args.recipe]
    out = Path(args.out or recipe.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "run.safetensors"
    cfg = recipe.config
    if args.seed >= 0:
        cfg = cfg.with_(seed=args.seed)
    if args.codes >= 0:
        cfg = cfg.with_(gan=replace(cfg.gan, latent_codes=args.codes))
    if args.code_weight >= 0:
        cfg = cfg.with_(code_weight=args.code_weight)
    images, labels = load_labelled_images(cfg.dataset, DataRequest("", cfg.gan.image_size, cfg.seed,
                                                                   cfg.num_train_images))
    if ckpt.exists():
        trainer = load_run(ckpt, images, labels=labels)
        print(f"resumed from step {trainer.step}", flush=True)
    else:
        trainer = GanTrainer(cfg, images, labels=labels)
    cpu0 = time.process_time() - float(json.loads((out / "cpu.json").read_text())["cpu_s"]) \
        if (out / "cpu.json").exists() and ckpt.exists() else time.process_time()
    t0 = time.time() - trainer.elapsed_s
    judge, live = load_judge(), LiveJudge.load()
    last_save = time.time()
    evals_path = out / "evals.json"
    history = json.loads(evals_path.read_text()) if evals_path.exists() and ckpt.exists() else []

    def save(path: Path) -> None:
        save_run(trainer, path, time.time() - t0)
        (out / "cpu.json").write_text(json.dumps({"cpu_s": time.process_time() - cpu0, "step": trainer.step}))

    while (trainer.step < args.max_steps and time.time() - t0 < args.max_minutes * 60
           and time.process_time() - cpu0 < args.max_cpu_minutes * 60):
        row = trainer.train_step()
        if trainer.step % 100 == 0:
            print(f"step {trainer.step} g {row[0]:.3f} d {row[1]:.3f} D(x) {row[2]:.2f} D(G(z)) {row[3]:.2f} "
                  f"code {trainer.last_code_loss:.3f} {time.time() - t0:.0f}s", flush=True)
        if trainer.step % trainer.config.sample_every == 0:
            trainer.make_samples()
            if live is not None:  # the coverage history, saved with the run
                trainer.coverage.extend(live.assess(trainer.step, trainer.last_samples).row()[None])
        if time.time() - last_save > args.save_every_s:
            save(ckpt)
            last_save = time.time()
        if trainer.step % args.eval_every == 0:
            report = judge_run(trainer, judge)
            history.append({"step": trainer.step, "minutes": round((time.time() - t0) / 60, 2),
                            "cpu_minutes": round((time.process_time() - cpu0) / 60, 2), **report})
            print("EVAL " + json.dumps(history[-1]), flush=True)
            evals_path.write_text(json.dumps(history, indent=1))
            if targets_met(report, args.min_share, args.min_accepted):
                print("targets met", flush=True)
                break
    save(ckpt)
    if args.no_bundle:
        return
    dest = Path(__file__).resolve().parents[2] / "assets" / "weights" / recipe.bundled_file
    while len(trainer.grids.items) > args.max_grids:  # keep the bundled file small (<= 10 MB)
        trainer.grids.items = trainer.grids.items[::2]
        trainer.grids.stride *= 2
    save_run(trainer, dest, time.time() - t0)
    print(f"wrote {dest} ({dest.stat().st_size / 2**20:.1f} MB) at step {trainer.step}", flush=True)


if __name__ == "__main__":
    main()

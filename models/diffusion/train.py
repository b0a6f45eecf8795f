"""Train the bundled class-conditional sprite DDPM on one CPU thread, resumably, until good enough.

    python -m models.diffusion.train            # resumes from runs/ddpm/ckpt.pt when it exists

Every few minutes it writes a checkpoint; every --eval-every steps it samples a few sprites per class
(DDIM 50, guidance 2.5) and scores them with the sprite classifier; once that passes, a full
evaluation (100 per class) decides whether to stop. At the end it writes the EMA weights to
assets/weights/ddpm_shapes.safetensors and the figures to runs/ddpm/final.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..shapes import sprite_arrays
from .bundled import WEIGHTS_PATH, save_unet
from .evaluate import class_accuracy
from .sprite_classifier import load_classifier
from .training import TrainConfig, Trainer, loss_by_quarter, sprites_to_tensor


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run-dir", type=Path, default=Path("runs/ddpm"))
    ap.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--eval-every", type=int, default=400)
    ap.add_argument("--first-eval", type=int, default=800)
    ap.add_argument("--quick-per-class", type=int, default=10)
    ap.add_argument("--full-per-class", type=int, default=100)
    ap.add_argument("--max-steps", type=int, default=4000)
    ap.add_argument("--ckpt-minutes", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    config = TrainConfig()
    trainer = Trainer(config)
    ckpt = args.run_dir / "ckpt.pt"
    if ckpt.exists():
        trainer.load(ckpt)
        print(f"resumed from {ckpt} at step {trainer.step} ({trainer.train_seconds / 60:.1f} min trained)", flush=True)
    t0 = time.time()
    images, labels = sprite_arrays(config.dataset_size, seed=config.data_seed)
    data = sprites_to_tensor(images)  # (N, 3, 32, 32)
    labels_t = torch.as_tensor(labels)
    print(f"data: {len(data)} sprites in {time.time() - t0:.0f} s; "
          f"{sum(p.numel() for p in trainer.model.parameters()) / 1e6:.2f}M parameters", flush=True)
    classifier = None
    history = []
    hist_path = args.run_dir / "history.json"
    if hist_path.exists():
        history = json.loads(hist_path.read_text())
    gen = torch.Generator().manual_seed(1000 + trainer.step)
    last_ckpt, wall0 = time.time(), time.time()
    losses, mses, ts = [], [], []
    done = False
    while trainer.step < args.max_steps and not done:
        idx = torch.randint(0, len(data), (config.batch,), generator=gen)
        loss, mse, t = trainer.train_step(data[idx], labels_t[idx])
        losses.append(loss); mses.append(mse); ts.append(t)
        if trainer.step % 50 == 0:
            q = loss_by_quarter(np.concatenate(mses), np.concatenate(ts), config.timesteps)
            print(f"step {trainer.step} loss {np.mean(losses):.4f} quarters {np.round(q, 4).tolist()} "
                  f"train {trainer.train_seconds / 60:.1f} min, wall {(time.time() - wall0) / 60:.1f} min", flush=True)
            losses, mses, ts = [], [], []
        if time.time() - last_ckpt > args.ckpt_minutes * 60:
            trainer.save(ckpt)
            last_ckpt = time.time()
        if trainer.step >= args.first_eval and trainer.step % args.eval_every == 0:
            te = time.time()
            if classifier is None:
                try:
                    classifier = load_classifier()
                except FileNotFoundError:
                    print("no sprite classifier yet: evaluation skipped", flush=True)
                    continue
            model = trainer.diffusion_model()
            acc, _ = class_accuracy(model, classifier, args.quick_per_class, guidance=2.5, seed=trainer.step)
            entry = {"step": trainer.step, "train_min": trainer.train_seconds / 60, "quick_acc": acc,
                     "eval_s": time.time() - te}
            print(f"EVAL step {trainer.step}: {acc:.3f} on {6 * args.quick_per_class} samples "
                  f"({time.time() - te:.0f} s)", flush=True)
            if acc >= args.target:
                te = time.time()
                full, per_class = class_accuracy(model, classifier, args.full_per_class, guidance=2.5, seed=12345)
                entry.update(full_acc=full, per_class=per_class, full_eval_s=time.time() - te)
                print(f"FULL EVAL step {trainer.step}: {full:.4f} per class {per_class} ({time.time() - te:.0f} s)",
                      flush=True)
                done = full >= args.target
            history.append(entry)
            hist_path.write_text(json.dumps(history, indent=1))
            trainer.save(ckpt)
            last_ckpt = time.time()
    trainer.save(ckpt)
    save_unet(trainer.ema, args.out, config.schedule, config.timesteps,
              extra={"train_steps": trainer.step, "train_minutes": f"{trainer.train_seconds / 60:.1f}",
                     "train_config": json.dumps(config.to_dict())})
    print(f"wrote {args.out} after {trainer.step} steps, {trainer.train_seconds / 60:.1f} min of training", flush=True)


if __name__ == "__main__":
    main()

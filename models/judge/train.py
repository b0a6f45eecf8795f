"""Train and calibrate the sprite judge on generated data (no downloads); resumable.

    python -m models.judge.train [--steps 2000] [--batch 64] [--run runs/judge] [--out assets/weights/sprite_judge.safetensors]

Data: real sprites with mild imperfections (``negatives.positive_arrays``, 6 classes) and "not a shape"
images of every kind in ``negatives.NEGATIVE_KINDS`` (class 7), random flips and transposes. AdamW with a
one-cycle schedule, one thread. A checkpoint (weights, optimiser, schedule, step) is written every 250 steps
to RUN/ckpt.pt; rerunning the command continues from it. At the end a temperature is fitted on a held-out
calibration set (other seeds) and saved with the config in the safetensors metadata.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..loading import WEIGHTS_DIR, atomic_write, read_torch_weights, save_safetensors
from .calibration import expected_calibration_error, fit_temperature, softmax
from .model import JUDGE_FILE, REJECT, JudgeConfig, SpriteJudgeNet
from .negatives import negative_arrays, positive_arrays

TRAIN_SEEDS = (101, 102)  # positives, negatives
CALIB_SEEDS = (201, 202)


def dataset(n_pos: int, n_neg: int, seeds: tuple[int, int], size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Preprocessed images (N, 1, S, S) and labels (N,): n_pos real sprites, then n_neg class-REJECT images."""
    pos, labels = positive_arrays(n_pos, seeds[0], size)
    neg, _ = negative_arrays(n_neg, seeds[1], size)
    x = SpriteJudgeNet.preprocess(np.concatenate([pos, neg]), size)
    y = torch.as_tensor(np.concatenate([labels, np.full(n_neg, REJECT, np.int64)]))
    return x, y


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flips and transposes per sample (every shape class is closed under them)."""
    flip_w, flip_h, trans = (torch.rand(3, len(x), generator=gen) < 0.5)
    x = torch.where(flip_w[:, None, None, None], x.flip(3), x)
    x = torch.where(flip_h[:, None, None, None], x.flip(2), x)
    return torch.where(trans[:, None, None, None], x.transpose(2, 3), x)


@torch.no_grad()
def logits_of(model: SpriteJudgeNet, x: torch.Tensor, batch: int = 1024) -> np.ndarray:
    model.eval()
    return torch.cat([model(x[i:i + batch])[0] for i in range(0, len(x), batch)]).numpy()


def train(run: Path, steps: int, n_pos: int, n_neg: int, batch: int = 64, lr: float = 3e-3,
          log=print) -> tuple[SpriteJudgeNet, int]:
    """Train (or continue) the judge in run/; returns the model and the step reached."""
    run.mkdir(parents=True, exist_ok=True)
    cfg = JudgeConfig()
    torch.manual_seed(0)
    model = SpriteJudgeNet(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(0)
    step = 0
    ckpt = run / "ckpt.pt"
    if ckpt.is_file():
        state = read_torch_weights(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        step = int(state["step"])
        log(f"resumed at step {step}")
    t0 = time.time()
    x, y = dataset(n_pos, n_neg, TRAIN_SEEDS, cfg.image_size)
    log(f"data: {n_pos} sprites + {n_neg} negatives drawn in {time.time() - t0:.0f} s")
    model.train()
    while step < steps:
        idx = torch.randint(len(x), (batch,), generator=gen)
        logits, _ = model(_augment(x[idx], gen))
        loss = F.cross_entropy(logits, y[idx], label_smoothing=0.02)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if step % 50 == 0:
            acc = float((logits.argmax(1) == y[idx]).float().mean())
            log(f"step {step}/{steps}: loss {loss.item():.4f} batch acc {acc:.3f} ({time.time() - t0:.0f} s)")
        if step % 250 == 0 or step == steps:
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                     "gen": gen.get_state(), "step": torch.tensor(step)}
            atomic_write(ckpt, lambda tmp: torch.save(state, tmp))
    return model.eval(), step


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--positives", type=int, default=24000)
    ap.add_argument("--negatives", type=int, default=16000)
    ap.add_argument("--run", type=Path, default=Path("runs/judge"))
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR / JUDGE_FILE)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    model, step = train(args.run, args.steps, args.positives, args.negatives, args.batch, log=lambda s: print(s, flush=True))
    xc, yc = dataset(3000, 2200, CALIB_SEEDS, model.cfg.image_size)
    logits = logits_of(model, xc)
    labels = yc.numpy()
    temp = fit_temperature(logits, labels)
    ece0 = expected_calibration_error(softmax(logits), labels)
    ece1 = expected_calibration_error(softmax(logits, temp), labels)
    acc = float((logits.argmax(1) == labels).mean())
    cfg = JudgeConfig(temperature=temp)
    model.cfg = cfg
    meta = {**cfg.to_metadata(), "steps": str(step), "train_positives": str(args.positives),
            "train_negatives": str(args.negatives), "calibration_accuracy": f"{acc:.4f}",
            "calibration_ece_before": f"{ece0:.4f}", "calibration_ece_after": f"{ece1:.4f}"}
    save_safetensors(model, args.out, meta)
    print(f"calibration set (3000 sprites + 2200 negatives): accuracy {acc:.4f}, temperature {temp:.3f}, "
          f"ECE {ece0:.4f} -> {ece1:.4f}")
    print(f"wrote {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()

"""Train the bundled shapes ViT: ``python -m models.vit.train [--out-dir runs/vit] [--max-steps N]``.

Recipe (after the design notes, made cheaper for a shared CPU): conv stem (24, 48, 96) + dim 96, depth 3,
4 heads, MLP ratio 2; AdamW 8e-4, weight decay 0.05, batch 64, linear warm-up then cosine decay, label
smoothing 0.1, per-image standardisation, random flips/transposes of a training set generated once in
memory; the head also classifies the mean patch token after every block during training (``training_loss``).
One CPU thread. The shipped weights: ``python -m models.vit.train --full-budget`` (see the model card). Every few minutes it writes a
resumable checkpoint to ``<out-dir>/checkpoint.pt``; every ``eval_every`` steps it measures held-out accuracy
and the rollout in-box density ratio, and stops once both targets are met, writing
``assets/weights/vit_shapes.safetensors``.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..loading import WEIGHTS_DIR, save_safetensors
from ..shapes import CLASSIFICATION, classification_arrays
from .bundled import ShapesViT, ViTConfig, count_parameters, init_weights
from .metrics import EVAL_SIZE, evaluate, to_tensor

VAL_SEED = 777_001  # stopping rule uses this set; `evaluate` reports on another one (metrics.EVAL_SEED)
WEIGHTS_FILE = "vit_shapes.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    train_size: int = 30_000
    train_seed: int = 0
    batch: int = 64
    lr: float = 8e-4
    weight_decay: float = 0.05
    warmup_steps: int = 300
    max_steps: int = 2_600  # cosine length; the run normally stops earlier, once the targets are met
    label_smoothing: float = 0.1
    patch_loss_weight: float = 0.5  # the same head on the mean patch token also learns the class (see model card)
    patch_loss_every_block: bool = True  # that loss after every block (deep supervision), not only the last
    eval_every: int = 250
    checkpoint_seconds: float = 180.0
    target_accuracy: float = 0.98
    target_ratio: float = 4.0


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def training_loss(model: ShapesViT, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """Cross-entropy of the CLS prediction, plus the same head applied to the mean of the patch tokens.

    The second term asks the patch tokens to carry the class (after the last block, or after every block
    with ``patch_loss_every_block``), so patches, background ones too, learn to attend to the object's
    patches; the app's classifier reads only the CLS token.
    """
    tokens = model.embed(x)
    patch_losses = []
    for i, block in enumerate(model.blocks):
        tokens = block(tokens)
        if cfg.patch_loss_weight > 0 and (cfg.patch_loss_every_block or i == len(model.blocks) - 1):
            pooled = model.norm(tokens[:, 1:]).mean(dim=1)  # (B, D): mean of the normed patch tokens
            patch_losses.append(F.cross_entropy(model.head(pooled), y, label_smoothing=cfg.label_smoothing))
    loss = F.cross_entropy(model.classify(tokens), y, label_smoothing=cfg.label_smoothing)
    if patch_losses:
        loss = loss + cfg.patch_loss_weight * torch.stack(patch_losses).mean()
    return loss


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flip, vertical flip and transpose per image (the 8 symmetries of the square)."""
    B = x.shape[0]
    flips = torch.rand(B, 3, generator=gen) < 0.5
    x = torch.where(flips[:, 0, None, None, None], x.flip(3), x)
    x = torch.where(flips[:, 1, None, None, None], x.flip(2), x)
    return torch.where(flips[:, 2, None, None, None], x.transpose(2, 3), x)


def load_data(out_dir: Path, cfg: TrainConfig):
    cache = out_dir / f"train_{cfg.train_size}_{cfg.train_seed}.npz"
    if cache.exists():
        d = np.load(cache)
        images, labels = d["images"], d["labels"]
    else:
        images, labels, _ = classification_arrays(cfg.train_size, cfg.train_seed, CLASSIFICATION)
        np.savez(cache, images=images, labels=labels)
    val = classification_arrays(EVAL_SIZE, VAL_SEED, CLASSIFICATION)
    return torch.from_numpy(images), torch.from_numpy(labels), val


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", default="runs/vit")
    parser.add_argument("--max-steps", type=int, default=TrainConfig.max_steps)
    parser.add_argument("--weights", default=str(WEIGHTS_DIR / WEIGHTS_FILE))
    parser.add_argument("--full-budget", action="store_true",
                        help="train all --max-steps steps (the cosine to its end) even once the targets are met")
    parser.add_argument("--depth", type=int, default=ViTConfig.depth, help="encoder blocks")
    parser.add_argument("--patch-loss-weight", type=float, default=TrainConfig.patch_loss_weight)
    parser.add_argument("--patch-loss-last-block-only", action="store_true",
                        help="the mean patch token predicts the class after the last block only (no deep supervision)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = TrainConfig(max_steps=args.max_steps, patch_loss_every_block=not args.patch_loss_last_block_only,
                      patch_loss_weight=args.patch_loss_weight)
    model_cfg = ViTConfig(depth=args.depth)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "checkpoint.pt"

    t0 = time.time()
    train_x, train_y, (val_x, val_y, val_boxes) = load_data(out_dir, cfg)
    print(f"data: {len(train_x)} training images, {len(val_x)} validation images ({time.time() - t0:.0f} s)", flush=True)

    torch.manual_seed(cfg.train_seed)
    model = ShapesViT(model_cfg)
    init_weights(model)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos_embed" not in n and "cls_token" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "pos_embed" not in n and "cls_token" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.train_seed + 1)
    step, train_seconds, cpu_seconds, history = 0, 0.0, 0.0, []
    if ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        step, train_seconds = int(state["step"]), float(state["train_seconds"])
        cpu_seconds = float(state.get("cpu_seconds", 0.0))
        history = json.loads((out_dir / "history.json").read_text()) if (out_dir / "history.json").exists() else []
        print(f"resumed at step {step} ({train_seconds / 60:.1f} min of training so far)", flush=True)
    print(f"model: {count_parameters(model):,} parameters; config {model_cfg}; {cfg}", flush=True)

    def save_checkpoint() -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
                    "step": step, "train_seconds": train_seconds, "cpu_seconds": cpu_seconds}, tmp)
        tmp.replace(ckpt_path)
        (out_dir / "history.json").write_text(json.dumps(history, indent=1))

    model.train()
    last_ckpt = time.time()
    seg_start, cpu_start = time.time(), time.process_time()
    done = False
    while step < cfg.max_steps and not done:
        idx = torch.randint(0, len(train_x), (cfg.batch,), generator=gen)
        x = augment(to_tensor(train_x[idx].numpy()), gen)
        y = train_y[idx]
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = training_loss(model, x, y, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            now = time.time()
            cpu_now = time.process_time()
            train_seconds += now - seg_start
            cpu_seconds += cpu_now - cpu_start
            seg_start, cpu_start = now, cpu_now
            print(f"step {step} loss {loss.item():.4f} lr {lr_at(step, cfg):.2e} ({train_seconds / 60:.1f} min wall, "
                  f"{cpu_seconds / 60:.1f} min CPU)", flush=True)
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            q = evaluate(model, val_x, val_y, val_boxes)
            history.append({"step": step, "minutes": round(train_seconds / 60, 2),
                            "cpu_minutes": round(cpu_seconds / 60, 2), "accuracy": q.accuracy,
                            "box_ratio": q.box_ratio})
            print(f"eval step {step}: {q}", flush=True)
            met = q.accuracy >= cfg.target_accuracy and q.box_ratio >= cfg.target_ratio
            done = met and not args.full_budget
            seg_start, cpu_start = time.time(), time.process_time()  # evaluation time is not training time
        if done or time.time() - last_ckpt > cfg.checkpoint_seconds:
            save_checkpoint()
            last_ckpt = time.time()
    save_checkpoint()
    meta = model_cfg.to_metadata() | {"steps": str(step), "train_minutes_wall": f"{train_seconds / 60:.1f}",
                                      "train_minutes_cpu": f"{cpu_seconds / 60:.1f}"}
    path = save_safetensors(model, args.weights, meta)
    print(f"{'targets met' if done else 'step budget used up'} at step {step}, {train_seconds / 60:.1f} min "
          f"of training (wall clock on a shared 2-core CPU), {cpu_seconds / 60:.1f} min of CPU time; wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train a bundled classifier on the widened shapes data: ``python -m models.compare.train ARCH``.

One recipe for every architecture (ARCH: convnext, vit-convstem, coatnet, vit-plain), so the Compare tab and
the data lab compare architectures, not recipes: AdamW lr 8e-4, weight decay 0.05 (not on norms, biases,
tokens, position tables), batch 64, 300 warm-up steps then cosine decay to `--steps`, label smoothing 0.1,
the 8 flips/transposes of the square, 30,000 widened training images generated once (cached in the run
folder). ViTs add the bundled ViT's patch-token loss (models/vit/train.py). One CPU thread by default.
Evaluates every 250 steps on 1,000 validation images; writes a resumable checkpoint every 3 minutes to
``runs/compare/ARCH/checkpoint.pt`` and the weights (config in the metadata) to assets/weights at the end.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..loading import WEIGHTS_DIR, load_into, load_state_dict_file, save_safetensors
from ..shapes_wide import WIDE_VERSION, wide_arrays
from ..vit.metrics import evaluate as vit_quality
from ..vit.metrics import to_tensor
from ..vit.train import TrainConfig as ViTTrainConfig
from ..vit.train import augment, lr_at, training_loss
from .architectures import ARCHITECTURES, Architecture

VAL_SEED = 777_011  # the stopping/monitoring set; models.compare.evaluate reports on other seeds
TRAIN_SEED = 11


@dataclass(frozen=True)
class Recipe:
    train_size: int = 30_000
    batch: int = 64
    lr: float = 8e-4
    weight_decay: float = 0.05
    warmup_steps: int = 300
    steps: int = 3_000
    label_smoothing: float = 0.1
    patch_loss_weight: float = 0.5
    eval_every: int = 250
    checkpoint_seconds: float = 180.0


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        tabular = any(t in name for t in ("pos_embed", "cls_token", "rel_bias", "gamma"))
        (decay if p.ndim >= 2 and not tabular else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def loss_fn(arch: Architecture, model, x, y, recipe: Recipe) -> torch.Tensor:
    if arch.patch_token_loss:
        cfg = ViTTrainConfig(label_smoothing=recipe.label_smoothing, patch_loss_weight=recipe.patch_loss_weight)
        return training_loss(model, x, y, cfg)
    return F.cross_entropy(model(x), y, label_smoothing=recipe.label_smoothing)


@torch.no_grad()
def accuracy(model, images: np.ndarray, labels: np.ndarray, batch: int = 250) -> float:
    was = model.training
    model.eval()
    correct = sum(int((model(to_tensor(images[i:i + batch])).argmax(1).numpy() == labels[i:i + batch]).sum())
                  for i in range(0, len(images), batch))
    model.train(was)
    return correct / len(images)


def load_train_set(out_dir: Path, recipe: Recipe) -> tuple[torch.Tensor, torch.Tensor]:
    cache = out_dir.parent / f"wide_v{WIDE_VERSION}_train_{recipe.train_size}_{TRAIN_SEED}.npz"
    if cache.exists():
        d = np.load(cache)
        return torch.from_numpy(d["images"]), torch.from_numpy(d["labels"])
    images, labels, _ = wide_arrays(recipe.train_size, TRAIN_SEED)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, images=images, labels=labels)
    return torch.from_numpy(images), torch.from_numpy(labels)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arch", choices=sorted(ARCHITECTURES))
    ap.add_argument("--steps", type=int, default=Recipe.steps)
    ap.add_argument("--out-dir", default=None, help="default runs/compare/ARCH")
    ap.add_argument("--weights", default=None, help="default assets/weights/<the architecture's file>")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stop-at", type=int, default=None,
                    help="stop at this step (the learning-rate schedule still runs over --steps) and write the "
                         "weights: how the bundled models were stopped at one equal step count")
    ap.add_argument("--patch-loss-weight", type=float, default=Recipe.patch_loss_weight,
                    help="ViTs only: weight of the patch-token loss (it is what makes rollout point at the object)")
    ap.add_argument("--init-from", default=None,
                    help="fine-tune: start from these weights (a .safetensors of the same architecture) instead of "
                         "a random initialisation; the schedule (warm-up, cosine over --steps) runs as usual")
    ap.add_argument("--lr", type=float, default=Recipe.lr, help="peak learning rate (lower it to fine-tune)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    arch = ARCHITECTURES[args.arch]
    recipe = replace(Recipe(), steps=args.steps, patch_loss_weight=args.patch_loss_weight, lr=args.lr)
    out_dir = Path(args.out_dir or f"runs/compare/{arch.key}")
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "checkpoint.pt"

    t0 = time.time()
    train_x, train_y = load_train_set(out_dir, recipe)
    val_x, val_y, val_boxes = wide_arrays(1000, VAL_SEED)
    print(f"data: {len(train_x)} training, {len(val_x)} validation images ({time.time() - t0:.0f} s)", flush=True)

    torch.manual_seed(TRAIN_SEED)
    model = arch.build(arch.config)
    arch.init(model)
    if args.init_from:
        load_into(model, load_state_dict_file(args.init_from), f"the {arch.title}")
    opt = torch.optim.AdamW(param_groups(model, recipe.weight_decay), lr=recipe.lr)
    gen = torch.Generator().manual_seed(TRAIN_SEED + 1)
    step, wall, cpu, history = 0, 0.0, 0.0, []
    if ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        step, wall, cpu = int(state["step"]), float(state["wall"]), float(state["cpu"])
        history = json.loads((out_dir / "history.json").read_text())
        print(f"resumed at step {step}", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{arch.title}: {n_params:,} parameters; {arch.config}; {recipe}", flush=True)
    sched = ViTTrainConfig(lr=recipe.lr, warmup_steps=recipe.warmup_steps, max_steps=recipe.steps)

    def save_checkpoint() -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
                    "step": step, "wall": wall, "cpu": cpu}, tmp)
        tmp.replace(ckpt_path)
        (out_dir / "history.json").write_text(json.dumps(history, indent=1))

    model.train()
    last_ckpt, seg, seg_cpu = time.time(), time.time(), time.process_time()
    last_step = recipe.steps if args.stop_at is None else min(recipe.steps, args.stop_at)
    while step < last_step:
        idx = torch.randint(0, len(train_x), (recipe.batch,), generator=gen)
        x, y = augment(to_tensor(train_x[idx].numpy()), gen), train_y[idx]
        for group in opt.param_groups:
            group["lr"] = lr_at(step, sched)
        loss = loss_fn(arch, model, x, y, recipe)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0 or step == last_step:
            now, now_cpu = time.time(), time.process_time()
            wall, cpu, seg, seg_cpu = wall + now - seg, cpu + now_cpu - seg_cpu, now, now_cpu
            print(f"step {step} loss {loss.item():.4f} ({wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU)", flush=True)
        if step % recipe.eval_every == 0 or step == last_step:
            entry = {"step": step, "minutes": round(wall / 60, 2), "cpu_minutes": round(cpu / 60, 2),
                     "accuracy": accuracy(model, val_x, val_y)}
            if arch.family == "vit":
                entry["rollout_ratio"] = vit_quality(model, val_x, val_y, val_boxes).box_ratio
            history.append(entry)
            print(f"eval {entry}", flush=True)
            seg, seg_cpu = time.time(), time.process_time()  # evaluation is not training time
        if time.time() - last_ckpt > recipe.checkpoint_seconds:
            save_checkpoint()
            last_ckpt = time.time()
    save_checkpoint()
    meta = arch.config.to_metadata() | {"architecture": arch.key, "steps": str(step), "schedule_steps": str(recipe.steps),
                                        "train_minutes_wall": f"{wall / 60:.1f}", "train_minutes_cpu": f"{cpu / 60:.1f}",
                                        **({"patch_loss_weight": str(recipe.patch_loss_weight)}
                                           if arch.patch_token_loss else {}),
                                        **({"init_from": Path(args.init_from).name, "lr": str(recipe.lr)}
                                           if args.init_from else {}),
                                        "data": f"models.shapes_wide.wide_arrays(30000, seed=11), version {WIDE_VERSION}"}
    path = save_safetensors(model, args.weights or WEIGHTS_DIR / arch.weights_file, meta)
    print(f"done: {step} steps, {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU; wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

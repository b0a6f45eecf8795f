"""A small CNN trained on real 32x32 shape sprites: the judge that scores generated sprites.

``python -m models.diffusion.sprite_classifier`` trains it (about a minute on one core) and writes
assets/weights/sprite_classifier.safetensors.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ..shapes import NUM_CLASSES, sprite_arrays

WEIGHTS = Path(__file__).resolve().parents[2] / "assets" / "weights" / "sprite_classifier.safetensors"


class SpriteClassifier(nn.Module):
    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())
        self.features = nn.Sequential(block(1, 32), nn.MaxPool2d(2), block(32, 64), nn.MaxPool2d(2),
                                      block(64, 128), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(128, num_classes)

    @staticmethod
    def preprocess(images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> (B, 1, H, W): the colour does not tell the shape, so use the max channel,
        scaled per image to [0, 1] (the classifier judges the silhouette)."""
        x = torch.as_tensor(images).float()
        x = x.amax(dim=-1, keepdim=True).permute(0, 3, 1, 2) / 255.0  # (B, 1, H, W)
        return x / x.flatten(1).amax(1).clamp_min(0.1)[:, None, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))  # (B, classes)


def load_classifier(path: Path = WEIGHTS) -> SpriteClassifier:
    from safetensors.torch import load_file
    if not Path(path).is_file():
        raise FileNotFoundError(f"No sprite classifier at {path}: run `python -m models.diffusion.sprite_classifier`.")
    model = SpriteClassifier()
    model.load_state_dict(load_file(str(path)))
    return model.eval()


@torch.no_grad()
def classify(model: SpriteClassifier, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, H, W, 3) uint8 -> predicted class ids (N,)."""
    out = [model(model.preprocess(images[i:i + batch])).argmax(1) for i in range(0, len(images), batch)]
    return torch.cat(out).numpy()


def _augment(x: torch.Tensor) -> torch.Tensor:
    if np.random.rand() < 0.5:
        x = x.flip(3)
    if np.random.rand() < 0.5:
        x = x.transpose(2, 3)
    # mild blur/noise so slightly imperfect generated sprites are judged by shape, not by texture
    x = x + 0.04 * torch.randn_like(x)
    return x.clamp(0, 1)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", type=int, default=30000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    t0 = time.time()
    xs, ys = sprite_arrays(args.train, seed=1234)
    xv, yv = sprite_arrays(3000, seed=4321)
    x = SpriteClassifier.preprocess(xs)
    y = torch.as_tensor(ys)
    model = SpriteClassifier()
    opt = torch.optim.AdamW(model.parameters(), 2e-3, weight_decay=1e-4)
    steps = args.epochs * (len(x) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    step = 0
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x) - 127, 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(model(_augment(x[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
        model.eval()
        acc = float((classify(model, xv) == yv).mean())
        print(f"epoch {epoch + 1}: loss {loss.item():.4f} val acc {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)
    from safetensors.torch import save_file
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(args.out),
              metadata={"val_accuracy": f"{acc:.4f}", "train_images": str(args.train)})
    print(f"wrote {args.out} (val acc {acc:.4f} on 3000 real sprites)")


if __name__ == "__main__":
    main()

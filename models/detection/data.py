"""Training and evaluation data for the shapes detector: models.shapes DETECTION scenes as tensors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.shapes import DETECTION, ShapesSample, generate

from .boxes import to_normalised, xywh_to_xyxy, xyxy_to_cxcywh


def targets_of(sample: ShapesSample) -> dict[str, torch.Tensor]:
    """Ground truth of one scene: labels (T,) and normalised cxcywh boxes (T, 4)."""
    h, w = sample.image.shape[:2]
    boxes = xyxy_to_cxcywh(to_normalised(xywh_to_xyxy(sample.boxes.astype(np.float32)), w, h))
    return {"labels": torch.as_tensor(sample.labels, dtype=torch.int64),
            "boxes": torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)}


def images_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0


class ShapesDetectionSet:
    """A pre-generated set of scenes kept in memory as uint8, with dihedral augmentation on draw."""

    def __init__(self, n: int, seed: int):
        samples = generate(n, seed, DETECTION)
        self.images = torch.from_numpy(np.stack([s.image for s in samples])).permute(0, 3, 1, 2).contiguous()
        self.targets = [targets_of(s) for s in samples]

    @classmethod
    def cached(cls, n: int, seed: int, path: Path) -> "ShapesDetectionSet":
        """The same set, generated once and kept in a file (restarts of a training skip the generation)."""
        if path.is_file():
            saved = torch.load(path, map_location="cpu", weights_only=True)
            self = cls.__new__(cls)
            self.images = saved["images"]
            self.targets = [{"labels": l, "boxes": b} for l, b in zip(saved["labels"], saved["boxes"])]
            return self
        self = cls(n, seed)
        torch.save({"images": self.images, "labels": [t["labels"] for t in self.targets],
                    "boxes": [t["boxes"] for t in self.targets]}, path)
        return self

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, idx: np.ndarray, rng: np.random.Generator, augment: bool = True):
        images = self.images[idx].float() / 255.0  # (B, 3, H, W)
        targets = [dict(self.targets[i]) for i in idx]
        if not augment:
            return images, targets
        flips = rng.integers(0, 2, size=(len(idx), 3))  # horizontal, vertical, transpose
        out = []
        for b, (fh, fv, tr) in enumerate(flips):
            img, box = images[b], targets[b]["boxes"].clone()
            if fh:
                img = img.flip(-1)
                box[:, 0] = 1 - box[:, 0]
            if fv:
                img = img.flip(-2)
                box[:, 1] = 1 - box[:, 1]
            if tr:
                img = img.transpose(-1, -2)
                box = box[:, [1, 0, 3, 2]]
            out.append(img)
            targets[b]["boxes"] = box
        return torch.stack(out), targets

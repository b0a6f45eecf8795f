"""The sprite judge: a small CNN that names a 32 x 32 sprite's shape, or says "not a shape", calibrated.

Seven classes: the six of ``models.shapes.SHAPE_CLASSES`` and ``NOT_A_SHAPE`` (blobs, noise, cut, merged,
two shapes, blurred...; see ``negatives.py``). Its softmax is divided by a temperature fitted on held-out
data (``calibration.py``), so "confidence 0.9" means about 90% right. A sprite is *accepted* when the judge
names a shape with calibrated confidence >= ``ACCEPT_CONFIDENCE``. Its pooled features (``feature_dim``)
feed the "Judge FD" (a Fréchet distance like FID, but with this judge instead of Inception).
About 70k parameters, ~10M multiply-adds per sprite: quick enough to run live in the GAN tab.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config_checks import ConfigReader, check_budget
from ..loading import WEIGHTS_DIR, load_into
from ..safetensors_io import read_with_metadata
from ..errors import WeightsUnavailableError
from ..shapes import SHAPE_CLASSES

NOT_A_SHAPE = "not a shape"
JUDGE_CLASSES: tuple[str, ...] = SHAPE_CLASSES + (NOT_A_SHAPE,)
REJECT = len(SHAPE_CLASSES)  # class index of "not a shape"
ACCEPT_CONFIDENCE = 0.9
JUDGE_FILE = "sprite_judge.safetensors"


@dataclass(frozen=True)
class JudgeConfig:
    image_size: int = 32
    channels: tuple[int, ...] = (16, 32, 64)  # one stage per entry: two 3x3 convs, then 2x2 max-pool (not the last)
    num_classes: int = len(JUDGE_CLASSES)
    temperature: float = 1.0  # fitted after training; logits are divided by it

    def to_metadata(self) -> dict[str, str]:
        return {"image_size": str(self.image_size), "channels": ",".join(map(str, self.channels)),
                "num_classes": str(self.num_classes), "temperature": f"{self.temperature:.6f}",
                "class_names": ",".join(JUDGE_CLASSES)}

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str = "This judge file") -> "JudgeConfig":
        """The config saved in a weights file, every field checked (CheckpointError) before anything is built."""
        r, d = ConfigReader(meta, where), cls()
        cfg = cls(image_size=r.integer("image_size", 8, 256, d.image_size),
                  channels=r.ints("channels", 1, 512, 1, 5, d.channels),
                  num_classes=r.integer("num_classes", 2, 100, d.num_classes),
                  temperature=r.number("temperature", 0.05, 20.0, d.temperature))
        r.require(cfg.num_classes == len(JUDGE_CLASSES),
                  f"the judge has {cfg.num_classes} classes; this app's sprite judge has {len(JUDGE_CLASSES)}.")
        names = r.names("class_names", 100, default=JUDGE_CLASSES)
        r.require(tuple(names) == JUDGE_CLASSES, f"the judge's classes {', '.join(names)[:80]} are not "
                                                 f"{', '.join(JUDGE_CLASSES)}.")
        check_budget(lambda: SpriteJudgeNet(cfg), where)
        return cfg


class SpriteJudgeNet(nn.Module):
    def __init__(self, cfg: JudgeConfig = JudgeConfig()):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        c_in = 1
        for i, c in enumerate(cfg.channels):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            if i < len(cfg.channels) - 1:
                layers.append(nn.MaxPool2d(2))
            c_in = c
        self.features = nn.Sequential(*layers)  # (B, C, S/4, S/4) for three stages
        self.head = nn.Linear(c_in, cfg.num_classes)

    @property
    def feature_dim(self) -> int:
        return self.head.in_features

    @staticmethod
    def preprocess(images: np.ndarray | torch.Tensor, size: int = 32) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> (B, 1, size, size): the brightest channel (the colour does not tell the
        shape), less the background level (the median of the 2-pixel frame), divided by the image's own
        maximum (at least 0.1), resized to `size` when needed. A grey background reads as black."""
        x = torch.as_tensor(np.asarray(images)).float()
        x = x.amax(dim=-1, keepdim=True).permute(0, 3, 1, 2) / 255.0  # (B, 1, H, W)
        if x.shape[-1] != size or x.shape[-2] != size:
            x = F.interpolate(x, size=(size, size), mode="area" if x.shape[-1] > size else "bilinear")
        frame = torch.cat([x[:, 0, :2].flatten(1), x[:, 0, -2:].flatten(1),
                           x[:, 0, 2:-2, :2].flatten(1), x[:, 0, 2:-2, -2:].flatten(1)], 1)  # (B, border pixels)
        x = (x - frame.median(1).values[:, None, None, None]).clamp_min(0)
        return x / x.flatten(1).amax(1).clamp_min(0.1)[:, None, None, None]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 1, S, S) from preprocess -> raw logits (B, classes) and pooled features (B, feature_dim)."""
        f = self.features(x).mean(dim=(2, 3))  # (B, C)
        return self.head(f), f


@dataclass(frozen=True)
class JudgeVerdict:
    """The judge's view of N sprites, as CPU numpy arrays."""

    probs: np.ndarray  # (N, 7) calibrated class probabilities
    features: np.ndarray  # (N, F) pooled features (for the judge FD)

    @property
    def classes(self) -> np.ndarray:  # (N,) int, index into JUDGE_CLASSES
        return self.probs.argmax(1)

    @property
    def confidence(self) -> np.ndarray:  # (N,) calibrated probability of the predicted class
        return self.probs.max(1)

    @property
    def accepted(self) -> np.ndarray:  # (N,) bool: a shape, named with confidence >= ACCEPT_CONFIDENCE
        return (self.classes != REJECT) & (self.confidence >= ACCEPT_CONFIDENCE)


@torch.no_grad()
def judge_images(model: SpriteJudgeNet, images: np.ndarray, batch: int = 512,
                 temperature: float | None = None) -> JudgeVerdict:
    """(N, H, W, 3) uint8 sprites -> JudgeVerdict. temperature: None uses the model's calibrated one."""
    model.eval()
    t = model.cfg.temperature if temperature is None else temperature
    probs, feats = [], []
    for i in range(0, len(images), batch):
        logits, f = model(model.preprocess(images[i:i + batch], model.cfg.image_size))
        probs.append((logits / t).softmax(1))
        feats.append(f)
    if not probs:
        return JudgeVerdict(np.zeros((0, model.cfg.num_classes), np.float32), np.zeros((0, model.feature_dim), np.float32))
    return JudgeVerdict(torch.cat(probs).numpy(), torch.cat(feats).numpy())


def model_range_to_uint8(x: torch.Tensor) -> np.ndarray:
    """Generator output (B, C, H, W) in [-1, 1] -> (B, H, W, 3) uint8 (grey images repeated to 3 channels)."""
    x = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x[:, :3].permute(0, 2, 3, 1).numpy()


def load_judge(path: str | Path | None = None) -> SpriteJudgeNet:
    """The calibrated judge of a safetensors file (default: the bundled one); config checked before building."""
    path = Path(path) if path is not None else WEIGHTS_DIR / JUDGE_FILE
    if not path.is_file():
        raise WeightsUnavailableError(f"No sprite judge at {path}: train it with `python -m models.judge.train`.")
    meta, tensors = read_with_metadata(path)
    cfg = JudgeConfig.from_metadata(meta, where=f"'{path.name}'")
    model = SpriteJudgeNet(cfg)
    load_into(model, tensors, "the sprite judge")
    return model.eval()

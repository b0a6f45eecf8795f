"""A small ConvNeXt-style CNN (Liu et al. 2022): the "modernised" CNN of the Compare tab.

Stem: 4x4 stride-4 patchify convolution + LayerNorm. Four stages at strides 4, 8, 16, 32 of a 64 px input
(16x16 -> 2x2); between stages LayerNorm + a 2x2 stride-2 convolution. A block is a 7x7 depthwise
convolution, LayerNorm, an inverted bottleneck (Linear C -> 4C, GELU, Linear 4C -> C) and a learned
layer scale on the residual branch. Global average pooling, LayerNorm, linear head. Input (B, 3, H, W) in
[0, 1], standardised per image like the bundled ViT.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config_checks import ConfigReader, check_budget
from ..shapes import NUM_CLASSES
from ..vit.bundled import standardise


@dataclass(frozen=True)
class ConvNeXtConfig:
    dims: tuple[int, ...] = (32, 64, 128, 192)
    depths: tuple[int, ...] = (1, 1, 2, 1)
    stem_stride: int = 4
    num_classes: int = NUM_CLASSES

    def to_metadata(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str = "This weights file") -> "ConvNeXtConfig":
        """The config saved in a weights file, every field checked before anything is built."""
        r, d = ConfigReader(meta, where), cls()
        cfg = cls(dims=r.ints("dims", 4, 1024, 1, 6, d.dims), depths=r.ints("depths", 1, 12, 1, 6, d.depths),
                  stem_stride=r.integer("stem_stride", 1, 8, d.stem_stride),
                  num_classes=r.integer("num_classes", 1, 10_000, d.num_classes))
        r.require(len(cfg.dims) == len(cfg.depths), f"{len(cfg.dims)} stage widths but {len(cfg.depths)} depths.")
        check_budget(lambda: ConvNeXtShapes(cfg), where)
        return cfg


# ConvNeXt starts its residual branches at 1e-6 to train 18+ deep blocks stably; 5 blocks need less care
# (a 300-step probe with 1.0 learned no faster than this start).
LAYER_SCALE_INIT = 1e-2


class ChannelsLastNorm(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)  # 7x7 depthwise: the spatial mixing
        self.norm = nn.LayerNorm(dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)  # inverted bottleneck: widen 4x
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), LAYER_SCALE_INIT))  # layer scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)  # (B, H, W, C)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y)))) * self.gamma
        return x + y.permute(0, 3, 1, 2)  # (B, C, H, W)


class ConvNeXtShapes(nn.Module):
    def __init__(self, cfg: ConvNeXtConfig = ConvNeXtConfig()):
        super().__init__()
        self.cfg = cfg
        s = cfg.stem_stride
        self.stem = nn.Sequential(nn.Conv2d(3, cfg.dims[0], s, stride=s), ChannelsLastNorm(cfg.dims[0]))
        self.downsamples = nn.ModuleList([nn.Identity()] + [
            nn.Sequential(ChannelsLastNorm(cfg.dims[i - 1]), nn.Conv2d(cfg.dims[i - 1], cfg.dims[i], 2, stride=2))
            for i in range(1, len(cfg.dims))])
        self.stages = nn.ModuleList(nn.Sequential(*[ConvNeXtBlock(d) for _ in range(n)])
                                    for d, n in zip(cfg.dims, cfg.depths))
        self.norm = nn.LayerNorm(cfg.dims[-1])
        self.head = nn.Linear(cfg.dims[-1], cfg.num_classes)

    def stage_outputs(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Each stage's feature map, (B, C_i, H / (s * 2^i), W / (s * 2^i))."""
        x = self.stem(standardise(images))
        out = []
        for down, stage in zip(self.downsamples, self.stages):
            x = stage(down(x))
            out.append(x)
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stage_outputs(images)[-1]
        return self.head(self.norm(x.mean(dim=(2, 3))))  # (B, classes)


def init_convnext(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

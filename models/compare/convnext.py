"""A small ConvNeXt-style CNN (Liu et al. 2022): the "modernised" CNN of the Compare tab.

Four stages at strides 4, 8, 16, 32 of a 64 px input (16x16 -> 2x2). A block is ConvNeXt's: a 7x7 depthwise
convolution, LayerNorm, an inverted bottleneck (Linear C -> 4C, GELU, Linear 4C -> C) and a learned layer scale
on the residual branch. Global average pooling, LayerNorm, linear head. Input (B, 3, H, W) in [0, 1],
standardised per image like the bundled ViT.

Two choices differ from ConvNeXt-T, both measured on the widened shapes data (600-step probes, 1 CPU thread):
the paper's stem (4x4 stride-4 patchify + LayerNorm) and LayerNorm between stages left the network at chance
(18-20% at 600 steps; a plain BatchNorm VGG reached 68% at 400). A per-token LayerNorm on the residual stream
gives a flat background patch the same feature norm as a patch with a 1-pixel outline, so the outline's signal
is lost. `stem="conv"` is the bundled ViT's convolutional stem (two 3x3 stride-2 convolutions with BatchNorm
and ReLU) and `downsample_norm="batch"` normalises per channel between stages; the blocks keep LayerNorm.
`layer_scale` starts the residual branches at 1.0 (ConvNeXt's 1e-6 suits 18+ blocks, not 5).
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
    stem: str = "conv"  # "conv": 3x3 stride-2 convolutions with BatchNorm + ReLU; "patchify": ConvNeXt's
    downsample_norm: str = "batch"  # between stages: "batch" (per channel) or "layer" (ConvNeXt's, per token)
    layer_scale: float = 1.0

    def to_metadata(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str = "This weights file") -> "ConvNeXtConfig":
        """The config saved in a weights file, every field checked before anything is built."""
        r, d = ConfigReader(meta, where), cls()
        cfg = cls(dims=r.ints("dims", 4, 1024, 1, 6, d.dims), depths=r.ints("depths", 1, 12, 1, 6, d.depths),
                  stem_stride=r.integer("stem_stride", 1, 8, d.stem_stride),
                  num_classes=r.integer("num_classes", 1, 10_000, d.num_classes),
                  stem=r.choice("stem", ("conv", "patchify"), "patchify"),
                  downsample_norm=r.choice("downsample_norm", ("batch", "layer"), "layer"),
                  layer_scale=r.number("layer_scale", 1e-7, 10.0, LAYER_SCALE_INIT))
        r.require(len(cfg.dims) == len(cfg.depths), f"{len(cfg.dims)} stage widths but {len(cfg.depths)} depths.")
        check_budget(lambda: ConvNeXtShapes(cfg), where)
        return cfg


LAYER_SCALE_INIT = 1e-2  # files written before the config had the field


class ChannelsLastNorm(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)  # 7x7 depthwise: the spatial mixing
        self.norm = nn.LayerNorm(dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)  # inverted bottleneck: widen 4x
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))  # layer scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)  # (B, H, W, C)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y)))) * self.gamma
        return x + y.permute(0, 3, 1, 2)  # (B, C, H, W)


class ConvNeXtShapes(nn.Module):
    def __init__(self, cfg: ConvNeXtConfig = ConvNeXtConfig()):
        super().__init__()
        self.cfg = cfg
        s, d0 = cfg.stem_stride, cfg.dims[0]
        if cfg.stem == "conv":
            layers: list[nn.Module] = []
            c = 3
            for i in range(max(1, s.bit_length() - 1)):  # log2(stride) stride-2 convolutions
                c_out = d0 if 2 ** (i + 1) >= s else max(8, d0 // 2)
                layers += [nn.Conv2d(c, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
                c = c_out
            self.stem = nn.Sequential(*layers[:-1])  # (B, d0, H / s, W / s), no ReLU on the residual stream
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, d0, s, stride=s), ChannelsLastNorm(d0))
        norm = {"batch": nn.BatchNorm2d, "layer": ChannelsLastNorm}[cfg.downsample_norm]
        self.downsamples = nn.ModuleList([nn.Identity()] + [
            nn.Sequential(norm(cfg.dims[i - 1]), nn.Conv2d(cfg.dims[i - 1], cfg.dims[i], 2, stride=2))
            for i in range(1, len(cfg.dims))])
        self.stages = nn.ModuleList(nn.Sequential(*[ConvNeXtBlock(d, cfg.layer_scale) for _ in range(n)])
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


def keep_default_init(model: nn.Module) -> None:
    """PyTorch's own initialisation, unchanged: the 600-step probes on the widened data learned faster with it
    than with ConvNeXt's truncated normal (std 0.02), which starts these narrow layers with tiny signals."""

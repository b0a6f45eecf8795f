"""A small CoAtNet-style hybrid (Dai et al. 2021): convolution first, attention last (C-C-T-T).

Stem (CoAtNet's S0): two 3x3 stride-2 convolutions with BatchNorm and GELU -> 16x16 for a 64 px input
(CoAtNet's S0 halves once; at 64 px a second halving keeps the CPU cost down). A 4x4 stride-4 patchify stem
left this model at chance for the first 600 steps on the widened data (see models/compare/convnext.py). Stages 1-2: MBConv blocks (1x1 expand, 3x3 depthwise, squeeze-excitation, 1x1 project; stage 2
starts with stride 2) -> 16x16, 8x8.
Stages 3-4: transformer blocks with relative-position self-attention (a learned bias per head and per
relative offset, added to QK^T / sqrt(d) before the softmax) at 8x8 tokens and, after a stride-2 max
pooling, 4x4 tokens (CoAtNet pools before both; at 64 px that would leave 4x4 and 2x2 tokens, too few to
show attention, so stage 3 keeps the 8x8 grid). No CLS token: global average pooling, LayerNorm, linear head.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..config_checks import ConfigReader, check_budget
from ..shapes import NUM_CLASSES
from ..vit.bundled import standardise


@dataclass(frozen=True)
class CoAtNetConfig:
    stem: int = 24
    dims: tuple[int, ...] = (48, 64, 128, 160)  # C, C, T, T
    depths: tuple[int, ...] = (1, 1, 2, 1)
    heads: int = 4
    expand: int = 4  # MBConv expansion
    mlp_ratio: float = 2.0
    num_classes: int = NUM_CLASSES

    def to_metadata(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str = "This weights file") -> "CoAtNetConfig":
        """The config saved in a weights file, every field checked before anything is built."""
        r, d = ConfigReader(meta, where), cls()
        cfg = cls(stem=r.integer("stem", 4, 512, d.stem), dims=r.ints("dims", 4, 1024, 4, 4, d.dims),
                  depths=r.ints("depths", 1, 12, 4, 4, d.depths), heads=r.integer("heads", 1, 32, d.heads),
                  expand=r.integer("expand", 1, 8, d.expand), mlp_ratio=r.number("mlp_ratio", 0.25, 8.0, d.mlp_ratio),
                  num_classes=r.integer("num_classes", 1, 10_000, d.num_classes))
        r.require(all(t % cfg.heads == 0 for t in cfg.dims[2:]), f"attention widths {cfg.dims[2:]} are not "
                                                                  f"divisible by heads={cfg.heads}.")
        check_budget(lambda: CoAtNetShapes(cfg), where)
        return cfg


class SqueezeExcite(nn.Module):
    def __init__(self, dim: int, reduced: int):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(dim, reduced), nn.GELU(), nn.Linear(reduced, dim), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean(dim=(2, 3)))[:, :, None, None]  # (B, C, H, W) scaled per channel


class MBConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expand: int):
        super().__init__()
        hidden = c_in * expand
        self.block = nn.Sequential(
            nn.BatchNorm2d(c_in), nn.Conv2d(c_in, hidden, 1), nn.BatchNorm2d(hidden), nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden), nn.BatchNorm2d(hidden), nn.GELU(),
            SqueezeExcite(hidden, max(8, c_in // 4)), nn.Conv2d(hidden, c_out, 1))
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.AvgPool2d(stride) if stride > 1 else nn.Identity(), nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


class RelativeAttention(nn.Module):
    """Multi-head self-attention over a (gh x gw) grid with a learned relative-position bias."""

    def __init__(self, dim: int, heads: int, grid: int):
        super().__init__()
        self.heads, self.head_dim, self.grid = heads, dim // heads, grid
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.rel_bias = nn.Parameter(torch.zeros(heads, (2 * grid - 1) ** 2))  # one per head and offset
        ys, xs = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
        coords = torch.stack([ys.flatten(), xs.flatten()])  # (2, N)
        rel = coords[:, :, None] - coords[:, None, :] + grid - 1  # (2, N, N) in 0..2g-2
        self.register_buffer("rel_index", rel[0] * (2 * grid - 1) + rel[1], persistent=False)  # (N, N)
        self.attend = nn.Softmax(dim=-1)  # hooked by capture: (B, heads, N, N)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (B, h, N, hd)
        scores = (q @ k.transpose(-2, -1)) * self.scale + self.rel_bias[:, self.rel_index]  # (B, h, N, N)
        out = (self.attend(scores) @ v).transpose(1, 2).reshape(B, N, D)
        return self.proj(out)


class RelTransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, grid: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = RelativeAttention(dim, heads, grid)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TransformerStage(nn.Module):
    """(B, C_in, H, W) -> tokens (pooled to H/2 x W/2 when `pool`), relative-attention blocks -> (B, C, H', W')."""

    def __init__(self, c_in: int, dim: int, depth: int, heads: int, grid: int, mlp_ratio: float, pool: bool):
        super().__init__()
        self.down = nn.Sequential(nn.MaxPool2d(2) if pool else nn.Identity(), nn.Conv2d(c_in, dim, 1))
        self.blocks = nn.ModuleList(RelTransformerBlock(dim, heads, grid, mlp_ratio) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        B, C, H, W = x.shape
        t = x.flatten(2).transpose(1, 2)  # (B, H*W, C)
        for block in self.blocks:
            t = block(t)
        return t.transpose(1, 2).reshape(B, C, H, W)


class CoAtNetShapes(nn.Module):
    def __init__(self, cfg: CoAtNetConfig = CoAtNetConfig(), image_size: int = 64):
        super().__init__()
        self.cfg = cfg
        half = max(8, cfg.stem // 2)
        self.stem = nn.Sequential(nn.Conv2d(3, half, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(half), nn.GELU(),
                                  nn.Conv2d(half, cfg.stem, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(cfg.stem), nn.GELU())  # (B, stem, H / 4, W / 4)
        c0, c1, t0, t1 = cfg.dims
        d0, d1, d2, d3 = cfg.depths
        self.stages = nn.ModuleList([
            nn.Sequential(*[MBConv(cfg.stem if i == 0 else c0, c0, 1, cfg.expand) for i in range(d0)]),
            nn.Sequential(*[MBConv(c0 if i == 0 else c1, c1, 2 if i == 0 else 1, cfg.expand) for i in range(d1)]),
            TransformerStage(c1, t0, d2, cfg.heads, image_size // 8, cfg.mlp_ratio, pool=False),
            TransformerStage(t0, t1, d3, cfg.heads, image_size // 16, cfg.mlp_ratio, pool=True),
        ])
        self.norm = nn.LayerNorm(t1)
        self.head = nn.Linear(t1, cfg.num_classes)

    def stage_outputs(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Each stage's output as a map: (B, C_i, H_i, W_i) at strides 4, 8, 8, 16."""
        x = self.stem(standardise(images))
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stage_outputs(images)[-1]
        return self.head(self.norm(x.mean(dim=(2, 3))))  # (B, classes)

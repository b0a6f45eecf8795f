"""The bundled Vision Transformer: a small ViT with a convolutional stem, trained on the shapes data.

Input: (B, 3, H, W) floats in [0, 1]; the model standardises each image itself (per-image mean/std),
so callers never need dataset statistics. A stem of three stride-2 3x3 convolutions ("early
convolutions", Xiao et al. 2021) turns each 8x8 pixel patch into one token; a learned CLS token and
position embeddings are added; pre-norm encoder blocks with multi-head self-attention follow. The
attention softmax is the named module ``Attention.attend``, so a forward hook on it sees the weights.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config_checks import ConfigReader, check_budget
from ..shapes import NUM_CLASSES


@dataclass(frozen=True)
class ViTConfig:
    image_size: int = 64
    stem_channels: tuple[int, ...] = (24, 48, 96)  # one stride-2 3x3 conv each: patch size 2 ** len
    dim: int = 96
    depth: int = 3
    heads: int = 4
    mlp_ratio: float = 2.0
    num_classes: int = NUM_CLASSES

    @property
    def patch_size(self) -> int:
        return 2 ** len(self.stem_channels)

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    def to_metadata(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str = "This weights file") -> "ViTConfig":
        """The config saved in a weights file, every field checked (CheckpointError) before anything is built."""
        r, d = ConfigReader(meta, where), cls()
        cfg = cls(image_size=r.integer("image_size", 16, 512, d.image_size),
                  stem_channels=r.ints("stem_channels", 1, 1024, 1, 5, d.stem_channels),
                  dim=r.integer("dim", 8, 2048, d.dim), depth=r.integer("depth", 1, 48, d.depth),
                  heads=r.integer("heads", 1, 32, d.heads), mlp_ratio=r.number("mlp_ratio", 0.25, 8.0, d.mlp_ratio),
                  num_classes=r.integer("num_classes", 1, 10_000, d.num_classes))
        r.require(cfg.dim % cfg.heads == 0, f"dim={cfg.dim} is not divisible by heads={cfg.heads}.")
        r.require(1 <= cfg.grid <= 32, f"image_size={cfg.image_size} with patch size {cfg.patch_size} gives a "
                                       f"{cfg.grid}x{cfg.grid} token grid (1 to 32 per side allowed).")
        check_budget(lambda: ShapesViT(cfg), where)
        return cfg


class ConvStem(nn.Module):
    """Three stride-2 3x3 convolutions (BatchNorm, ReLU) and a 1x1 projection to the token width."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in cfg.stem_channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Conv2d(c_in, cfg.dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.convs(x))  # (B, D, gh, gw)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.attend = nn.Softmax(dim=-1)  # hooked by capture: its output is the attention (B, heads, N, N)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, heads, N, hd)
        attn = self.attend((q @ k.transpose(-2, -1)) * self.scale)  # (B, heads, N, N)
        out = (attn @ v).transpose(1, 2).reshape(B, N, D)
        return self.proj(out)


class Block(nn.Module):
    def __init__(self, cfg: ViTConfig):
        super().__init__()
        hidden = int(cfg.dim * cfg.mlp_ratio)
        self.norm1 = nn.LayerNorm(cfg.dim)
        self.attn = Attention(cfg.dim, cfg.heads)
        self.norm2 = nn.LayerNorm(cfg.dim)
        self.mlp = nn.Sequential(nn.Linear(cfg.dim, hidden), nn.GELU(), nn.Linear(hidden, cfg.dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def standardise(images: torch.Tensor) -> torch.Tensor:
    """Per-image standardisation: zero mean, unit variance over all pixels and channels."""
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    std = images.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)
    return (images - mean) / std


class ShapesViT(nn.Module):
    def __init__(self, cfg: ViTConfig = ViTConfig()):
        super().__init__()
        self.cfg = cfg
        self.stem = ConvStem(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.randn(1, cfg.grid * cfg.grid, cfg.dim) * 0.02)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def position_embeddings(self, gh: int, gw: int) -> torch.Tensor:
        """(gh * gw, D), bicubically interpolated when the grid differs from the training grid."""
        g = self.cfg.grid
        pos = self.pos_embed[0]
        if (gh, gw) == (g, g):
            return pos
        grid = pos.reshape(1, g, g, -1).permute(0, 3, 1, 2)  # (1, D, g, g)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
        return grid.permute(0, 2, 3, 1).reshape(gh * gw, -1)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [0, 1] -> tokens (B, 1 + gh * gw, D), CLS first."""
        feats = self.stem(standardise(images))  # (B, D, gh, gw)
        B, D, gh, gw = feats.shape
        tokens = feats.flatten(2).transpose(1, 2) + self.position_embeddings(gh, gw)  # (B, gh*gw, D)
        return torch.cat([self.cls_token.expand(B, -1, -1), tokens], dim=1)

    def classify(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(tokens)[:, 0])  # (B, C)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.embed(images)
        for block in self.blocks:
            x = block(x)
        return self.classify(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def init_weights(model: ShapesViT) -> None:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)

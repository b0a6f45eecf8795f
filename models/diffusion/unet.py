"""A small class-conditional UNet that predicts the noise eps in x_t (Ho et al. 2020 style).

Time embedding (sinusoidal + MLP) plus a learned class embedding (one extra "no class" entry for
classifier-free guidance) condition every residual block; self-attention runs at low resolution.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
import torch.nn.functional as F


@dataclass(frozen=True)
class UNetConfig:
    image_size: int = 32
    in_channels: int = 3
    channels: tuple[int, ...] = (32, 64, 128)  # one level per entry; level i runs at image_size / 2**i
    res_blocks: int = 1  # residual blocks per level (down path; the up path has one more)
    attention_resolutions: tuple[int, ...] = (8,)
    num_classes: int = 6  # 0 for unconditional; index num_classes is "no class" (guidance)
    time_dim: int = 128
    groups: int = 8
    heads: int = 4
    dropout: float = 0.0
    upsample_conv: bool = False  # a 3x3 conv after each nearest upsample (costly at full resolution)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        d = dict(d)
        for k in ("channels", "attention_resolutions"):
            d[k] = tuple(d[k])
        return cls(**d)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps. t: (B,) -> (B, dim)"""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout * 2)  # scale and shift
        self.norm2 = nn.GroupNorm(groups, cout)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, cout, H, W)
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)  # (B, cout, 1, 1) each
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    def __init__(self, ch: int, heads: int, groups: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv2d(ch, ch * 3, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # (B, heads, N, d)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, d)
        out = out.transpose(-1, -2).reshape(b, c, h, w)
        return x + self.proj(out)


class UNet(nn.Module):
    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        self.config = cfg = config
        e = cfg.time_dim
        self.time_mlp = nn.Sequential(nn.Linear(cfg.channels[0], e), nn.SiLU(), nn.Linear(e, e))
        self.class_emb = nn.Embedding(cfg.num_classes + 1, e) if cfg.num_classes > 0 else None
        self.stem = nn.Conv2d(cfg.in_channels, cfg.channels[0], 3, padding=1)

        self.down = nn.ModuleList()
        skips = [cfg.channels[0]]
        ch, res = cfg.channels[0], cfg.image_size
        for level, cout in enumerate(cfg.channels):
            for _ in range(cfg.res_blocks):
                blocks = nn.ModuleList([ResBlock(ch, cout, e, cfg.groups, cfg.dropout)])
                if res in cfg.attention_resolutions:
                    blocks.append(SelfAttention(cout, cfg.heads, cfg.groups))
                self.down.append(blocks)
                ch = cout
                skips.append(ch)
            if level < len(cfg.channels) - 1:
                self.down.append(nn.ModuleList([nn.Conv2d(ch, ch, 3, stride=2, padding=1)]))
                skips.append(ch)
                res //= 2

        self.mid1 = ResBlock(ch, ch, e, cfg.groups, cfg.dropout)
        self.mid_attn = SelfAttention(ch, cfg.heads, cfg.groups)
        self.mid2 = ResBlock(ch, ch, e, cfg.groups, cfg.dropout)

        self.up = nn.ModuleList()
        for level in reversed(range(len(cfg.channels))):
            cout = cfg.channels[level]
            for _ in range(cfg.res_blocks + 1):
                blocks = nn.ModuleList([ResBlock(ch + skips.pop(), cout, e, cfg.groups, cfg.dropout)])
                if res in cfg.attention_resolutions:
                    blocks.append(SelfAttention(cout, cfg.heads, cfg.groups))
                self.up.append(blocks)
                ch = cout
            if level > 0:
                up = [nn.Upsample(scale_factor=2, mode="nearest")]
                if cfg.upsample_conv:
                    up.append(nn.Conv2d(ch, ch, 3, padding=1))
                self.up.append(nn.ModuleList(up))
                res *= 2
        self.out_norm = nn.GroupNorm(cfg.groups, ch)
        self.out_conv = nn.Conv2d(ch, cfg.in_channels, 3, padding=1)
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, C, H, W) noisy images; t: (B,) 0-based timesteps; labels: (B,) class ids, where
        num_classes (or None) means "no class". Returns eps_hat (B, C, H, W)."""
        emb = self.time_mlp(timestep_embedding(t, self.config.channels[0]))  # (B, E)
        if self.class_emb is not None:
            if labels is None:
                labels = torch.full((x.shape[0],), self.config.num_classes, device=x.device, dtype=torch.long)
            emb = emb + self.class_emb(labels)
        h = self.stem(x)
        hs = [h]
        for blocks in self.down:
            for m in blocks:
                h = m(h, emb) if isinstance(m, ResBlock) else m(h)
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for blocks in self.up:
            if isinstance(blocks[0], ResBlock):
                h = torch.cat([h, hs.pop()], dim=1)
            for m in blocks:
                h = m(h, emb) if isinstance(m, ResBlock) else m(h)
        return self.out_conv(F.silu(self.out_norm(h)))

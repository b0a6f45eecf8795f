"""Differentiable augmentation (DiffAugment, Zhao et al. 2020): the same random colour, translation and
cutout applied to real AND fake images just before D, built from differentiable tensor operations so
G's gradient flows through them. D never sees an un-augmented image, so it cannot memorise the training
set, and G is not pushed to draw the augmentations (they happen on both sides).

A policy is a comma-separated list of ops, e.g. "translation" or "color,translation,cutout".
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import UserFacingError
from .catalog import AUGMENT_INFO

AugmentOp = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]  # (B, C, S, S) -> same shape


def _rand(shape: tuple[int, ...], x: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=gen).to(device=x.device, dtype=x.dtype)


def color(x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0-x2) and contrast (x0.5-x1.5) per image."""
    b = x.shape[0]
    x = x + (_rand((b, 1, 1, 1), x, gen) - 0.5)  # brightness
    mean_c = x.mean(dim=1, keepdim=True)  # (B, 1, S, S)
    x = (x - mean_c) * (_rand((b, 1, 1, 1), x, gen) * 2) + mean_c  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (x - mean) * (_rand((b, 1, 1, 1), x, gen) + 0.5) + mean  # contrast


def translation(x: torch.Tensor, gen: torch.Generator | None = None, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * size pixels in x and y, padding with zeros (mid-grey in [-1, 1])."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b, 1, 1), generator=gen).to(x.device)
    dx = torch.randint(-sw, sw + 1, (b, 1, 1), generator=gen).to(x.device)
    ys = torch.arange(h, device=x.device)[None, :, None] + dy  # (B, H, 1): source row of each output row
    xs = torch.arange(w, device=x.device)[None, None, :] + dx  # (B, 1, W)
    ys, xs = (ys + 1).clamp(0, h + 1), (xs + 1).clamp(0, w + 1)  # index into the 1-pixel zero-padded image
    padded = F.pad(x, (1, 1, 1, 1))  # (B, C, H+2, W+2)
    bi = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[bi, ys, xs].permute(0, 3, 1, 2).contiguous()  # (B, C, H, W)


def cutout(x: torch.Tensor, gen: torch.Generator | None = None, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ratio * size per image, at a random place (it may stick out of the image)."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), generator=gen).to(x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), generator=gen).to(x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = ((ys - oy + ch // 2).clamp(min=0) < ch) & ((ys - oy + ch // 2) >= 0) & \
             ((xs - ox + cw // 2) >= 0) & ((xs - ox + cw // 2) < cw)  # (B, H, W)
    return x * (~inside).to(x.dtype)[:, None]


AUGMENTS: dict[str, AugmentOp] = {"color": color, "translation": translation, "cutout": cutout}
assert tuple(AUGMENTS) == tuple(AUGMENT_INFO)


def code_view(x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """What the Q head of a discrete-code run sees (B, C, S, S) -> same shape: colour removed (each pixel's
    brightest channel, in every channel), then a random rotation (any angle), scale (0.85-1.15) and shift
    (+-1/8). The code can then only be told by what these leave alone - the outline of a shape - so the
    codes are pushed to mean shapes, not hues, angles or sizes. Not a DiffAugment op: D's real/fake score
    never sees it."""
    b = x.shape[0]
    grey = (x.max(dim=1, keepdim=True).values + 1).expand_as(x)  # (B, C, S, S) >= 0, background 0
    angle = _rand((b,), x, gen) * (2 * torch.pi)
    scale = 1 / (0.85 + 0.3 * _rand((b,), x, gen))  # grid coordinates: divide to enlarge
    shift = (_rand((b, 2), x, gen) - 0.5) * 0.25
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, S, S, 2)
    return F.grid_sample(grey, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


def parse_policy(policy: str) -> tuple[str, ...]:
    """'color, translation' -> ('color', 'translation'); UserFacingError for an unknown op."""
    ops = tuple(p.strip() for p in policy.split(",") if p.strip())
    for op in ops:
        if op not in AUGMENTS:
            raise UserFacingError(f"Unknown DiffAugment op '{op}' (known: {', '.join(AUGMENTS)}).")
    return ops


def diff_augment(x: torch.Tensor, policy: str, gen: torch.Generator | None = None) -> torch.Tensor:
    """x (B, C, S, S) -> augmented (B, C, S, S); the identity for an empty policy."""
    for op in parse_policy(policy):
        x = AUGMENTS[op](x, gen)
    return x

"""Paths through a GAN's latent space: pure functions on noise vectors (torch tensors).

- ``interpolate(z0, z1, steps, "linear" | "spherical")``: the strip between two noise vectors. Linear mixing
  passes through vectors shorter than typical Gaussian noise (the middle of two independent N(0, I) vectors
  has ~0.71 x their length), so G sees atypical inputs there; spherical (slerp, Shoemake 1985, used for GANs
  by White 2016) keeps the length near the ends' lengths.
- ``random_direction`` and ``walk``: move one noise vector along a fixed random unit direction.
- ``class_sweep``: one noise vector paired with every class (for a conditional G).
"""
from __future__ import annotations

import torch

MODES = ("linear", "spherical")
MIN_STEPS, MAX_STEPS = 2, 64


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """z0, z1 (D,), t (K,) -> (K, D): (1 - t) z0 + t z1."""
    t = t.to(z0.dtype)[:, None]
    return (1 - t) * z0[None] + t * z1[None]


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation (K, D): along the great circle from z0 to z1, the length moving linearly
    from |z0| to |z1|. Nearly parallel or zero vectors fall back to lerp."""
    n0, n1 = z0.norm(), z1.norm()
    if float(n0) < eps or float(n1) < eps:
        return lerp(z0, z1, t)
    u0, u1 = z0 / n0, z1 / n1
    omega = torch.arccos(torch.clamp((u0 * u1).sum(), -1.0, 1.0))
    so = torch.sin(omega)
    if float(so) < 1e-4:  # parallel (or opposite: the great circle is not unique, take the chord)
        return lerp(z0, z1, t)
    t = t.to(z0.dtype)[:, None]  # (K, 1)
    direction = (torch.sin((1 - t) * omega) * u0[None] + torch.sin(t * omega) * u1[None]) / so  # (K, D), unit
    return direction * ((1 - t) * n0 + t * n1)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, mode: str = "spherical") -> torch.Tensor:
    """`steps` noise vectors (steps, D) from z0 to z1 inclusive. z0, z1: (D,) or (1, D) (e.g. (1, D, 1, 1))."""
    if mode not in MODES:
        raise ValueError(f"unknown interpolation mode {mode!r}; use one of {', '.join(MODES)}")
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be from {MIN_STEPS} to {MAX_STEPS}, not {steps}")
    a, b = z0.reshape(-1).double(), z1.reshape(-1).double()
    if a.shape != b.shape:
        raise ValueError(f"the two noise vectors differ in size ({a.numel()} vs {b.numel()})")
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)
    out = (lerp if mode == "linear" else slerp)(a, b, t)
    return out.to(z0.dtype)


def random_direction(dim: int, seed: int) -> torch.Tensor:
    """A unit vector (dim,), uniformly distributed on the sphere, the same for the same seed."""
    v = torch.randn(dim, generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64)
    return (v / v.norm()).float()


def walk(z: torch.Tensor, direction: torch.Tensor, amounts) -> torch.Tensor:
    """z + a * direction for every a in amounts: (K, D). z (D,), direction (D,) (a unit vector: a is a distance)."""
    a = torch.as_tensor(amounts, dtype=z.dtype).reshape(-1, 1)  # (K, 1)
    return z.reshape(1, -1) + a * direction.reshape(1, -1).to(z.dtype)


def class_sweep(z: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One noise vector for every class: z repeated (num_classes, D) and the labels 0..num_classes-1."""
    return z.reshape(1, -1).repeat(num_classes, 1), torch.arange(num_classes)

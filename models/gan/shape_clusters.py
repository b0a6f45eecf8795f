"""Pseudo-classes for an unconditional GAN, found without labels: k-means on Fourier descriptors of outlines.

A class-conditional GAN trains far better than an unconditional one (its D knows what each image should be),
but needs labels. Without them, clusters can stand in (Logo-GAN, Sage et al. 2018; self-conditioned GAN,
Liu et al. 2020). Here the clusters come from a classical shape descriptor that ignores what does not make a
shape: colour (each pixel's brightest channel is the mask), position (rays start at the mask's centroid),
size (radii divided by their mean) and rotation (only the magnitudes of the Fourier coefficients of the
radius-by-angle curve are kept). No class label is read anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

ANGLES = 64  # rays per image
HARMONICS = 12  # Fourier magnitudes kept (1..HARMONICS)


def radius_profiles(images: torch.Tensor, angles: int = ANGLES) -> torch.Tensor:
    """images (N, C, S, S) uint8 on a dark background -> (N, angles) the extent of the bright mask along rays
    from its centroid, in pixels."""
    n, _, s, _ = images.shape
    mask = images.float().amax(1, keepdim=True)  # (N, 1, S, S)
    mask = mask / mask.amax((2, 3), keepdim=True).clamp(min=1.0)  # 1 inside a shape of any brightness
    coords = torch.arange(s, dtype=torch.float32) + 0.5
    total = mask.sum((1, 2, 3)).clamp(min=1e-6)  # (N,)
    cy = (mask.sum((1, 3)) * coords).sum(1) / total  # (N,) centroid row, pixels
    cx = (mask.sum((1, 2)) * coords).sum(1) / total
    theta = torch.arange(angles, dtype=torch.float32) * (2 * torch.pi / angles)  # (A,)
    rho = torch.arange(0.25, s / 2, 0.5)  # (R,) sample radii, pixels
    x = cx[:, None, None] + rho[None, None, :] * torch.cos(theta)[None, :, None]  # (N, A, R)
    y = cy[:, None, None] + rho[None, None, :] * torch.sin(theta)[None, :, None]
    grid = torch.stack([x / s * 2 - 1, y / s * 2 - 1], -1)  # (N, A, R, 2) in grid_sample's [-1, 1]
    along = F.grid_sample(mask, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # (N, 1, A, R)
    return along[:, 0].sum(-1) * 0.5  # (N, A) mask integrated along each ray


def fourier_descriptors(images: torch.Tensor, harmonics: int = HARMONICS) -> np.ndarray:
    """(N, C, S, S) uint8 -> (N, harmonics) |FFT| of the radius profile over its mean: 3 for a triangle's
    corners, 4 for a square's, 5 for a star's points ... invariant to colour, position, size and rotation."""
    out = []
    for chunk in images.split(4096):
        r = radius_profiles(chunk).double()  # (n, A)
        mag = torch.fft.rfft(r, dim=1).abs()  # (n, A/2 + 1)
        out.append((mag[:, 1:harmonics + 1] / mag[:, :1].clamp(min=1e-6)).numpy())
    return np.concatenate(out) if out else np.zeros((0, harmonics))


@dataclass(frozen=True)
class Clusters:
    labels: np.ndarray  # (N,) int64 cluster of each image
    centres: np.ndarray  # (K, F) in the standardised descriptor space
    inertia: float  # mean squared distance to the own centre


def kmeans(x: np.ndarray, k: int, seed: int, restarts: int = 8, iters: int = 100) -> Clusters:
    """Lloyd's k-means with k-means++ starts; the best of `restarts` runs (lowest inertia). x: (N, F)."""
    rng = np.random.default_rng(seed)
    best: Clusters | None = None
    for _ in range(restarts):
        centres = x[[rng.integers(len(x))]]
        for _ in range(k - 1):  # k-means++: a new centre far from the chosen ones
            d2 = ((x[:, None, :] - centres[None]) ** 2).sum(-1).min(1)
            centres = np.concatenate([centres, x[[rng.choice(len(x), p=d2 / d2.sum())]]])
        for _ in range(iters):
            labels = ((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)  # (N,)
            new = np.stack([x[labels == c].mean(0) if (labels == c).any() else centres[c] for c in range(k)])
            if np.allclose(new, centres):
                break
            centres = new
        inertia = float(((x - centres[labels]) ** 2).sum(-1).mean())
        if best is None or inertia < best.inertia:
            best = Clusters(labels.astype(np.int64), centres, inertia)
    assert best is not None
    return best


def outline_clusters(images: torch.Tensor, k: int, seed: int) -> Clusters:
    """k clusters of images (N, C, S, S) uint8 by the shape of their bright mask (square roots of the
    descriptors, standardised, so the weak harmonics of near-round shapes count beside a star's points)."""
    if len(images) < k:
        raise ValueError(f"{len(images)} images cannot make {k} clusters")
    f = np.sqrt(fourier_descriptors(images))  # (N, H)
    f = (f - f.mean(0)) / f.std(0).clip(min=1e-9)
    return kmeans(f, k, seed)


def main() -> None:
    """python -m models.gan.shape_clusters: how well the outline clusters of the bundled run's training sprites
    match the shape classes (the labels are read here, for this report only)."""
    import argparse

    from ..shapes import SHAPE_CLASSES
    from .data import DataRequest, load_labelled_images

    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=20000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    images, labels = load_labelled_images("shapes", DataRequest("", 32, args.seed, args.images))
    clusters = outline_clusters(images, len(SHAPE_CLASSES), args.seed).labels
    table = np.zeros((len(SHAPE_CLASSES), len(SHAPE_CLASSES)), np.int64)  # (cluster, class)
    np.add.at(table, (clusters, labels.numpy()), 1)
    print("cluster  size   " + " ".join(f"{n:>8}" for n in SHAPE_CLASSES))
    for c, row in enumerate(table):
        print(f"{c + 1:>7} {row.sum():>5}   " + " ".join(f"{v:>8}" for v in row))
    print(f"purity (each cluster's largest class): {table.max(1).sum() / table.sum():.1%}; "
          f"classes that are some cluster's largest: {len(set(table.argmax(1)))} of {len(SHAPE_CLASSES)}")


if __name__ == "__main__":
    main()

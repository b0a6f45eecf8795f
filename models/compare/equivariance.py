"""Translation equivariance and the probes that show what a model relies on.

- `equivariance_errors`: shift the image right/down by s px (reflection padding), and compare each stage's
  map f(shift(x)) with shift(f(x), s / stride) on the region both cover (fractional shifts of the map are
  bilinear): ||f(shift(x)) - shift(f(x))|| / ||f(x)||, on the cells the shifted map covers, less the border
  cells whose receptive field reaches the padding (at most a quarter of the map, so deep, coarse stages
  still get a figure, padding effects included: they are part of why real CNNs are not exactly equivariant). A pure convolution gives 0 at shifts that are
  multiples of its stride; a ViT's position embeddings and patch grid break it.
- `shift_probabilities`: the top class's probability against the shift.
- `patch_shuffle`: shuffle a g x g grid of tiles (g = 2, 4, 8): whose prediction survives.
- `occlusion_map`: a grey square slid over the image; the map of the class probability's drop.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .receptive_field import theoretical_rf
from .stages import StageInfo, StageModel, capture_stage_outputs, to_map


def shift_image(images: torch.Tensor, shift: int) -> torch.Tensor:
    """(B, 3, H, W) moved right and down by `shift` px; the uncovered border is a reflection."""
    if shift == 0:
        return images
    padded = F.pad(images, (shift, 0, shift, 0), mode="reflect")  # (B, 3, H + s, W + s)
    return padded[..., : images.shape[-2], : images.shape[-1]]


def _shift_axis(t: torch.Tensor, cells: float, dim: int) -> torch.Tensor:
    """t moved by a possibly fractional number of cells towards higher indices along `dim` (linear
    interpolation between the two whole shifts, zeros where nothing moved in)."""
    def whole(n: int) -> torch.Tensor:
        out = torch.zeros_like(t)
        size = t.shape[dim]
        if n < size:
            out.narrow(dim, n, size - n).copy_(t.narrow(dim, 0, size - n))
        return out

    lo = math.floor(cells)
    frac = cells - lo
    return whole(lo) if frac == 0 else (1 - frac) * whole(lo) + frac * whole(lo + 1)


def _shift_map(fmap: torch.Tensor, cells: float) -> torch.Tensor:
    """(B, C, h, w) moved right and down by `cells` (bilinear for fractions)."""
    return _shift_axis(_shift_axis(fmap, cells, -2), cells, -1)


def _border_cells(sm: StageModel, stage: StageInfo) -> int:
    """Border cells whose receptive field reaches past the image edge (padding): half the theoretical
    field in cells, or 1 where attention makes the field global."""
    rf = theoretical_rf(sm, stage)
    return 1 if rf is None else math.ceil((rf - 1) / 2 / stage.stride)


def equivariance_errors(sm: StageModel, images: torch.Tensor, stages: list[StageInfo],
                        shifts: list[int]) -> np.ndarray:
    """(len(shifts), len(stages)) relative error of each stage at each shift, mean over images."""
    _, base = capture_stage_outputs(sm, images)
    errors = np.zeros((len(shifts), len(stages)), np.float32)
    trims = [_border_cells(sm, st) for st in stages]
    for i, s in enumerate(shifts):
        _, moved = capture_stage_outputs(sm, shift_image(images, s))
        for j, st in enumerate(stages):
            f0 = to_map(base[st.path], st).float()  # (B, C, h, w)
            f1 = to_map(moved[st.path], st).float()
            cells = s / st.stride
            h, w = f0.shape[-2:]
            trim = min(trims[j], max((min(h, w) - 2) // 4, 0))
            top = math.ceil(cells) + trim
            if top >= min(h, w) - trim:
                errors[i, j] = np.nan  # the shift moves the whole map out: nothing left to compare
                continue
            region = (..., slice(top, h - trim), slice(top, w - trim))
            diff = (f1 - _shift_map(f0, cells))[region].flatten(1).norm(dim=1)
            ref = f0[region].flatten(1).norm(dim=1).clamp_min(1e-8)
            errors[i, j] = float((diff / ref).mean())
    return errors


@torch.no_grad()
def probabilities(sm: StageModel, images: torch.Tensor) -> np.ndarray:
    return torch.softmax(sm.model(images).float(), dim=1).cpu().numpy()  # (B, classes)


def shift_probabilities(sm: StageModel, image: torch.Tensor, shifts: list[int], class_index: int) -> np.ndarray:
    """(len(shifts),) probability of `class_index` for the image (1, 3, H, W) shifted by each amount."""
    batch = torch.cat([shift_image(image, s) for s in shifts])
    return probabilities(sm, batch)[:, class_index]


def shuffle_tiles(image: torch.Tensor, grid: int, seed: int = 0) -> torch.Tensor:
    """(1, 3, H, W) with its grid x grid tiles in a random (seeded, never identity) order."""
    _, c, h, w = image.shape
    th, tw = h // grid, w // grid
    tiles = image[..., : th * grid, : tw * grid].reshape(1, c, grid, th, grid, tw).permute(0, 2, 4, 1, 3, 5)
    tiles = tiles.reshape(grid * grid, c, th, tw)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(grid * grid)
    while grid > 1 and np.array_equal(perm, np.arange(grid * grid)):
        perm = rng.permutation(grid * grid)
    tiles = tiles[torch.from_numpy(perm)].reshape(grid, grid, c, th, tw).permute(2, 0, 3, 1, 4)
    out = image.clone()
    out[..., : th * grid, : tw * grid] = tiles.reshape(1, c, th * grid, tw * grid)
    return out


def patch_shuffle(sm: StageModel, image: torch.Tensor, grids: tuple[int, ...] = (2, 4, 8)) -> tuple[list[torch.Tensor], np.ndarray]:
    """The shuffled images and their class probabilities (len(grids), classes)."""
    shuffled = [shuffle_tiles(image, g) for g in grids]
    return shuffled, probabilities(sm, torch.cat(shuffled))


def occlusion_map(sm: StageModel, image: torch.Tensor, class_index: int, size: int = 16, stride: int = 4,
                  batch: int = 64) -> np.ndarray:
    """(H, W) drop of the class probability when a grey square covers each place (mean over covers)."""
    _, _, H, W = image.shape
    base = probabilities(sm, image)[0, class_index]
    ys = list(range(0, H - size + 1, stride))
    xs = list(range(0, W - size + 1, stride))
    boxes = [(y, x) for y in ys for x in xs]
    drops = np.zeros((H, W), np.float32)
    counts = np.zeros((H, W), np.float32)
    for i in range(0, len(boxes), batch):
        chunk = boxes[i:i + batch]
        imgs = image.repeat(len(chunk), 1, 1, 1)
        for k, (y, x) in enumerate(chunk):
            imgs[k, :, y:y + size, x:x + size] = 0.5
        p = probabilities(sm, imgs)[:, class_index]
        for k, (y, x) in enumerate(chunk):
            drops[y:y + size, x:x + size] += base - p[k]
            counts[y:y + size, x:x + size] += 1
    return drops / np.maximum(counts, 1)

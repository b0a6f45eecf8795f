"""Small worker jobs of the GAN tab's latent-space panel: G's images along a path between noise vectors.

They use the run's current generator (between two training steps: the worker steps jobs one at a time on
one thread) and the fixed noise of the sample grid, so a cell of the grid names a noise vector.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UserFacingError
from ..imaging import mosaic
from ..jobs import JobContext, Progress
from .data import to_uint8_hwc
from .latent import interpolate, random_direction, walk
from .networks import latent_code
from .trainer import GanTrainer


@dataclass(frozen=True)
class LatentStrip:
    kind: str  # "interpolation" or "walk"
    cells: tuple[int, ...]  # the grid cells it starts (and ends) at
    images: np.ndarray  # (K, S, S, 3) uint8, G's images along the path
    strip: np.ndarray  # (H, W, 3) uint8: the images in one row
    caption: str


def _cell(trainer: GanTrainer, cell: int) -> torch.Tensor:
    if not 0 <= cell < len(trainer.fixed_z):
        raise UserFacingError(f"The sample grid has {len(trainer.fixed_z)} cells; there is no cell {cell + 1}.")
    return trainer.fixed_z[cell]  # (latent,)


def _strip(trainer: GanTrainer, z: torch.Tensor, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """G's images of z (K, latent); a conditional run draws them all as the class of the grid cell they start at."""
    y = None if trainer.fixed_y is None else trainer.fixed_y[cell].repeat(len(z))  # (K,)
    images = to_uint8_hwc(trainer.sample(z.float(), y))  # (K, S, S, 3)
    return images, mosaic(images, columns=len(images), gap=1, fill=60, border=1)


def code_note(trainer: GanTrainer, z: torch.Tensor) -> str:
    """For a run with a discrete code: where the code changes along the path z (K, latent), else ""."""
    k = trainer.config.gan.latent_codes
    if not k:
        return ""
    codes = latent_code(z, k).tolist()
    jumps = [i for i in range(1, len(codes)) if codes[i] != codes[i - 1]]
    if not jumps:
        return f"; discrete code {codes[0] + 1} all along"
    where = ", ".join(f"{codes[i - 1] + 1} → {codes[i] + 1} between images {i} and {i + 1}" for i in jumps)
    return f"; discrete code {where} (G jumps there)"


def interpolation_job(ctx: JobContext, trainer: GanTrainer, a: int, b: int, steps: int, mode: str):
    """G's images from cell a's noise to cell b's: `steps` images, linear or spherical."""
    yield Progress(0.0, "Interpolating in the latent space")
    ctx.check_cancelled()
    z = interpolate(_cell(trainer, a), _cell(trainer, b), steps, mode)  # (steps, latent)
    images, strip = _strip(trainer, z, a)
    return LatentStrip("interpolation", (a, b), images, strip,
                       f"{mode} interpolation, cell {a + 1} → cell {b + 1}, {steps} steps (step {trainer.step:,})"
                       f"{code_note(trainer, z)}")


def walk_job(ctx: JobContext, trainer: GanTrainer, a: int, distance: float, seed: int, steps: int = 9):
    """G's images from cell a's noise to `distance` along random unit direction `seed`: `steps` images."""
    yield Progress(0.0, "Walking in the latent space")
    ctx.check_cancelled()
    z0 = _cell(trainer, a)
    direction = random_direction(z0.numel(), seed)  # (latent,)
    z = walk(z0, direction, np.linspace(0.0, distance, steps))  # (steps, latent)
    images, strip = _strip(trainer, z, a)
    return LatentStrip("walk", (a,), images, strip,
                       f"walk from cell {a + 1}, direction #{seed}, 0 → {distance:+.1f} (step {trainer.step:,})"
                       f"{code_note(trainer, z)}")

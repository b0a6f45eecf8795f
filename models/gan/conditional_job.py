"""Worker jobs of the GAN tab's class panel, for a class-conditional run: ask G for a class.

- ``class_strip_job``: one noise vector (a grid cell's) drawn as every class: what the class changes.
- ``class_grid_job``: one class ("a star") with many noise vectors: what the noise changes; the sprite judge
  says how many of them it recognises as that class.
Both use the run's generator as it is now (between two training steps) and return numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UserFacingError
from ..imaging import mosaic
from ..jobs import JobContext, Progress
from ..shapes import SHAPE_CLASSES
from .data import to_uint8_hwc
from .trainer import GanTrainer


@dataclass(frozen=True)
class ClassImages:
    kind: str  # "classes" (one noise, every class) or "noise" (one class, many noise vectors)
    images: np.ndarray  # (K, S, S, 3) uint8
    mosaic: np.ndarray  # (H, W, 3) uint8: a strip (classes) or a square grid (noise)
    classes: tuple[int, ...]  # (K,) the class asked for, per image
    judged: tuple[str, ...]  # (K,) the sprite judge's class name per image ("not a shape" too); () without a judge
    class_names: tuple[str, ...]  # the run's class names
    step: int


def class_names(trainer: GanTrainer) -> tuple[str, ...]:
    k = trainer.config.gan.num_classes
    return SHAPE_CLASSES[:k] if k <= len(SHAPE_CLASSES) else tuple(f"class {i}" for i in range(k))


def _require_conditional(trainer: GanTrainer) -> None:
    if not trainer.conditional:
        raise UserFacingError("This run is not class-conditional: load the bundled conditional run, or start a run "
                              "with 'Class-conditional' ticked, to ask G for a class.")


def _judge(images: np.ndarray) -> tuple[str, ...]:
    from .live_judge import LiveJudge

    judge = LiveJudge.load()
    if judge is None:
        return ()
    from ..judge.model import JUDGE_CLASSES, judge_images

    return tuple(JUDGE_CLASSES[int(c)] for c in judge_images(judge.model, images).classes)


def class_strip_job(ctx: JobContext, trainer: GanTrainer, cell: int):
    """The fixed noise of grid cell `cell`, drawn as each class in turn: (num_classes,) images in one row."""
    yield Progress(0.0, "Drawing every class from one noise vector")
    ctx.check_cancelled()
    _require_conditional(trainer)
    if not 0 <= cell < len(trainer.fixed_z):
        raise UserFacingError(f"The sample grid has {len(trainer.fixed_z)} cells; there is no cell {cell + 1}.")
    k = trainer.config.gan.num_classes
    y = torch.arange(k)  # (K,)
    images = to_uint8_hwc(trainer.sample(trainer.fixed_z[cell].repeat(k, 1), y))  # (K, S, S, 3)
    return ClassImages("classes", images, mosaic(images, columns=k, gap=1, fill=60, border=1), tuple(range(k)),
                       _judge(images), class_names(trainer), trainer.step)


def class_grid_job(ctx: JobContext, trainer: GanTrainer, cls: int, count: int = 16, seed: int = 0):
    """`count` fresh noise vectors (seeded) all drawn as class `cls`: a square grid."""
    yield Progress(0.0, "Drawing one class from many noise vectors")
    ctx.check_cancelled()
    _require_conditional(trainer)
    k = trainer.config.gan.num_classes
    if not 0 <= cls < k:
        raise UserFacingError(f"This run knows {k} classes; there is no class {cls}.")
    z = torch.randn(count, trainer.config.gan.latent_size, generator=torch.Generator().manual_seed(seed))
    images = to_uint8_hwc(trainer.sample(z, torch.full((count,), cls)))  # (count, S, S, 3)
    return ClassImages("noise", images, mosaic(images, gap=1, fill=60, border=1), (cls,) * count,
                       _judge(images), class_names(trainer), trainer.step)

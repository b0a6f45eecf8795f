"""Jobs that create, load and save GAN runs for the tab. Each returns a RunReady: the trainer (an opaque
handle the tab only passes back to jobs) plus everything the view shows, as numpy arrays."""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, UserFacingError
from ..jobs import JobContext, Load, Progress
from ..loading import WEIGHTS_DIR
from ..registry import ModelSource, ModelSpec, SourceKind, register
from .catalog import BUNDLED_FILE, BUNDLED_RUN, CONDITIONAL_FILE, CONDITIONAL_RUN, DATASET_INFO, NeedsFolder
from .checkpoint import load_run, run_dataset, save_run
from .config import TrainConfig
from .data import DataRequest, load_labelled_images
from .trainer import GanTrainer
from ..judge.model import JUDGE_CLASSES



@dataclass(frozen=True)
class RunReady:
    trainer: Any  # GanTrainer: the worker-side state, passed back to train_job; the GUI never touches it
    title: str
    config: dict  # TrainConfig.to_dict()
    step: int
    metrics: np.ndarray  # (steps, len(METRICS)) float32, the whole curve history
    diversity: np.ndarray  # (points, 2) [step, ratio]
    grids: list  # [(step, (H, W, 3) uint8)] the kept sample grids
    grid_stride: int
    real_grid: np.ndarray  # (H, W, 3) uint8
    elapsed_s: float
    current_grid: tuple  # (step, (H, W, 3) uint8): G as it is now (the thinned history may not hold it)
    device: str = ""  # where the run's networks and optimiser state live
    coverage: np.ndarray | None = None  # (J, 2 + judge classes) [step, judge FD, class shares...] per judged grid
    coverage_names: tuple = ()  # the judge's class names, in the order of coverage's share columns


def _ready(trainer: GanTrainer, title: str) -> RunReady:
    if trainer.grids.items and trainer.grids.items[-1][0] == trainer.step:
        current = trainer.grids.items[-1]
    else:
        current = (trainer.step, trainer.make_samples()[0])  # show the generator as it is now
    return RunReady(trainer, title, trainer.config.to_dict(), trainer.step, trainer.metrics.view().copy(),
                    trainer.diversity.view().copy(), list(trainer.grids.items), trainer.grids.stride,
                    trainer.real_grid(), trainer.elapsed_s, current, str(trainer.device),
                    trainer.coverage.view().copy(), JUDGE_CLASSES)


def _with_progress(ctx: JobContext, fn, *args):
    """Run fn(*args, progress) in a helper thread, yielding its progress reports (downloads can take minutes)."""
    box: dict[str, Any] = {"progress": Progress(None, "Loading data")}

    def report(fraction, message) -> None:
        box["progress"] = Progress(fraction, message)

    def run() -> None:
        try:
            box["result"] = fn(*args, report)
        except BaseException as exc:  # re-raised in the job
            box["error"] = exc

    thread = threading.Thread(target=run, name="gan-data", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
        yield box["progress"]
        ctx.check_cancelled()  # a cancelled download finishes in the background and is dropped
    if "error" in box:
        raise box["error"]
    return box["result"]


def new_run_job(ctx: JobContext, config: TrainConfig):
    """A fresh run: loads (or draws, or downloads) the data, builds G and D with the config's seed."""
    yield Progress(None, f"Loading {config.dataset} data")
    images, labels = yield from _with_progress(ctx, load_labelled_images, config.dataset,
                                               DataRequest(config.data_ref, config.gan.image_size, config.seed,
                                                           config.num_train_images))
    gan = config.gan
    if gan.num_classes and labels is None:
        raise UserFacingError(f"A class-conditional GAN needs labelled images: {DATASET_INFO[config.dataset][0]} "
                              "has no classes here. Pick the shape sprites, or untick 'Class-conditional'.")
    if images.shape[1] != gan.channels:
        config = config.with_(gan=replace(gan, channels=int(images.shape[1])))
    trainer = GanTrainer(config, images, ctx.device, labels=labels)
    return _ready(trainer, f"New run: {config.dataset}, {config.loss}, seed {config.seed}")


def load_run_job(ctx: JobContext, path: str, title: str = "", data_ref: str = ""):
    """The run file read off the GPU job queue (``yield Load``): a slow disk cannot hold other jobs."""
    name = Path(path).name
    yield Progress(None, f"Loading run {name}")
    if not data_ref:
        dataset = yield Load(partial(run_dataset, path), f"Reading run {name}")
        if DATASET_INFO[dataset][2]:  # trained on a folder: the user says which
            return NeedsFolder(path, title, dataset)
    trainer = yield Load(partial(load_run, path, device=ctx.device, data_ref=data_ref or None), f"Loading run {name}")
    return _ready(trainer, title or f"Loaded {name} (step {trainer.step:,})")


def bundled_path() -> Path:
    return BUNDLED_RUN


def load_bundled_job(ctx: JobContext):
    path = bundled_path()
    if not path.is_file():
        raise CheckpointError(f"The bundled GAN run {BUNDLED_FILE} is missing from {WEIGHTS_DIR}; train it with "
                              "'python -m models.gan.train_bundled --recipe unconditional-clusters' (see "
                              "assets/model_cards/gan_dcgan_sprites32.md).")
    return (yield from load_run_job(ctx, str(path), "Bundled run: unconditional DCGAN on shape sprites"))


def load_conditional_job(ctx: JobContext):
    """The bundled class-conditional run (conditional BatchNorm in G, projection D)."""
    if not CONDITIONAL_RUN.is_file():
        raise CheckpointError(f"The bundled conditional GAN run {CONDITIONAL_FILE} is missing from {WEIGHTS_DIR}; "
                              "train it with 'python -m models.gan.train_bundled --recipe conditional' "
                              "(see assets/model_cards/gan_conditional_sprites32.md).")
    return (yield from load_run_job(ctx, str(CONDITIONAL_RUN), "Bundled run: class-conditional GAN on shape sprites"))


def save_run_job(ctx: JobContext, trainer: GanTrainer, path: str):
    yield Progress(None, f"Saving run to {Path(path).name}")
    save_run(trainer, path, trainer.elapsed_s)
    return f"Saved step {trainer.step:,} to {path}"


def _load_bundled_generator(source: ModelSource, device: str, progress=None) -> GanTrainer:
    """Registry loader: the bundled run, or a saved run file (source.ref), as a trainer."""
    path = source.ref or str(bundled_path())
    return load_run(path, device=device, progress=progress)


register(ModelSpec(
    key="gan/dcgan-sprites32", task="gan", title="DCGAN 32x32, shape sprites (bundled)",
    description="A DCGAN trained in this repo on generated 32x32 shape sprites; the whole run (G, D, optimisers, "
                "curves) is bundled so training can continue.",
    loader=_load_bundled_generator, default_source=ModelSource(SourceKind.BUNDLED, ""),
    sources=(SourceKind.BUNDLED, SourceKind.CHECKPOINT),
    capabilities={"image_size": 32, "latent_size": 64, "model_card": "assets/model_cards/gan_dcgan_sprites32.md"}))


def _load_conditional_generator(source: ModelSource, device: str, progress=None) -> GanTrainer:
    return load_run(source.ref or str(CONDITIONAL_RUN), device=device, progress=progress)


register(ModelSpec(
    key="gan/conditional-sprites32", task="gan", title="Class-conditional GAN 32x32, shape sprites (bundled)",
    description="A GAN that draws the shape it is asked for: conditional BatchNorm in G, a projection "
                "discriminator (Miyato & Koyama 2018), hinge loss, spectral norm, DiffAugment; the whole run is bundled.",
    loader=_load_conditional_generator, default_source=ModelSource(SourceKind.BUNDLED, ""),
    sources=(SourceKind.BUNDLED, SourceKind.CHECKPOINT),
    capabilities={"image_size": 32, "latent_size": 64, "num_classes": 6,
                  "model_card": "assets/model_cards/gan_conditional_sprites32.md"}))

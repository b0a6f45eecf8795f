"""Save and resume a whole GAN run: G, D, both Adam states, step, curve history, grids, random state.

One safetensors file: tensors only (never unpickled) plus a JSON header in the metadata. Written to a
temporary file and renamed (os.replace), so a crash mid-save leaves the previous file intact. Reading
one checks every setting in it before anything is built (models.config_checks).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ..config_checks import ConfigReader, check_budget, check_finite
from ..errors import CheckpointError
from ..loading import load_into, write_safetensors
from ..safetensors_io import read_metadata, read_with_metadata
from .catalog import AUGMENT_INFO, DATASET_INFO, LOSS_INFO
from .config import CODE_MODES, IMAGE_SIZES, GanConfig, TrainConfig
from .networks import Discriminator, Generator
from .trainer import GanTrainer

FORMAT = "vision-explorer/gan-run"
VERSION = 1


def _flatten_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict) -> list:
    sd = opt.state_dict()
    for idx, state in sd["state"].items():
        for name, value in state.items():
            tensors[f"{prefix}.{idx}.{name}"] = torch.as_tensor(value).detach().cpu().clone()
    return sd["param_groups"]


def _unflatten_optimizer(prefix: str, tensors: dict, groups: list) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    return {"state": state, "param_groups": groups}


def save_run(trainer: GanTrainer, path: str | os.PathLike, elapsed_s: float = 0.0) -> Path:
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    for k, v in trainer.G.state_dict().items():
        tensors[f"G.{k}"] = v.detach().cpu().contiguous()
    for k, v in trainer.D.state_dict().items():
        tensors[f"D.{k}"] = v.detach().cpu().contiguous()
    if trainer.G_ema is not None:
        for k, v in trainer.G_ema.state_dict().items():
            tensors[f"G_ema.{k}"] = v.detach().cpu().contiguous()
    groups_g = _flatten_optimizer("opt_g", trainer.opt_g, tensors)
    groups_d = _flatten_optimizer("opt_d", trainer.opt_d, tensors)
    tensors["rng"] = trainer.rng.get_state()
    tensors["fixed_z"] = trainer.fixed_z.contiguous()
    tensors["real_batch"] = trainer.real_batch.contiguous()
    tensors["history.metrics"] = torch.from_numpy(trainer.metrics.view().copy())
    tensors["history.diversity"] = torch.from_numpy(trainer.diversity.view().copy())
    tensors["history.coverage"] = torch.from_numpy(trainer.coverage.view().copy())  # the judge's class shares
    grid_steps = trainer.grids.steps()
    for i, (_, grid) in enumerate(trainer.grids.items):
        tensors[f"grid.{i}"] = torch.from_numpy(np.ascontiguousarray(grid))
    header = {
        "format": FORMAT, "version": VERSION, "config": trainer.config.to_dict(), "step": trainer.step,
        "opt_g_groups": groups_g, "opt_d_groups": groups_d, "grid_steps": grid_steps,
        "grid_stride": trainer.grids.stride, "grid_seen": trainer.grids._seen, "elapsed_s": elapsed_s,
    }
    meta = {"vision_explorer": json.dumps(header)}
    return write_safetensors(tensors, path, meta)


def read_run(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """(header, tensors) of a saved run; CheckpointError with a clear message for anything else."""
    header = read_header(path)
    _meta, tensors = read_with_metadata(Path(path))
    return header, tensors


def run_dataset(path: str | os.PathLike) -> str:
    """The (checked) dataset name a saved run was trained on, from its header alone: no tensor is read."""
    return run_config_from_header(read_header(path), f"'{Path(path).name}'").dataset


def read_header(path: str | os.PathLike) -> dict:
    """The run header of a saved run (checked format and version), without reading its tensors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"'{path}' does not exist.")
    meta = read_metadata(path)  # the header is checked before any tensor is read
    if "vision_explorer" not in meta:
        raise CheckpointError(f"'{path.name}' is not a saved GAN run of this app (its metadata has no run "
                              "header). Open a file written by 'Save run'.")
    try:
        header = json.loads(meta["vision_explorer"])
    except ValueError:
        raise CheckpointError(f"'{path.name}' is damaged: its run header is not valid JSON.") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"'{path.name}' has an unreadable header: it is not a GAN run of this app.")
    if header.get("format") != FORMAT:
        raise CheckpointError(f"'{path.name}' was saved by another tool ({header.get('format')!r}), not as a GAN run.")
    version = header.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"'{path.name}' has an unreadable format version ({str(version)[:20]!r}).")
    if version > VERSION:
        raise CheckpointError(f"'{path.name}' comes from a newer version of the app (format {header['version']}).")
    return header


MAX_TRAIN_IMAGES = 50_000  # generated shape sprites; drawing them takes ~10 s on 2 cores
MAX_GRID_SAMPLES = 256
MAX_WIDTH = 256


def run_config_from_header(header: dict, where: str) -> TrainConfig:
    """The run's TrainConfig, every field checked (CheckpointError) before anything is built.

    Known dataset and loss names only, and never a path: data_ref is not taken from the file."""
    r = ConfigReader(header.get("config"), where)
    g = ConfigReader(r.data.get("gan", {}), where)
    d = TrainConfig()
    gan_fields = dict(image_size=g.integer("image_size", 32, 64, d.gan.image_size),
                      latent_size=g.integer("latent_size", 1, 1024, d.gan.latent_size),
                      channels=g.integer("channels", 1, 3, d.gan.channels),
                      width=g.integer("width", 4, MAX_WIDTH, d.gan.width),
                      d_width=g.integer("d_width", 0, MAX_WIDTH, d.gan.d_width),
                      spectral_norm=g.flag("spectral_norm", d.gan.spectral_norm),
                      num_classes=g.integer("num_classes", 0, 100, d.gan.num_classes),
                      latent_codes=g.integer("latent_codes", 0, 32, d.gan.latent_codes),
                      code_mode=g.choice("code_mode", CODE_MODES, d.gan.code_mode))
    g.require(gan_fields["latent_codes"] != 1 and gan_fields["latent_codes"] <= gan_fields["latent_size"]
              and not (gan_fields["latent_codes"] and gan_fields["num_classes"]),
              f"gan.latent_codes={gan_fields['latent_codes']} does not fit the run (2 to latent_size, and not "
              "with classes).")
    g.require(gan_fields["d_width"] == 0 or gan_fields["d_width"] >= 4,
              f"gan.d_width={gan_fields['d_width']} is neither 0 (as G) nor at least 4.")
    g.require(gan_fields["image_size"] in IMAGE_SIZES,
              f"gan.image_size={gan_fields['image_size']} is not one of {IMAGE_SIZES}.")
    g.require(gan_fields["channels"] in (1, 3), f"gan.channels={gan_fields['channels']} is neither 1 nor 3.")
    gan = GanConfig(**gan_fields)
    config = TrainConfig(
        gan=gan, dataset=r.choice("dataset", DATASET_INFO, d.dataset), data_ref="",
        loss=r.choice("loss", LOSS_INFO, d.loss),
        lr_g=r.number("lr_g", 1e-8, 0.999, d.lr_g), lr_d=r.number("lr_d", 1e-8, 0.999, d.lr_d),
        beta1_g=r.number("beta1_g", 0.0, 0.9999, d.beta1_g), beta2_g=r.number("beta2_g", 0.0, 0.9999, d.beta2_g),
        beta1_d=r.number("beta1_d", 0.0, 0.9999, d.beta1_d), beta2_d=r.number("beta2_d", 0.0, 0.9999, d.beta2_d),
        batch_size=r.integer("batch_size", 2, 1024, d.batch_size), d_steps=r.integer("d_steps", 1, 16, d.d_steps),
        seed=r.integer("seed", 0, 2**62, d.seed), sample_every=r.integer("sample_every", 1, 10**6, d.sample_every),
        grid_samples=r.integer("grid_samples", 1, MAX_GRID_SAMPLES, d.grid_samples),
        num_train_images=r.integer("num_train_images", 2, MAX_TRAIN_IMAGES, d.num_train_images),
        diffaugment=_augment_ops(r), g_ema=r.number("g_ema", 0.0, 0.99999, d.g_ema),
        code_weight=r.number("code_weight", 0.0, 100.0, d.code_weight))
    r.require(not gan.num_classes or config.dataset == "shapes",
              f"a class-conditional run needs labelled data (the shape sprites), not '{config.dataset}'.")
    check_budget(lambda: torch.nn.ModuleList([Generator(gan), Discriminator(gan)]), where)
    return config


def _augment_ops(r: ConfigReader) -> str:
    """The DiffAugment policy, only known op names (comma-separated)."""
    value = r.data.get("diffaugment", "")
    ops = [op.strip() for op in value.split(",") if op.strip()] if isinstance(value, str) else None
    if ops is None or len(ops) > len(AUGMENT_INFO) or any(op not in AUGMENT_INFO for op in ops):
        raise r.fail("diffaugment", value, f"comma-separated ops from {', '.join(AUGMENT_INFO)}")
    return ",".join(ops)


def _training_images(config: TrainConfig, name: str, data_ref: str | None,
                     progress) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The run's training set and its labels (None for unlabelled data): generated, from torchvision's
    default folder, or a folder the caller chose."""
    from .data import DataRequest, load_labelled_images

    if DATASET_INFO[config.dataset][2] and not data_ref:  # needs a folder
        raise CheckpointError(
            f"'{name}' was trained on a folder of images. A run file never decides which folder is read: "
            "start a new run on that folder instead.")
    request = DataRequest(data_ref or "", config.gan.image_size, config.seed, config.num_train_images)
    return load_labelled_images(config.dataset, request, progress)


def load_run(path: str | os.PathLike, images: torch.Tensor | None = None, device: str = "cpu",
             progress=None, data_ref: str | None = None, labels: torch.Tensor | None = None) -> GanTrainer:
    """Rebuild the trainer exactly as saved. images (and labels, for a conditional run): the training set
    (None: load it from the config; a placeholder is fine for sampling only).

    data_ref: the folder of a "folder" run, chosen by the user (a path written in the file is never used;
    torchvision datasets are read from the app's default data folder)."""
    header, tensors = read_run(path)
    name = Path(path).name
    where = f"'{name}'"
    config = run_config_from_header(header, where)  # checked before any tensor is built
    h = ConfigReader(header, where)
    step, grid_stride = h.integer("step", 0, 10**9), h.integer("grid_stride", 1, 10**9, 1)
    elapsed_s = h.number("elapsed_s", 0.0, 1e9, 0.0)
    grid_steps = h.ints("grid_steps", 0, 10**9, 0, 4096, ())
    grid_seen = h.integer("grid_seen", 0, 10**9, len(grid_steps))
    check_finite({k: v for k, v in tensors.items()
                  if k.startswith(("G.", "G_ema.", "D.", "opt_g.", "opt_d.", "fixed_z"))}, where)
    if images is None:
        images, labels = _training_images(config, name, data_ref, progress)
    if data_ref and DATASET_INFO[config.dataset][2]:
        config = config.with_(data_ref=str(data_ref))  # the folder the user chose (shown in the settings)
    trainer = GanTrainer(config, images, device, labels=labels)
    sub = lambda p: {k[len(p) + 1:]: v for k, v in tensors.items() if k.startswith(p + ".")}  # noqa: E731
    load_into(trainer.G, sub("G"), f"the generator of this run ({config.gan})")
    load_into(trainer.D, sub("D"), f"the discriminator of this run ({config.gan})")
    if trainer.G_ema is not None:
        load_into(trainer.G_ema, sub("G_ema"), f"the averaged generator of this run ({config.gan})")
    try:
        trainer.opt_g.load_state_dict(_unflatten_optimizer("opt_g", tensors, header["opt_g_groups"]))
        trainer.opt_d.load_state_dict(_unflatten_optimizer("opt_d", tensors, header["opt_d_groups"]))
        for group in trainer.opt_g.param_groups + trainer.opt_d.param_groups:
            ConfigReader(group, where).number("eps", 1e-12, 1e-2)
            ConfigReader(group, where).number("weight_decay", 0.0, 1.0)
        trainer.set_hparams()  # learning rates and betas as the checked config says
        trainer.rng.set_state(tensors["rng"])
        trainer.fixed_z = _shaped(tensors["fixed_z"], (config.grid_samples, config.gan.latent_size), "fixed_z")
        trainer.real_batch = _real_batch(tensors["real_batch"], config)
        trainer.metrics.extend(tensors["history.metrics"].numpy())
        trainer.diversity.extend(tensors["history.diversity"].numpy())
        if "history.coverage" in tensors:  # older runs have no coverage history
            trainer.coverage.extend(tensors["history.coverage"].numpy())
        grids = [(s, tensors[f"grid.{i}"].numpy()) for i, s in enumerate(grid_steps)]
    except (KeyError, ValueError, RuntimeError, TypeError, IndexError, AttributeError) as exc:
        detail = (str(exc).strip().splitlines() or [""])[0][:100]
        raise CheckpointError(f"{where} is incomplete or inconsistent: its optimiser state, random state or "
                              f"history does not fit ({type(exc).__name__}: {detail}).") from None
    trainer.step = step
    trainer.grids.items = grids
    trainer.grids.stride = grid_stride
    trainer.grids._seen = grid_seen
    trainer.elapsed_s = elapsed_s
    trainer.take_snapshot()
    return trainer


def _real_batch(tensor: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    g = config.gan
    if (tensor.dtype != torch.uint8 or tensor.dim() != 4 or not 1 <= tensor.shape[0] <= config.grid_samples
            or tuple(tensor.shape[1:]) != (g.channels, g.image_size, g.image_size)):
        raise ValueError(f"real_batch is {tuple(tensor.shape)} {tensor.dtype}, not uint8 images of this run")
    return tensor


def _shaped(tensor: torch.Tensor, shape: tuple[int, ...], name: str) -> torch.Tensor:
    if tuple(tensor.shape) != shape:
        raise ValueError(f"{name} has shape {tuple(tensor.shape)}, expected {shape}")
    return tensor

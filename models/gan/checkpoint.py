"""Save and resume a whole GAN run: G, D, both Adam states, step, curve history, grids, random state.

One safetensors file: tensors only (never unpickled) plus a JSON header in the metadata. Written to a
temporary file and renamed (os.replace), so a crash mid-save leaves the previous file intact.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..errors import CheckpointError
from ..loading import load_into
from .config import TrainConfig
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
    groups_g = _flatten_optimizer("opt_g", trainer.opt_g, tensors)
    groups_d = _flatten_optimizer("opt_d", trainer.opt_d, tensors)
    tensors["rng"] = trainer.rng.get_state()
    tensors["fixed_z"] = trainer.fixed_z.contiguous()
    tensors["real_batch"] = trainer.real_batch.contiguous()
    tensors["history.metrics"] = torch.from_numpy(trainer.metrics.view().copy())
    tensors["history.diversity"] = torch.from_numpy(trainer.diversity.view().copy())
    grid_steps = trainer.grids.steps()
    for i, (_, grid) in enumerate(trainer.grids.items):
        tensors[f"grid.{i}"] = torch.from_numpy(np.ascontiguousarray(grid))
    header = {
        "format": FORMAT, "version": VERSION, "config": trainer.config.to_dict(), "step": trainer.step,
        "opt_g_groups": groups_g, "opt_d_groups": groups_d, "grid_steps": grid_steps,
        "grid_stride": trainer.grids.stride, "grid_seen": trainer.grids._seen, "elapsed_s": elapsed_s,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"vision_explorer": json.dumps(header)})
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a saved run is an ordinary file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_run(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """(header, tensors) of a saved run; CheckpointError with a clear message for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"'{path}' does not exist.")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            keys = list(f.keys())
            if "vision_explorer" not in meta:
                example = ", ".join(keys[:3]) or "no tensors"
                raise CheckpointError(
                    f"'{path.name}' is not a saved GAN run of this app (it holds {len(keys)} tensors, e.g. {example}). "
                    "Open a file written by 'Save run'.")
            tensors = {k: f.get_tensor(k) for k in keys}
        header = json.loads(meta["vision_explorer"])
    except CheckpointError:
        raise
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"'{path.name}' is damaged or not a safetensors file ({str(exc)[:120]}).") from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"'{path.name}' was saved by another tool ({header.get('format')!r}), not as a GAN run.")
    if header.get("version", 0) > VERSION:
        raise CheckpointError(f"'{path.name}' comes from a newer version of the app (format {header['version']}).")
    return header, tensors


def load_run(path: str | os.PathLike, images: torch.Tensor | None = None, device: str = "cpu",
             progress=None) -> GanTrainer:
    """Rebuild the trainer exactly as saved. images: the training set (None: load it from the config)."""
    header, tensors = read_run(path)
    name = Path(path).name
    try:
        config = TrainConfig.from_dict(header["config"])
    except (TypeError, KeyError, ValueError) as exc:
        raise CheckpointError(f"'{name}' has an unreadable run configuration ({exc}).") from None
    if images is None:
        from .data import DataRequest, load_images
        images = load_images(config.dataset, DataRequest(config.data_ref, config.gan.image_size, config.seed,
                                                         config.num_train_images), progress)
    trainer = GanTrainer(config, images, device)
    sub = lambda p: {k[len(p) + 1:]: v for k, v in tensors.items() if k.startswith(p + ".")}  # noqa: E731
    load_into(trainer.G, sub("G"), f"the generator of this run ({config.gan})")
    load_into(trainer.D, sub("D"), f"the discriminator of this run ({config.gan})")
    try:
        trainer.opt_g.load_state_dict(_unflatten_optimizer("opt_g", tensors, header["opt_g_groups"]))
        trainer.opt_d.load_state_dict(_unflatten_optimizer("opt_d", tensors, header["opt_d_groups"]))
        trainer.rng.set_state(tensors["rng"])
        trainer.fixed_z = tensors["fixed_z"]
        trainer.real_batch = tensors["real_batch"]
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"'{name}' is incomplete: its optimiser or random state is missing ({exc}).") from None
    trainer.step = int(header["step"])
    trainer.metrics.extend(tensors["history.metrics"].numpy())
    trainer.diversity.extend(tensors["history.diversity"].numpy())
    trainer.grids.items = [(s, tensors[f"grid.{i}"].numpy()) for i, s in enumerate(header.get("grid_steps", []))]
    trainer.grids.stride = int(header.get("grid_stride", 1))
    trainer.grids._seen = int(header.get("grid_seen", len(trainer.grids.items)))
    trainer.elapsed_s = float(header.get("elapsed_s", 0.0))
    trainer.take_snapshot()
    return trainer

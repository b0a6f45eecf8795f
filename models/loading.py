"""Reading weights safely: bundled safetensors, user checkpoints, torchvision's hub cache.

Never unpickles code: safetensors, or ``torch.load(..., weights_only=True)``. Every failure is a
``UserFacingError`` with a message that says what to do.
"""
from __future__ import annotations

import os
import pickle
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .config_checks import check_finite
from .errors import CheckpointError, UserFacingError, WeightsUnavailableError

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
WEIGHTS_DIR = ASSETS_DIR / "weights"

ProgressFn = Callable[[float | None, str], None]


def bundled_weights_path(filename: str) -> Path:
    """Path of a bundled weights file in assets/weights/ (raises WeightsUnavailableError if absent)."""
    path = WEIGHTS_DIR / filename
    if not path.is_file():
        raise WeightsUnavailableError(
            f"The bundled weights '{filename}' are missing from {WEIGHTS_DIR}: "
            "reinstall, or train them with the script named in the model card.")
    return path


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file: .safetensors, or a torch file holding only tensors (weights_only)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint '{path}' does not exist.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"Checkpoint '{path.name}' is empty.")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"'{path.name}' is not a readable safetensors file ({exc}).") from None
    return _find_state_dict(read_torch_weights(path), path.name)


def read_torch_weights(path: str | os.PathLike) -> object:
    """torch.load(weights_only=True) of a file, every failure one clear sentence (never torch's own advice)."""
    path = Path(path)
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"'{path.name}' was refused for safety: it is not a plain weights file, and loading it would run code "
            "stored in it. Use a safetensors file or a state_dict of tensors.") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, AttributeError, TypeError, OSError) as exc:
        raise CheckpointError(f"'{path.name}' is damaged or not a PyTorch weights file "
                              f"({type(exc).__name__}).") from None


def _find_state_dict(obj: object, name: str) -> dict[str, torch.Tensor]:
    """Accept a bare state dict or the common wrappers {'state_dict': ...}, {'model': ...}."""
    if isinstance(obj, Mapping):
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return dict(obj)
        for key in ("state_dict", "model", "model_state_dict", "ema", "generator"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return dict(inner)
    raise CheckpointError(f"'{name}' holds no state dict of tensors.")


def load_into(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], what: str) -> torch.nn.Module:
    """Load weights strictly; a mismatch becomes a readable CheckpointError naming what differs."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    wrong = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
             for k, v in own.items() if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append(f"{len(wrong)} tensors have other shapes (e.g. {wrong[0]})")
        if missing:
            parts.append(f"{len(missing)} expected tensors are missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} tensors are not part of this model (e.g. {unexpected[0]})")
        raise CheckpointError(f"This checkpoint does not fit {what}: " + "; ".join(parts) + ".")
    check_finite(state_dict, f"This checkpoint of {what}")
    model.load_state_dict(state_dict, strict=True)
    return model


def save_safetensors(model_or_state: torch.nn.Module | Mapping[str, torch.Tensor], path: str | os.PathLike,
                     metadata: Mapping[str, str] | None = None) -> Path:
    """Write contiguous CPU tensors atomically (temp file, then rename)."""
    state = model_or_state.state_dict() if isinstance(model_or_state, torch.nn.Module) else model_or_state
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    return write_safetensors(tensors, path, metadata)


def write_safetensors(tensors: Mapping[str, torch.Tensor], path: str | os.PathLike,
                      metadata: Mapping[str, str] | None = None) -> Path:
    """A safetensors file at exactly `path`, atomically (atomic_write). The bytes are made in memory and
    written by us, so the only temp file is ours (safetensors' own save_file uses a temp name of its own)."""
    data = save(dict(tensors), metadata=dict(metadata or {}))
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


STALE_TMP_S = 60.0  # a temp file of ours older than this, beside the target, is left over from a crash


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Write exactly `path`, atomically: write(tmp) to a private temp file beside it, then rename it into place.

    Nothing else is touched, except temp files an earlier save of this same path left behind when it was
    killed mid-write (named "<name>.<8 random chars>.tmp", older than STALE_TMP_S): those are removed.
    """
    path = Path(path)
    if path.is_dir():
        raise UserFacingError(f"Could not save: '{path}' is a folder.")
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a saved file is an ordinary file
        os.replace(tmp, path)
    except OSError as exc:  # a read-only or full disk, a parent that is a file, ...
        raise UserFacingError(f"Could not save '{path}': {exc.strerror or type(exc).__name__}. "
                              "Nothing was changed there.") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return path


def remove_stale_temp_files(path: Path, older_than_s: float = STALE_TMP_S) -> list[Path]:
    """Delete the temp files atomic_write (or an older save of this app) left beside `path` in a crash."""
    pattern = re.compile(re.escape(path.name) + r"\.?[A-Za-z0-9_]{8}\.tmp")
    removed = []
    now = time.time()
    try:
        candidates = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return removed
    for stale in candidates:
        try:
            if stale.is_file() and not stale.is_symlink() and now - stale.stat().st_mtime > older_than_s:
                stale.unlink()
                removed.append(stale)
        except OSError:
            pass
    return removed


def hub_checkpoint_path(url: str) -> Path:
    """Where torchvision looks for a downloaded weights file: <torch hub dir>/checkpoints/<file name>."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url.split("?")[0])


def torchvision_state_dict(weights, progress: ProgressFn | None = None) -> dict[str, torch.Tensor]:
    """State dict of a torchvision weights enum, from the hub cache or downloaded with progress."""
    path = hub_checkpoint_path(weights.url)
    if not path.is_file():
        _download(weights.url, path, f"{weights}", progress)
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt cache file: say where it is
        raise CheckpointError(f"The cached weights file {path} is unreadable ({type(exc).__name__}); delete it "
                              "and try again.") from None
    return _find_state_dict(state, path.name)


def _download(url: str, dest: Path, what: str, progress: ProgressFn | None) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=20) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done / total if total else None, f"Downloading {what}: {done / 2**20:.0f} MB")
        shutil.move(str(tmp), dest)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        if tmp.exists():
            tmp.unlink()
        raise WeightsUnavailableError(
            f"{what} is not in the local cache ({dest}) and could not be downloaded ({exc}). "
            "Connect to the internet once, or copy the file there.") from None

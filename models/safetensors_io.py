"""Reading a safetensors file's metadata (and tensors) with one clear error for a file that isn't one.

Used by every loader whose architecture lives in the metadata (ViT, DETR, DDPM, GAN runs): the
metadata is read and checked before any tensor is loaded or any model is built.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import CheckpointError


def _unreadable(path: Path, exc: BaseException) -> CheckpointError:
    detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
    return CheckpointError(f"'{path.name}' is damaged or not a readable safetensors file ({detail}).")


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of a .safetensors file (no tensor is read); CheckpointError if unreadable."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types for a bad file
        raise _unreadable(path, exc) from None
    return dict(meta)


def read_with_metadata(path: str | os.PathLike) -> tuple[dict[str, str], dict]:
    """(metadata, tensors) of a .safetensors file, tensors on the CPU; CheckpointError if unreadable."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001
        raise _unreadable(path, exc) from None
    return dict(meta), tensors

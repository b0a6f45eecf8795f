"""Which torch device to run on: CUDA, then Apple MPS, then CPU."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # "cuda", "mps" or "cpu": what torch.device() takes
    label: str  # what the status bar shows, e.g. "CUDA: NVIDIA H100"
    memory_in_use_mb: float | None  # allocated GPU memory, None on CPU


def available_devices() -> list[str]:
    out = []
    if torch.cuda.is_available():
        out.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    out.append("cpu")
    return out


def unavailable_reason(base: str) -> str | None:
    """Why device kind `base` ("cuda", "mps", "cpu") can't be used here, or None when it can."""
    if base == "cuda" and not torch.cuda.is_available():
        if torch.version.cuda is None:
            return "this PyTorch was built without CUDA support"
        return "no NVIDIA GPU (or driver) found"
    if base == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_built():
            return "Apple MPS exists only on Macs with Apple silicon"
        if not mps.is_available():
            return "MPS is not available on this Mac (macOS 12.3 or later is needed)"
    if base not in ("cuda", "mps", "cpu"):
        return f"'{base}' is not a device kind (use auto, cuda, cuda:N, mps or cpu)"
    return None


def pick_device(requested: str | None = None) -> str:
    """The requested device if it is usable, else the best one available ("auto" or None: best)."""
    devices = available_devices()
    if requested and requested != "auto":
        base = requested.split(":")[0]
        if base not in devices:
            why = unavailable_reason(base) or "not found"
            raise ValueError(f"Device '{requested}' is not available here: {why} (available: {', '.join(devices)}).")
        index = requested.partition(":")[2]
        if base == "cuda" and index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ValueError(f"Device '{requested}' is not available here: there are "
                             f"{torch.cuda.device_count()} CUDA devices (cuda:0 to cuda:{torch.cuda.device_count() - 1}).")
        return requested
    return devices[0]


def describe_device(name: str) -> DeviceInfo:
    if name.startswith("cuda"):
        dev = torch.device(name)
        idx = dev.index if dev.index is not None else torch.cuda.current_device()
        return DeviceInfo(name, f"CUDA: {torch.cuda.get_device_name(idx)}",
                          torch.cuda.memory_allocated(idx) / 2**20)
    if name == "mps":
        used = torch.mps.current_allocated_memory() / 2**20 if hasattr(torch, "mps") else None
        return DeviceInfo(name, "Apple MPS", used)
    return DeviceInfo(name, f"CPU ({torch.get_num_threads()} threads)", None)


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return "out of memory" in text and ("cuda" in text or "mps" in text)

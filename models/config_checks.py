"""Checks for the settings read from a file (weights metadata, a run file, a training checkpoint).

A file may come from anywhere, so nothing in it is trusted before it is checked: every field's type and
range, known names only (datasets, schedules, losses), never a path, and the parameter count of the model
the config describes, computed on the "meta" device (shapes only, no memory) before any real tensor is
built. Every refusal is a ``CheckpointError`` naming the file and the field. One helper for every model.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping

import torch

from .errors import CheckpointError

MAX_PARAMETERS = 100_000_000  # the app's own architectures (bundled, or trained with its scripts); about 400 MB
_MISSING = object()


class ConfigReader:
    """Reads one config mapping from a file; each accessor returns the checked value or raises.

    Values may be JSON types (run files, checkpoints) or text (safetensors metadata is str -> str).
    A missing key gives the default, when there is one.
    """

    def __init__(self, data: object, where: str):
        if not isinstance(data, Mapping):
            raise CheckpointError(f"{where}: the model settings are not a table of values ({type(data).__name__}).")
        self.data, self.where = data, where

    def _raw(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise CheckpointError(f"{self.where}: the setting '{key}' is missing.")
        return default

    def fail(self, key: str, value: object, wanted: str) -> CheckpointError:
        text = repr(value)
        text = text if len(text) <= 40 else text[:37] + "..."
        return CheckpointError(f"{self.where}: the setting {key}={text} is refused ({wanted}).")

    def integer(self, key: str, lo: int, hi: int, default: Any = _MISSING) -> int:
        value = self._raw(key, default)
        number = _as_int(value)
        if number is None or not lo <= number <= hi:
            raise self.fail(key, value, f"a whole number from {lo:,} to {hi:,}")
        return number

    def number(self, key: str, lo: float, hi: float, default: Any = _MISSING) -> float:
        value = self._raw(key, default)
        number = _as_float(value)
        if number is None or not lo <= number <= hi:
            raise self.fail(key, value, f"a number from {lo:g} to {hi:g}")
        return number

    def flag(self, key: str, default: Any = _MISSING) -> bool:
        value = self._raw(key, default)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in ("True", "False", "true", "false"):
            return value.lower() == "true"
        raise self.fail(key, value, "true or false")

    def choice(self, key: str, choices: Iterable[str], default: Any = _MISSING) -> str:
        value = self._raw(key, default)
        known = tuple(choices)
        if not isinstance(value, str) or value not in known:
            raise self.fail(key, value, f"one of {', '.join(known)}")
        return value

    def ints(self, key: str, lo: int, hi: int, min_len: int, max_len: int, default: Any = _MISSING) -> tuple[int, ...]:
        value = self._raw(key, default)
        items = _as_sequence(value)
        numbers = tuple(_as_int(v) for v in items) if items is not None else None
        if (numbers is None or not min_len <= len(numbers) <= max_len
                or any(n is None or not lo <= n <= hi for n in numbers)):
            raise self.fail(key, value, f"{min_len} to {max_len} whole numbers from {lo:,} to {hi:,}")
        return numbers  # type: ignore[return-value]

    def names(self, key: str, max_count: int, max_chars: int = 80, default: Any = _MISSING) -> tuple[str, ...]:
        value = self._raw(key, default)
        items = _as_sequence(value)
        if (items is None or len(items) > max_count
                or any(not isinstance(v, str) or len(v) > max_chars for v in items)):
            raise self.fail(key, value, f"at most {max_count} names of at most {max_chars} characters")
        return tuple(str(v).strip() for v in items)

    def require(self, ok: bool, message: str) -> None:
        """A rule between fields (e.g. width divisible by heads)."""
        if not ok:
            raise CheckpointError(f"{self.where}: {message}")


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and 0 < len(value) <= 20:
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and 0 < len(value) <= 40:
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _as_sequence(value: object) -> list | None:
    """A list/tuple, or text like "(24, 48, 96)", "32,64" or "[8]" (safetensors metadata)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str) and len(value) <= 2000:
        text = value.strip().strip("()[]")
        return [part.strip().strip("'\"") for part in text.split(",") if part.strip()]
    return None


def count_parameters(build: Callable[[], torch.nn.Module]) -> int:
    """Parameters and buffers of the module build() makes, built on the meta device (no memory is used)."""
    with torch.device("meta"):
        module = build()
    return sum(t.numel() for t in module.parameters()) + sum(t.numel() for t in module.buffers())


def check_budget(build: Callable[[], torch.nn.Module], where: str, limit: int = MAX_PARAMETERS) -> int:
    """Refuse a config whose model would exceed the parameter budget; call after the field checks."""
    try:
        count = count_parameters(build)
    except (ValueError, RuntimeError, TypeError, ZeroDivisionError) as exc:
        raise CheckpointError(f"{where}: the model settings do not describe a buildable model "
                              f"({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}).") from None
    if count > limit:
        raise CheckpointError(f"{where}: the settings describe a model of {count:,} parameters; this app "
                              f"opens models of its own architectures up to {limit:,}.")
    return count


def check_finite(tensors: Mapping[str, torch.Tensor], where: str) -> None:
    """Refuse weights holding NaN or Inf, naming the first tensor that does."""
    for name, tensor in tensors.items():
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointError(f"{where}: the weights hold NaN or Inf values ({bad:,} in '{name}'); "
                                  "the file is damaged or the training diverged.")


def check_module_finite(module: torch.nn.Module, where: str) -> None:
    """check_finite over a module's parameters and buffers (for models loaded by transformers/diffusers)."""
    check_finite(dict(module.named_parameters()), where)
    check_finite(dict(module.named_buffers()), where)

"""Typed reads from QSettings: a value of the wrong type is dropped with a warning, never a crash.

A settings file is user-editable text (`recent_files=@Rect(1 2 3 4)`, `geometry=hello`, `device=3`):
every read here checks the type (and, where given, the allowed values), removes what does not fit,
logs why, and returns the default.
"""
from __future__ import annotations

import logging
from typing import Iterable

from PySide6.QtCore import QByteArray, QSettings

log = logging.getLogger("vision_explorer.settings")

MAX_TEXT = 4096  # longer strings (paths, keys) are not something this app wrote


def _raw(settings: QSettings, key: str):
    try:
        value = settings.value(key)
    except Exception as exc:  # noqa: BLE001 - a value Qt cannot even convert
        _drop(settings, key, f"unreadable ({type(exc).__name__})")
        return None
    if value is None and settings.contains(key):
        _drop(settings, key, "unreadable (not a value Qt can load)")
    return value


def _drop(settings: QSettings, key: str, why: str) -> None:
    log.warning("settings: ignoring '%s' in %s: %s", key, settings.fileName(), why)
    try:
        settings.remove(key)
    except Exception:  # noqa: BLE001 - a read-only file: ignoring the value is enough
        pass


def _describe(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}"


def read_str(settings: QSettings, key: str, default: str, allowed: Iterable[str] | None = None) -> str:
    """A string (one of `allowed` when given); anything else -> default, with a warning."""
    value = _raw(settings, key)
    if value is None:
        return default
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or "\x00" in value:
        _drop(settings, key, f"expected text, got {_describe(value)}")
        return default
    if allowed is not None and value not in tuple(allowed):
        _drop(settings, key, f"{value[:60]!r} is not one of {', '.join(allowed)}")
        return default
    return value


def read_str_list(settings: QSettings, key: str, limit: int) -> list[str]:
    """A list of strings (a single string counts as a list of one); odd entries are dropped."""
    value = _raw(settings, key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value] if value else []
    if not isinstance(value, (list, tuple)):
        _drop(settings, key, f"expected a list of text, got {_describe(value)}")
        return []
    good = [v for v in value if isinstance(v, str) and v and len(v) <= MAX_TEXT and "\x00" not in v]
    if len(good) != len(value):
        log.warning("settings: dropped %d odd entries of '%s' in %s", len(value) - len(good), key,
                    settings.fileName())
        settings.setValue(key, good[:limit])
    return good[:limit]


def read_bytes(settings: QSettings, key: str) -> QByteArray | None:
    """A QByteArray (window geometry); anything else -> None, with a warning."""
    value = _raw(settings, key)
    if value is None:
        return None
    if not isinstance(value, QByteArray) or value.isEmpty():
        _drop(settings, key, f"expected bytes, got {_describe(value)}")
        return None
    return value

"""Where file dialogs start: Open in the last-used folder (else the samples), exports in the user's Pictures.

Exports never default to a folder inside the install (assets/samples would mix user files with ours).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

from .samples import SAMPLES_DIR
from .settings_store import read_str

INSTALL_DIR = Path(__file__).resolve().parent.parent
OPEN_KEY = "last_dir"
EXPORT_KEY = "export_dir"
RUNS_KEY = "runs_dir"


def _existing_dir(text: str) -> Path | None:
    try:
        p = Path(text).expanduser()
        return p if p.is_absolute() and p.is_dir() else None
    except (OSError, ValueError):
        return None


def _inside_install(p: Path) -> bool:
    try:
        return p.resolve().is_relative_to(INSTALL_DIR)
    except (OSError, RuntimeError):
        return False


def pictures_dir() -> Path:
    """The user's Pictures folder when there is one, else home."""
    for loc in (QStandardPaths.StandardLocation.PicturesLocation, QStandardPaths.StandardLocation.HomeLocation):
        p = _existing_dir(QStandardPaths.writableLocation(loc))
        if p is not None:
            return p
    return Path.home()


def open_start_dir(settings: QSettings) -> Path:
    """The folder of the last opened file, else the bundled samples, else home."""
    last = _existing_dir(read_str(settings, OPEN_KEY, ""))
    if last is not None:
        return last
    return SAMPLES_DIR if SAMPLES_DIR.is_dir() else Path.home()


def remember_open(settings: QSettings, path: str | Path) -> None:
    settings.setValue(OPEN_KEY, str(Path(path).resolve().parent))


def export_start_dir(settings: QSettings) -> Path:
    """The folder of the last export (if outside the install), else Pictures, else home."""
    last = _existing_dir(read_str(settings, EXPORT_KEY, ""))
    if last is not None and not _inside_install(last):
        return last
    return pictures_dir()


def export_start_path(settings: QSettings, filename: str) -> str:
    """What a Save dialog should propose: `filename` in export_start_dir()."""
    return str(export_start_dir(settings) / Path(filename).name)


def remember_export(settings: QSettings, path: str | Path) -> None:
    settings.setValue(EXPORT_KEY, str(Path(path).resolve().parent))


def runs_start_dir(settings: QSettings) -> Path:
    """Where run files and training checkpoints are saved and resumed from: the folder of the last one (if
    outside the install), else the user's Documents folder, else home (never the working folder)."""
    last = _existing_dir(read_str(settings, RUNS_KEY, ""))
    if last is not None and not _inside_install(last):
        return last
    p = _existing_dir(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation))
    return p if p is not None else Path.home()


def remember_runs(settings: QSettings, path: str | Path) -> None:
    settings.setValue(RUNS_KEY, str(Path(path).resolve().parent))

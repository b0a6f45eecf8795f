"""Where the data lab keeps its files: the lab's generated images and its finished runs, in the app's data
folder (next to the settings file when $VISION_EXPLORER_SETTINGS names one: tests keep it in a temp folder)."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from .folders import INSTALL_DIR

SHIPPED_GRID = INSTALL_DIR / "assets" / "lab" / "data_hunger_grid.json"  # models.lab.cache.SHIPPED_GRID
SHIPPED_FINE_TUNE = INSTALL_DIR / "assets" / "lab" / "fine_tune_results.json"  # models.lab.fine_tune.SHIPPED_FINE_TUNE


def lab_dir() -> Path:
    settings = os.environ.get("VISION_EXPLORER_SETTINGS")
    if settings:
        return Path(settings).resolve().parent / "lab"
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return (Path(base) if base else Path.home() / ".vision-explorer") / "lab"


def images_dir() -> Path:
    """models.lab.data's image cache (the 16,000-image pool and the held-out set)."""
    return lab_dir() / "images"


def runs_dir() -> Path:
    """models.lab.cache.RunCache's folder: one JSON file per finished run."""
    return lab_dir() / "runs"


def models_dir() -> Path:
    """Models fine-tuned on the user's folders."""
    return lab_dir() / "models"

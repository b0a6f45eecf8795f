"""The six tab pages, in the order they appear (Ctrl+1..6)."""
from __future__ import annotations

import importlib

from .base import TabPage

# (module, class) of each page, in tab order: the one list the main window reads
TAB_CLASSES: tuple[tuple[str, str], ...] = (
    ("attention_tab", "AttentionTab"),
    ("patches_tab", "PatchesTab"),
    ("detection_tab", "DetectionTab"),
    ("gan_tab", "GanTab"),
    ("diffusion_tab", "DiffusionTab"),
    ("compare_tab", "CompareTab"),
)
TAB_KEYS = ("attention", "patches", "detection", "gan", "diffusion", "compare")


def load_tab_classes() -> list[type[TabPage]]:
    return [getattr(importlib.import_module(f"{__name__}.{mod}"), cls) for mod, cls in TAB_CLASSES]

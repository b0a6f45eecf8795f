"""Registers every detector the Detection tab can show (task "detection"). Imports torch."""
from __future__ import annotations

from . import bundled, hf_detectors, tv_detectors  # noqa: F401  (each registers its specs at import)
from .bundled import KEY as BUNDLED_KEY

__all__ = ["BUNDLED_KEY"]

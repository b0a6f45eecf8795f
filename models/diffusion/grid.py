"""Images as uint8 and batches as one tiled grid: now shared by every task in models/imaging.py
(re-exported here for the diffusion modules that import them from this place)."""
from __future__ import annotations

from models.imaging import grid_columns, mosaic, to_uint8

__all__ = ["grid_columns", "mosaic", "to_uint8"]

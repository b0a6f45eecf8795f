"""The Diffusion tab (placeholder until its issue lands)."""
from __future__ import annotations

from .base import PlaceholderPage


class DiffusionTab(PlaceholderPage):
    key = "diffusion"
    title = "Diffusion"

"""The GAN training tab (placeholder until its issue lands)."""
from __future__ import annotations

from .base import PlaceholderPage


class GanTab(PlaceholderPage):
    key = "gan"
    title = "GAN training"

"""The Patch embeddings tab (placeholder until its issue lands)."""
from __future__ import annotations

from .base import PlaceholderPage


class PatchesTab(PlaceholderPage):
    key = "patches"
    title = "Patch embeddings"

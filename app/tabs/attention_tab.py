"""The Attention tab (placeholder until its issue lands)."""
from __future__ import annotations

from .base import PlaceholderPage


class AttentionTab(PlaceholderPage):
    key = "attention"
    title = "Attention"

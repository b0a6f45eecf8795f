"""The Detection tab (placeholder until its issue lands)."""
from __future__ import annotations

from .base import PlaceholderPage


class DetectionTab(PlaceholderPage):
    key = "detection"
    title = "Detection"

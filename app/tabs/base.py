"""The base of the five tab pages: what the main window and the --screenshot CLI rely on."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..context import AppContext


class TabPage(QWidget):
    key: str = ""  # "attention" | "patches" | "detection" | "gan" | "diffusion"
    title: str = ""  # tab text
    # sub-views addressable with `--view VIEW` (the first is the default); a page lists its own
    views: tuple[str, ...] = ()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.image: np.ndarray | None = None

    def set_image(self, image: np.ndarray) -> None:
        """The current image changed ((H, W, 3) uint8 RGB, shared by all tabs). Start work if needed."""
        self.image = image

    def on_device_changed(self, device: str) -> None:
        """Models move to the new device; re-run what is shown if needed."""

    def is_busy(self) -> bool:
        """True while work started for the current image (or by prepare_screenshot) is still running."""
        return False

    def export_widget(self) -> QWidget:
        """What File > Export view as PNG saves."""
        return self

    def show_view(self, view: str) -> None:
        """Bring sub-view `view` (one of `views`) to the front (--view, and the page's own controls)."""
        if view not in self.views:
            raise ValueError(f"the {self.title} tab has no view {view!r}; it has: {', '.join(self.views) or 'none'}")

    def prepare_screenshot(self) -> None:
        """Start what a screenshot of this tab should show (called by --screenshot after set_image)."""

    def on_shown(self) -> None:
        """The tab became the visible one."""

    def confirm_close(self) -> bool:
        """The window is about to close. False keeps it open: the page asked about unsaved work and the user
        cancelled, or the page saves first and closes the window itself when done."""
        return True

    def shutdown(self) -> None:
        """The window is closing: stop timers, cancel this tab's work."""


class PlaceholderPage(TabPage):
    """A tab whose content is not built yet."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        layout = QVBoxLayout(self)
        self._label = QLabel(f"{self.title}: coming soon.")
        layout.addWidget(self._label)

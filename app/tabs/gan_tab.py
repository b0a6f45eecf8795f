"""The GAN training tab: a thin host of two pages, chosen with the Mode buttons or `--view`.

- "image": GanImagePage (gan_image_page.py), a DCGAN trained live with curves and a sample history;
- "2d": Gan2DPage (gan_2d_page.py), GAN Lab's 2-D point clouds with D's map and G's gradients;
- "conditional": the image page with the bundled class-conditional run and its class panel ("a star").
Each page has a Qt-free session (app/gan_session.py, app/gan_toy_session.py) holding its state.
"""
from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QRadioButton, QStackedWidget, QVBoxLayout, QWidget

from ..context import AppContext
from .base import TabPage
from .gan_2d_page import Gan2DPage
from .gan_image_page import GanImagePage


class GanTab(TabPage):
    key = "gan"
    title = "GAN training"
    views = ("image", "2d", "conditional")

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._loaded_once = False
        self._view = "image"
        self.image_page = GanImagePage(ctx)
        self.toy_page = Gan2DPage(ctx)
        self.mode_buttons = {"image": QRadioButton("Images (DCGAN)"), "2d": QRadioButton("2-D points (GAN Lab)")}
        self.mode_buttons["image"].setChecked(True)
        group = QButtonGroup(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Mode:</b>"))
        for button in self.mode_buttons.values():
            group.addButton(button)
            top.addWidget(button)
        top.addStretch(1)
        self.mode_buttons["2d"].toggled.connect(self._on_mode)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.image_page)
        self.stack.addWidget(self.toy_page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)

    def current_view(self) -> str:
        if self.stack.currentWidget() is self.toy_page:
            return "2d"
        return "conditional" if self._view == "conditional" else "image"

    def show_view(self, view: str) -> None:
        super().show_view(view)
        self._view = view
        self.mode_buttons["2d" if view == "2d" else "image"].setChecked(True)  # _on_mode switches the page

    @Slot(bool)
    def _on_mode(self, toy: bool) -> None:
        self.stack.setCurrentWidget(self.toy_page if toy else self.image_page)
        if toy:
            self.image_page.pause()  # one training at a time on the shared worker
            self.toy_page.ensure_run()
        else:
            self.toy_page.halt()

    # ---- TabPage
    def on_shown(self) -> None:
        if not self._loaded_once:
            self._loaded_once = True
            self.image_page.load_initial()

    def is_busy(self) -> bool:
        if self.current_view() == "2d":
            return self.toy_page.is_busy()
        return self.image_page.session.screenshot_busy() or self.image_page.classes.busy()

    def prepare_screenshot(self) -> None:
        self._loaded_once = True
        if self.current_view() == "2d":
            self.toy_page.prepare_screenshot()
        else:
            self.image_page.prepare_screenshot(conditional=self.current_view() == "conditional")

    def export_widget(self) -> QWidget:
        return self.stack.currentWidget()

    def on_device_changed(self, device: str) -> None:
        """A run keeps its optimiser state on its own device; new runs use the new one."""
        note = self.image_page.session.device_note(device)
        if note:
            self.ctx.show_message(note, 8000)

    def confirm_close(self) -> bool:
        return self.image_page.confirm_close()

    def shutdown(self) -> None:
        self.image_page.shutdown()
        self.toy_page.shutdown()

"""Small pieces of the main window: the error banner and the highlight shown while a file is dragged over."""
from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget


class ErrorBanner(QWidget):
    """A dismissible red line at the top of the window: errors are visible but never block."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setStyleSheet("#errorBanner { background: #5c1f1f; } QLabel { color: #ffdede; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()


class DropOverlay(QLabel):
    """A translucent frame over the whole window while something we can open is dragged over it.

    A child of `host` that follows its size; transparent for the mouse, so the drop reaches the window."""

    def __init__(self, host: QWidget) -> None:
        super().__init__(host)
        self.setObjectName("dropOverlay")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setStyleSheet("#dropOverlay { background: rgba(40, 110, 200, 70); border: 4px dashed #5aa0ff;"
                           " border-radius: 12px; color: white; font-size: 22px; font-weight: bold; }")
        host.installEventFilter(self)
        self.hide()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if obj is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.parentWidget().rect().adjusted(6, 6, -6, -6))
        return False

    def show_for(self, what: str) -> None:
        self.setText(f"<span style='background-color:#1d4f91;'>&nbsp;Drop to open {html.escape(what)}&nbsp;</span>")
        self.setGeometry(self.parentWidget().rect().adjusted(6, 6, -6, -6))
        self.raise_()
        self.show()

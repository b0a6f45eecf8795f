"""Content that shows a centred message ("Loading the model...") until there is something to draw.

Instead of empty plots with arbitrary axes, a view sits in a ``Placeholder``: ``show_message(text)`` puts
the message in front, ``show_content()`` the view. Plain Qt, no torch.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QWidget


class Placeholder(QStackedWidget):
    def __init__(self, content: QWidget, message: str = "Loading the model...", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel(message)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #5f6368; font-size: 15px;")
        self.content = content
        self.addWidget(self.message)
        self.addWidget(content)
        self.setCurrentIndex(0)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.setCurrentIndex(0)

    def show_content(self) -> None:
        self.setCurrentIndex(1)

    def showing_content(self) -> bool:
        return self.currentIndex() == 1

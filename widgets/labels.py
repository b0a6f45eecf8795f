"""Small label helpers shared by pages."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


def wrapped_label(text: str = "", bold: bool = False, lines: int = 0) -> QLabel:
    """A wrapping label; with `lines`, a fixed height, so a new text never re-lays out (and repaints) the page."""
    label = QLabel(text)
    label.setWordWrap(True)
    if bold:
        label.setStyleSheet("font-weight: bold;")
    if lines:
        label.setFixedHeight(label.fontMetrics().lineSpacing() * lines + 4)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    return label

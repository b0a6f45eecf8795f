"""Small label helpers shared by pages."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy


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


def title_and_readout() -> tuple[QLabel, QLabel]:
    """A bold title and a grey monospace readout line above a plot; long texts never widen the page."""
    title, readout = QLabel(""), QLabel(" ")
    title.setStyleSheet("font-weight: bold;")
    readout.setStyleSheet("color: #9aa0a6; font-family: monospace;")
    for label in (title, readout):
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return title, readout

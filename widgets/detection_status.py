"""A status line whose text changes often without re-laying out the page beside it. No torch here."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget


class StatusLine(QWidget):
    """Up to `lines` lines of word-wrapped text whose changes repaint only this widget. A fixed height and a
    constant size hint: unlike QLabel.setText, a new text never re-lays out the page beside it (the
    summary changes with every result and every threshold step). The full text is also the tooltip.
    With `width_of`, a fixed width that fits that text (for a short, often changing text)."""

    def __init__(self, lines: int = 2, width_of: str = "", parent=None) -> None:
        super().__init__(parent)
        self._text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + 4)
        if width_of:
            self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self.setFixedWidth(self.fontMetrics().horizontalAdvance(width_of) + 8)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # paints its own background: parents need not
        side = Qt.AlignmentFlag.AlignRight if width_of else Qt.AlignmentFlag.AlignLeft
        self._flags = int(Qt.TextFlag.TextWordWrap | side | Qt.AlignmentFlag.AlignVCenter)
        self._colours()

    def _colours(self) -> None:
        self._bg = self.palette().color(QPalette.ColorRole.Window)
        self._fg = self.palette().color(QPalette.ColorRole.WindowText)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._colours()
        super().changeEvent(event)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        if text != self._text:
            self._text = text
            self.setToolTip(text)
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(120, self.height())

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(event.rect(), self._bg)
        p.setPen(self._fg)
        p.drawText(self.rect(), self._flags, self._text)
        p.end()

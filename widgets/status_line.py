"""Texts that never move the layout around them: a status line and a word-wrapped label with reserved height.

``StatusLine``: a short status ("Running the model...", a model summary, an error) in a fixed number of
lines; longer texts are cut (the whole text is in the tooltip). ``ReservedLabel``: a word-wrapped
explanation whose height is reserved for the longest of the texts it may show, so a picture above or
below it keeps its place when the text changes. Plain Qt, no torch.
"""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

KIND_STYLE = {
    "info": "",
    "busy": "color: #1a73e8;",
    "error": "color: #c5221f;",
}


class StatusLine(QLabel):
    """A status text of at most `lines` lines, fixed height; kind "info", "busy" or "error" sets its colour."""

    def __init__(self, text: str = "", lines: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.lines = int(lines)
        margins = self.contentsMargins()
        self.setFixedHeight(self.fontMetrics().lineSpacing() * self.lines + margins.top() + margins.bottom() + 2)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.kind = "info"
        self.set_status(text)

    def set_status(self, text: str, kind: str = "info") -> None:
        if kind not in KIND_STYLE:
            raise ValueError(f"unknown status kind {kind!r}; one of {', '.join(KIND_STYLE)}")
        if kind != self.kind:
            self.kind = kind
            self.setStyleSheet(KIND_STYLE[kind])
        if text != self.text():
            self.setText(text)
            self.setToolTip(text)


def wrapped_height(metrics: QFontMetrics, width: int, text: str) -> int:
    """Height of `text` word-wrapped to `width` pixels."""
    if not text:
        return 0
    flags = int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft)
    return metrics.boundingRect(QRect(0, 0, max(1, width), 100_000), flags, text).height()


class ReservedLabel(QLabel):
    """A word-wrapped label as tall as the longest of `reserve` texts at its current width (and never shorter
    than `min_lines`), so changing between them does not move the widgets around it."""

    def __init__(self, text: str = "", min_lines: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.min_lines = int(min_lines)
        self._reserve: tuple[str, ...] = ()
        self._width = -1
        self._fit()

    def reserve(self, texts) -> None:
        """The texts this label may show (plain text); its height fits the tallest of them."""
        self._reserve = tuple(texts)
        self._width = -1
        self._fit()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        if text == self.text():
            return
        super().setText(text)
        if wrapped_height(self.fontMetrics(), self._text_width(), text) > self.height():
            self._width = -1  # a text longer than every reserved one: grow once (better than clipping)
            self._fit()

    def _text_width(self) -> int:
        m = self.contentsMargins()
        return max(1, self.width() - m.left() - m.right() - 2 * self.margin())

    def _fit(self) -> None:
        width = self._text_width()
        if width == self._width:
            return
        self._width = width
        metrics = self.fontMetrics()
        need = max([metrics.lineSpacing() * self.min_lines]
                   + [wrapped_height(metrics, width, t) for t in (*self._reserve, self.text())])
        m = self.contentsMargins()
        self.setFixedHeight(need + m.top() + m.bottom() + 2 * self.margin() + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit()

"""A model's stages drawn to scale as a column of boxes: width ~ channels, height ~ resolution (1 / stride).

Plain values in (channels, resolution, title, text lines per stage); a click on a box emits its index.
Scales are shared between columns with `set_scale` so a wide stage looks wide next to another model's. No torch.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

KIND_COLOURS = {"conv": QColor("#4fc3f7"), "tokens": QColor("#ffb74d")}
SELECTED = QColor("#ffd54f")


class StageStack(QWidget):
    stage_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(160)
        self._boxes: list = []
        self._selected = -1
        self._max_channels = 1
        self._max_resolution = 1.0
        self._rects: list[QRectF] = []

    def set_scale(self, max_channels: int, max_resolution: float) -> None:
        scale = (max(1, int(max_channels)), max(1e-6, float(max_resolution)))
        if scale != (self._max_channels, self._max_resolution):
            self._max_channels, self._max_resolution = scale
            self.update()

    def set_stages(self, boxes, selected: int = -1) -> None:
        """boxes: objects with channels, resolution, kind ("conv" | "tokens"), title, lines; selected: the outlined stage."""
        boxes = list(boxes)
        if boxes == self._boxes and selected == self._selected:
            return  # nothing changed: no repaint
        self._boxes = boxes
        self._selected = selected
        self.update()

    def stage_rects(self) -> list[QRectF]:
        n = len(self._boxes)
        if not n:
            return []
        W, H = self.width(), self.height()
        row_h = H / n
        text_w = min(230.0, W * 0.55)
        out = []
        for i, b in enumerate(self._boxes):
            bw = max(6.0, (W - text_w - 12) * b.channels / self._max_channels)
            bh = max(4.0, (row_h - 6) * min(1.0, b.resolution / self._max_resolution))
            out.append(QRectF(4, i * row_h + (row_h - bh) / 2, bw, bh))
        return out

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#202124"))
        self._rects = self.stage_rects()
        if not self._rects:
            return
        font = QFont(self.font())
        font.setPointSizeF(8.5)
        p.setFont(font)
        row_h = self.height() / len(self._rects)
        text_x = self.width() - min(230.0, self.width() * 0.55)
        for i, (b, r) in enumerate(zip(self._boxes, self._rects)):
            colour = KIND_COLOURS.get(b.kind, KIND_COLOURS["conv"])
            p.setPen(QPen(SELECTED if i == self._selected else colour.darker(120), 3 if i == self._selected else 1))
            fill = QColor(colour)
            fill.setAlpha(200 if i == self._selected else 110)
            p.setBrush(fill)
            p.drawRect(r)
            p.setPen(QColor("#e8eaed"))
            text = "\n".join((b.title, *b.lines))
            p.drawText(QRectF(text_x, i * row_h, self.width() - text_x, row_h),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap, text)
        p.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if not self._boxes:
            return
        row = int(event.position().y() // (self.height() / len(self._boxes)))
        if 0 <= row < len(self._boxes):
            self.stage_clicked.emit(row)

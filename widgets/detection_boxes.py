"""Detection boxes drawn over an ImageView: one colour per class, labels readable at any zoom and kept
inside the image, a hovered box highlighted, a selected box emphasised. No torch here.

All boxes are painted by one pyqtgraph item (fast redraw of hundreds of boxes); labels are painted in
screen pixels so they stay legible on a 96-pixel image shown large and on a 4000-pixel photo alike.
"""
from __future__ import annotations

import colorsys

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen


def class_colour(index: int) -> QColor:
    """A distinct, stable colour per class index (golden-ratio hue steps, bright enough for labels)."""
    h = (index * 0.618033988749895 + 0.08) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.75, 1.0)
    return QColor(int(r * 255), int(g * 255), int(b * 255))


class BoxesItem(pg.GraphicsObject):
    """All visible boxes of one image. set_boxes() with xyxy pixel boxes, class indices and label texts."""

    def __init__(self) -> None:
        super().__init__()
        self._boxes = np.zeros((0, 4), np.float32)
        self._classes = np.zeros(0, np.int64)
        self._texts: list[str] = []
        self._rect = QRectF(0, 0, 1, 1)
        self.hovered = -1  # row in the current boxes, -1: none
        self.selected = -1
        self._font = QFont()
        self._font.setPixelSize(12)
        self._font.setBold(True)
        self._metrics = QFontMetricsF(self._font)
        self._colours: dict[int, QColor] = {}
        self.setZValue(30)

    def set_image_rect(self, width: int, height: int) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(0, 0, width, height)
        self.update()

    def set_boxes(self, boxes: np.ndarray, classes: np.ndarray, texts: list[str]) -> None:
        self._boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self._classes = np.asarray(classes, np.int64)
        self._texts = list(texts)
        self.hovered = self.selected = -1
        self.update()

    def set_highlight(self, hovered: int | None = None, selected: int | None = None) -> None:
        if hovered is not None:
            self.hovered = hovered
        if selected is not None:
            self.selected = selected
        self.update()

    def box_at(self, x: float, y: float) -> int:
        """Row of the smallest box containing (x, y) (the innermost one when boxes nest), -1 if none."""
        b = self._boxes
        if not len(b):
            return -1
        inside = (b[:, 0] <= x) & (x <= b[:, 2]) & (b[:, 1] <= y) & (y <= b[:, 3])
        rows = np.flatnonzero(inside)
        if not len(rows):
            return -1
        areas = (b[rows, 2] - b[rows, 0]) * (b[rows, 3] - b[rows, 1])
        return int(rows[np.argmin(areas)])

    def boundingRect(self) -> QRectF:
        return self._rect

    def _colour(self, cls: int) -> QColor:
        if cls not in self._colours:
            self._colours[cls] = class_colour(cls)
        return self._colours[cls]

    def paint(self, p: QPainter, *args) -> None:
        if not len(self._boxes):
            return
        tr = p.transform()
        img = tr.mapRect(self._rect)  # the image in screen pixels: labels stay inside it
        p.save()
        p.resetTransform()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setFont(self._font)
        emphasis = self.hovered if self.hovered >= 0 else self.selected
        order = [i for i in range(len(self._boxes)) if i not in (self.hovered, self.selected)]
        order += [i for i in (self.selected, self.hovered) if i >= 0 and i < len(self._boxes)]
        dim = emphasis >= 0
        text_h = self._metrics.height()
        for i in order:
            colour = QColor(self._colour(int(self._classes[i])))
            strong = i in (self.hovered, self.selected)
            if dim and not strong:
                colour.setAlpha(110)
            x0, y0, x1, y1 = (float(v) for v in self._boxes[i])
            r = tr.mapRect(QRectF(QPointF(x0, y0), QPointF(x1, y1)))
            width = 3.0 if strong else 2.0
            if strong:
                p.setPen(QPen(QColor(0, 0, 0, 200), width + 2))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(r)
            p.setPen(QPen(colour, width))
            p.setBrush(QBrush(QColor(colour.red(), colour.green(), colour.blue(), 40)) if strong
                       else Qt.BrushStyle.NoBrush)
            p.drawRect(r)
            text = self._texts[i] if i < len(self._texts) else ""
            if not text:
                continue
            tw = self._metrics.horizontalAdvance(text) + 6
            lx = min(max(r.left(), img.left()), img.right() - tw)  # inside the image horizontally
            ly = r.top() - text_h - 1  # above the box when there is room, else just inside its top
            if ly < img.top():
                ly = max(r.top() + 1, img.top())
            ly = min(ly, img.bottom() - text_h)
            label = QRectF(max(lx, img.left()), ly, tw, text_h)
            bg = QColor(colour)
            bg.setAlpha(235 if (strong or not dim) else 120)
            p.fillRect(label, bg)
            p.setPen(QColor(0, 0, 0) if bg.lightness() > 110 else QColor(255, 255, 255))
            p.drawText(label.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        p.restore()

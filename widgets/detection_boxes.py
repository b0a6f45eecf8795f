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
        self._widths: list[float] = []
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
        self._widths = [self._metrics.horizontalAdvance(t) + 6 for t in self._texts]
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
        n = len(self._boxes)
        if not n:
            return
        tr = p.transform()  # image pixels -> screen pixels (scale and shift only)
        img = tr.mapRect(self._rect)  # the image in screen pixels: labels stay inside it
        sx, sy, dx, dy = tr.m11(), tr.m22(), tr.dx(), tr.dy()
        scr = self._boxes * np.array([sx, sy, sx, sy], np.float32) + np.array([dx, dy, dx, dy], np.float32)
        p.save()
        p.resetTransform()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setFont(self._font)
        strong_rows = [i for i in (self.selected, self.hovered) if 0 <= i < n]
        dim = bool(strong_rows)
        text_h = self._metrics.height()
        il, it, ir, ib = img.left(), img.top(), img.right(), img.bottom()
        p.setBrush(Qt.BrushStyle.NoBrush)
        for cls in np.unique(self._classes):  # plain boxes: one drawRects call per class
            rows = [i for i in np.flatnonzero(self._classes == cls) if i not in strong_rows]
            if not rows:
                continue
            colour = QColor(self._colour(int(cls)))
            if dim:
                colour.setAlpha(110)
            p.setPen(QPen(colour, 2.0))
            p.drawRects([QRectF(scr[i, 0], scr[i, 1], scr[i, 2] - scr[i, 0], scr[i, 3] - scr[i, 1]) for i in rows])
        for i in strong_rows:
            colour = self._colour(int(self._classes[i]))
            r = QRectF(scr[i, 0], scr[i, 1], scr[i, 2] - scr[i, 0], scr[i, 3] - scr[i, 1])
            p.setPen(QPen(QColor(0, 0, 0, 200), 5.0))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(r)
            p.setPen(QPen(colour, 3.0))
            p.setBrush(QBrush(QColor(colour.red(), colour.green(), colour.blue(), 40)))
            p.drawRect(r)
        order = [i for i in range(n) if i not in strong_rows] + strong_rows  # emphasised labels on top
        black, white = QColor(0, 0, 0), QColor(255, 255, 255)
        align = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        placed = np.zeros((0, 4))  # labels drawn so far (x0, y0, x1, y1): later ones step down to stay readable
        for i in order:
            text = self._texts[i] if i < len(self._texts) else ""
            if not text:
                continue
            tw = self._widths[i]
            x0, y0 = float(scr[i, 0]), float(scr[i, 1])
            lx = max(min(max(x0, il), ir - tw), il)  # inside the image horizontally
            ly = y0 - text_h - 1  # above the box when there is room, else just inside its top
            if ly < it:
                ly = max(y0 + 1, it)
            for _ in range(4):
                ly = min(ly, ib - text_h)
                hit = ((placed[:, 0] < lx + tw) & (placed[:, 2] > lx) & (placed[:, 1] < ly + text_h)
                       & (placed[:, 3] > ly))
                if not hit.any():
                    break
                ly = float(placed[hit, 3].max()) + 1
            ly = min(ly, ib - text_h)
            placed = np.vstack([placed, [lx, ly, lx + tw, ly + text_h]])
            bg = QColor(self._colour(int(self._classes[i])))
            bg.setAlpha(235 if (i in strong_rows or not dim) else 120)
            label = QRectF(lx, ly, tw, text_h)
            p.fillRect(label, bg)
            p.setPen(black if bg.lightness() > 110 else white)
            p.drawText(label.adjusted(3, 0, 0, 0), align, text)
        p.restore()

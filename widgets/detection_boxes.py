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
    """All visible boxes of one image. set_boxes() with xyxy pixel boxes, class indices and label texts.

    One item paints every box and label from numpy arrays (no per-box items). set_boxes() with the boxes
    already shown schedules no repaint, and the label placement is cached per view transform."""

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
        self._text_h = self._metrics.height()
        self._width_of: dict[str, float] = {}  # label text -> its width in screen pixels (with padding)
        self._colours: dict[int, QColor] = {}
        self._labels_key: tuple | None = None  # (transform, strong rows) the cached label placement is for
        self._labels: list[tuple[int, QRectF]] = []  # (row, label rect in screen pixels), drawing order
        self._gt_boxes = np.zeros((0, 4), np.float32)  # ground truth, drawn dashed under the predictions
        self._gt_classes = np.zeros(0, np.int64)
        self._gt_missed = np.zeros(0, bool)  # false negatives: drawn thicker, in red
        self.setZValue(30)

    def set_image_rect(self, width: int, height: int) -> None:
        if self._rect.width() == width and self._rect.height() == height:
            return
        self.prepareGeometryChange()
        self._rect = QRectF(0, 0, width, height)
        self._labels_key = None
        self.update()

    def set_boxes(self, boxes: np.ndarray, classes: np.ndarray, texts: list[str]) -> None:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        classes = np.asarray(classes, np.int64)
        texts = list(texts)
        unchanged = (texts == self._texts and classes.tobytes() == self._classes.tobytes()
                     and boxes.tobytes() == self._boxes.tobytes())
        if unchanged and self.hovered == self.selected == -1:
            return  # the same picture: nothing to repaint
        self._boxes, self._classes, self._texts = boxes, classes, texts
        widths = self._width_of
        for t in texts:
            if t not in widths:
                widths[t] = self._metrics.horizontalAdvance(t) + 6
        self._widths = [widths[t] for t in texts]
        if len(widths) > 4096:
            self._width_of = {t: widths[t] for t in texts}
        self.hovered = self.selected = -1
        self._labels_key = None
        self.update()

    def set_ground_truth(self, boxes: np.ndarray, classes: np.ndarray, missed: np.ndarray | None = None) -> None:
        """Ground-truth xyxy boxes (G, 4), drawn dashed in their class colour; `missed` (G,) bool ones
        (false negatives) dashed red and thicker. Empty arrays hide them."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        classes = np.asarray(classes, np.int64)
        missed = np.zeros(len(boxes), bool) if missed is None else np.asarray(missed, bool)
        if (boxes.tobytes() == self._gt_boxes.tobytes() and classes.tobytes() == self._gt_classes.tobytes()
                and missed.tobytes() == self._gt_missed.tobytes()):
            return
        self._gt_boxes, self._gt_classes, self._gt_missed = boxes, classes, missed
        self.update()

    def ground_truth_count(self) -> int:
        return len(self._gt_boxes)

    def set_highlight(self, hovered: int | None = None, selected: int | None = None) -> None:
        changed = False
        if hovered is not None and hovered != self.hovered:
            self.hovered, changed = hovered, True
        if selected is not None and selected != self.selected:
            self.selected, changed = selected, True
        if changed:
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

    def _place_labels(self, scr: list, order: list[int], img: QRectF) -> list[tuple[int, QRectF]]:
        """Label rects in screen pixels, in drawing order: inside the image, above their box when there is
        room (else just inside its top), stepped down past labels already placed so they stay readable."""
        text_h = self._text_h
        il, it, ir, ib = img.left(), img.top(), img.right(), img.bottom()
        placed = np.empty((len(order), 4))  # labels placed so far (x0, y0, x1, y1)
        k = 0
        out = []
        for i in order:
            if i >= len(self._texts) or not self._texts[i]:
                continue
            tw = self._widths[i]
            x0, y0 = scr[i][0], scr[i][1]
            lx = max(min(max(x0, il), ir - tw), il)
            ly = y0 - text_h - 1
            if ly < it:
                ly = max(y0 + 1, it)
            if k:
                p = placed[:k]
                for _ in range(4):
                    ly = min(ly, ib - text_h)
                    hit = (p[:, 0] < lx + tw) & (p[:, 2] > lx) & (p[:, 1] < ly + text_h) & (p[:, 3] > ly)
                    if not hit.any():
                        break
                    ly = float(p[hit, 3].max()) + 1
            ly = min(ly, ib - text_h)
            placed[k] = (lx, ly, lx + tw, ly + text_h)
            k += 1
            out.append((i, QRectF(lx, ly, tw, text_h)))
        return out

    def paint(self, p: QPainter, *args) -> None:
        n = len(self._boxes)
        tr = p.transform()  # image pixels -> screen pixels (scale and shift only)
        sx, sy, dx, dy = tr.m11(), tr.m22(), tr.dx(), tr.dy()
        if len(self._gt_boxes):
            self._paint_ground_truth(p, sx, sy, dx, dy)
        if not n:
            return
        scr = (self._boxes * np.array([sx, sy, sx, sy], np.float32)
               + np.array([dx, dy, dx, dy], np.float32)).tolist()
        strong_rows = [i for i in (self.selected, self.hovered) if 0 <= i < n]
        if len(strong_rows) == 2 and strong_rows[0] == strong_rows[1]:
            strong_rows = strong_rows[:1]
        key = (sx, sy, dx, dy, tuple(strong_rows))
        if key != self._labels_key:  # zoom, pan or another highlighted box: place the labels again
            order = [i for i in range(n) if i not in strong_rows] + strong_rows  # emphasised labels on top
            self._labels = self._place_labels(scr, order, tr.mapRect(self._rect))
            self._labels_key = key
        dim = bool(strong_rows)
        p.save()
        p.resetTransform()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setFont(self._font)
        p.setBrush(Qt.BrushStyle.NoBrush)
        by_class: dict[int, list[QRectF]] = {}
        classes = self._classes.tolist()
        for i in range(n):  # plain boxes: one drawRects call per class
            if i not in strong_rows:
                x0, y0, x1, y1 = scr[i]
                by_class.setdefault(classes[i], []).append(QRectF(x0, y0, x1 - x0, y1 - y0))
        for cls, rects in by_class.items():
            colour = QColor(self._colour(cls))
            if dim:
                colour.setAlpha(110)
            p.setPen(QPen(colour, 2.0))
            p.drawRects(rects)
        for i in strong_rows:
            colour = self._colour(classes[i])
            x0, y0, x1, y1 = scr[i]
            r = QRectF(x0, y0, x1 - x0, y1 - y0)
            p.setPen(QPen(QColor(0, 0, 0, 200), 5.0))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(r)
            p.setPen(QPen(colour, 3.0))
            p.setBrush(QBrush(QColor(colour.red(), colour.green(), colour.blue(), 40)))
            p.drawRect(r)
        black, white = QColor(0, 0, 0), QColor(255, 255, 255)
        align = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        for i, label in self._labels:
            bg = QColor(self._colour(classes[i]))
            bg.setAlpha(235 if (i in strong_rows or not dim) else 120)
            p.fillRect(label, bg)
            p.setPen(black if bg.lightness() > 110 else white)
            p.drawText(label.adjusted(3, 0, 0, 0), align, self._texts[i])
        p.restore()

    def _paint_ground_truth(self, p: QPainter, sx: float, sy: float, dx: float, dy: float) -> None:
        scr = (self._gt_boxes * np.array([sx, sy, sx, sy], np.float32)
               + np.array([dx, dy, dx, dy], np.float32)).tolist()
        p.save()
        p.resetTransform()
        p.setBrush(Qt.BrushStyle.NoBrush)
        for (x0, y0, x1, y1), cls, missed in zip(scr, self._gt_classes.tolist(), self._gt_missed.tolist()):
            pen = QPen(QColor(255, 70, 60) if missed else self._colour(cls), 2.5 if missed else 1.5)
            pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawRect(QRectF(x0 - 2, y0 - 2, x1 - x0 + 4, y1 - y0 + 4))  # just outside: a matching box stays visible
        p.restore()

"""The token sequence as a transformer sees it: prefix tokens, then every patch in row-major order.

Drawn as a wrapped strip of patch thumbnails (like lines of text), prefix tokens as labelled coloured
cells, the position index of the first token of each line on the left. numpy + pyqtgraph only.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Signal, Slot

from .patches_image import outline_rect

PREFIX_COLOURS = ((230, 120, 20), (140, 70, 200), (30, 150, 150), (200, 50, 110))


class TokenSequenceStrip(pg.GraphicsLayoutWidget):
    token_hovered = Signal(int)  # token index in sequence order (prefix tokens first), -1 outside

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.vb: pg.ViewBox = self.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.vb.setMenuEnabled(False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.vb.addItem(self.image_item)
        self.highlight = outline_rect((255, 30, 30), 3)
        self.vb.addItem(self.highlight)
        self._labels: list[pg.TextItem] = []
        self.cols, self.cell, self.gap, self.n = 1, 1, 0, 0
        self._hovered = -1
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    def set_tokens(self, image: np.ndarray, grid: tuple[int, int], patch_size: int,
                   prefix_tokens: tuple[str, ...]) -> None:
        gh, gw = grid
        p = int(patch_size)
        npref = len(prefix_tokens)
        self.n = npref + gh * gw
        self.cols = min(self.n, max(8, min(2 * gw, 32)))
        self.cell, self.gap = p, max(1, p // 6)
        rows = -(-self.n // self.cols)
        step = p + self.gap
        canvas = np.full((rows * step, self.cols * step, 3), 255, np.uint8)
        for item in self._labels:
            self.vb.removeItem(item)
        self._labels = []
        for t in range(self.n):
            r, c = divmod(t, self.cols)
            y, x = r * step, c * step
            if t < npref:
                canvas[y:y + p, x:x + p] = PREFIX_COLOURS[t % len(PREFIX_COLOURS)]
                self._add_label(prefix_tokens[t], x + p / 2, y + p / 2, (255, 255, 255), anchor=(0.5, 0.5))
            else:
                pr, pc = divmod(t - npref, gw)
                canvas[y:y + p, x:x + p] = image[pr * p:(pr + 1) * p, pc * p:(pc + 1) * p]
        for r in range(rows):
            self._add_label(str(r * self.cols), -self.gap, r * step + p / 2, (60, 60, 60), anchor=(1, 0.5))
        self.image_item.setImage(canvas, autoLevels=False, levels=(0, 255))
        self.vb.setRange(QRectF(-3 * p, 0, self.cols * step + 3 * p, rows * step), padding=0.02)
        self.highlight.setVisible(False)

    def _add_label(self, text: str, x: float, y: float, colour, anchor) -> None:
        item = pg.TextItem(text, color=colour, anchor=anchor)
        font = item.textItem.font()
        font.setPointSize(7)
        item.setFont(font)
        item.setPos(x, y)
        self.vb.addItem(item)
        self._labels.append(item)

    def set_highlight(self, token: int | None) -> None:
        if token is None or not 0 <= token < self.n:
            self.highlight.setVisible(False)
            return
        r, c = divmod(int(token), self.cols)
        step = self.cell + self.gap
        self.highlight.setRect(QRectF(c * step, r * step, self.cell, self.cell))
        self.highlight.setVisible(True)

    def token_at_scene(self, scene_pos: QPointF) -> int:
        pt = self.vb.mapSceneToView(scene_pos)
        step = self.cell + self.gap
        c, r = int(np.floor(pt.x() / step)), int(np.floor(pt.y() / step))
        t = r * self.cols + c
        return t if 0 <= c < self.cols and r >= 0 and t < self.n else -1

    @Slot(object)
    def _on_mouse_moved(self, scene_pos) -> None:
        t = self.token_at_scene(scene_pos)
        if t != self._hovered:
            self._hovered = t
            self.token_hovered.emit(t)

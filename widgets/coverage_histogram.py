"""A small bar chart of class shares: what share of the fixed-noise samples a judge puts in each class.

`set_shares(step, shares)` takes plain values ((C,) floats summing to ~1); the last class may be a "reject"
class (drawn grey). A bar above `warn_share` is drawn amber (one class taking over: collapse), an empty
bar gets a red "0" (a missing class). A dashed line marks the even share of the non-reject classes.
No torch here.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

BAR = QColor(66, 133, 244)
WARN = QColor(255, 171, 64)
REJECT = QColor(128, 134, 139)
EMPTY = QColor(234, 67, 53)
TEXT = QColor(220, 220, 220)
DIM = QColor(154, 160, 166)


class CoverageHistogram(QWidget):
    def __init__(self, names: tuple[str, ...] = (), reject_last: bool = True, warn_share: float = 0.5,
                 title: str = "Judge's classes", parent: QWidget | None = None):
        super().__init__(parent)
        self.names = tuple(names)
        self.reject_last = reject_last
        self.warn_share = warn_share
        self.title = title
        self.shares: np.ndarray | None = None  # (C,)
        self.step: int | None = None
        self.setMinimumSize(220, 110)
        self.setMaximumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("The sprite judge names the shape of each of the fixed-noise samples (or says 'not a shape'). "
                        "A healthy G covers every shape; one tall amber bar or an empty one means collapse.")

    # ---- data
    def set_shares(self, step: int | None, shares, names: tuple[str, ...] | None = None) -> None:
        """shares (C,) in [0, 1], one per class name (names: replaces the class names)."""
        if names is not None:
            self.names = tuple(names)
        s = None if shares is None else np.asarray(shares, np.float64).reshape(-1)
        if s is not None and len(s) != len(self.names):
            raise ValueError(f"{len(s)} shares for {len(self.names)} classes")
        self.step, self.shares = step, s
        self.update()

    def clear(self) -> None:
        self.set_shares(None, None)

    def bar_colours(self) -> list[QColor]:
        """The colour of each bar as drawn (for tests and the legend)."""
        if self.shares is None:
            return []
        out = []
        for i, s in enumerate(self.shares):
            if self.reject_last and i == len(self.shares) - 1:
                out.append(REJECT)
            else:
                out.append(WARN if s > self.warn_share else BAR)
        return out

    def caption(self) -> str:
        if self.shares is None:
            return f"{self.title}: none yet"
        return f"{self.title} at step {self.step:,}" if self.step is not None else self.title

    # ---- drawing
    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(30, 31, 34))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        fm = p.fontMetrics()
        line = fm.height()
        w, h = self.width(), self.height()
        p.setPen(TEXT)
        p.drawText(QRectF(4, 2, w - 8, line), Qt.AlignmentFlag.AlignLeft, self.caption())
        if self.shares is None:
            p.end()
            return
        top, bottom = 2 + 2 * line, h - 2 * line - 4  # room for the title, the value labels and the names
        n = len(self.shares)
        slot = (w - 8) / n
        span = max(bottom - top, 1)
        colours = self.bar_colours()
        for i, (s, name) in enumerate(zip(self.shares, self.names)):
            x = 4 + i * slot
            bh = span * float(min(max(s, 0.0), 1.0))
            p.fillRect(QRectF(x + slot * 0.15, bottom - bh, slot * 0.7, bh), colours[i])
            p.setPen(EMPTY if s == 0 and not (self.reject_last and i == n - 1) else TEXT)
            p.drawText(QRectF(x, bottom - bh - line, slot, line), Qt.AlignmentFlag.AlignCenter, f"{s:.0%}")
            p.setPen(DIM)
            label = fm.elidedText(name, Qt.TextElideMode.ElideRight, int(slot))
            p.drawText(QRectF(x, bottom + 2, slot, line), Qt.AlignmentFlag.AlignCenter, label)
        shapes = n - 1 if self.reject_last else n
        even = bottom - span / max(shapes, 1)  # the share each class would have if G covered all evenly
        pen = QPen(DIM)
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawLine(4, int(even), int(4 + shapes * slot), int(even))
        p.setPen(DIM)
        p.drawText(QRectF(4, h - line - 2, w - 8, line), Qt.AlignmentFlag.AlignLeft,
                   f"dashed: even share; amber: > {self.warn_share:.0%}")
        p.end()

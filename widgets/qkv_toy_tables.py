"""A small matrix as a table of numbers (editable or not), each cell tinted by its value.

For the toy attention example: typing a number emits ``edited(name, row, col, value)``; ``set_matrix``
fills the cells (2 decimals, the full value as tooltip) without emitting. Numpy and plain values only (no torch).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QSizePolicy, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)


def cell_colour(value: float, top: float) -> QColor:
    """Blue for negative, red for positive, white at 0; |value| = top is the strongest tint."""
    t = 0.0 if top <= 0 else max(-1.0, min(1.0, value / top))
    k = int(150 * abs(t))
    return QColor(255 - k, 255 - k, 255) if t < 0 else QColor(255, 255 - k, 255 - k)


def parse_number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if np.isfinite(value) else None


class MatrixTable(QWidget):
    edited = Signal(str, int, int, float)  # matrix name, row, col, new value

    def __init__(self, name: str, editable: bool, parent=None) -> None:
        super().__init__(parent)
        self.name, self.editable = name, editable
        self.title = QLabel(name)
        self.title.setStyleSheet("font-weight: bold;")
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.AllEditTriggers if editable
                                   else QAbstractItemView.EditTrigger.NoEditTriggers)
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # share the row's width with the other tables, but never too narrow for "-0.00" in every column
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.table.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
        self._cell = self.fontMetrics().horizontalAdvance("-0.00") + 6
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        self._values = np.zeros((0, 0))
        self._filling = False
        self.table.itemChanged.connect(self._on_item_changed)

    @property
    def values(self) -> np.ndarray:
        return self._values

    def set_matrix(self, title: str, values: np.ndarray, row_labels, col_labels) -> None:
        values = np.asarray(values, np.float64)
        self._values = values.copy()
        self.title.setText(title + ("  (editable)" if self.editable else ""))
        rows, cols = values.shape
        self._filling = True
        try:
            if (self.table.rowCount(), self.table.columnCount()) != (rows, cols):
                self.table.setRowCount(rows)
                self.table.setColumnCount(cols)
                self.table.setMinimumWidth(cols * self._cell + self.fontMetrics().horizontalAdvance("t4") + 16)
            self.table.setVerticalHeaderLabels(list(row_labels))
            self.table.setHorizontalHeaderLabels(list(col_labels))
            top = float(np.abs(values).max()) if values.size else 0.0
            for r in range(rows):
                for c in range(cols):
                    item = self.table.item(r, c)
                    if item is None:
                        item = QTableWidgetItem()
                        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                        self.table.setItem(r, c, item)
                    item.setText(f"{values[r, c]:.2f}")
                    item.setToolTip(f"{values[r, c]:.6g}")
                    item.setBackground(cell_colour(values[r, c], top))
                    item.setForeground(QColor("#202124"))
        finally:
            self._filling = False

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or not self.editable:
            return
        value = parse_number(item.text())
        r, c = item.row(), item.column()
        if value is None:  # not a number: put the old value back
            self._filling = True
            item.setText(f"{self._values[r, c]:.2f}")
            self._filling = False
            return
        self.edited.emit(self.name, r, c, value)

"""Tables of the detection evaluation view: the AP table (per class and overall) and the worst images
(sortable). No torch here."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from .detection_boxes import class_colour


class _Number(QTableWidgetItem):
    """An item that sorts by its number."""

    def __init__(self, value: float, text: str) -> None:
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def set(self, value: float, text: str) -> None:
        self.value = value
        if self.text() != text:
            self.setText(text)

    def __lt__(self, other) -> bool:
        return self.value < getattr(other, "value", 0)


class APTable(QTableWidget):
    def __init__(self, columns: tuple[str, ...], parent=None) -> None:
        super().__init__(0, len(columns) + 1, parent)
        self.setHorizontalHeaderLabels(["class", *columns])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)

    def set_rows(self, names: tuple[str, ...], values: np.ndarray) -> None:
        """names (n,), values (n, columns) with nan shown as "—"; the last row (overall) is bold."""
        self.setRowCount(len(names))
        for r, (name, row) in enumerate(zip(names, np.asarray(values, np.float64))):
            item = QTableWidgetItem(name)
            if r < len(names) - 1:
                item.setForeground(class_colour(r))
            else:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.setItem(r, 0, item)
            for c, v in enumerate(row.tolist()):
                self.setItem(r, c + 1, _Number(v if np.isfinite(v) else -1.0, f"{v:.3f}" if np.isfinite(v) else "—"))

    def text(self, row: int, col: int) -> str:
        return self.item(row, col).text()


class WorstImages(QTableWidget):
    """Images with the most FP + FN; sortable; clicking a row reports its image index."""

    image_picked = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(0, 4, parent)
        self.setHorizontalHeaderLabels(["image", "FP", "FN", "errors"])
        self.horizontalHeaderItem(3).setToolTip("FP + FN: false positives plus missed objects")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        header = self.horizontalHeader()  # no ResizeToContents: it re-measures every cell on each threshold step
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col, width in ((1, 30), (2, 30), (3, 52)):
            header.resizeSection(col, width)
        self._rows: tuple = ()
        self.setSortingEnabled(True)
        self.sortByColumn(3, Qt.SortOrder.DescendingOrder)
        self.cellClicked.connect(self._on_clicked)

    def set_rows(self, rows: tuple[tuple[int, str, int, int], ...]) -> None:
        """(image index, name, FP, FN) rows; existing items are updated in place (replacing items is slow)."""
        if rows == self._rows:
            return
        self._rows = rows
        sorting = self.isSortingEnabled()
        self.setSortingEnabled(False)
        old = self.rowCount()
        self.setRowCount(len(rows))
        for r in range(old, len(rows)):
            self.setItem(r, 0, QTableWidgetItem())
            for c in range(1, 4):
                self.setItem(r, c, _Number(0, ""))
        for r, (index, name, fp, fn) in enumerate(rows):
            item = self.item(r, 0)
            if item.text() != name:
                item.setText(name)
            item.setData(Qt.ItemDataRole.UserRole, index)
            for c, v in enumerate((fp, fn, fp + fn), start=1):
                self.item(r, c).set(v, str(v))
        self.setSortingEnabled(sorting)

    def image_at(self, row: int) -> int:
        return int(self.item(row, 0).data(Qt.ItemDataRole.UserRole))

    @Slot(int, int)
    def _on_clicked(self, row: int, col: int) -> None:
        self.image_picked.emit(self.image_at(row))

"""A detection confusion matrix with a background row and column: rows are ground-truth classes, columns
predicted classes; a cell's colour is its share of its row. Clicking a cell reports it. No torch here."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem


class ConfusionMatrix(QTableWidget):
    cell_picked = Signal(int, int)  # row (ground truth), column (prediction)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setToolTip("predicted class; \"missed\": objects no prediction found (FN)")
        self.verticalHeader().setToolTip("ground-truth class; \"background\": predictions of no object (FP)")
        self._counts = np.zeros((0, 0), np.int64)
        self._labels: tuple[str, ...] = ()
        self.cellClicked.connect(self._on_clicked)

    def set_matrix(self, counts: np.ndarray, labels: tuple[str, ...], hidden_diagonal: bool = False) -> None:
        """counts (K+1, K+1); labels K+1 names (the last is "background"). Only changed cells are touched."""
        counts = np.asarray(counts, np.int64)
        n = len(labels)
        if labels != self._labels:
            self.setRowCount(n)
            self.setColumnCount(n)
            self.setHorizontalHeaderLabels([x if i < n - 1 else "missed" for i, x in enumerate(labels)])
            self.setVerticalHeaderLabels([x if i < n - 1 else "background" for i, x in enumerate(labels)])
            self._labels = labels
            self._counts = np.full((n, n), -1, np.int64)
            for r in range(n):
                for c in range(n):
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.setItem(r, c, item)
        shown = counts.copy()
        if hidden_diagonal:
            idx = np.arange(n - 1)
            shown[idx, idx] = -2  # drawn as "·"
        rows = np.maximum(counts.sum(1, keepdims=True), 1)
        share = counts / rows
        for r, c in zip(*np.nonzero(shown != self._counts)):
            v = int(shown[r, c])
            item = self.item(int(r), int(c))
            item.setText("·" if v == -2 else str(v))
            diagonal = r == c and r < n - 1
            a = 0 if v <= 0 else int(40 + 200 * share[r, c])
            item.setBackground(QBrush(QColor(60, 180, 90, a) if diagonal else QColor(230, 80, 60, a)))
            item.setToolTip(f"true {self.verticalHeaderItem(int(r)).text()}, predicted "
                            f"{self.horizontalHeaderItem(int(c)).text()}: {'hidden' if v == -2 else v}")
        self._counts = shown

    def count(self, row: int, col: int) -> int:
        return int(self._counts[row, col])

    @Slot(int, int)
    def _on_clicked(self, row: int, col: int) -> None:
        self.cell_picked.emit(row, col)

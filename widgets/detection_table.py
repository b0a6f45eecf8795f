"""A sortable table of detections (class, score, box, query) that tells which detection is selected.
Rows are identified by their position in the list given to set_rows; sorting happens in a proxy model."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from .detection_boxes import class_colour

COLUMNS = ("#", "class", "score", "x0", "y0", "x1", "y1", "query")


class DetectionTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.classes = np.zeros(0, np.int64)
        self.scores = np.zeros(0, np.float32)
        self.boxes = np.zeros((0, 4), np.float32)
        self.queries: np.ndarray | None = None

    def set_rows(self, names, classes, scores, boxes, queries) -> None:
        self.beginResetModel()
        self.names, self.classes, self.scores, self.boxes, self.queries = list(names), classes, scores, boxes, queries
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.names)

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        r, c = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if c == 0:
                return r + 1
            if c == 1:
                return self.names[r]
            if c == 2:
                return f"{self.scores[r]:.3f}"
            if 3 <= c <= 6:
                return f"{self.boxes[r, c - 3]:.1f}"
            return "" if self.queries is None else int(self.queries[r])
        if role == Qt.ItemDataRole.UserRole:  # sort key
            if c == 0:
                return r
            if c == 1:
                return self.names[r]
            if c == 2:
                return float(self.scores[r])
            if 3 <= c <= 6:
                return float(self.boxes[r, c - 3])
            return -1 if self.queries is None else int(self.queries[r])
        if role == Qt.ItemDataRole.DecorationRole and c == 1:
            return class_colour(int(self.classes[r]))
        if role == Qt.ItemDataRole.TextAlignmentRole and c != 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class DetectionTable(QTableView):
    row_selected = Signal(int)  # source row, -1 when the selection is cleared
    row_hovered = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.source = DetectionTableModel()
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.source)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(2, Qt.SortOrder.DescendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.setMouseTracking(True)
        self.entered.connect(self._on_entered)
        self.selectionModel().selectionChanged.connect(self._on_selection)
        self._quiet = False

    def set_rows(self, names, classes, scores, boxes, queries=None) -> None:
        self._quiet = True
        self.source.set_rows(names, classes, scores, boxes, queries)
        self._quiet = False

    def select_source_row(self, row: int) -> None:
        """Select (and scroll to) a source row without emitting row_selected."""
        self._quiet = True
        sel = self.selectionModel()
        if row < 0 or row >= self.source.rowCount():
            sel.clearSelection()
        else:
            idx = self.proxy.mapFromSource(self.source.index(row, 0))
            sel.select(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
            self.scrollTo(idx)
        self._quiet = False

    def selected_source_row(self) -> int:
        rows = self.selectionModel().selectedRows()
        return self.proxy.mapToSource(rows[0]).row() if rows else -1

    @Slot()
    def _on_selection(self, *args) -> None:
        if not self._quiet:
            self.row_selected.emit(self.selected_source_row())

    @Slot(QModelIndex)
    def _on_entered(self, index: QModelIndex) -> None:
        self.row_hovered.emit(self.proxy.mapToSource(index).row() if index.isValid() else -1)

    def leaveEvent(self, event) -> None:
        self.row_hovered.emit(-1)
        super().leaveEvent(event)

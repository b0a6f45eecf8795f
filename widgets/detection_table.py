"""A sortable table of detections (class, score, box, query) that tells which detection is selected.
Rows are identified by their position in the list given to set_rows ("source rows"), whatever the sorting."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from .detection_boxes import class_colour

COLUMNS = ("#", "class", "score", "box x0, y0, x1, y1", "query")
QUERY_COLUMN = 4


class DetectionTableModel(QAbstractTableModel):
    """Rows in the order given to set_rows ("source rows"), shown sorted: sorting is one numpy argsort."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.classes = np.zeros(0, np.int64)
        self.scores = np.zeros(0, np.float32)
        self.boxes = np.zeros((0, 4), np.float32)
        self.queries: np.ndarray | None = None
        self.order = np.zeros(0, np.int64)  # view row -> source row
        self.sort_column, self.sort_order = 2, Qt.SortOrder.DescendingOrder

    def set_rows(self, names, classes, scores, boxes, queries) -> None:
        self.beginResetModel()
        self.names, self.classes, self.scores, self.boxes, self.queries = list(names), classes, scores, boxes, queries
        self.order = self._sorted_order()
        self.endResetModel()

    def _sort_keys(self, column: int):
        n = len(self.names)
        if column == 1:
            return np.array(self.names, dtype=object) if n else np.zeros(0)
        if column == 2:
            return self.scores
        if column == 3:
            return (self.boxes[:, 2] - self.boxes[:, 0]) * (self.boxes[:, 3] - self.boxes[:, 1])
        if column == 4 and self.queries is not None:
            return self.queries
        return np.arange(n)

    def _sorted_order(self) -> np.ndarray:
        order = np.argsort(self._sort_keys(self.sort_column), kind="stable")
        return order[::-1].copy() if self.sort_order == Qt.SortOrder.DescendingOrder else order

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        sources = [int(self.order[i.row()]) for i in old]
        self.sort_column, self.sort_order = column, order
        self.order = self._sorted_order()
        self.changePersistentIndexList(old, [self.index(self.view_row(src), i.column()) for src, i in zip(sources, old)])
        self.layoutChanged.emit()

    def view_row(self, source_row: int) -> int:
        hits = np.flatnonzero(self.order == source_row)
        return int(hits[0]) if len(hits) else -1

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.names)

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        c = index.column()
        r = int(self.order[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            if c == 0:
                return r + 1
            if c == 1:
                return self.names[r]
            if c == 2:
                return f"{self.scores[r]:.3f}"
            if c == 3:
                return ", ".join(f"{v:.0f}" for v in self.boxes[r])
            return "" if self.queries is None else int(self.queries[r])
        if role == Qt.ItemDataRole.DecorationRole and c == 1:
            return class_colour(int(self.classes[r]))
        if role == Qt.ItemDataRole.ToolTipRole and c == 3:
            x0, y0, x1, y1 = self.boxes[r]
            return f"{x1 - x0:.0f} x {y1 - y0:.0f} px (sorts by area)"
        if role == Qt.ItemDataRole.TextAlignmentRole and c != 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class DetectionTable(QTableView):
    row_selected = Signal(int)  # source row, -1 when the selection is cleared
    row_hovered = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.source = DetectionTableModel()
        self.setModel(self.source)
        self.setSortingEnabled(True)
        self.sortByColumn(2, Qt.SortOrder.DescendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        header = self.horizontalHeader()  # fixed widths: ResizeToContents would query every cell on each re-filter
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in enumerate((30, 84, 52, 140, 46)):
            header.resizeSection(col, width)
        header.setStretchLastSection(True)
        self.setMouseTracking(True)
        self.entered.connect(self._on_entered)
        self.selectionModel().selectionChanged.connect(self._on_selection)
        self._quiet = False

    def set_rows(self, names, classes, scores, boxes, queries=None) -> None:
        self._quiet = True
        self.source.set_rows(names, classes, scores, boxes, queries)
        self.setColumnHidden(QUERY_COLUMN, queries is None)
        self._quiet = False

    def select_source_row(self, row: int) -> None:
        """Select (and scroll to) a source row without emitting row_selected."""
        self._quiet = True
        sel = self.selectionModel()
        if row < 0 or row >= self.source.rowCount():
            sel.clearSelection()
        else:
            idx = self.source.index(self.source.view_row(row), 0)
            sel.select(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
            self.scrollTo(idx)
        self._quiet = False

    def selected_source_row(self) -> int:
        rows = self.selectionModel().selectedRows()
        return int(self.source.order[rows[0].row()]) if rows else -1

    @Slot()
    def _on_selection(self, *args) -> None:
        if not self._quiet:
            self.row_selected.emit(self.selected_source_row())

    @Slot(QModelIndex)
    def _on_entered(self, index: QModelIndex) -> None:
        self.row_hovered.emit(int(self.source.order[index.row()]) if index.isValid() else -1)

    def leaveEvent(self, event) -> None:
        self.row_hovered.emit(-1)
        super().leaveEvent(event)

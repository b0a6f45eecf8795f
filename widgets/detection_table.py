"""A sortable table of detections (class, score, box, query) that tells which detection is selected.
Rows are identified by their position in the list given to set_rows ("source rows"), whatever the sorting."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from .detection_boxes import class_colour

COLUMNS = ("#", "class", "score", "box x0, y0, x1, y1", "query", "verdict")
QUERY_COLUMN = 4
VERDICT_COLUMN = 5  # TP / FP (reason), shown when the image has ground truth
_DISPLAY, _DECORATION = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole
_ROLES = (_DISPLAY, _DECORATION, Qt.ItemDataRole.ToolTipRole, _ALIGN)
_TP_COLOUR, _FP_COLOUR = QColor(70, 200, 110), QColor(235, 80, 70)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class DetectionTableModel(QAbstractTableModel):
    """Rows in the order given to set_rows ("source rows"), shown sorted: sorting is one numpy argsort."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.classes = np.zeros(0, np.int64)
        self.scores = np.zeros(0, np.float32)
        self.boxes = np.zeros((0, 4), np.float32)
        self.queries: np.ndarray | None = None
        self.verdicts: list[str] | None = None
        self.order = np.zeros(0, np.int64)  # view row -> source row
        self.sort_column, self.sort_order = 2, Qt.SortOrder.DescendingOrder
        self._texts: dict[int, tuple] = {}  # view row -> (source row, column values), see _row_texts

    def set_rows(self, names, classes, scores, boxes, queries, verdicts=None) -> None:
        """New rows (numpy arrays). Only the view rows whose contents changed are repainted (none when
        nothing did): rows added or removed at the end, dataChanged for the others; no model reset."""
        names = list(names)
        classes = np.asarray(classes, np.int64)
        scores = np.asarray(scores, np.float32)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        queries = None if queries is None else np.asarray(queries, np.int64)
        verdicts = None if verdicts is None else list(verdicts)
        if verdicts != self.verdicts:  # other verdicts (IoU or threshold change): repaint that column
            self.verdicts = verdicts
            self._texts = {}
            if self.names:
                self.dataChanged.emit(self.index(0, VERDICT_COLUMN), self.index(len(self.names) - 1, VERDICT_COLUMN))
        old = (self.names, self.classes, self.scores, self.boxes, self.queries, self.order)
        n_old, n = len(self.names), len(names)
        if (queries is None) != (self.queries is None):  # another kind of detector: start afresh
            self.beginResetModel()
            self.names, self.classes, self.scores, self.boxes, self.queries = names, classes, scores, boxes, queries
            self.order = self._sorted_order()
            self._texts = {}
            self.endResetModel()
            return
        if n == n_old and (names == old[0] and classes.tobytes() == old[1].tobytes()
                           and scores.tobytes() == old[2].tobytes() and boxes.tobytes() == old[3].tobytes()
                           and (queries is None or queries.tobytes() == old[4].tobytes())):
            return  # the same rows: nothing to repaint (and the cached texts still hold)
        if n < n_old:
            self.beginRemoveRows(QModelIndex(), n, n_old - 1)
        elif n > n_old:
            self.beginInsertRows(QModelIndex(), n_old, n - 1)
        self.names, self.classes, self.scores, self.boxes, self.queries = names, classes, scores, boxes, queries
        self.order = self._sorted_order()
        self._texts = {}
        if n < n_old:
            self.endRemoveRows()
        elif n > n_old:
            self.endInsertRows()
        changed = self._changed_view_rows(old)
        if len(changed):
            self.dataChanged.emit(self.index(int(changed[0]), 0), self.index(int(changed[-1]), len(COLUMNS) - 1))

    def _changed_view_rows(self, old) -> np.ndarray:
        """View rows (of those that were there before) whose shown row (source number, class, score,
        box, query) differs from before."""
        names, classes, scores, boxes, queries, order = old
        n = min(len(self.names), len(names))
        if not n:
            return np.zeros(0, np.int64)
        o, order = self.order[:n], order[:n]
        diff = (o != order) | (self.classes[o] != classes[order]) | (self.scores[o] != scores[order])
        diff |= (self.boxes[o] != boxes[order]).any(1)
        if queries is not None:
            diff |= self.queries[o] != queries[order]
        new_names, old_names = self.names, names
        diff |= np.fromiter((new_names[a] != old_names[b] for a, b in zip(o.tolist(), order.tolist())), bool, n)
        return np.flatnonzero(diff)

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
        if column == VERDICT_COLUMN and self.verdicts is not None and len(self.verdicts) == n:
            return np.array(self.verdicts, dtype=object)
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
        self._texts = {}
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

    def _row_texts(self, view_row: int) -> tuple:
        """(source row, display values of the 6 columns) of a view row, made once per set_rows / sort
        (the view asks for the same cells many times a paint)."""
        cached = self._texts.get(view_row)
        if cached is None:
            r = int(self.order[view_row])
            box = self.boxes[r].tolist()
            cached = (r, (r + 1, self.names[r], f"{float(self.scores[r]):.3f}", ", ".join(f"{v:.0f}" for v in box),
                          "" if self.queries is None else int(self.queries[r]),
                          "" if self.verdicts is None or r >= len(self.verdicts) else self.verdicts[r]))
            self._texts[view_row] = cached
        return cached

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role not in _ROLES:  # most of the roles a delegate asks for: nothing to say, answered first
            return None
        c = index.column()
        if role == _ALIGN:
            return None if c in (1, VERDICT_COLUMN) else _RIGHT
        r, texts = self._row_texts(index.row())
        if role == _DISPLAY:
            return texts[c]
        if role == _DECORATION:
            if c == VERDICT_COLUMN and texts[c]:
                return _TP_COLOUR if texts[c] == "TP" else _FP_COLOUR
            return class_colour(int(self.classes[r])) if c == 1 else None
        if c == VERDICT_COLUMN:  # tooltip
            return texts[c] or None
        if c == 3:  # tooltip
            x0, y0, x1, y1 = self.boxes[r].tolist()
            return f"{x1 - x0:.0f} x {y1 - y0:.0f} px (sorts by area)"
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
        for col, width in enumerate((30, 84, 52, 124, 46, 150)):
            header.resizeSection(col, width)
        header.setStretchLastSection(True)
        self.setMouseTracking(True)
        self.entered.connect(self._on_entered)
        self.selectionModel().selectionChanged.connect(self._on_selection)
        self._quiet = False
        self._query_hidden = False
        self._verdict_hidden = True
        self.setColumnHidden(VERDICT_COLUMN, True)

    def set_rows(self, names, classes, scores, boxes, queries=None, verdicts=None) -> None:
        self._quiet = True
        self.source.set_rows(names, classes, scores, boxes, queries, verdicts)
        if self._verdict_hidden != (verdicts is None):
            self._verdict_hidden = verdicts is None
            self.setColumnHidden(VERDICT_COLUMN, self._verdict_hidden)
        if self._query_hidden != (queries is None):
            self._query_hidden = queries is None
            self.setColumnHidden(QUERY_COLUMN, self._query_hidden)
        self._quiet = False

    def select_source_row(self, row: int) -> None:
        """Select (and scroll to) a source row without emitting row_selected."""
        self._quiet = True
        sel = self.selectionModel()
        if row < 0 or row >= self.source.rowCount():
            if sel.hasSelection():
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

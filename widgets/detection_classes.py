"""A checkable list of classes with their detection counts and colours. No torch here."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QPixmap, QIcon
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from .detection_boxes import class_colour


def _swatch(colour: QColor) -> QIcon:
    pm = QPixmap(12, 12)
    pm.fill(colour)
    return QIcon(pm)


class ClassList(QListWidget):
    """set_counts({class index: (name, count)}); emits enabled_changed when a box is (un)ticked.
    Unticked classes stay unticked across images and thresholds (remembered by name)."""

    enabled_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._disabled_names: set[str] = set()
        self._quiet = False
        self._shown: list[tuple[int, str]] = []  # (class index, name) of the items, in list order
        self._rows: list = []  # the (class index, (name, count)) rows last shown
        self.itemChanged.connect(self._on_item_changed)

    def set_counts(self, counts: dict[int, tuple[str, int]]) -> None:
        """Rebuilds the items only when the listed classes (or their order) change; otherwise only the
        counts whose text changed are set, in place."""
        rows = sorted(counts.items(), key=lambda kv: (-kv[1][1], kv[1][0]))
        if rows == self._rows:
            return  # the same classes and counts: nothing to change
        self._rows = rows
        self._quiet = True
        if [(cls, name) for cls, (name, _) in rows] == self._shown:
            for i, (cls, (name, count)) in enumerate(rows):
                text = f"{name}  ({count})"
                item = self.item(i)
                if item.text() != text:
                    item.setText(text)
            self._quiet = False
            return
        self.clear()
        for cls, (name, count) in rows:
            item = QListWidgetItem(_swatch(class_colour(cls)), f"{name}  ({count})")
            item.setData(Qt.ItemDataRole.UserRole, cls)
            item.setData(Qt.ItemDataRole.UserRole + 1, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if name in self._disabled_names else Qt.CheckState.Checked)
            self.addItem(item)
        self._shown = [(cls, name) for cls, (name, _) in rows]
        self._quiet = False

    def is_enabled(self, name: str) -> bool:
        return name not in self._disabled_names

    @Slot(QListWidgetItem)
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._quiet:
            return
        name = item.data(Qt.ItemDataRole.UserRole + 1)
        if item.checkState() == Qt.CheckState.Checked:
            self._disabled_names.discard(name)
        else:
            self._disabled_names.add(name)
        self.enabled_changed.emit()

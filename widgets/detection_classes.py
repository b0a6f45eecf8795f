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
        self._counts: dict[int, tuple[str, int]] = {}  # the counts last shown
        self._swatches: dict[int, QIcon] = {}  # class index -> its colour swatch
        self.itemChanged.connect(self._on_item_changed)

    def set_counts(self, counts: dict[int, tuple[str, int]]) -> None:
        """Updates the items in place: only the texts, swatches and ticks that changed are set, and items
        are added or removed at the end only when the number of classes changes (no rebuild)."""
        if counts == self._counts:
            return  # the same classes and counts: nothing to change
        self._counts = dict(counts)
        rows = sorted(counts.items(), key=lambda kv: (-kv[1][1], kv[1][0]))
        self._quiet = True
        while self.count() > len(rows):
            self.takeItem(self.count() - 1)
        for i, (cls, (name, count)) in enumerate(rows):
            item = self.item(i)
            state = Qt.CheckState.Unchecked if name in self._disabled_names else Qt.CheckState.Checked
            if item is None:
                item = QListWidgetItem()
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(state)  # a check box only shows once a state is set
                self.addItem(item)
            if item.data(Qt.ItemDataRole.UserRole) != cls or item.data(Qt.ItemDataRole.UserRole + 1) != name:
                item.setIcon(self._swatch(cls))
                item.setData(Qt.ItemDataRole.UserRole, cls)
                item.setData(Qt.ItemDataRole.UserRole + 1, name)
            text = f"{name}  ({count})"
            if item.text() != text:
                item.setText(text)
            if item.checkState() != state:
                item.setCheckState(state)
        self._quiet = False

    def _swatch(self, cls: int) -> QIcon:
        if cls not in self._swatches:
            self._swatches[cls] = _swatch(class_colour(cls))
        return self._swatches[cls]

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

"""The class panel of the GAN tab (class-conditional runs): ask G for a shape.

Plain values only: `set_classes(names, enabled, hint)` fills the picker; `set_result(image, caption)` shows a
strip or grid as (H, W, 3) uint8. It asks for work with signals:
- `grid_requested(cls)`: many noise vectors, all drawn as class `cls` ("Many of it");
- `new_noise_requested(cls)`: the same with fresh noise;
- `strip_requested()`: one noise vector (the grid cell last clicked) drawn as every class.
No torch here.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .latent_strip import StripImage


class GanClassPanel(QWidget):
    grid_requested = Signal(int)  # class index
    new_noise_requested = Signal(int)  # class index
    strip_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.picker = QComboBox()
        self.picker.setToolTip("The shape to ask G for")
        self.grid_btn = QPushButton("Many of it")
        self.grid_btn.setToolTip("One class, many noise vectors: what the noise decides")
        self.noise_btn = QPushButton("New noise")
        self.strip_btn = QPushButton("Every class (cell 1)")
        self.strip_btn.setToolTip("One noise vector (click a cell of the sample grid) drawn as every class")
        self.image = StripImage()
        self.image.setMinimumHeight(96)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #9aa0a6;")
        row = QHBoxLayout()
        row.addWidget(QLabel("Ask for"))
        row.addWidget(self.picker, 1)
        row.addWidget(self.noise_btn)
        buttons = QHBoxLayout()
        buttons.addWidget(self.grid_btn)
        buttons.addWidget(self.strip_btn)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addLayout(buttons)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.hint)
        self.grid_btn.clicked.connect(lambda: self.grid_requested.emit(self.picker.currentIndex()))
        self.noise_btn.clicked.connect(lambda: self.new_noise_requested.emit(self.picker.currentIndex()))
        self.strip_btn.clicked.connect(self.strip_requested.emit)
        self.picker.currentIndexChanged.connect(self._picked)
        self.set_classes((), False, "")

    def set_classes(self, names: tuple[str, ...], enabled: bool, hint: str) -> None:
        self.picker.blockSignals(True)
        self.picker.clear()
        for name in names:
            self.picker.addItem(f"a {name}")
        self.picker.blockSignals(False)
        for w in (self.picker, self.grid_btn, self.noise_btn, self.strip_btn):
            w.setEnabled(enabled)
        self.hint.setText(hint)
        self.hint.setVisible(not enabled)  # a conditional run: the explanation moves to the tooltips
        self.image.setToolTip(hint if enabled else "")
        self.set_result(None, "")

    def set_cell(self, cell: int) -> None:
        self.strip_btn.setText(f"Every class, cell {cell + 1}")

    def set_result(self, image: np.ndarray | None, caption: str) -> None:
        self.image.set_image(image)
        self.caption.setText(caption)

    @Slot(int)
    def _picked(self, index: int) -> None:
        if index >= 0 and self.grid_btn.isEnabled():
            self.grid_requested.emit(index)

"""The latent-space panel of the GAN tab: choose how to travel between noise vectors, see the strip.

Plain values only: the page tells it which grid cells were picked (`set_picks`) and gives it the strip
images as (H, W, 3) uint8 (`set_strip`). It asks for work with two signals:
- `interpolate_requested(a, b, steps, mode)`: the strip from cell a's noise to cell b's, mode "linear" or
  "spherical", 8 to 16 steps;
- `walk_requested(a, distance, seed)`: the strip from cell a's noise to `distance` along random direction `seed`.
No torch here.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout,
                               QWidget)

from .float_slider import FloatSlider
from .sample_grid_history import ScaledImage

MIN_STEPS, MAX_STEPS = 8, 16
WALK_RANGE = 6.0  # a unit direction: typical noise of 64 numbers is ~8 long


class StripImage(ScaledImage):
    """A wide image scaled to fill the width, pixel-sharp, aspect kept."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, min_side=0)
        self.setMinimumHeight(48)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def target_size(self) -> tuple[int, int]:
        return self.width(), max(self.height(), 48)


class LatentPanel(QWidget):
    interpolate_requested = Signal(int, int, int, str)  # cell a, cell b, steps, mode
    walk_requested = Signal(int, float, int)  # cell, distance, direction seed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.picks: tuple[int, ...] = ()
        self.seed = 0
        self.mode = QComboBox()
        self.mode.addItem("spherical (slerp)", "spherical")
        self.mode.addItem("linear (lerp)", "linear")
        self.mode.setToolTip("Linear mixing passes through noise shorter than G ever saw in training (the middle of "
                             "two random vectors is ~0.7x as long); spherical keeps the length.")
        self.steps = QSpinBox()
        self.steps.setRange(MIN_STEPS, MAX_STEPS)
        self.steps.setValue(10)
        self.steps.setSuffix(" steps")
        self.walk = FloatSlider()
        self.walk.setRange(-WALK_RANGE, WALK_RANGE)
        self.walk.setValue(0.0)
        self.walk.setToolTip("Walk from the first picked cell's noise along a random direction (this far)")
        self.new_dir = QPushButton("New direction")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #9aa0a6;")
        self.strip = StripImage()
        self.caption = QLabel("")
        self.caption.setStyleSheet("color: #9aa0a6;")
        self.caption.setWordWrap(True)  # a run with a discrete code adds where the code changes
        row = QHBoxLayout()
        row.addWidget(self.mode)
        row.addWidget(self.steps)
        walk_row = QHBoxLayout()
        walk_row.addWidget(QLabel("Walk"))
        walk_row.addWidget(self.walk, 1)
        walk_row.addWidget(self.new_dir)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.hint)
        layout.addLayout(row)
        layout.addLayout(walk_row)
        layout.addWidget(self.strip, 1)
        layout.addWidget(self.caption)
        self.mode.currentIndexChanged.connect(self._interpolate)
        self.steps.valueChanged.connect(self._interpolate)
        self.walk.valueChanged.connect(self._walk)
        self.new_dir.clicked.connect(self._new_direction)
        self._show_hint()

    # ---- from the page
    def pick(self, cell: int) -> tuple[int, ...]:
        """A grid cell was clicked: keep the last two picks; with two, ask for the interpolation."""
        self.picks = (self.picks + (cell,))[-2:] if cell not in self.picks[-1:] else self.picks
        self._show_hint()
        self._interpolate()
        return self.picks

    def set_strip(self, image: np.ndarray | None, caption: str = "") -> None:
        self.strip.set_image(image)
        self.caption.setText(caption)

    def clear(self) -> None:
        self.picks = ()
        self.set_strip(None)
        self._show_hint()

    # ---- requests
    def interpolation_mode(self) -> str:
        return self.mode.currentData()

    @Slot()
    def _interpolate(self, *args) -> None:
        if len(self.picks) == 2:
            self.interpolate_requested.emit(self.picks[0], self.picks[1], self.steps.value(),
                                            self.interpolation_mode())

    @Slot(float)
    def _walk(self, distance: float) -> None:
        if self.picks:
            self.walk_requested.emit(self.picks[0], float(distance), self.seed)

    @Slot()
    def _new_direction(self) -> None:
        self.seed += 1
        self._walk(self.walk.value())

    def _show_hint(self) -> None:
        n = len(self.picks)
        self.hint.setText(
            "Click two cells of the grid: G's images between their noises." if n == 0 else
            f"Cell {self.picks[0] + 1} (A) picked: click a second cell, or walk." if n == 1 else
            f"A = cell {self.picks[0] + 1} → B = cell {self.picks[1] + 1}; jumps show where G switches shape.")

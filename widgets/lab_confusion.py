"""A classification confusion matrix (C x C, no background row or column): the detection ConfusionMatrix with
its background row and column hidden. Rows are true classes, columns predicted ones. No torch here."""
from __future__ import annotations

import numpy as np

from .detection_confusion import ConfusionMatrix


class ClassConfusion(ConfusionMatrix):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.horizontalHeader().setToolTip("predicted class")
        self.verticalHeader().setToolTip("true class (held-out images)")

    def set_classes(self, counts: np.ndarray, classes: tuple[str, ...]) -> None:
        """counts (C, C) int: row = true class, column = predicted class."""
        counts = np.asarray(counts, np.int64)
        c = len(classes)
        padded = np.zeros((c + 1, c + 1), np.int64)  # + the (hidden) background row and column
        padded[:c, :c] = counts
        self.set_matrix(padded, tuple(classes) + ("background",))
        for i in range(c + 1):
            self.setRowHidden(i, i == c)
            self.setColumnHidden(i, i == c)

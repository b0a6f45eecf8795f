"""A row of small RGB images, each with a caption under it (the Compare tab's patch-shuffle probe). No torch."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget


def to_pixmap(rgb: np.ndarray, side: int) -> QPixmap:
    """(H, W, 3) uint8 -> a square-ish pixmap `side` px wide (nearest: pixels stay visible)."""
    rgb = np.ascontiguousarray(rgb[..., :3], np.uint8)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaledToWidth(side, Qt.TransformationMode.FastTransformation)


class ImageTiles(QWidget):
    def __init__(self, count: int = 3, side: int = 96, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        self.images: list[QLabel] = []
        self.captions: list[QLabel] = []
        for i in range(count):
            image, caption = QLabel(), QLabel("")
            image.setAlignment(Qt.AlignmentFlag.AlignCenter)
            image.setMinimumSize(side, side)
            caption.setWordWrap(True)
            caption.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            caption.setStyleSheet("font-size: 11px;")
            caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            grid.addWidget(image, 0, i)
            grid.addWidget(caption, 1, i)
            self.images.append(image)
            self.captions.append(caption)

    def set_tiles(self, images: np.ndarray | None, texts: tuple[str, ...] = ()) -> None:
        """images: (G, H, W, 3) uint8 (None clears); texts: one caption per image."""
        for i, (label, caption) in enumerate(zip(self.images, self.captions)):
            if images is None or i >= len(images):
                label.clear()
                caption.setText("")
                continue
            label.setPixmap(to_pixmap(images[i], self.side))
            caption.setText(texts[i] if i < len(texts) else "")

    def has_tiles(self) -> bool:
        return any(label.pixmap() is not None and not label.pixmap().isNull() for label in self.images)

"""An image (e.g. a grid of generated samples) with a history slider over earlier versions.

`add(step, image)` keeps at most `capacity` images spread evenly over the whole run: when full, every
second one is dropped and the keeping stride doubles, so memory stays bounded on any run length.
The slider (drag, or the arrow / Home / End keys when it has focus) goes back to any kept image;
at the right end it follows the newest. No torch here.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget


def to_pixmap(image: np.ndarray) -> QPixmap:
    """(H, W, 3) uint8 -> QPixmap (copied, so the array may change afterwards)."""
    img = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    h, w = img.shape[:2]
    return QPixmap.fromImage(QImage(img.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


class ScaledImage(QLabel):
    """Shows an image as large as fits, pixel-sharp (nearest neighbour), aspect kept."""

    def __init__(self, parent: QWidget | None = None, min_side: int = 120):
        super().__init__(parent)
        self._pix: QPixmap | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(min_side, min_side)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setStyleSheet("background: #1e1f22;")

    def set_image(self, image: np.ndarray | None) -> None:
        self._pix = None if image is None else to_pixmap(image)
        self._rescale()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pix is None:
            self.clear()
            return
        side = min(self.width(), self.height())
        self.setPixmap(self._pix.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.FastTransformation))


class SampleGridHistory(QWidget):
    index_changed = Signal(int)  # the step of the image shown

    def __init__(self, title: str = "", parent: QWidget | None = None, capacity: int = 64):
        super().__init__(parent)
        self.capacity = capacity
        self.stride = 1
        self._offers = 0
        self.items: list[tuple[int, np.ndarray]] = []
        self.title = QLabel(title)
        self.title.setStyleSheet("font-weight: bold;")
        self.image = ScaledImage()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.slider.setToolTip("Go back to earlier samples (arrow keys step one, Home/End jump)")
        self.slider.valueChanged.connect(self._show)
        self.caption = QLabel("no samples yet")
        self.caption.setStyleSheet("color: #9aa0a6;")
        bottom = QHBoxLayout()
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.caption)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.image, 1)
        layout.addLayout(bottom)

    # ---- data
    def add(self, step: int, image: np.ndarray) -> None:
        """Offer a new image; shown at once when the slider is at the newest one."""
        following = self.is_following()
        keep = self._offers % self.stride == 0
        self._offers += 1
        newest = (step, image)
        if keep:
            self.items.append(newest)
            if len(self.items) > self.capacity:
                self.items = self.items[::2]
                self.stride *= 2
        self._sync_slider(following, newest if not keep else None)

    def set_items(self, items: list[tuple[int, np.ndarray]], stride: int = 1) -> None:
        """Replace the history (e.g. from a loaded run); shows the newest."""
        self.items = list(items)[-self.capacity:]
        self.stride = max(1, stride)
        self._offers = (len(self.items) - 1) * self.stride + 1 if self.items else 0
        self._sync_slider(True)

    def truncate(self, last_step: int) -> None:
        self.items = [(s, im) for s, im in self.items if s <= last_step]
        self._sync_slider(True)

    def clear(self) -> None:
        self.items, self.stride, self._offers = [], 1, 0
        self._sync_slider(True)

    def is_following(self) -> bool:
        """True while the newest image is shown (the slider at its right end)."""
        return self.slider.value() >= self.slider.maximum()

    def current_step(self) -> int | None:
        if not self.items:
            return None
        return self.items[min(self.slider.value(), len(self.items) - 1)][0]

    # ---- view
    def _sync_slider(self, follow: bool, unkept: tuple[int, np.ndarray] | None = None) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(self.items) - 1, 0))
        if follow:
            self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)
        if follow and unkept is not None:  # the newest image is shown even when thinning skips storing it
            self._display(unkept, len(self.items), len(self.items))
        else:
            self._show(self.slider.value())

    @Slot(int)
    def _show(self, index: int) -> None:
        if not self.items:
            self.image.set_image(None)
            self.caption.setText("no samples yet")
            return
        index = min(max(index, 0), len(self.items) - 1)
        self._display(self.items[index], index + 1, len(self.items))

    def _display(self, item: tuple[int, np.ndarray], pos: int, total: int) -> None:
        step, image = item
        self.image.set_image(image)
        self.caption.setText(f"step {step:,}  ({pos}/{total} kept)")
        self.index_changed.emit(step)

    def keyPressEvent(self, event) -> None:  # noqa: N802  arrow keys work with focus anywhere on the widget
        if event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Home, Qt.Key.Key_End):
            self.slider.keyPressEvent(event)
        else:
            super().keyPressEvent(event)

"""An image (e.g. a grid of generated samples) with a history slider over earlier versions.

`add(step, image)` keeps at most `capacity` images spread evenly over the whole run: when full, every
second one is dropped and the keeping stride doubles, so memory stays bounded on any run length.
The slider (drag, or the arrow / Home / End keys when it has focus) goes back to any kept image;
at the right end it follows the newest. With `set_cells(n)`, a click on the image emits the index of the
grid cell under it (`cell_clicked`), and `mark_cells` outlines chosen cells. No torch here.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget


def to_pixmap(image: np.ndarray) -> QPixmap:
    """(H, W, 3) uint8 -> QPixmap (copied, so the array may change afterwards)."""
    img = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    h, w = img.shape[:2]
    return QPixmap.fromImage(QImage(img.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


def cell_at(fx: float, fy: float, cols: int, rows: int) -> int | None:
    """The index (row by row) of the grid cell at fractions (fx, fy) of a cols x rows grid image; None outside."""
    if not (0 <= fx < 1 and 0 <= fy < 1):
        return None
    return int(fy * rows) * cols + int(fx * cols)


class ScaledImage(QLabel):
    """Shows an image as large as fits, pixel-sharp (nearest neighbour), aspect kept. A click on the image
    emits `clicked(fx, fy)`, the fractions of its width and height; `set_marks` outlines fractional rects."""

    clicked = Signal(float, float)

    def __init__(self, parent: QWidget | None = None, min_side: int = 120):
        super().__init__(parent)
        self._pix: QPixmap | None = None
        self._marks: list[tuple[float, float, float, float, str]] = []  # (x, y, w, h) fractions, label
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
        w, h = self.target_size()
        self.setPixmap(self._pix.scaled(w, h, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))

    def target_size(self) -> tuple[int, int]:
        """The box the image is scaled into (aspect kept): the largest square that fits."""
        side = min(self.width(), self.height())
        return side, side

    def image_rect(self) -> QRectF | None:
        """Where the image is drawn in this widget (centred), or None without one."""
        pix = self.pixmap()
        if self._pix is None or pix is None or pix.isNull():
            return None
        w, h = pix.width(), pix.height()
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def set_marks(self, marks: list[tuple[float, float, float, float, str]]) -> None:
        self._marks = list(marks)
        self.update()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        r = self.image_rect()
        if r is not None and event.button() == Qt.MouseButton.LeftButton:
            pos = event.position()
            fx, fy = (pos.x() - r.x()) / r.width(), (pos.y() - r.y()) / r.height()
            if 0 <= fx < 1 and 0 <= fy < 1:
                self.clicked.emit(fx, fy)
        super().mousePressEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        r = self.image_rect()
        if r is None or not self._marks:
            return
        p = QPainter(self)
        p.setPen(QPen(QColor(255, 213, 79), 2))
        for x, y, w, h, label in self._marks:
            box = QRectF(r.x() + x * r.width(), r.y() + y * r.height(), w * r.width(), h * r.height())
            p.drawRect(box)
            p.drawText(box.adjusted(3, 1, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, label)
        p.end()


class SampleGridHistory(QWidget):
    index_changed = Signal(int)  # the step of the image shown
    cell_clicked = Signal(int)  # the index of the grid cell clicked (after set_cells)

    def __init__(self, title: str = "", parent: QWidget | None = None, capacity: int = 200):
        super().__init__(parent)
        self.cells: tuple[int, int] | None = None  # (columns, rows) of the grid image, when cells can be picked
        self.capacity = capacity
        self.stride = 1
        self._offers = 0
        self.items: list[tuple[int, np.ndarray]] = []
        self.title = QLabel(title)
        self.title.setStyleSheet("font-weight: bold;")
        self.image = ScaledImage()
        self.image.clicked.connect(self._on_click)
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

    # ---- picking cells
    def set_cells(self, count: int) -> None:
        """The images are grids of `count` tiles in a near-square layout (as models.imaging.mosaic makes them)."""
        cols = max(1, int(np.ceil(np.sqrt(count))))
        self.cells = (cols, int(np.ceil(count / cols)))

    @Slot(float, float)
    def _on_click(self, fx: float, fy: float) -> None:
        if self.cells is not None:
            cell = cell_at(fx, fy, *self.cells)
            if cell is not None:
                self.cell_clicked.emit(cell)

    def mark_cells(self, cells: list[int], labels: list[str] | None = None) -> None:
        """Outline these cells (e.g. the ends of an interpolation), labelled."""
        if self.cells is None:
            return
        cols, rows = self.cells
        labels = labels or [""] * len(cells)
        self.image.set_marks([((c % cols) / cols, (c // cols) / rows, 1 / cols, 1 / rows, lab)
                              for c, lab in zip(cells, labels)])

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

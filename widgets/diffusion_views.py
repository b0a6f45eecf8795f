"""Views of the Diffusion tab: an image grid, the three noise-schedule plots with a cursor, a help text.

No torch here: everything arrives as numpy arrays.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

pg.setConfigOptions(imageAxisOrder="row-major")

BACKGROUND = "#202124"


def grid_columns(n: int) -> int:
    return max(1, int(np.ceil(np.sqrt(n))))


def mosaic(images: np.ndarray, columns: int | None = None, gap: int = 1, fill: int = 40) -> np.ndarray:
    """(B, H, W, C) uint8 -> one (rows*(H+gap)-gap, cols*(W+gap)-gap, C) image, row-major tiles."""
    b, h, w, c = images.shape
    cols = columns or grid_columns(b)
    rows = int(np.ceil(b / cols))
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, c), fill, np.uint8)
    for i in range(b):
        r, q = divmod(i, cols)
        out[r * (h + gap): r * (h + gap) + h, q * (w + gap): q * (w + gap) + w] = images[i]
    return out


class HelpText(QLabel):
    """The 2-3 sentence "what am I looking at" text under a view."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setStyleSheet("color: #9aa0a6; font-size: 11px;")


class ImagePanel(QWidget):
    """A titled image (or a grid of images) drawn pixel-exact, scaled to fit, aspect kept."""

    def __init__(self, title: str, help_text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(f"<b>{title}</b>")
        self.plot = pg.GraphicsLayoutWidget()
        self.plot.setBackground(BACKGROUND)
        self.plot.ci.setContentsMargins(2, 2, 2, 2)
        self.view = self.plot.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setMouseEnabled(False, False)
        self.item = pg.ImageItem()
        self.view.addItem(self.item)
        self._shape: tuple[int, ...] | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        self.help = HelpText(help_text) if help_text else None
        if self.help:
            layout.addWidget(self.help)

    def set_image(self, image: np.ndarray | None) -> None:
        """(H, W, 3) uint8, or None to clear."""
        if image is None:
            self.item.clear()
            self._shape = None
            return
        self.item.setImage(image, autoLevels=False, levels=(0, 255))
        if self._shape != image.shape:
            self._shape = image.shape
            self.view.autoRange(padding=0.0)

    def set_grid(self, images: np.ndarray, columns: int | None = None) -> np.ndarray:
        """Show (B, H, W, 3) uint8 as a grid; returns the mosaic shown."""
        m = mosaic(images, columns)
        self.set_image(m)
        return m

    def current_image(self) -> np.ndarray | None:
        return self.item.image


class SchedulePlots(QWidget):
    """beta_t, alpha_bar_t and the signal-to-noise ratio (log axis) over t, with a cursor at t."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground(BACKGROUND)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.cursors: dict[str, pg.InfiniteLine] = {}
        self.points: dict[str, pg.ScatterPlotItem] = {}
        self._data: dict[str, np.ndarray] = {}
        specs = (("beta", "beta_t (noise added per step)", False),
                 ("alpha_bar", "alpha_bar_t (signal kept)", False),
                 ("snr", "SNR = alpha_bar / (1 - alpha_bar)", True))
        for col, (key, title, log) in enumerate(specs):
            p = self.plots.addPlot(row=0, col=col, title=title)
            p.setLogMode(y=log)
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setLabel("bottom", "t")
            p.setMouseEnabled(False, False)
            p.hideButtons()
            self.curves[key] = p.plot(pen=pg.mkPen("#8ab4f8", width=2))
            self.cursors[key] = pg.InfiniteLine(angle=90, pen=pg.mkPen("#fbbc04", width=1.5))
            p.addItem(self.cursors[key])
            self.points[key] = pg.ScatterPlotItem(size=8, brush=pg.mkBrush("#fbbc04"), pen=None)
            p.addItem(self.points[key])
        self.readout = QLabel("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plots, 1)
        layout.addWidget(self.readout)

    def set_schedule(self, betas: np.ndarray, alpha_bar: np.ndarray, snr: np.ndarray) -> None:
        t = np.arange(1, len(betas) + 1)  # steps are numbered 1..T; t = 0 is the clean image
        self._data = {"beta": np.asarray(betas), "alpha_bar": np.asarray(alpha_bar), "snr": np.maximum(snr, 1e-12)}
        for key, values in self._data.items():
            self.curves[key].setData(t, values)

    def set_cursor(self, t: int) -> None:
        """t in 0..T: 0 is the clean image (no point on the curves)."""
        if not self._data:
            return
        t = int(np.clip(t, 0, len(self._data["beta"])))
        for key, values in self._data.items():
            self.cursors[key].setValue(t)
            if t == 0:
                self.points[key].setData([], [])
            else:
                y = values[t - 1]
                self.points[key].setData([t], [np.log10(y) if key == "snr" else y])
        if t == 0:
            self.readout.setText("t = 0: the clean image, nothing added yet.")
            return
        d, i = self._data, t - 1
        self.readout.setText(f"t = {t}:  beta_t = {d['beta'][i]:.5f},  alpha_bar_t = {d['alpha_bar'][i]:.4f} "
                             f"(signal x{np.sqrt(d['alpha_bar'][i]):.3f}, noise x{np.sqrt(1 - d['alpha_bar'][i]):.3f}),"
                             f"  SNR = {d['snr'][i]:.3g}")

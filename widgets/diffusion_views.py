"""Views of the Diffusion tab: an image panel, a row of aligned panels, the three noise-schedule plots
with a cursor, a help text.

No torch and no models/ here: everything arrives as numpy arrays and plain values (grids are tiled by
the tab's session).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

pg.setConfigOptions(imageAxisOrder="row-major")

BACKGROUND = "#202124"


class HelpText(QLabel):
    """The 2-3 sentence "what am I looking at" text under a view."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setStyleSheet("color: #9aa0a6; font-size: 11px;")


class ImagePanel(QWidget):
    """A titled image drawn pixel-exact, scaled to fit, aspect kept."""

    resized = Signal(float)  # width / height of the image area

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

    def current_image(self) -> np.ndarray | None:
        return self.item.image

    def image_area_aspect(self) -> float:
        return self.plot.width() / max(1, self.plot.height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self.resized.emit(self.image_area_aspect())


class PanelRow(QWidget):
    """Image panels side by side, equally wide, with their image areas aligned: titles in one row,
    images in the next, help texts (of any length) in a row below, so a longer text never makes one
    image shorter than its neighbours."""

    def __init__(self, panels: tuple[tuple[str, str], ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(2)
        self.panels: list[ImagePanel] = []
        for col, (title, help_text) in enumerate(panels):
            panel = ImagePanel(title)
            grid.addWidget(panel, 0, col)
            grid.setColumnStretch(col, 1)
            if help_text:
                grid.addWidget(HelpText(help_text), 1, col, Qt.AlignmentFlag.AlignTop)
            self.panels.append(panel)
        grid.setRowStretch(0, 1)


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

    def set_schedule(self, steps: np.ndarray, betas: np.ndarray, alpha_bar: np.ndarray, snr: np.ndarray) -> None:
        """Curves over steps 1..T (t = 0 is the clean image); snr > 0 (log axis)."""
        self._data = {"beta": np.asarray(betas), "alpha_bar": np.asarray(alpha_bar), "snr": np.asarray(snr)}
        for key, values in self._data.items():
            self.curves[key].setData(steps, values)

    def set_cursor(self, t: int, readout: str) -> None:
        """t in 0..T: 0 is the clean image (no point on the curves); readout: the text under the plots."""
        self.readout.setText(readout)
        if not self._data:
            return
        t = int(np.clip(t, 0, len(self._data["beta"])))
        for key, values in self._data.items():
            self.cursors[key].setValue(t)
            if t == 0:
                self.points[key].setData([], [])
            else:
                y = values[t - 1]
                self.points[key].setData([t], [np.log10(y) if key == "snr" else y])  # log axis: log10 coordinates

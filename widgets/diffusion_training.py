"""The live-training page: start/pause, save/load, loss curves (overall and per quarter of the
timestep range) and sample previews. It only draws what the tab hands it."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from .diffusion_views import HelpText, ImagePanel
from .live_curves import LiveCurves

TRAIN_HELP = (
    "Training shows the network a real sprite, noises it to a random step t and asks it to predict that noise; "
    "the loss is the squared error. The per-quarter curves split the loss by t: the first quarter (little noise) "
    "is hard because the noise is tiny, the last quarter (almost pure noise) is where the shape is decided.")
PREVIEW_HELP = ("Previews: one sample per class (DDIM, guidance 2.5) from the averaged (EMA) weights, every "
                "100 steps. Blobs come first, then colours, then the corners that tell the classes apart.")
LOSS_PLOT = "Loss: error of the predicted noise, all timesteps"
QUARTER_PLOT = "Loss by quarter of t"
QUARTERS = ("1st (least noise)", "2nd", "3rd", "4th (most noise)")


class TrainingPage(QWidget):
    start_requested = Signal(str)  # start_from: "scratch" | "bundled"
    pause_requested = Signal()
    save_requested = Signal()
    load_requested = Signal()
    use_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_box = QComboBox()
        self.start_box.addItem("from scratch (random weights)", "scratch")
        self.start_box.addItem("fine-tune the bundled weights", "bundled")
        self.start_button = QPushButton("Start training")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setEnabled(False)
        self.save_button = QPushButton("Save checkpoint...")
        self.load_button = QPushButton("Resume from checkpoint...")
        self.use_button = QPushButton("Sample with these weights")
        self.save_button.setEnabled(False)
        self.use_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(QLabel("Start"))
        row.addWidget(self.start_box)
        for b in (self.start_button, self.pause_button, self.save_button, self.load_button, self.use_button):
            row.addWidget(b)
        row.addStretch(1)
        self.status = QLabel("Not started. Training runs on the same worker as sampling; pause to sample.")

        self.curves = LiveCurves()
        self.curves.add_plot(LOSS_PLOT, "MSE")
        self.curves.add_series("loss", plot=LOSS_PLOT)
        self.curves.add_plot(QUARTER_PLOT, "MSE")
        for name in QUARTERS:
            self.curves.add_series(name, plot=QUARTER_PLOT)
        self.previews = ImagePanel("Sample previews (one per class)", PREVIEW_HELP)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.curves)
        split.addWidget(self.previews)
        split.setSizes([700, 300])

        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        layout.addWidget(HelpText(TRAIN_HELP))

        self.start_button.clicked.connect(lambda: self.start_requested.emit(self.start_box.currentData()))
        self.pause_button.clicked.connect(self.pause_requested.emit)
        self.save_button.clicked.connect(self.save_requested.emit)
        self.load_button.clicked.connect(self.load_requested.emit)
        self.use_button.clicked.connect(self.use_requested.emit)

    def set_running(self, running: bool, started: bool) -> None:
        self.start_button.setEnabled(not running)
        self.start_button.setText("Resume training" if started else "Start training")
        self.start_box.setEnabled(not started)
        self.pause_button.setEnabled(running)
        self.save_button.setEnabled(started and not running)
        self.load_button.setEnabled(not running)
        self.use_button.setEnabled(started and not running)

    def add_report(self, steps: np.ndarray, loss: np.ndarray, quarters: np.ndarray) -> None:
        if len(steps) == 0:
            return
        self.curves.append_series("loss", steps, loss)
        for i, name in enumerate(QUARTERS):
            ok = np.isfinite(quarters[:, i])
            if ok.any():
                self.curves.append_series(name, steps[ok], quarters[ok, i])

    def set_previews(self, grid: np.ndarray) -> None:
        """(h, w, 3) uint8: the previews, already tiled."""
        self.previews.set_image(grid)

    def clear(self) -> None:
        self.curves.clear()
        self.previews.set_image(None)

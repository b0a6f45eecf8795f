"""The forward-process page: the current image, the noise added and x_t, scrubbed over t, with the
schedule plots and a cursor. The page only draws; the tab's session computes x_t when t changes."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from .diffusion_views import HelpText, ImagePanel, SchedulePlots
from .step_scrubber import StepScrubber

FORWARD_HELP = (
    "The forward process destroys an image on purpose: at step t the picture is scaled down by "
    "sqrt(alpha_bar_t) and Gaussian noise scaled by sqrt(1 - alpha_bar_t) is added. Drag t to the right "
    "and the signal fades until only noise is left; a diffusion model learns to undo this, one step at a time.")
SCHEDULE_HELP = (
    "The schedule decides how fast the image disappears. beta_t is the noise added in step t, alpha_bar_t the "
    "share of the original signal still there, and the signal-to-noise ratio (log axis) falls from very high to "
    "almost zero. The cosine schedule keeps more signal in the middle steps than the linear one.")


class ForwardPage(QWidget):
    settings_changed = Signal()  # schedule, steps, size or seed changed
    t_changed = Signal(int)

    def __init__(self, schedules: tuple[str, ...] = ("linear", "cosine"), t_range: tuple[int, int] = (10, 4000),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.schedule_box = QComboBox()
        self.schedule_box.addItems(schedules)
        self.steps_box = QSpinBox()
        self.steps_box.setRange(*t_range)
        self.steps_box.setValue(1000)
        self.steps_box.setToolTip("T, the number of noising steps")
        self.size_box = QComboBox()
        self.size_box.addItem("Image size (long side up to 256 px)", 256)
        self.size_box.addItem("Model size (32 x 32, what the sprite DDPM sees)", 32)
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.seed_box.setToolTip("Seed of the noise")
        controls = QHBoxLayout()
        for label, w in (("Schedule", self.schedule_box), ("T", self.steps_box), ("Size", self.size_box),
                         ("Noise seed", self.seed_box)):
            controls.addWidget(QLabel(label))
            controls.addWidget(w)
        controls.addStretch(1)

        self.x0 = ImagePanel("x_0: the clean image")
        self.noise = ImagePanel("eps: the noise (same for every t)")
        self.x_t = ImagePanel("x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps")
        images = QGridLayout()
        for col, panel in enumerate((self.x0, self.noise, self.x_t)):
            images.addWidget(panel, 0, col)
        self.scrubber = StepScrubber(interval_ms=30)
        self.plots = SchedulePlots()
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(images, 3)
        layout.addWidget(self.scrubber)
        layout.addWidget(HelpText(FORWARD_HELP))
        layout.addWidget(self.plots, 2)
        layout.addWidget(HelpText(SCHEDULE_HELP))

        self.schedule_box.currentTextChanged.connect(lambda _: self.settings_changed.emit())
        self.steps_box.editingFinished.connect(self.settings_changed.emit)
        self.size_box.currentIndexChanged.connect(lambda _: self.settings_changed.emit())
        self.seed_box.editingFinished.connect(self.settings_changed.emit)
        self.scrubber.positionChanged.connect(self.t_changed.emit)

    def schedule_name(self) -> str:
        return self.schedule_box.currentText()

    def num_steps(self) -> int:
        return self.steps_box.value()

    def max_side(self) -> int:
        return int(self.size_box.currentData())

    def seed(self) -> int:
        return self.seed_box.value()

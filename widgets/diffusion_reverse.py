"""The reverse-process page: sampler settings, three aligned grids (x_t, x0_hat, predicted noise) and the
step scrubber. It only draws what it is given (uint8 grids, labels, texts) and reports what the user does;
the tab's session turns a sampling run into those values. No torch and no models/ here."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from .diffusion_views import PanelRow
from .float_slider import FloatSlider
from .step_scrubber import StepScrubber

XT_HELP = ("x_t: what the sampler holds at this step. It starts as pure Gaussian noise; every step removes a "
           "little of the predicted noise, so the shapes appear gradually.")
X0_HELP = ("x0_hat: the model's current guess of the finished image, computed from x_t and the predicted "
           "noise. Early guesses are blurry averages; watch them sharpen long before x_t looks clean.")
EPS_HELP = ("Predicted noise eps_hat: what the network thinks was added to the clean image (grey = 0, shown "
            "from -3 to +3). Subtracting it from x_t gives x0_hat.")
GUIDANCE_HELP = ("Guidance scale: 1 uses the class-conditional model as trained; larger values push each "
                 "sample further towards its class (mixing in the unconditional prediction with a negative "
                 "weight), at the cost of variety. 0 ignores the class.")


class ReversePage(QWidget):
    sample_requested = Signal()  # read settings()
    stop_requested = Signal()
    export_requested = Signal(str)  # "gif" | "strip" | "final"
    position_changed = Signal(int)  # the scrubber moved: draw that position
    grids_resized = Signal(float)  # width / height of one grid panel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._shown_position = -1
        self._class_names: tuple[str, ...] = ()

        self.sampler_box = QComboBox()
        self.sampler_box.addItem("DDIM (N steps, eta)", "ddim")
        self.sampler_box.addItem("DDPM (every step)", "ddpm")
        self.steps_box = QSpinBox()
        self.steps_box.setRange(1, 1000)
        self.steps_box.setValue(50)
        self.eta_box = QDoubleSpinBox()
        self.eta_box.setRange(0.0, 1.0)
        self.eta_box.setSingleStep(0.1)
        self.eta_box.setToolTip("0: deterministic DDIM; 1: as random as DDPM")
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.batch_box = QSpinBox()
        self.batch_box.setRange(1, 64)
        self.batch_box.setValue(16)
        self.class_box = QComboBox()
        self.guidance = FloatSlider(Qt.Orientation.Horizontal)
        self.guidance.setRange(0.0, 8.0)
        self.guidance.setSingleStep(0.1)
        self.guidance.setPageStep(1.0)
        self.guidance.setValue(2.5)
        self.guidance.setToolTip(GUIDANCE_HELP)
        self.sample_button = QPushButton("Sample")
        self.sample_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)

        row1 = QHBoxLayout()
        for label, w in (("Sampler", self.sampler_box), ("Steps", self.steps_box), ("eta", self.eta_box),
                         ("Seed", self.seed_box), ("Batch", self.batch_box), ("Class", self.class_box)):
            row1.addWidget(QLabel(label))
            row1.addWidget(w)
        row1.addStretch(1)
        row2 = QHBoxLayout()
        self.guidance_label = QLabel("Guidance")
        row2.addWidget(self.guidance_label)
        row2.addWidget(self.guidance, 1)
        row2.addWidget(self.sample_button)
        row2.addWidget(self.stop_button)

        self.grids = PanelRow((("x_t (noisy sample)", XT_HELP), ("x0_hat (predicted clean image)", X0_HELP),
                               ("eps_hat (predicted noise)", EPS_HELP)))
        self.x_t, self.x0, self.eps = self.grids.panels
        self.scrubber = StepScrubber()
        self.info = QLabel("Press Sample: the batch starts as noise and is denoised step by step.")
        self.info.setWordWrap(True)
        exports = QHBoxLayout()
        self.export_buttons = {}
        for key, text in (("gif", "Export trajectory GIF..."), ("strip", "Export strip PNG..."),
                          ("final", "Export final images PNG...")):
            b = QPushButton(text)
            b.setEnabled(False)
            b.clicked.connect(lambda _=False, k=key: self.export_requested.emit(k))
            self.export_buttons[key] = b
            exports.addWidget(b)
        exports.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addWidget(self.grids, 1)
        layout.addWidget(self.scrubber)
        layout.addWidget(self.info)
        layout.addLayout(exports)

        self.sampler_box.currentIndexChanged.connect(self._sampler_changed)
        self.sample_button.clicked.connect(self.sample_requested.emit)
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self.scrubber.positionChanged.connect(self.position_changed.emit)
        self.x_t.resized.connect(self.grids_resized.emit)
        self._sampler_changed()

    # ---- model capabilities ---------------------------------------------------------------------
    def set_model_info(self, class_names: tuple[str, ...], num_train_steps: int) -> None:
        self._class_names = tuple(class_names)
        self.class_box.clear()
        if class_names:
            self.class_box.addItem("every class in turn", None)
            for i, name in enumerate(class_names):
                self.class_box.addItem(name, i)
        else:
            self.class_box.addItem("(unconditional model)", None)
        self.class_box.setEnabled(bool(class_names))
        self.guidance.setEnabled(bool(class_names))
        self.steps_box.setMaximum(num_train_steps)
        self.sampler_box.setItemText(1, f"DDPM (all {num_train_steps} steps)")

    @Slot()
    def _sampler_changed(self) -> None:
        ddim = self.sampler_box.currentData() == "ddim"
        self.steps_box.setEnabled(ddim)
        self.eta_box.setEnabled(ddim)

    def settings(self) -> dict:
        """The controls as plain values: sampler, steps, eta, seed, batch, class_index (None: every class
        in turn or unconditional), guidance."""
        cls = self.class_box.currentData()
        return {"sampler": self.sampler_box.currentData(), "steps": self.steps_box.value(),
                "eta": self.eta_box.value(), "seed": self.seed_box.value(), "batch": self.batch_box.value(),
                "class_index": None if cls is None else int(cls), "guidance": self.guidance.value()}

    # ---- a run --------------------------------------------------------------------------------
    def set_running(self, running: bool, can_export: bool) -> None:
        self.stop_button.setEnabled(running)
        for b in self.export_buttons.values():
            b.setEnabled(not running and can_export)

    def show_run(self, new_run: bool, maximum: int, available: int, labels: tuple[str, ...], info: str) -> None:
        """A new run (the scrubber starts over) or more computed positions of the current one."""
        if new_run:
            self._shown_position = -1
            self.scrubber.reset(maximum, labels, available=available)
        else:
            self.scrubber.set_available(available)
        self.info.setText(info)

    def show_grids(self, position: int, x_t: np.ndarray, x0_hat: np.ndarray, eps_hat: np.ndarray) -> None:
        """The three (h, w, 3) uint8 grids of a position."""
        self._shown_position = position
        self.x_t.set_image(x_t)
        self.x0.set_image(x0_hat)
        self.eps.set_image(eps_hat)

    def shown_position(self) -> int:
        return self._shown_position

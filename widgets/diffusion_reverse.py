"""The reverse-process page: sampler settings, three synchronised grids (x_t, x0_hat, predicted noise)
and the step scrubber. It draws the trajectory arrays it is given and never computes anything itself:
showing another step is three small mosaics and three setImage calls."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)
from superqt import QLabeledDoubleSlider

from models.diffusion.results import SamplingRequest, Trajectory

from .diffusion_views import HelpText, ImagePanel, grid_columns, mosaic
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
    sample_requested = Signal(object)  # SamplingRequest
    stop_requested = Signal()
    export_requested = Signal(str)  # "gif" | "strip" | "final"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.trajectory: Trajectory | None = None
        self.final: np.ndarray | None = None
        self._columns = 4
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
        self.guidance = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.guidance.setRange(0.0, 8.0)
        self.guidance.setValue(2.5)
        self.guidance.setSingleStep(0.1)
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

        self.x_t = ImagePanel("x_t (noisy sample)", XT_HELP)
        self.x0 = ImagePanel("x0_hat (predicted clean image)", X0_HELP)
        self.eps = ImagePanel("eps_hat (predicted noise)", EPS_HELP)
        grids = QGridLayout()
        for col, panel in enumerate((self.x_t, self.x0, self.eps)):
            grids.addWidget(panel, 0, col)
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
        layout.addLayout(grids, 1)
        layout.addWidget(self.scrubber)
        layout.addWidget(self.info)
        layout.addLayout(exports)

        self.sampler_box.currentIndexChanged.connect(self._sampler_changed)
        self.sample_button.clicked.connect(self._emit_request)
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self.scrubber.positionChanged.connect(self.show_position)
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

    def request(self) -> SamplingRequest:
        cls = self.class_box.currentData()
        if not self._class_names:
            ids = None
        elif cls is None:
            ids = tuple(range(len(self._class_names)))
        else:
            ids = (int(cls),)
        return SamplingRequest(sampler=self.sampler_box.currentData(), steps=self.steps_box.value(),
                               eta=self.eta_box.value(), seed=self.seed_box.value(), batch=self.batch_box.value(),
                               class_ids=ids, guidance=round(self.guidance.value(), 2))

    @Slot()
    def _emit_request(self) -> None:
        self.sample_requested.emit(self.request())

    # ---- a run --------------------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)
        for b in self.export_buttons.values():
            b.setEnabled(not running and self.trajectory is not None and self.trajectory.num_steps > 0)

    def start_run(self, trajectory: Trajectory, steps_done: int) -> None:
        """A new run's arrays (filled up to steps_done)."""
        self.trajectory = trajectory
        self.final = None
        b = trajectory.x_t.shape[1]
        self._columns = grid_columns(b)
        if trajectory.labels is not None:  # classes in turn: one column per class
            n = len(np.unique(trajectory.labels))
            if 1 < n <= b and np.array_equal(trajectory.labels, np.resize(trajectory.labels[:n], b)):
                self._columns = n
        labels = [f"(t = {int(t)})" for t in trajectory.timesteps] + ["(done)"]
        self._shown_position = -1
        self.scrubber.reset(trajectory.num_steps, labels, available=steps_done + 1)
        self.update_available(steps_done)

    def update_available(self, steps_done: int) -> None:
        self.scrubber.set_available(steps_done + 1)
        tr = self.trajectory
        if tr is not None:
            self.info.setText(f"{tr.sampler.upper()}: {steps_done} of {tr.num_steps} steps computed; "
                              "every step is kept, scrub or play to compare.")

    def finish_run(self, final: np.ndarray, seconds: float) -> None:
        self.final = final
        tr = self.trajectory
        self.scrubber.set_available(tr.num_positions)
        self.set_running(False)
        names = ""
        if tr.labels is not None and tr.class_names:
            names = " Columns, left to right: " + ", ".join(tr.class_names[i] for i in tr.labels[: self._columns]) + "."
        self.info.setText(f"{tr.sampler.upper()}, {tr.num_steps} steps, guidance {tr.guidance:g}: finished in "
                          f"{seconds:.1f} s.{names}")

    @Slot(int)
    def show_position(self, pos: int) -> None:
        """Show step pos of the kept trajectory in all three grids."""
        tr = self.trajectory
        if tr is None or tr.num_steps == 0:
            return
        self._shown_position = pos
        k = min(pos, tr.num_steps - 1)
        self.x_t.set_grid(tr.x_t[pos], self._columns)
        self.x0.set_grid(tr.x0_hat[k], self._columns)
        self.eps.set_grid(tr.eps_hat[k], self._columns)

    def shown_position(self) -> int:
        return self._shown_position

    def frame(self, pos: int) -> np.ndarray:
        """The three grids of position pos side by side (for exports)."""
        tr = self.trajectory
        k = min(pos, tr.num_steps - 1)
        parts = [mosaic(tr.x_t[pos], self._columns), mosaic(tr.x0_hat[k], self._columns),
                 mosaic(tr.eps_hat[k], self._columns)]
        gap = np.full((parts[0].shape[0], 4, 3), 255, np.uint8)
        return np.concatenate([parts[0], gap, parts[1], gap, parts[2]], axis=1)

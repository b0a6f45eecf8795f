"""The settings form of the GAN tab: data, model, loss and optimiser. Plain values in, plain dicts out.

`live_changed(dict)` fires for settings a running job can take between two steps (learning rates,
betas, D steps per G step, sample interval); `structure_changed()` for those that need a new run (data, resolution,
latent size, loss, batch size, seed, and the techniques: G and D widths, spectral norm, DiffAugment, an averaged G,
class conditioning). No torch here: the tab passes in the choices.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget)

LIVE_KEYS = ("lr_g", "lr_d", "beta1_g", "beta2_g", "beta1_d", "beta2_d", "d_steps", "sample_every")
AUGMENT_CHOICES = (("none", ""), ("translation", "translation"), ("colour + translation", "color,translation"),
                   ("colour + translation + cutout", "color,translation,cutout"))  # (title, DiffAugment policy)
EMA_DECAY = 0.999  # "Average G's weights" ticked


def _lr_box(value: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(5)
    box.setRange(0.00001, 0.1)
    box.setSingleStep(0.00005)
    box.setValue(value)
    return box


def _beta_box(value: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(3)
    box.setRange(0.0, 0.999)
    box.setSingleStep(0.05)
    box.setValue(value)
    return box


def _int_box(lo: int, hi: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box


class GanSettingsForm(QWidget):
    live_changed = Signal(object)  # dict of LIVE_KEYS values
    structure_changed = Signal()

    def __init__(self, datasets: list[tuple[str, str]], losses: list[tuple[str, str]], defaults: dict[str, Any],
                 parent: QWidget | None = None, recipe: dict[str, Any] | None = None, num_classes: int = 6):
        """datasets / losses: (key, title) pairs; defaults: a TrainConfig-like flat dict; recipe: the values the
        'Bundled recipe' button sets; num_classes: the classes of a class-conditional run."""
        super().__init__(parent)
        self.recipe = dict(recipe or {})
        self.num_classes = num_classes
        self.dataset = QComboBox()
        for key, title in datasets:
            self.dataset.addItem(title, key)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("folder (empty: default place)")
        browse = QPushButton("…")
        browse.setFixedWidth(28)
        browse.setToolTip("Pick a folder of images, or one holding torchvision's dataset files")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.setContentsMargins(0, 0, 0, 0)
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.resolution = QComboBox()
        for side in (32, 64):
            self.resolution.addItem(f"{side} x {side}", side)
        self.latent = _int_box(2, 512, defaults["latent_size"], 8)
        self.loss = QComboBox()
        for key, title in losses:
            self.loss.addItem(title, key)
        self.batch = _int_box(2, 512, defaults["batch_size"], 16)
        self.seed = _int_box(0, 2**31 - 1, defaults["seed"])
        self.d_steps = _int_box(1, 10, defaults["d_steps"])
        self.lr_g, self.lr_d = _lr_box(defaults["lr_g"]), _lr_box(defaults["lr_d"])
        self.beta1_g, self.beta2_g = _beta_box(defaults["beta1_g"]), _beta_box(defaults["beta2_g"])
        self.beta1_d, self.beta2_d = _beta_box(defaults["beta1_d"]), _beta_box(defaults["beta2_d"])
        self.sample_every = _int_box(5, 5000, defaults["sample_every"], 5)
        self.width = _int_box(8, 128, defaults.get("width", 32), 8)
        self.width.setToolTip("G's feature maps at the largest resolution (x2, x4 at the coarser ones)")
        self.d_width = _int_box(8, 256, defaults.get("d_width", 32), 8)
        self.d_width.setToolTip("D's feature maps at its first layer: a larger D judges finer detail")
        self.spectral_norm = QCheckBox("Spectral norm in D")
        self.spectral_norm.setToolTip("Divide each D weight by its largest singular value: D stays smooth "
                                      "(1-Lipschitz per layer) and cannot overpower G")
        self.diffaugment = QComboBox()
        for title, policy in AUGMENT_CHOICES:
            self.diffaugment.addItem(title, policy)
        self.diffaugment.setToolTip("DiffAugment: the same random shifts/colours/cutouts on real and fake images "
                                    "before D, differentiable so G learns through them")
        self.g_ema = QCheckBox("Samples from averaged G")
        self.g_ema.setToolTip(f"Draw samples with a moving average of G's weights (decay {EMA_DECAY}): "
                              "smoother, cleaner samples than G's latest step")
        self.conditional = QCheckBox("Class-conditional")
        self.conditional.setToolTip("G is told which shape to draw (conditional BatchNorm); D is a projection "
                                    "discriminator that checks image and class together")
        self.codes = QComboBox()  # (latent_codes, code_mode) per item
        self.codes.addItem("No discrete code", (0, "info"))
        self.codes.addItem(f"Discrete code ({num_classes}), InfoGAN", (num_classes, "info"))
        self.codes.addItem(f"Discrete code ({num_classes}), outline clusters", (num_classes, "clusters"))
        self.codes.setToolTip(
            f"The largest of the first {num_classes} noise numbers picks a code and G switches with it, so G can "
            "jump between separate kinds of image instead of morphing one into the next. InfoGAN: a Q head in D "
            "must tell the code from the image. Outline clusters: the real images are grouped by k-means on the "
            "shape of their outline (no labels), and D checks each image against its cluster or code")
        self.conditional.toggled.connect(lambda on: on and self.codes.setCurrentIndex(0))  # one or the other
        self.codes.currentIndexChanged.connect(lambda i: i and self.conditional.setChecked(False))
        recipe_btn = QPushButton("Bundled recipe")
        recipe_btn.setToolTip("The bundled run's settings: hinge loss, spectral norm, DiffAugment translation, "
                              "averaged G, TTUR learning rates, widths 48, batch 32, a discrete code matched to "
                              "outline clusters (tick Class-conditional after it for the conditional run's)")
        recipe_btn.clicked.connect(self._use_recipe)
        recipe_btn.setEnabled(bool(self.recipe))

        data_box = QGroupBox("Data")
        f = QFormLayout(data_box)
        f.addRow("Dataset", self.dataset)
        f.addRow("Folder", folder_row)
        f.addRow("Resolution", self.resolution)
        model_box = QGroupBox("Model and loss (new run)")
        f = QFormLayout(model_box)
        f.addRow("Latent size", self.latent)
        f.addRow("Loss", self.loss)
        f.addRow("Batch size", self.batch)
        f.addRow("Seed", self.seed)
        f.addRow("Width G / D", self._pair(self.width, self.d_width))
        f.addRow("DiffAugment", self.diffaugment)
        f.addRow(self._pair(self.spectral_norm, self.g_ema))
        f.addRow(self._pair(self.conditional, recipe_btn))
        f.addRow("Discrete code", self.codes)
        opt_box = QGroupBox("Optimiser (applies live)")
        f = QFormLayout(opt_box)
        f.addRow("LR G", self.lr_g)
        f.addRow("LR D", self.lr_d)
        f.addRow("Betas G", self._pair(self.beta1_g, self.beta2_g))
        f.addRow("Betas D", self._pair(self.beta1_d, self.beta2_d))
        f.addRow("D steps / G step", self.d_steps)
        f.addRow("Samples every", self.sample_every)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for box in (data_box, model_box, opt_box):
            layout.addWidget(box)
        self.set_values(defaults)

        for w in (self.dataset, self.resolution, self.loss, self.diffaugment):
            w.currentIndexChanged.connect(self._structure)
        for w in (self.latent, self.batch, self.seed, self.width, self.d_width):
            w.valueChanged.connect(self._structure)
        for w in (self.spectral_norm, self.g_ema, self.conditional):
            w.toggled.connect(self._structure)
        self.codes.currentIndexChanged.connect(self._structure)
        self.folder.editingFinished.connect(self._structure)
        for w in (self.lr_g, self.lr_d, self.beta1_g, self.beta2_g, self.beta1_d, self.beta2_d, self.d_steps,
                  self.sample_every):
            w.valueChanged.connect(self._live)

    @staticmethod
    def _pair(a: QWidget, b: QWidget) -> QWidget:
        w = QWidget()
        row = QHBoxLayout(w)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(a)
        row.addWidget(b)
        return w

    def values(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.currentData(), "data_ref": self.folder.text().strip(),
            "image_size": self.resolution.currentData(), "latent_size": self.latent.value(),
            "loss": self.loss.currentData(), "batch_size": self.batch.value(), "seed": self.seed.value(),
            "d_steps": self.d_steps.value(), "lr_g": self.lr_g.value(), "lr_d": self.lr_d.value(),
            "beta1_g": self.beta1_g.value(), "beta2_g": self.beta2_g.value(), "beta1_d": self.beta1_d.value(),
            "beta2_d": self.beta2_d.value(), "sample_every": self.sample_every.value(),
            "width": self.width.value(), "d_width": self.d_width.value(),
            "spectral_norm": self.spectral_norm.isChecked(), "diffaugment": self.diffaugment.currentData(),
            "g_ema": EMA_DECAY if self.g_ema.isChecked() else 0.0,
            "num_classes": self.num_classes if self.conditional.isChecked() else 0,
            "latent_codes": self.codes.currentData()[0], "code_mode": self.codes.currentData()[1],
        }

    def live_values(self) -> dict[str, Any]:
        v = self.values()
        return {k: v[k] for k in LIVE_KEYS}

    def set_values(self, values: dict[str, Any]) -> None:
        """Show a run's settings (e.g. a loaded one) without emitting change signals."""
        widgets = [self.dataset, self.resolution, self.loss, self.latent, self.batch, self.seed, self.d_steps,
                   self.lr_g, self.lr_d, self.beta1_g, self.beta2_g, self.beta1_d, self.beta2_d, self.sample_every,
                   self.folder, self.width, self.d_width, self.spectral_norm, self.diffaugment, self.g_ema,
                   self.conditional, self.codes]
        for w in widgets:
            w.blockSignals(True)
        try:
            for combo, key in ((self.dataset, "dataset"), (self.resolution, "image_size"), (self.loss, "loss")):
                if key in values:
                    i = combo.findData(values[key])
                    if i >= 0:
                        combo.setCurrentIndex(i)
            for box, key in ((self.latent, "latent_size"), (self.batch, "batch_size"), (self.seed, "seed"),
                             (self.d_steps, "d_steps"), (self.lr_g, "lr_g"), (self.lr_d, "lr_d"),
                             (self.beta1_g, "beta1_g"), (self.beta2_g, "beta2_g"), (self.beta1_d, "beta1_d"),
                             (self.beta2_d, "beta2_d"), (self.sample_every, "sample_every")):
                if key in values:
                    box.setValue(values[key])
            if "data_ref" in values:
                self.folder.setText(values["data_ref"])
            for box, key in ((self.width, "width"), (self.d_width, "d_width")):
                if key in values:
                    box.setValue(values[key])
            if "diffaugment" in values:
                if self.diffaugment.findData(values["diffaugment"]) < 0:  # a loaded run's own policy
                    self.diffaugment.addItem(values["diffaugment"].replace(",", " + "), values["diffaugment"])
                self.diffaugment.setCurrentIndex(self.diffaugment.findData(values["diffaugment"]))
            for check, key in ((self.spectral_norm, "spectral_norm"), (self.g_ema, "g_ema"),
                               (self.conditional, "num_classes")):
                if key in values:
                    check.setChecked(bool(values[key]))
            if "latent_codes" in values:
                mode = values.get("code_mode", "info")
                self.codes.setCurrentIndex(0 if not values["latent_codes"] else 2 if mode == "clusters" else 1)
        finally:
            for w in widgets:
                w.blockSignals(False)

    @Slot()
    def _use_recipe(self) -> None:
        """The bundled runs' techniques in one click (a new run is needed for them)."""
        self.set_values(self.recipe)
        self._structure()
        self._live()

    @Slot()
    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder of images or dataset files", self.folder.text())
        if path:
            self.folder.setText(path)
            self._structure()

    @Slot()
    def _structure(self, *args) -> None:
        self.structure_changed.emit()

    @Slot()
    def _live(self, *args) -> None:
        self.live_changed.emit(self.live_values())

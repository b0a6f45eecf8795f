"""A model picker: model, weights source, id/path (with Browse...), input size, "Run this model", a status line.

Plain values only (no torch, no registry): the app describes each model as a ``ModelEntry`` with its
``SourceOption``s, and gets a ``PickedModel`` back from the ``picked`` signal. What a source needs (an id
or a path, a file or a folder to browse for) is data on the option, so the widget has no model names in it.
Shared by the Attention and Patch embeddings tabs (each has its own picker on the same ViT session).
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLineEdit, QPushButton,
                               QSpinBox, QWidget)

from .status_line import StatusLine


@dataclass(frozen=True)
class SourceOption:
    kind: str  # identifier handed back in PickedModel.kind, e.g. "bundled", "huggingface"
    text: str  # what the combo box shows
    needs_ref: bool = False  # an id, a model name or a path must be filled in
    hint: str = ""  # placeholder of the Id / path field
    browse: str = ""  # "" (no Browse...), "file" or "folder"
    file_filter: str = ""  # for browse == "file", e.g. "Weights (*.safetensors *.pt)"
    ref_suffixes: tuple[str, ...] = ()  # a ref not ending so is cleared when this source is chosen


@dataclass(frozen=True)
class ModelEntry:
    key: str
    title: str
    description: str  # tooltip
    sources: tuple[SourceOption, ...]
    default_kind: str
    default_ref: str = ""


@dataclass(frozen=True)
class PickedModel:
    key: str
    kind: str
    ref: str  # "" when the source needs none
    input_size: int | None  # None: the model's own


class ModelPicker(QGroupBox):
    picked = Signal(object)  # PickedModel: "Run this model" with a complete choice

    def __init__(self, title: str = "Model", show_input_size: bool = True, status_lines: int = 3,
                 compact: bool = False, parent: QWidget | None = None) -> None:
        """compact: every label above its field (for a narrow column)."""
        super().__init__(title, parent)
        self._entries: dict[str, ModelEntry] = {}
        form = QFormLayout(self)
        if compact:
            form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        self.model_combo = QComboBox()
        self.model_combo.addItem("Listing the models...")
        self.model_combo.setEnabled(False)
        self.source_combo = QComboBox()
        self.ref_edit = QLineEdit()
        self.browse_button = QPushButton("Browse...")
        ref_row = QHBoxLayout()
        ref_row.addWidget(self.ref_edit, 1)
        ref_row.addWidget(self.browse_button)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(0, 1024)
        self.size_spin.setSingleStep(16)
        self.size_spin.setSpecialValueText("model's own")
        self.size_spin.setToolTip("Square input side in pixels; other sizes interpolate the position embeddings")
        self.run_button = QPushButton("Run this model")
        self.run_button.setEnabled(False)
        self.status = StatusLine("", lines=status_lines + (2 if compact else 0))
        form.addRow(self.model_combo)
        form.addRow("Weights", self.source_combo)
        form.addRow("Id / path", ref_row)
        if show_input_size:
            form.addRow("Input size", self.size_spin)
        else:
            self.size_spin.hide()
        form.addRow(self.run_button)
        form.addRow(self.status)
        self.model_combo.currentIndexChanged.connect(self._on_model_picked)
        self.source_combo.currentIndexChanged.connect(self._update_ref_row)
        self.browse_button.clicked.connect(self._browse)
        self.run_button.clicked.connect(self._run)
        self._update_ref_row()

    # ---- filling and showing ---------------------------------------------------------------
    def set_models(self, entries, current: PickedModel | None = None) -> None:
        """The models to offer (ModelEntry, in order); `current` is shown selected."""
        self._entries = {e.key: e for e in entries}
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for e in entries:
            self.model_combo.addItem(e.title, e.key)
            self.model_combo.setItemData(self.model_combo.count() - 1, e.description, Qt.ItemDataRole.ToolTipRole)
        self.model_combo.setEnabled(bool(entries))
        self.model_combo.blockSignals(False)
        self.run_button.setEnabled(bool(entries))
        if current is not None:
            self.set_choice(current)
        else:
            self._on_model_picked()

    def has_models(self) -> bool:
        return bool(self._entries)

    def set_choice(self, choice: PickedModel) -> None:
        """Show a choice made elsewhere (e.g. in the other tab's picker); emits nothing."""
        if choice.key not in self._entries:
            return
        if self.model_combo.currentData() != choice.key:
            self.model_combo.setCurrentIndex(self.model_combo.findData(choice.key))  # refills the sources
        else:
            self._on_model_picked()
        if self.source_combo.findData(choice.kind) >= 0:
            self.source_combo.setCurrentIndex(self.source_combo.findData(choice.kind))
        if choice.ref:
            self.ref_edit.setText(choice.ref)
        self.size_spin.setValue(choice.input_size or 0)

    def set_busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy and bool(self._entries))

    def set_status(self, text: str, kind: str = "info") -> None:
        self.status.set_status(text, kind)

    def current(self) -> PickedModel | None:
        """The complete choice shown now, or None (no models yet, or a source that needs an id has none)."""
        option = self._option()
        if option is None:
            return None
        ref = self.ref_edit.text().strip() if option.needs_ref else ""
        if option.needs_ref and not ref:
            return None
        return PickedModel(self.model_combo.currentData(), option.kind, ref, self.size_spin.value() or None)

    # ---- internals -------------------------------------------------------------------------
    def _entry(self) -> ModelEntry | None:
        return self._entries.get(self.model_combo.currentData())

    def _option(self) -> SourceOption | None:
        entry = self._entry()
        if entry is None:
            return None
        return next((o for o in entry.sources if o.kind == self.source_combo.currentData()), None)

    @Slot()
    def _on_model_picked(self, *_args) -> None:
        entry = self._entry()
        if entry is None:
            return
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        for option in entry.sources:
            self.source_combo.addItem(option.text, option.kind)
        self.source_combo.setCurrentIndex(max(0, self.source_combo.findData(entry.default_kind)))
        self.source_combo.blockSignals(False)
        self.ref_edit.setText(entry.default_ref)
        self._update_ref_row()

    @Slot()
    def _update_ref_row(self, *_args) -> None:
        option = self._option()
        needs = bool(option and option.needs_ref)
        self.ref_edit.setEnabled(needs)
        self.ref_edit.setPlaceholderText(option.hint if option else "")
        self.browse_button.setEnabled(bool(option and option.browse))
        text = self.ref_edit.text()
        if option and option.ref_suffixes and text and not text.endswith(option.ref_suffixes):
            self.ref_edit.clear()

    @Slot()
    def _browse(self) -> None:
        option = self._option()
        if option is None or not option.browse:
            return
        if option.browse == "folder":
            path = QFileDialog.getExistingDirectory(self, option.hint or "A model folder")
        else:
            path, _ = QFileDialog.getOpenFileName(self, option.hint or "A weights file", "",
                                                  option.file_filter or "All files (*)")
        if path:
            self.ref_edit.setText(path)

    @Slot()
    def _run(self) -> None:
        choice = self.current()
        if choice is None:
            if self._option() is not None:
                self.set_status("This source needs an id, a model name or a file: fill in 'Id / path'.", "error")
            return
        self.picked.emit(choice)

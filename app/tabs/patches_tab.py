"""The Patch embeddings tab: how a ViT turns an image into a sequence of tokens.

A thin page: it never runs a forward of its own but shows the ``ViTForwardResult`` of the ViT session it
shares with the Attention tab (one forward serves both; either tab's model picker chooses the model).
``PatchesSession`` (app/patches_session.py, no Qt) holds the layer and patch and computes what the visible
view needs; this page forwards user actions to it and hands the frames to the views (widgets/patches_views.py).
Sub-views (``views``, ``show_view``): pca (the default), patchify, filters, position, similarity, distance.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QListWidget, QPushButton, QStackedWidget,
                               QVBoxLayout, QWidget)
from superqt import QLabeledSlider

from models.errors import UserFacingError
from widgets.model_picker import ModelPicker
from widgets.patches_views import (DistanceView, FiltersView, PatchifyView, PositionView, SimilarityView,
                                   TokenPCAView)
from widgets.placeholder import Placeholder
from widgets.status_line import StatusLine

from ..patches_session import LAYER_VIEWS, VIEWS, PatchesSession, frame_kwargs
from ..vit_picker import PickerLink
from ..vit_session import shared_session
from .base import TabPage

LOADING = "Loading the model..."


class PatchesTab(TabPage):
    key = "patches"
    title = "Patch embeddings"
    views = ("pca",) + tuple(v for v in VIEWS if v != "pca")  # the first is the one shown at start

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.session = PatchesSession()
        self.vit = shared_session(ctx)
        # PCA of the layers not shown yet, one per idle moment, so a later layer change only redraws
        self._precompute = QTimer(self)
        self._precompute.setSingleShot(True)
        self._precompute.setInterval(0)
        self._precompute.timeout.connect(self._precompute_next_layer)
        self.pages: dict[str, QWidget] = {
            "patchify": PatchifyView(), "filters": FiltersView(), "position": PositionView(),
            "pca": TokenPCAView(), "similarity": SimilarityView(), "distance": DistanceView(),
        }
        self._build()
        self.vit.result_ready.connect(self.show_result)
        self.vit.busy_changed.connect(self._on_busy_changed)
        self.vit.failed.connect(self._on_failed)
        if self.vit.result is not None:
            self.show_result(self.vit.result)

    @property
    def result(self):
        return self.session.result

    @property
    def layer(self) -> int:
        return self.session.layer

    @property
    def selected(self) -> int:
        return self.session.selected

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.view_list = QListWidget()
        self.stack = QStackedWidget()
        for name in VIEWS:
            self.view_list.addItem(self.pages[name].heading.split(":")[0])
            self.stack.addWidget(self.pages[name])
        self.view_list.setMaximumHeight(self.view_list.sizeHintForRow(0) * len(VIEWS) + 8)
        self.model_picker = ModelPicker(compact=True)
        self.model_picker.setToolTip("The same model as in the Attention tab: both tabs show one forward pass")
        self.picker_link = PickerLink(self.ctx, self.vit, self.model_picker)
        left = QWidget()
        left.setFixedWidth(250)
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.view_list)
        column.addWidget(self.model_picker)
        column.addStretch(1)

        self.model_label = StatusLine("No image yet: drop an image on the window or use File > Open.", lines=2)
        self.layer_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.layer_slider.setRange(0, 0)
        self.layer_slider.setToolTip("0 = the embedded input tokens; n = the output of transformer block n")
        self.layer_text = QLabel("layer")
        # fixed width: a label that changes size on every layer change re-lays out (and repaints) the whole tab
        self.layer_text.setFixedWidth(self.layer_text.fontMetrics().horizontalAdvance("Layer: embedded input") + 8)
        self.save_button = QPushButton("Save tokens (.npy)...")
        self.save_button.setToolTip("Save the tokens of the chosen layer, shape (tokens, dim), prefix tokens first")
        self.save_button.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.model_label, 2)
        top.addWidget(self.layer_text)
        top.addWidget(self.layer_slider, 2)
        top.addWidget(self.save_button)
        self.content = Placeholder(self.stack, LOADING)
        body = QHBoxLayout()
        body.addWidget(left)
        body.addWidget(self.content, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(body, 1)

        self.view_list.currentRowChanged.connect(self._on_view_changed)
        self.layer_slider.valueChanged.connect(self.set_layer)
        self.save_button.clicked.connect(self._save_tokens)
        self.pages["pca"].patch_selected.connect(self.set_selected)
        self.pages["pca"].options_changed.connect(lambda: self._mark("pca"))
        self.pages["similarity"].patch_selected.connect(self.set_selected)
        self.pages["similarity"].query_changed.connect(lambda: self._mark("similarity"))
        self.view_list.setCurrentRow(VIEWS.index(self.views[0]))

    # ------------------------------------------------------------------ TabPage API
    def set_image(self, image: np.ndarray) -> None:
        super().set_image(image)
        self.vit.set_image(image)  # one forward per image, shared with the Attention tab

    def is_busy(self) -> bool:
        return self.vit.is_busy()

    def show_view(self, view: str) -> None:
        super().show_view(view)
        self.view_list.setCurrentRow(VIEWS.index(view))

    def on_shown(self) -> None:
        self._refresh()

    def shutdown(self) -> None:
        self._precompute.stop()

    def export_widget(self) -> QWidget:
        return self.stack.currentWidget()

    # ------------------------------------------------------------------ the shared forward
    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        if busy:
            self.model_label.set_status("Running the ViT on the image (shared with the Attention tab)...", "busy")
            if self.session.result is None:
                self.content.show_message(LOADING)
        elif self.session.result is not None:
            self.model_label.set_status(self.session.model_text())

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.model_label.set_status(f"The ViT could not run: {message}", "error")
        if self.session.result is None:
            self.content.show_message(f"The model could not run: {message}\nChoose another model on the left.")

    @Slot(object)
    def show_result(self, result) -> None:
        """A new forward (new image or model): every view is recomputed from it."""
        self.session.set_result(result)
        self.layer_slider.blockSignals(True)
        self.layer_slider.setRange(0, self.session.num_layers() - 1)
        self.layer_slider.setValue(self.session.layer)
        self.layer_slider.blockSignals(False)
        self.layer_text.setText(self.session.layer_text())
        self.model_label.set_status(self.session.model_text())
        self.save_button.setEnabled(True)
        self.pages["similarity"].set_prefix_tokens(result.prefix_tokens)
        self.content.show_content()
        self._refresh()
        self._precompute.start()

    @Slot()
    def _precompute_next_layer(self) -> None:
        """Fill the PCA cache one layer per event-loop turn: never blocks the GUI for long."""
        if self.session.precompute_next_layer():
            self._precompute.start()

    # ------------------------------------------------------------------ user actions
    @Slot(int)
    def set_layer(self, layer: int) -> None:
        if not self.session.set_layer(layer):
            return
        if self.layer_slider.value() != self.session.layer:
            self.layer_slider.blockSignals(True)
            self.layer_slider.setValue(self.session.layer)
            self.layer_slider.blockSignals(False)
        self.layer_text.setText(self.session.layer_text())
        self._refresh()

    @Slot(int)
    def set_selected(self, patch: int) -> None:
        if not self.session.set_selected(patch):
            return
        self.pages["pca"].set_selected(self.session.selected)  # cheap: no recompute
        self._refresh()

    def current_view(self) -> str:
        return VIEWS[max(0, self.stack.currentIndex())]

    @Slot(int)
    def _on_view_changed(self, row: int) -> None:
        self.stack.setCurrentIndex(row)
        uses_layer = self.current_view() in LAYER_VIEWS
        self.layer_slider.setEnabled(uses_layer)
        self.layer_text.setEnabled(uses_layer)
        self._refresh()

    def _mark(self, view: str) -> None:
        self.session.mark_dirty(view)
        self._refresh()

    # ------------------------------------------------------------------ drawing
    def _refresh(self) -> None:
        """Redraw the visible view if the session says it is out of date."""
        name = self.current_view()
        if not self.session.take_dirty(name):
            return
        page = self.pages[name]
        options = {}
        if name == "pca":
            options["hide_background"] = page.mask_box.isChecked()
        elif name == "similarity":
            options["query_prefix"] = page.query_prefix()
        try:
            page.set_data(**frame_kwargs(self.session.frame(name, **options)))
        except UserFacingError as exc:
            self.ctx.show_error(str(exc))

    # ------------------------------------------------------------------ export
    def tokens_for_export(self) -> np.ndarray:
        return self.session.tokens_for_export()

    @Slot()
    def _save_tokens(self) -> None:
        try:
            tokens = self.tokens_for_export()
        except UserFacingError as exc:
            self.ctx.show_error(str(exc))
            return
        layer = self.session.layer
        path, _ = QFileDialog.getSaveFileName(self, "Save tokens",
                                              self.ctx.export_path(f"tokens_layer{layer}.npy"), "NumPy array (*.npy)")
        if not path:
            return
        try:
            np.save(path, tokens)
        except OSError as exc:
            self.ctx.show_error(f"Could not save the tokens to {Path(path).name}: {exc.strerror or exc}")
            return
        self.ctx.show_message(f"Saved tokens {tokens.shape} of layer {layer} to {path}")

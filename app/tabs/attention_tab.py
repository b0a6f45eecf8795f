"""The Attention tab: where a Vision Transformer looks, layer by layer and head by head.

A thin page: it builds the widgets, forwards every user action to ``AttentionSession`` (app/attention_session.py,
no Qt) and draws the frame it returns. One captured forward per image and model comes from the ViT session
shared with the Patch embeddings tab (app/vit_session.py); the model picker is ``widgets.model_picker``.

Sub-views: ``views`` lists them ("maps" first). Another view joins with ``add_view(name, title, widget,
controls=None)``: a tab bar above the content switches views (hidden while there is only one), the model
picker stays on the right, and ``controls`` (if any) replaces the maps' View/Overlay boxes under it.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QLabel, QPushButton, QRadioButton, QScrollArea, QStackedWidget, QTabBar, QVBoxLayout,
                               QWidget)
from superqt import QLabeledSlider

from models.vit.views import HEADS_TEXT, MODE_TITLES, MODES
from widgets.attention_mosaic import AttentionMosaic
from widgets.attention_topk import TopKBars
from widgets.float_slider import decimal_slider
from widgets.image_view import COLORMAPS, ImageView
from widgets.model_picker import ModelPicker
from widgets.placeholder import Placeholder
from widgets.status_line import ReservedLabel, StatusLine

from ..attention_session import MODE_BUTTON_TEXT, AttentionSession, Controls, MapsFrame, precompute_maps
from ..vit_picker import PickerLink
from ..vit_session import shared_session
from .base import TabPage
from .qkv_page import QKVPage
from .qkv_toy_page import QKVToyPage

LOADING = "Loading the model..."


class AttentionTab(TabPage):
    key = "attention"
    title = "Attention"
    views = ("maps",)

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.vit = shared_session(ctx)  # the forward, shared with the Patch embeddings tab
        self.session = AttentionSession()  # what this tab shows
        self.frame: MapsFrame | None = None
        self.views = ()
        self._titles: dict[str, str] = {}
        self._build()
        self.vit.result_ready.connect(self.show_result)
        self.vit.busy_changed.connect(self._on_busy)
        self.vit.failed.connect(self._on_failed)
        if self.vit.result is not None:
            self.show_result(self.vit.result)

    @property
    def result(self):
        return self.session.result

    # ------------------------------------------------------------------ sub-views
    def add_view(self, name: str, title: str, widget: QWidget, controls: QWidget | None = None) -> None:
        """Add a sub-view: `widget` fills the content area, `controls` (optional) the panel under the model picker."""
        if name in self.views:
            raise ValueError(f"the Attention tab already has a view {name!r}")
        self.views = (*self.views, name)
        self._titles[name] = title
        self.view_stack.addWidget(widget)
        self.controls_stack.addWidget(controls if controls is not None else QWidget())
        self.view_bar.addTab(title)
        self.view_bar.setVisible(len(self.views) > 1)
        # the side panel: wide enough for every view's controls and a vertical scroll bar, so nothing is cut off
        scroll = self._side_scroll
        scroll.setMinimumWidth(max(330, scroll.widget().minimumSizeHint().width() + 2 * scroll.frameWidth()
                                   + scroll.verticalScrollBar().sizeHint().width()))

    def show_view(self, view: str) -> None:
        super().show_view(view)
        self.view_bar.setCurrentIndex(self.views.index(view))

    def current_view(self) -> str:
        return self.views[self.view_stack.currentIndex()]

    @Slot(int)
    def _on_view_bar(self, index: int) -> None:
        self.view_stack.setCurrentIndex(index)
        self.controls_stack.setCurrentIndex(index)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.view_bar = QTabBar()
        self.view_bar.setVisible(False)
        self.view_stack = QStackedWidget()
        self.controls_stack = QStackedWidget()
        self.model_picker = ModelPicker()
        self.picker_link = PickerLink(self.ctx, self.vit, self.model_picker)
        side = QWidget()
        column = QVBoxLayout(side)
        column.addWidget(self.model_picker)
        column.addWidget(self.controls_stack)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._side_scroll = scroll
        scroll.setMaximumWidth(400)
        body = QHBoxLayout()
        body.addWidget(self.view_stack, 1)
        body.addWidget(scroll, 0)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view_bar)
        layout.addLayout(body, 1)
        self.view_bar.currentChanged.connect(self._on_view_bar)
        self.maps = Placeholder(self._maps_content(), LOADING)
        self.add_view("maps", "Attention maps", self.maps, self._maps_controls())
        self.qkv_page, self.qkv_toy_page = QKVPage(self.ctx), QKVToyPage(self.ctx)  # issue 14
        self.add_view("qkv", "Q, K, V step by step", self.qkv_page, self.qkv_page.controls)
        self.add_view("qkv-toy", "Q, K, V by hand (4 tokens)", self.qkv_toy_page, self.qkv_toy_page.controls)

    def _maps_content(self) -> QWidget:
        # the picture: caption, image with grid and heatmap, explanation (texts keep their height)
        self.caption = ReservedLabel("", min_lines=2)
        self.caption.setStyleSheet("font-weight: bold;")
        self.caption.reserve(self.session.caption_texts())
        self.image_view = ImageView()
        self.image_view.setMinimumSize(360, 320)
        self.share_label = StatusLine("", lines=2)
        self.explanation = ReservedLabel("", min_lines=3)
        self.explanation.reserve(self.session.explanation_texts())
        self.picture = QWidget()
        pic = QVBoxLayout(self.picture)
        pic.setContentsMargins(0, 0, 0, 0)
        pic.addWidget(self.caption)
        pic.addWidget(self.image_view, 1)
        pic.addWidget(self.share_label)
        pic.addWidget(self.explanation)
        # heads of the layer and the layer x head overview
        self.topk = TopKBars()
        self.heads_label = QLabel("<b>Heads of layer</b>")
        self.heads_view = AttentionMosaic("", "head")
        self.heads_view.setMinimumHeight(90)
        self.heads_view.setMaximumHeight(140)
        self.overview_label = QLabel("<b>Overview: every layer x head</b> (click a tile)")
        self.overview_view = AttentionMosaic("layer", "head")
        self.heads_text = QLabel(HEADS_TEXT)
        self.heads_text.setWordWrap(True)
        multiples = QWidget()
        mul = QVBoxLayout(multiples)
        mul.setContentsMargins(0, 0, 0, 0)
        for w in (self.topk, self.heads_label, self.heads_view, self.overview_label):
            mul.addWidget(w)
        mul.addWidget(self.overview_view, 1)
        mul.addWidget(self.heads_text)
        content = QWidget()
        row = QHBoxLayout(content)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.picture, 5)
        row.addWidget(multiples, 4)
        self.image_view.clicked.connect(self._on_image_clicked)
        self.image_view.hovered.connect(self._on_image_hovered)
        self.heads_view.cell_clicked.connect(self._on_head_tile)
        self.overview_view.cell_clicked.connect(self.select_tile)
        return content

    def _maps_controls(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        for part in (self._view_box(), self._overlay_box(), self._export_box()):
            column.addWidget(part)
        return box

    def _view_box(self) -> QGroupBox:
        box = QGroupBox("View")
        form = QFormLayout(box)
        mode_row = QHBoxLayout()
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        for i, mode in enumerate(MODES):
            button = QRadioButton(MODE_BUTTON_TEXT[mode])
            button.setToolTip(MODE_TITLES[mode])
            self.mode_group.addButton(button, i)
            self.mode_buttons[mode] = button
            mode_row.addWidget(button)
        self.mode_buttons[self.session.view.mode].setChecked(True)
        self.layer_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.layer_slider.setRange(1, 1)
        self.single_head = QCheckBox("One head")
        self.head_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.head_slider.setRange(1, 1)
        self.head_slider.setEnabled(False)
        head_row = QHBoxLayout()
        head_row.addWidget(self.single_head)
        head_row.addWidget(self.head_slider, 1)
        self.fusion_combo = QComboBox()
        self.fusion_combo.addItems(["mean", "max", "min"])
        self.fusion_combo.setToolTip("How the heads are combined when no single head is chosen (and in rollout)")
        self.discard_slider = decimal_slider(0.0, 0.99, 0.0)
        self.discard_slider.setToolTip("Rollout: share of the weakest attention links dropped in every layer")
        self.reverse_check = QCheckBox("Reverse: who attends to the patch")
        self.hover_check = QCheckBox("Follow the mouse (hover)")
        self.hover_check.setToolTip("Patch mode: the patch under the mouse is shown. A click pins a patch (outlined "
                                    "in amber); click it again to follow the mouse again.")
        self.hover_check.setChecked(self.session.follow_mouse)
        for row in (mode_row, ("Layer", self.layer_slider), ("Head", head_row), ("Head fusion", self.fusion_combo),
                    ("Discard ratio", self.discard_slider), self.reverse_check, self.hover_check):
            form.addRow(*row) if isinstance(row, tuple) else form.addRow(row)
        s = self.session
        self.mode_group.idClicked.connect(lambda i: self._draw(s.set_mode(MODES[i])))
        self.layer_slider.valueChanged.connect(lambda v: self._draw(s.set_layer(v)))
        self.single_head.toggled.connect(self._on_single_head)
        self.head_slider.valueChanged.connect(lambda v: self._draw(s.set_head(v)))
        self.fusion_combo.currentTextChanged.connect(lambda t: self._draw(s.change(fusion=t)))
        self.discard_slider.valueChanged.connect(lambda v: self._draw(s.change(discard_ratio=float(v))))
        self.reverse_check.toggled.connect(lambda on: self._draw(s.change(reverse=on)))
        self.hover_check.toggled.connect(self._on_follow_mouse)
        return box

    def _overlay_box(self) -> QGroupBox:
        box = QGroupBox("Overlay")
        form = QFormLayout(box)
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(COLORMAPS)
        self.opacity_slider = decimal_slider(0.0, 1.0, 0.6)
        self.smooth_check = QCheckBox("Smooth (bilinear) instead of blocky")
        self.grid_check = QCheckBox("Patch grid")
        self.grid_check.setChecked(self.session.show_grid)
        form.addRow("Colormap", self.cmap_combo)
        form.addRow("Opacity", self.opacity_slider)
        form.addRow(self.smooth_check)
        form.addRow(self.grid_check)
        self.cmap_combo.currentTextChanged.connect(self._on_colormap)
        self.opacity_slider.valueChanged.connect(self.image_view.set_opacity)
        self.smooth_check.toggled.connect(lambda on: self._draw(self.session.set_smooth(on)))
        self.grid_check.toggled.connect(self._on_grid)
        return box

    def _export_box(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.export_png = QPushButton("Export view (PNG)...")
        self.export_npy = QPushButton("Save attention (.npy)...")
        self.export_npy.setToolTip("The raw attention of every layer: array (layers, heads, tokens, tokens), "
                                   "prefix tokens (CLS, ...) first")
        row.addWidget(self.export_png)
        row.addWidget(self.export_npy)
        self.export_png.clicked.connect(self._export_png)
        self.export_npy.clicked.connect(self._export_npy)
        return box

    # ------------------------------------------------------------------ TabPage API
    def set_image(self, image: np.ndarray) -> None:
        super().set_image(image)
        self.vit.request(image)

    def is_busy(self) -> bool:
        return self.vit.is_busy() or self.qkv_page.is_busy()

    def export_widget(self) -> QWidget:
        return self.picture if self.current_view() == "maps" else self.view_stack.currentWidget()

    def on_device_changed(self, device: str) -> None:
        if self.vit.result is not None:
            self.vit.rerun()

    def shutdown(self) -> None:
        self.ctx.worker.cancel("vit")
        self.qkv_page.shutdown()

    # ------------------------------------------------------------------ the shared forward
    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        if busy and self.session.result is None:
            self.maps.show_message(LOADING)
        elif not busy and self.session.result is None and self.maps.message.text() == LOADING:
            self.maps.show_message("Drop an image on the window (or use File > Open) to see where the ViT looks.")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self.session.result is None:
            self.maps.show_message(f"The model could not run: {message}\nChoose another model on the right.")

    @Slot(object)
    def show_result(self, result) -> None:
        """A new forward (new image or model): set the controls' ranges, then draw it."""
        frame = self.session.set_result(result)
        for slider, top in ((self.layer_slider, frame.num_layers), (self.head_slider, frame.num_heads)):
            slider.blockSignals(True)
            slider.setRange(1, top)
            slider.blockSignals(False)
        self._sync_controls(frame.controls)
        self.mode_buttons["cls"].setText(frame.cls_button_text)
        self.image_view.set_image(frame.image)
        self.image_view.set_grid(frame.grid)
        self.topk.set_predictions(list(frame.predictions or []), frame.predictions_note)
        self._draw(self.session.render())
        self.maps.show_content()
        # fuse the heads every other way off the GUI thread, so changing the fusion later is instant
        self.ctx.worker.submit(precompute_maps, self.session.maps, channel="attention-views",
                               title="Preparing attention views")

    # ------------------------------------------------------------------ interaction
    @Slot(bool)
    def _on_single_head(self, on: bool) -> None:
        self.head_slider.setEnabled(on)
        self._draw(self.session.set_single_head(on))

    @Slot(bool)
    def _on_follow_mouse(self, on: bool) -> None:
        self.session.set_follow_mouse(on)
        self._draw(self.session.render())

    @Slot(int, int)
    def select_tile(self, layer: int, head: int) -> None:
        """An overview tile was clicked: show that layer and head (0-based)."""
        self._draw(self.session.select_tile(layer, head))

    @Slot(int, int)
    def _on_head_tile(self, _row: int, head: int) -> None:
        self._draw(self.session.select_tile(self.session.controls().layer - 1, head))

    def select_patch(self, patch: int) -> None:
        self._draw(self.session.select_patch(patch))

    @Slot(float, float)
    def _on_image_clicked(self, x: float, y: float) -> None:
        self._draw(self.session.click(x, y))

    @Slot(float, float)
    def _on_image_hovered(self, x: float, y: float) -> None:
        self._draw(self.session.hover(x, y))

    @Slot(str)
    def _on_colormap(self, name: str) -> None:
        for view in (self.image_view, self.heads_view, self.overview_view):
            view.set_colormap(name)

    @Slot(bool)
    def _on_grid(self, on: bool) -> None:
        self.session.show_grid = on
        self.image_view.set_grid(self.session.grid())

    # ------------------------------------------------------------------ drawing
    def _sync_controls(self, c: Controls) -> None:
        """Move the controls to what the session shows, without their signals (no redraw loops)."""
        for w, value in ((self.layer_slider, c.layer), (self.head_slider, c.head)):
            if w.value() != value:
                w.blockSignals(True)
                w.setValue(value)
                w.blockSignals(False)
        if self.single_head.isChecked() != c.single_head:
            self.single_head.blockSignals(True)
            self.single_head.setChecked(c.single_head)
            self.single_head.blockSignals(False)
            self.head_slider.setEnabled(c.single_head)
        if not self.mode_buttons[c.mode].isChecked():
            self.mode_buttons[c.mode].setChecked(True)

    def _draw(self, frame: MapsFrame | None) -> None:
        """Draw a frame from the session (None: nothing changed)."""
        if frame is None:
            return
        self.frame = frame
        self._sync_controls(frame.controls)
        self.image_view.set_overlay(frame.heatmap, smooth=frame.smooth, opacity=self.opacity_slider.value())
        self.caption.setText(frame.caption)
        self.explanation.setText(frame.explanation)
        self.share_label.set_status(frame.share_text)
        self.heads_label.setText(frame.heads_title)
        self.heads_view.set_maps(frame.heads, frame.heads_selected)
        self.overview_view.set_maps(frame.overview, frame.overview_selected)
        self.image_view.set_outline(frame.patch_rect, frame.pinned)

    # ------------------------------------------------------------------ export
    def _export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the view as PNG", self.ctx.export_path("attention.png"),
                                              "PNG image (*.png)")
        if path:
            if self.export_widget().grab().save(path, "PNG"):  # exactly the confirmed path, whatever its suffix
                self.ctx.remember_export(path)
            else:
                self.ctx.show_error(f"Could not write {path}.")

    def _export_npy(self) -> None:
        if self.session.result is None:
            self.ctx.show_error("Nothing to save yet: drop an image first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the raw attention", self.ctx.export_path("attention.npy"),
                                              "NumPy array (*.npy)")
        if path and self.save_attention(path):
            self.ctx.remember_export(path)

    def save_attention(self, path: str) -> bool:
        try:
            with open(path, "wb") as f:  # np.save(name) would add ".npy" to a name the user confirmed without it
                np.save(f, self.session.result.attentions)
        except OSError as exc:
            self.ctx.show_error(f"Could not write {path}: {exc.strerror or exc}.")
            return False
        return True

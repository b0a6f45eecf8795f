"""The Attention tab: where a Vision Transformer looks, layer by layer and head by head.

One captured forward per image and model (app.vit_session, shared with the Patch embeddings tab); every
control redraws from that cached result (models.vit.views) without running the model again.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Slot
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QRadioButton, QScrollArea, QSpinBox, QVBoxLayout,
                               QWidget)
from superqt import QLabeledDoubleSlider, QLabeledSlider

from models.vit.patch_blas import single_blas_thread
from models.vit.result import ViTForwardResult
from models.vit.views import MODE_TITLES, MODES, HEADS_TEXT, AttentionView, AttentionViews, RenderedView
from widgets.attention_mosaic import AttentionMosaic
from widgets.attention_topk import TopKBars, top_k
from widgets.image_view import COLORMAPS, ImageView

from ..vit_session import DEFAULT_MODEL, shared_session
from .base import TabPage

def list_vit_specs(ctx):
    """Job: the registered ViT specs (imported on the worker thread, where torch is loaded)."""
    from models.registry import specs_for
    from models.vit import specs  # noqa: F401  (registers the ViT models)

    return tuple(specs_for("vit"))


def precompute_views(ctx, views: AttentionViews) -> None:
    """Job (plain function, numpy reductions only, no BLAS): fill the views' caches in the worker thread."""
    views.precompute()


SOURCE_TEXT = {
    "bundled": "Bundled weights (offline)",
    "torchvision": "Pretrained (torch hub cache or download)",
    "huggingface": "Hugging Face id or local folder",
    "timm": "timm pretrained (cache or download)",
    "checkpoint": "Checkpoint file (.safetensors / .pt)",
    "random": "Random weights",
}
REF_HINT = {
    "huggingface": "e.g. google/vit-base-patch16-224, facebook/deit-small-distilled-patch16-224, facebook/dinov2-small",
    "timm": "a timm model name, e.g. vit_small_patch16_224",
    "checkpoint": "path to a .safetensors or .pt state dict",
    "random": "a timm model name, e.g. vit_tiny_patch16_224",
}


class AttentionTab(TabPage):
    key = "attention"
    title = "Attention"

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.session = shared_session(ctx)
        self.result: ViTForwardResult | None = None
        self.views: AttentionViews | None = None
        self.rendered: RenderedView | None = None
        self.view = AttentionView()
        self._specs_loaded = False
        self._specs: dict = {}
        self._build()
        self.session.result_ready.connect(self.show_result)
        self.session.busy_changed.connect(self._on_busy)
        self.session.model_changed.connect(self._on_model_changed)
        self._fill_models()
        if self.session.result is not None:
            self.show_result(self.session.result)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        # the picture: caption, image with grid and heatmap, explanation
        self.caption = QLabel("Drop an image to see where the ViT looks.")
        self.caption.setStyleSheet("font-weight: bold;")
        self.caption.setWordWrap(True)
        self.image_view = ImageView()
        self.image_view.setMinimumSize(360, 320)
        self.patch_frame = pg.QtWidgets.QGraphicsRectItem()
        self.patch_frame.setPen(pg.mkPen("#4fc3f7", width=2, cosmetic=True))
        self.patch_frame.setZValue(30)
        self.patch_frame.setVisible(False)
        self.image_view.add_item(self.patch_frame)
        self.explanation = QLabel("")
        self.explanation.setWordWrap(True)
        self.share_label = QLabel("")
        self.share_label.setWordWrap(True)
        self.picture = QWidget()
        pic = QVBoxLayout(self.picture)
        pic.setContentsMargins(0, 0, 0, 0)
        pic.addWidget(self.caption)
        pic.addWidget(self.image_view, 1)
        pic.addWidget(self.share_label)
        pic.addWidget(self.explanation)

        # heads of the layer and the layer x head overview
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
        self.topk = TopKBars()
        mul.addWidget(self.topk)
        mul.addWidget(self.heads_label)
        mul.addWidget(self.heads_view)
        mul.addWidget(self.overview_label)
        mul.addWidget(self.overview_view, 1)
        mul.addWidget(self.heads_text)

        controls = QWidget()
        side = QVBoxLayout(controls)
        side.addWidget(self._model_box())
        side.addWidget(self._view_box())
        side.addWidget(self._overlay_box())
        side.addWidget(self._export_box())
        side.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(330)
        scroll.setMaximumWidth(400)

        layout = QHBoxLayout(self)
        layout.addWidget(self.picture, 5)
        layout.addWidget(multiples, 4)
        layout.addWidget(scroll, 0)

        self.image_view.clicked.connect(self._on_image_clicked)
        self.image_view.hovered.connect(self._on_image_hovered)
        self.heads_view.cell_clicked.connect(lambda _r, c: self._select(self.view_layer(), c))
        self.overview_view.cell_clicked.connect(self._select)

    def _model_box(self) -> QGroupBox:
        box = QGroupBox("Model")
        form = QFormLayout(box)
        self.model_combo = QComboBox()
        self.model_combo.addItem("Bundled shapes ViT (offline)", DEFAULT_MODEL)
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
        self.load_button = QPushButton("Run this model")
        self.model_status = QLabel("")
        self.model_status.setWordWrap(True)
        form.addRow(self.model_combo)
        form.addRow("Weights", self.source_combo)
        form.addRow("Id / path", ref_row)
        form.addRow("Input size", self.size_spin)
        form.addRow(self.load_button)
        form.addRow(self.model_status)
        self.model_combo.currentIndexChanged.connect(self._on_model_picked)
        self.source_combo.currentIndexChanged.connect(self._update_ref_row)
        self.browse_button.clicked.connect(self._browse)
        self.load_button.clicked.connect(self._apply_model)
        return box

    def _view_box(self) -> QGroupBox:
        box = QGroupBox("View")
        form = QFormLayout(box)
        mode_row = QHBoxLayout()
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        for i, mode in enumerate(MODES):
            button = QRadioButton({"cls": "CLS", "rollout": "Rollout", "patch": "Patch"}[mode])
            button.setToolTip(MODE_TITLES[mode])
            self.mode_group.addButton(button, i)
            self.mode_buttons[mode] = button
            mode_row.addWidget(button)
        self.mode_buttons[self.view.mode].setChecked(True)
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
        self.discard_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.discard_slider.setRange(0.0, 0.99)
        self.discard_slider.setValue(0.0)
        self.discard_slider.setDecimals(2)
        self.discard_slider.setToolTip("Rollout: share of the weakest attention links dropped in every layer")
        self.reverse_check = QCheckBox("Reverse: who attends to the patch")
        self.hover_check = QCheckBox("Follow the mouse (hover)")
        self.hover_check.setChecked(True)
        form.addRow(mode_row)
        form.addRow("Layer", self.layer_slider)
        form.addRow("Head", head_row)
        form.addRow("Head fusion", self.fusion_combo)
        form.addRow("Discard ratio", self.discard_slider)
        form.addRow(self.reverse_check)
        form.addRow(self.hover_check)
        self.mode_group.idClicked.connect(lambda i: self._update(mode=MODES[i]))
        self.layer_slider.valueChanged.connect(lambda v: self._update(layer=v - 1))
        self.single_head.toggled.connect(self._on_single_head)
        self.head_slider.valueChanged.connect(lambda v: self._update(head=v - 1) if self.single_head.isChecked() else None)
        self.fusion_combo.currentTextChanged.connect(lambda t: self._update(fusion=t))
        self.discard_slider.valueChanged.connect(lambda v: self._update(discard_ratio=float(v)))
        self.reverse_check.toggled.connect(lambda on: self._update(reverse=on))
        return box

    def _overlay_box(self) -> QGroupBox:
        box = QGroupBox("Overlay")
        form = QFormLayout(box)
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(COLORMAPS)
        self.opacity_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0.0, 1.0)
        self.opacity_slider.setValue(0.6)
        self.opacity_slider.setDecimals(2)
        self.smooth_check = QCheckBox("Smooth (bilinear) instead of blocky")
        self.grid_check = QCheckBox("Patch grid")
        self.grid_check.setChecked(True)
        form.addRow("Colormap", self.cmap_combo)
        form.addRow("Opacity", self.opacity_slider)
        form.addRow(self.smooth_check)
        form.addRow(self.grid_check)
        self.cmap_combo.currentTextChanged.connect(self._on_colormap)
        self.opacity_slider.valueChanged.connect(lambda v: self.image_view.set_opacity(float(v)))
        self.smooth_check.toggled.connect(lambda _on: self.redraw())
        self.grid_check.toggled.connect(lambda _on: self._draw_grid())
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
        self.session.request(image)

    def is_busy(self) -> bool:
        return self.session.is_busy()

    def export_widget(self) -> QWidget:
        return self.picture

    def on_device_changed(self, device: str) -> None:
        if self.session.result is not None:
            self.session.rerun()

    def shutdown(self) -> None:
        self.ctx.worker.cancel("vit")

    # ------------------------------------------------------------------ model picker
    def _fill_models(self) -> None:
        """Ask the worker thread for the registered ViTs (importing them there: torch lives on that thread)."""
        if not self._specs_loaded:
            self.ctx.worker.submit(list_vit_specs, channel="vit-specs", title="Listing ViT models",
                                   on_result=self._on_specs)

    def _on_specs(self, specs) -> None:
        self._specs = {spec.key: spec for spec in specs}
        self._specs_loaded = True
        current = self.session.choice.key
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for spec in specs:
            self.model_combo.addItem(spec.title, spec.key)
            self.model_combo.setItemData(self.model_combo.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(current)))
        self.model_combo.blockSignals(False)
        self._on_model_picked()
        self._sync_picker()

    def _spec(self):
        return self._specs[self.model_combo.currentData()]

    def _on_model_picked(self, *_args) -> None:
        if not self._specs_loaded:
            return
        spec = self._spec()
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        for kind in spec.sources:
            self.source_combo.addItem(SOURCE_TEXT.get(kind.value, kind.value), kind.value)
        self.source_combo.setCurrentIndex(max(0, self.source_combo.findData(spec.default_source.kind.value)))
        self.source_combo.blockSignals(False)
        self.ref_edit.setText(spec.default_source.ref)
        self._update_ref_row()

    def _needs_ref(self) -> bool:
        kind = self.source_combo.currentData()
        if kind in ("huggingface", "timm", "checkpoint"):
            return True
        return bool(self._specs_loaded and self._spec().capabilities.get("needs_ref"))

    def _update_ref_row(self, *_args) -> None:
        needs = self._needs_ref()
        kind = self.source_combo.currentData()
        self.ref_edit.setEnabled(needs)
        self.ref_edit.setPlaceholderText(REF_HINT.get(kind, ""))
        self.browse_button.setEnabled(kind in ("checkpoint", "huggingface"))
        if kind == "checkpoint" and self.ref_edit.text() and not self.ref_edit.text().endswith((".pt", ".pth", ".safetensors", ".bin")):
            self.ref_edit.clear()

    def _browse(self) -> None:
        if self.source_combo.currentData() == "huggingface":
            path = QFileDialog.getExistingDirectory(self, "A Hugging Face model folder (config.json + weights)")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "A weights file", "",
                                                  "Weights (*.safetensors *.pt *.pth *.bin);;All files (*)")
        if path:
            self.ref_edit.setText(path)

    def _apply_model(self) -> None:
        if not self._specs_loaded:
            return
        kind = self.source_combo.currentData()
        ref = self.ref_edit.text().strip() if self._needs_ref() else ""
        if self._needs_ref() and not ref:
            self.ctx.show_error("This source needs an id, a model name or a file: fill in 'Id / path'.")
            return
        size = self.size_spin.value() or None
        self.session.set_model(self.model_combo.currentData(), kind, ref, size)
        if self.image is not None:
            self.session.request(self.image)

    @Slot(str)
    def _on_model_changed(self, label: str) -> None:
        self.model_status.setText(f"Chosen: {label}")
        self._sync_picker()

    def _sync_picker(self) -> None:
        """Show the session's model in the picker (it may be chosen elsewhere, e.g. by the Patches tab)."""
        if not self._specs_loaded:
            return
        choice = self.session.choice
        for combo, value in ((self.model_combo, choice.key), (self.source_combo, None)):
            if value is not None and combo.findData(value) >= 0 and combo.currentData() != value:
                combo.setCurrentIndex(combo.findData(value))  # refills the sources
        if choice.source_kind and self.source_combo.findData(choice.source_kind) >= 0:
            self.source_combo.setCurrentIndex(self.source_combo.findData(choice.source_kind))
        if choice.ref:
            self.ref_edit.setText(choice.ref)
        self.size_spin.setValue(choice.input_size or 0)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.load_button.setEnabled(not busy)
        if busy:
            self.model_status.setText("Running the model...")
        elif self.result is not None:
            self.model_status.setText(self._describe(self.result))

    @staticmethod
    def _describe(res: ViTForwardResult) -> str:
        gh, gw = res.grid
        h, w = res.image.shape[:2]
        prefix = ", ".join(res.prefix_tokens) if res.prefix_tokens else "none"
        return (f"{res.model_title}: {w}x{h} px input, {gh}x{gw} patches of {res.patch_size} px, "
                f"{res.num_layers} layers x {res.num_heads} heads, extra tokens: {prefix}")

    # ------------------------------------------------------------------ a new result
    @Slot(object)
    def show_result(self, result: ViTForwardResult) -> None:
        """A new forward (new image or model): set ranges, then redraw from it."""
        same_shape = self.result is not None and (self.result.num_layers, self.result.num_heads, self.result.grid) == (
            result.num_layers, result.num_heads, result.grid)
        self.result = result
        self.views = AttentionViews(result)
        for slider, top in ((self.layer_slider, result.num_layers), (self.head_slider, result.num_heads)):
            slider.blockSignals(True)
            slider.setRange(1, top)
            if not same_shape:
                slider.setValue(top if slider is self.layer_slider else 1)
            slider.blockSignals(False)
        if not same_shape:
            gh, gw = result.grid
            self.view = AttentionView(mode=self.view.mode, layer=result.num_layers - 1,
                                      head=(0 if self.single_head.isChecked() else None), fusion=self.view.fusion,
                                      discard_ratio=self.view.discard_ratio,
                                      patch=(gh // 2) * gw + gw // 2, reverse=self.view.reverse)
        self.mode_buttons["cls"].setText("CLS" if result.has_cls else "Received")
        self.image_view.set_image(result.image)
        self._draw_grid()
        if result.logits is not None:
            self.topk.set_predictions(top_k(result.logits, result.class_names, 5))
        else:
            self.topk.set_predictions(None, "This model has no classifier (e.g. DINOv2): no class scores.")
        self.model_status.setText(self._describe(result))
        self.redraw()
        # fuse the heads every other way off the GUI thread, so changing the fusion later is instant
        self.ctx.worker.submit(precompute_views, self.views, channel="attention-views",
                               title="Preparing attention views")

    # ------------------------------------------------------------------ interaction
    def view_layer(self) -> int:
        return self.views.layer_index(self.view.layer) if self.views else 0

    def _update(self, **changes) -> None:
        self.view = AttentionView(**{**self.view.__dict__, **changes})
        self.redraw()

    @Slot(bool)
    def _on_single_head(self, on: bool) -> None:
        self.head_slider.setEnabled(on)
        self._update(head=self.head_slider.value() - 1 if on else None)

    def _select(self, layer: int, head: int) -> None:
        """A tile was clicked: show that layer and head."""
        if self.result is None:
            return
        for w, v in ((self.layer_slider, layer + 1), (self.head_slider, head + 1)):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self.single_head.blockSignals(True)
        self.single_head.setChecked(True)
        self.single_head.blockSignals(False)
        self.head_slider.setEnabled(True)
        mode = "cls" if self.view.mode == "rollout" else self.view.mode
        self.mode_buttons[mode].setChecked(True)
        self._update(layer=layer, head=head, mode=mode)

    def _patch_at(self, x: float, y: float) -> int | None:
        if self.result is None or math.isnan(x):
            return None
        gh, gw = self.result.grid
        h, w = self.result.image.shape[:2]
        r, c = int(y * gh / h), int(x * gw / w)
        return r * gw + c if 0 <= r < gh and 0 <= c < gw else None

    def select_patch(self, patch: int) -> None:
        self.mode_buttons["patch"].setChecked(True)
        self._update(mode="patch", patch=patch)

    @Slot(float, float)
    def _on_image_clicked(self, x: float, y: float) -> None:
        patch = self._patch_at(x, y)
        if patch is not None:
            self.select_patch(patch)

    @Slot(float, float)
    def _on_image_hovered(self, x: float, y: float) -> None:
        if self.view.mode != "patch" or not self.hover_check.isChecked():
            return
        patch = self._patch_at(x, y)
        if patch is not None and patch != self.view.patch:
            self._update(patch=patch)

    def _on_colormap(self, name: str) -> None:
        self.image_view.set_colormap(name)
        self.heads_view.set_colormap(name)
        self.overview_view.set_colormap(name)

    def _draw_grid(self) -> None:
        self.image_view.set_grid(self.result.grid if self.result is not None and self.grid_check.isChecked() else None)

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        """Redraw every view from the cached forward (no model call)."""
        if self.views is None:
            return
        res, view = self.result, self.view
        with single_blas_thread():  # small matrices: extra BLAS threads only spin against torch for the cores
            out = self.views.render(view)
        self.rendered = out
        self.image_view.set_overlay(out.heatmap, smooth=self.smooth_check.isChecked(),
                                    opacity=float(self.opacity_slider.value()))
        self.caption.setText(out.caption)
        self.explanation.setText(out.explanation)
        if out.prefix_share is not None:
            names = "/".join(res.prefix_tokens)
            self.share_label.setText(f"Attention that goes to the {names} token(s) instead of patches: "
                                     f"{out.prefix_share * 100:.1f}% (not drawn; the map shows the rest).")
        else:
            self.share_label.setText("")
        layer = out.selected[0]
        self.heads_label.setText(f"<b>Heads of layer {layer + 1}</b> (click one to select it)")
        self.heads_view.set_maps(out.heads, None if view.head is None else (0, view.head))
        self.overview_view.set_maps(out.overview, (layer, view.head) if view.head is not None else None)
        self._draw_patch_frame()

    def _draw_patch_frame(self) -> None:
        res, view = self.result, self.view
        if res is None or view.mode != "patch" or view.patch is None:
            self.patch_frame.setVisible(False)
            return
        gh, gw = res.grid
        h, w = res.image.shape[:2]
        r, c = divmod(view.patch, gw)
        self.patch_frame.setRect(QRectF(c * w / gw, r * h / gh, w / gw, h / gh))
        self.patch_frame.setVisible(True)

    # ------------------------------------------------------------------ export
    def _export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the view as PNG", "attention.png", "PNG image (*.png)")
        if path:
            if not self.picture.grab().save(path if path.lower().endswith(".png") else path + ".png"):
                self.ctx.show_error(f"Could not write {path}.")

    def _export_npy(self) -> None:
        if self.result is None:
            self.ctx.show_error("Nothing to save yet: drop an image first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the raw attention", "attention.npy", "NumPy array (*.npy)")
        if path:
            self.save_attention(path)

    def save_attention(self, path: str) -> None:
        try:
            np.save(path, self.result.attentions)
        except OSError as exc:
            self.ctx.show_error(f"Could not write {path}: {exc.strerror or exc}.")

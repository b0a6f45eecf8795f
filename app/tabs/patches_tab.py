"""The Patch embeddings tab: how a ViT turns an image into a sequence of tokens.

It never runs a forward of its own: it shows the ``ViTForwardResult`` of the ViT session it shares
with the Attention tab (one forward serves both). Changing the layer or the clicked patch recomputes
only what the visible view needs (models/vit/tokens.py, numpy) and redraws it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QListWidget, QPushButton, QStackedWidget,
                               QVBoxLayout, QWidget)
from superqt import QLabeledSlider

from models.errors import UserFacingError
from models.vit import tokens as T
from models.vit.patch_blas import single_blas_thread
from models.vit.result import ViTForwardResult
from widgets.patches_views import (DistanceView, FiltersView, PatchifyView, PositionView, SimilarityView,
                                   TokenPCAView)

from .base import TabPage

PCA_COMPONENTS = 10
FILTER_COMPONENTS = 28
MAX_FILTER_TILES = 256
LAYER_VIEWS = ("pca", "similarity")  # the views that show the tokens of the chosen layer


class PatchesTab(TabPage):
    key = "patches"
    title = "Patch embeddings"

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.result: ViTForwardResult | None = None
        self.layer = 0
        self.selected = 0  # patch index (row-major, prefix tokens not counted)
        self._pca_cache: dict[int, T.PCAResult] = {}
        self._dirty: set[str] = set()
        self._session = None
        # PCA of the layers not shown yet, one per idle moment, so a later layer change only redraws
        self._precompute = QTimer(self)
        self._precompute.setSingleShot(True)
        self._precompute.setInterval(0)
        self._precompute.timeout.connect(self._precompute_next_layer)

        self.views: dict[str, QWidget] = {
            "patchify": PatchifyView(),
            "filters": FiltersView(),
            "position": PositionView(),
            "pca": TokenPCAView(),
            "similarity": SimilarityView(),
            "distance": DistanceView(),
        }
        self.view_list = QListWidget()
        self.stack = QStackedWidget()
        for key, view in self.views.items():
            self.view_list.addItem(view.heading.split(":")[0])
            self.stack.addWidget(view)
        self.view_list.setFixedWidth(170)

        self.model_label = QLabel("No image yet: drop an image on the window or use File > Open.")
        self.model_label.setWordWrap(True)
        self.layer_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.layer_slider.setRange(0, 0)
        self.layer_slider.setToolTip("0 = the embedded input tokens; n = the output of transformer block n")
        self.layer_text = QLabel("layer")
        # fixed width: a label that changes size on every layer change re-lays out (and repaints) the whole tab
        self.layer_text.setFixedWidth(self.layer_text.fontMetrics().horizontalAdvance("Layer: embedded input") + 8)
        self.save_button = QPushButton("Save tokens (.npy)...")
        self.save_button.setToolTip("Save the tokens of the chosen layer, shape (tokens, dim), prefix tokens first")
        self.save_button.setEnabled(False)
        self.model_button = QPushButton("Change model...")
        self.model_button.setToolTip("The model is chosen in the Attention tab: both tabs show the same forward pass")
        self.model_button.clicked.connect(self._go_to_model_picker)

        top = QHBoxLayout()
        top.addWidget(self.model_label, 2)
        top.addWidget(self.model_button)
        top.addWidget(self.layer_text)
        top.addWidget(self.layer_slider, 2)
        top.addWidget(self.save_button)
        body = QHBoxLayout()
        body.addWidget(self.view_list)
        body.addWidget(self.stack, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(body, 1)

        self.view_list.currentRowChanged.connect(self._on_view_changed)
        self.layer_slider.valueChanged.connect(self.set_layer)
        self.save_button.clicked.connect(self._save_tokens)
        self.views["pca"].patch_selected.connect(self.set_selected)
        self.views["pca"].options_changed.connect(self._on_pca_options)
        self.views["similarity"].patch_selected.connect(self.set_selected)
        self.views["similarity"].query_changed.connect(self._on_similarity_query)
        self.view_list.setCurrentRow(list(self.views).index("pca"))
        self._connect_session()

    # ------------------------------------------------------------------ the shared forward
    def _connect_session(self) -> None:
        try:
            from app.vit_session import shared_session
        except ImportError:  # the Attention tab's session is not there (yet): show_result is still usable
            return
        self._session = shared_session(self.ctx)
        self._session.result_ready.connect(self.show_result)
        self._session.busy_changed.connect(self._on_busy_changed)
        self._session.failed.connect(self._on_failed)
        if self._session.result is not None:
            self.show_result(self._session.result)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        if busy:
            self.model_label.setText("Running the ViT on the image (shared with the Attention tab)...")
        elif self.result is not None:
            self._update_model_text()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.model_label.setText(f"The ViT could not run: {message}")

    def set_image(self, image: np.ndarray) -> None:
        super().set_image(image)
        if self._session is not None:
            self._session.set_image(image)  # one forward per image, shared with the Attention tab

    def is_busy(self) -> bool:
        return bool(self._session is not None and self._session.is_busy())

    def on_shown(self) -> None:
        self._refresh()

    def prepare_screenshot(self) -> None:
        self.view_list.setCurrentRow(list(self.views).index("pca"))

    def shutdown(self) -> None:
        self._precompute.stop()

    def export_widget(self) -> QWidget:
        return self.stack.currentWidget()

    # ------------------------------------------------------------------ state changes
    @Slot(object)
    def show_result(self, result: ViTForwardResult) -> None:
        """A new forward (new image or model): every view is recomputed from it.

        The same model on another image keeps the chosen layer and patch; another model starts at its
        last layer and the centre patch."""
        previous = self.result
        self.result = result
        self._pca_cache.clear()
        gh, gw = result.grid
        same_model = previous is not None and (previous.model_key, previous.hidden_states.shape[0], previous.grid) \
            == (result.model_key, result.hidden_states.shape[0], result.grid)
        if not same_model:
            self.selected = (gh // 2) * gw + gw // 2
            self.layer = result.hidden_states.shape[0] - 1
        self.layer_slider.blockSignals(True)
        self.layer_slider.setRange(0, self.layer)
        self.layer_slider.setValue(self.layer)
        self.layer_slider.blockSignals(False)
        self._update_layer_text()
        self._update_model_text()
        self.save_button.setEnabled(True)
        self.views["similarity"].set_prefix_tokens(result.prefix_tokens)
        self._dirty = set(self.views)
        self._refresh()
        self._precompute.start()

    @Slot()
    def _precompute_next_layer(self) -> None:
        """Fill the PCA cache one layer per event-loop turn (~10 ms each for ViT-B/16): never blocks the GUI."""
        r = self.result
        if r is None:
            return
        missing = [l for l in range(r.hidden_states.shape[0] - 1, -1, -1) if l not in self._pca_cache]
        if not missing:
            return
        with single_blas_thread():
            self._pca_cache[missing[0]] = self._layer_pca(r, missing[0])
        if len(missing) > 1:
            self._precompute.start()

    @Slot(int)
    def set_layer(self, layer: int) -> None:
        if self.result is None or layer == self.layer:
            return
        self.layer = int(layer)
        if self.layer_slider.value() != self.layer:
            self.layer_slider.blockSignals(True)
            self.layer_slider.setValue(self.layer)
            self.layer_slider.blockSignals(False)
        self._update_layer_text()
        self._dirty |= {"pca", "similarity"}
        self._refresh()

    @Slot(int)
    def set_selected(self, patch: int) -> None:
        if self.result is None or patch < 0:
            return
        self.selected = int(patch)
        self._dirty.add("similarity")
        pca_view: TokenPCAView = self.views["pca"]
        pca_view.set_selected(self.selected)  # cheap: no recompute
        self._refresh()

    def current_view(self) -> str:
        return list(self.views)[max(0, self.stack.currentIndex())]

    @Slot(int)
    def _on_view_changed(self, row: int) -> None:
        self.stack.setCurrentIndex(row)
        uses_layer = self.current_view() in LAYER_VIEWS
        self.layer_slider.setEnabled(uses_layer)
        self.layer_text.setEnabled(uses_layer)
        self._refresh()

    @Slot()
    def _on_similarity_query(self) -> None:
        self._dirty.add("similarity")
        self._refresh()

    @Slot()
    def _on_pca_options(self) -> None:
        self._dirty.add("pca")
        self._refresh()

    def _update_model_text(self) -> None:
        r = self.result
        h, w = r.image.shape[:2]
        gh, gw = r.grid
        self.model_label.setText(f"<b>{r.model_title}</b>: {w}x{h} px input, {gh}x{gw} patches of {r.patch_size} px, "
                                 f"{r.num_prefix} special token(s), {r.num_layers} blocks of {r.num_heads} heads, "
                                 f"width {r.hidden_states.shape[2]}")

    def _update_layer_text(self) -> None:
        self.layer_text.setText("Layer: embedded input" if self.layer == 0 else f"Layer: block {self.layer}")

    def _layer_caption(self) -> str:
        return "Embedded input tokens (layer 0)" if self.layer == 0 else f"Tokens after block {self.layer}"

    # ------------------------------------------------------------------ drawing
    def _refresh(self) -> None:
        name = self.current_view()
        if self.result is None or name not in self._dirty:
            return
        self._dirty.discard(name)
        try:
            with single_blas_thread():  # small matrices: extra BLAS threads only fight torch for the cores
                getattr(self, f"_draw_{name}")(self.result, self.views[name])
        except UserFacingError as exc:
            self.ctx.show_error(str(exc))

    @staticmethod
    def _layer_pca(r: ViTForwardResult, layer: int) -> T.PCAResult:
        return T.pca(T.patch_tokens(r.hidden_states, layer, r.num_prefix), PCA_COMPONENTS)

    def _pca(self, r: ViTForwardResult) -> T.PCAResult:
        if self.layer not in self._pca_cache:
            self._pca_cache[self.layer] = self._layer_pca(r, self.layer)
        return self._pca_cache[self.layer]

    def _draw_patchify(self, r: ViTForwardResult, view: PatchifyView) -> None:
        view.set_data(r.image, r.grid, r.patch_size, r.prefix_tokens, T.token_names(r.prefix_tokens, r.grid),
                      r.hidden_states[0])

    def _draw_filters(self, r: ViTForwardResult, view: FiltersView) -> None:
        f = r.embedding_filters
        if f is None:
            view.set_data(None, None, 0, (0, 0), None)
            return
        tiles = T.filter_tiles(f[:MAX_FILTER_TILES])
        comps, explained = T.filter_components(f, min(FILTER_COMPONENTS, max(1, len(f) // 2)))
        cols = int(np.ceil(np.sqrt(len(tiles) * 1.5)))
        view.set_data(T.mosaic(tiles, cols), T.mosaic(comps, 7), len(f), f.shape[2:], explained)
        if f.shape[2] != r.patch_size:
            view.status.setText(view.status.text() + f" This model embeds patches with a stack of convolutions (a "
                                f"conv stem): these are the {f.shape[2]}x{f.shape[3]} filters of its first one, which "
                                f"slide over the image; the stem as a whole covers {r.patch_size}x{r.patch_size} px.")
        if len(f) > MAX_FILTER_TILES:
            view.status.setText(view.status.text() + f" Showing the first {MAX_FILTER_TILES} of {len(f)} filters.")

    def _draw_position(self, r: ViTForwardResult, view: PositionView) -> None:
        if r.position_embeddings is None:
            view.set_data(None, r.grid)
            return
        maps = T.position_similarity(r.position_embeddings, r.grid)
        gh, gw = r.grid
        view.set_data(T.similarity_maps_mosaic(maps), r.grid,
                      f"{gh}x{gw} positions (interpolated by the model when the image size differs from training).")

    def _draw_pca(self, r: ViTForwardResult, view: TokenPCAView) -> None:
        res = self._pca(r)
        mask = T.foreground_mask(res.scores[:, 0], r.grid) if view.mask_box.isChecked() else None
        tokens = T.patch_tokens(r.hidden_states, self.layer, r.num_prefix)
        if mask is None:
            rgb = T.to_unit_range(res.scores[:, :3]).reshape(*r.grid, 3) if res.scores.shape[1] >= 3 \
                else T.pca_rgb(tokens, r.grid)
        else:
            rgb = T.pca_rgb(tokens, r.grid, mask)
        colours = rgb.reshape(-1, 3).copy()
        if mask is not None:
            colours[~mask.reshape(-1)] = 0.45  # background points grey in the scatter (black on the image)
        view.set_data(r.image, r.grid, r.patch_size, rgb, res.scores, res.explained, self.selected,
                      self._layer_caption(), colours)

    def _draw_similarity(self, r: ViTForwardResult, view: SimilarityView) -> None:
        toks = r.hidden_states[self.layer]  # (N, D)
        q = view.query_prefix()
        if q is None:
            query, highlight = r.num_prefix + self.selected, self.selected
            row, col = divmod(self.selected, r.grid[1])
            name = f"patch row {row}, column {col} (its own similarity is 1)"
        else:
            query, highlight, name = q, None, f"the {r.prefix_tokens[q]} token"
        sims = T.cosine_to(toks, query)  # (N,)
        others = {n: float(sims[i]) for i, n in enumerate(r.prefix_tokens) if i != query}
        view.set_data(r.image, r.grid, r.patch_size, sims[r.num_prefix:].reshape(r.grid), highlight, name, others,
                      self._layer_caption())

    def _draw_distance(self, r: ViTForwardResult, view: DistanceView) -> None:
        mad = T.mean_attention_distance(r.attentions, r.grid, r.patch_size, r.num_prefix)
        uniform = float(T.pairwise_patch_distances(r.grid, r.patch_size).mean())
        view.set_data(mad, uniform, max(r.image.shape[:2]), r.patch_size)

    @Slot()
    def _go_to_model_picker(self) -> None:
        window = self.window()
        if hasattr(window, "select_tab"):
            window.select_tab("attention")

    # ------------------------------------------------------------------ export
    def tokens_for_export(self) -> np.ndarray:
        """The tokens of the chosen layer, (N, D) float32, prefix tokens first."""
        if self.result is None:
            raise UserFacingError("There are no tokens yet: open an image first.")
        return np.ascontiguousarray(self.result.hidden_states[self.layer], dtype=np.float32)

    @Slot()
    def _save_tokens(self) -> None:
        try:
            tokens = self.tokens_for_export()
        except UserFacingError as exc:
            self.ctx.show_error(str(exc))
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save tokens", f"tokens_layer{self.layer}.npy",
                                              "NumPy array (*.npy)")
        if not path:
            return
        try:
            np.save(path, tokens)
        except OSError as exc:
            self.ctx.show_error(f"Could not save the tokens to {Path(path).name}: {exc.strerror or exc}")
            return
        self.ctx.show_message(f"Saved tokens {tokens.shape} of layer {self.layer} to {path}")

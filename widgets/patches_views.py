"""The six views of the Patch embeddings tab. Each shows arrays it is given (numpy only, no torch).

The tab (app/tabs/patches_tab.py) computes what they show from one captured forward and wires
their signals; every view carries its own short "what am I looking at" text.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from .float_slider import FloatSlider
from .patches_image import PatchImageView
from .patches_plots import DistancePlot, MosaicView, TokenScatter
from .patches_sequence import TokenSequenceStrip
from .status_line import ReservedLabel


class ViewPage(QWidget):
    """A heading, the "what am I looking at" text, then the view's content."""

    heading = ""
    help_text = ""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(4, 4, 4, 4)
        title = QLabel(f"<b>{self.heading}</b>")
        self.help_label = QLabel(self.help_text)
        self.help_label.setWordWrap(True)
        self.help_label.setStyleSheet("color: #444;")
        self.status = ReservedLabel("", min_lines=2)  # room for two lines: a new status never moves the view
        self.outer.addWidget(title)
        self.outer.addWidget(self.help_label)

    def finish(self, content: QWidget) -> None:
        self.outer.addWidget(content, 1)
        self.outer.addWidget(self.status)


class PatchifyView(ViewPage):
    heading = "Patchify: from an image to a sequence of tokens"
    help_text = ("The model cuts the image into square patches (left) and reads them as one sequence, row by "
                 "row, after its special tokens such as CLS (right; the number is the position index). Hover a "
                 "patch or a token to see its pixels and the vector the model turns it into (its embedding at "
                 "layer 0, position embedding included).")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.image_view = PatchImageView()
        self.strip = TokenSequenceStrip()
        self.block_view = MosaicView(title="pixels of the patch")
        self.vector_view = MosaicView(title="embedding vector (one cell per dimension)", colorbar=True)
        self.info = QLabel("Hover a patch.")
        self.info.setWordWrap(True)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.strip)
        bottom = QWidget()
        row = QHBoxLayout(bottom)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.block_view, 1)
        row.addWidget(self.vector_view, 2)
        right.addWidget(bottom)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.image_view)
        split.addWidget(right)
        split.setSizes([450, 650])
        self.outer.addWidget(self.info)
        self.finish(split)
        self.image_view.patch_hovered.connect(self._on_patch_hovered)
        self.strip.token_hovered.connect(self.show_token)
        self._image = None
        self._embeddings = None
        self._names: list[str] = []
        self._npref = 0

    def set_data(self, image: np.ndarray, grid, patch_size: int, prefix_tokens, names: list[str],
                 embeddings: np.ndarray) -> None:
        """embeddings (N, D): the tokens entering the first block (layer 0), prefix tokens first."""
        self._image, self._grid, self._ps = image, tuple(grid), int(patch_size)
        self._embeddings, self._names, self._npref = embeddings, names, len(prefix_tokens)
        self.image_view.set_image(image, grid, patch_size)
        self.strip.set_tokens(image, grid, patch_size, tuple(prefix_tokens))
        d = embeddings.shape[1]
        self._vec_cols = int(min(64, max(8, 2 ** round(np.log2(np.sqrt(d * 4))))))
        self._vec_levels = float(np.percentile(np.abs(embeddings), 99)) or 1.0
        self.show_token(self._npref if len(names) > self._npref else 0)

    @Slot(int)
    def _on_patch_hovered(self, patch: int) -> None:
        if patch >= 0:
            self.show_token(self._npref + patch)

    @Slot(int)
    def show_token(self, token: int) -> None:
        if self._embeddings is None or not 0 <= token < len(self._names):
            return
        self.strip.set_highlight(token)
        vec = self._embeddings[token]
        d = vec.shape[0]
        cols = self._vec_cols
        rows = -(-d // cols)
        grid_vals = np.full(rows * cols, np.nan, np.float32)
        grid_vals[:d] = vec
        self.vector_view.set_scalar(grid_vals.reshape(rows, cols), (-self._vec_levels, self._vec_levels), "CET-D1")
        if token >= self._npref:
            patch = token - self._npref
            r, c = divmod(patch, self._grid[1])
            p = self._ps
            self.image_view.set_highlight(patch)
            self.block_view.set_rgb(self._image[r * p:(r + 1) * p, c * p:(c + 1) * p] / 255.0)
            where = f"patch row {r}, column {c} ({p}x{p} pixels)"
        else:
            self.image_view.set_highlight(None)
            self.block_view.set_rgb(np.full((8, 8, 3), 0.85))
            where = f"special token {self._names[token]}: no pixels, a learned vector"
        self.info.setText(f"Token {token} in the sequence: {where}. Embedding: {d} numbers, "
                          f"norm {np.linalg.norm(vec):.2f}.")


class FiltersView(ViewPage):
    heading = "Embedding filters: what the patch projection looks for"
    help_text = ("Each tile is one filter of the layer that turns a patch of pixels into numbers (left); a patch's "
                 "embedding is how strongly it matches each filter. The principal components of all filters "
                 "(right) show the basic patterns they share, often smooth colour blobs and stripes like the "
                 "first layer of a CNN (ViT paper, Figure 7 left).")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.tiles_view = MosaicView(title="filters")
        self.comps_view = MosaicView(title="top principal components")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.tiles_view)
        split.addWidget(self.comps_view)
        self.finish(split)

    def set_data(self, tiles_mosaic: np.ndarray | None, comps_mosaic: np.ndarray | None, n_filters: int,
                 kernel: tuple[int, int], explained: np.ndarray | None, note: str = "") -> None:
        if tiles_mosaic is None:
            self.tiles_view.image_item.clear()
            self.comps_view.image_item.clear()
            self.status.setText("This model does not expose its patch-projection weights.")
            return
        self.tiles_view.set_rgb(tiles_mosaic)
        self.comps_view.set_rgb(comps_mosaic)
        self.tiles_view.set_title(f"{n_filters} filters of {kernel[0]}x{kernel[1]} pixels (grey = 0)")
        k = len(explained)
        self.comps_view.set_title(f"top {k} principal components: {100 * explained.sum():.0f}% of the variance")
        self.status.setText("Filters: " + ", ".join(f"PC{i + 1} {100 * e:.1f}%" for i, e in enumerate(explained[:6]))
                            + (" ..." if k > 6 else "") + note)


class PositionView(ViewPage):
    heading = "Position embeddings: how the model knows where a patch is"
    help_text = ("Tile (row, column) shows how similar the position embedding of that grid position is to the "
                 "embeddings of all other positions (cosine similarity, yellow = alike). A trained model learns "
                 "that nearby positions are alike, so each tile lights up around its own place (ViT paper, "
                 "Figure 7 centre); random weights show noise.")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.maps_view = MosaicView(colorbar=True)
        self.finish(self.maps_view)
        self.maps_view.tile_hovered.connect(self._on_tile_hovered)
        self._grid = (1, 1)

    def set_data(self, mosaic_img: np.ndarray | None, grid, note: str = "") -> None:
        self._grid = tuple(grid)
        if mosaic_img is None:
            self.maps_view.image_item.clear()
            self.status.setText("This model has no learned position embeddings to show.")
            return
        gh, gw = self._grid
        self.maps_view.set_scalar(mosaic_img, (-1.0, 1.0), "viridis")
        self.maps_view.set_tiles(gh, gw, 1, gw, gh * gw)
        self._note = note
        self.status.setText(note)

    @Slot(int)
    def _on_tile_hovered(self, tile: int) -> None:
        if tile >= 0:
            r, c = divmod(tile, self._grid[1])
            self.status.setText(f"Tile of position row {r}, column {c}: similarity of its embedding to every "
                                f"position. {self._note}")


class TokenPCAView(ViewPage):
    heading = "Token PCA: what the tokens have in common"
    help_text = ("Each patch token at the chosen layer is a long vector; PCA finds the three directions in which "
                 "the tokens differ most and shows them as red, green and blue over the image, so patches of the "
                 "same colour have similar tokens. Right: every token as a point on two components; click a point "
                 "or a patch to find its partner.")

    patch_selected = Signal(int)
    options_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.image_view = PatchImageView()
        self.scatter = TokenScatter()
        controls = QHBoxLayout()
        self.mask_box = QCheckBox("hide background (first component)")
        self.opacity = FloatSlider(Qt.Orientation.Horizontal)  # arrow keys and PgUp/PgDn step it
        self.opacity.setRange(0.0, 1.0)
        self.opacity.setSingleStep(0.01)
        self.opacity.setPageStep(0.1)
        self.opacity.setValue(0.85)
        self.x_comp, self.y_comp = QSpinBox(), QSpinBox()
        for box, v in ((self.x_comp, 1), (self.y_comp, 2)):
            box.setRange(1, 10)
            box.setValue(v)
            box.setPrefix("PC")
        controls.addWidget(self.mask_box)
        controls.addWidget(QLabel("overlay opacity"))
        controls.addWidget(self.opacity, 1)
        controls.addWidget(QLabel("scatter x"))
        controls.addWidget(self.x_comp)
        controls.addWidget(QLabel("y"))
        controls.addWidget(self.y_comp)
        self.outer.addLayout(controls)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.image_view)
        split.addWidget(self.scatter)
        split.setSizes([550, 450])
        self.finish(split)
        self.image_view.patch_clicked.connect(self.patch_selected)
        self.scatter.point_clicked.connect(self.patch_selected)
        self.mask_box.toggled.connect(self.options_changed)
        self.x_comp.valueChanged.connect(self.options_changed)
        self.y_comp.valueChanged.connect(self.options_changed)
        self.opacity.valueChanged.connect(self.image_view.set_overlay_opacity)

    def components(self) -> tuple[int, int]:
        return self.x_comp.value() - 1, self.y_comp.value() - 1

    def set_data(self, image, grid, patch_size, rgb: np.ndarray, scores: np.ndarray, explained: np.ndarray,
                 selected: int | None, layer_text: str, colours: np.ndarray | None = None) -> None:
        """rgb (gh, gw, 3) in [0, 1]; scores (P, k) token projections; explained (k,) variance fractions;
        colours (P, 3) of the scatter points (default: the patch's rgb)."""
        k = scores.shape[1]
        for box in (self.x_comp, self.y_comp):
            if box.maximum() != k:
                box.blockSignals(True)
                box.setMaximum(k)
                box.blockSignals(False)
        cx, cy = self.components()
        cx, cy = min(cx, k - 1), min(cy, k - 1)
        self.image_view.set_image(image, grid, patch_size)
        self.image_view.set_rgb_overlay(rgb, self.opacity.value())
        self.scatter.grid_w = rgb.shape[1]
        self.scatter.set_points(scores[:, cx], scores[:, cy], rgb.reshape(-1, 3) if colours is None else colours,
                                f"PC{cx + 1} ({100 * explained[cx]:.0f}% of variance)",
                                f"PC{cy + 1} ({100 * explained[cy]:.0f}% of variance)")
        self.set_selected(selected)
        self.status.setText(f"{layer_text}: the first three components explain "
                            f"{100 * explained[:3].sum():.0f}% of the token variance.")

    def set_selected(self, patch: int | None) -> None:
        self.image_view.set_highlight(patch)
        self.scatter.set_highlight(patch)


class SimilarityView(ViewPage):
    heading = "Token similarity: which patches does the model treat alike?"
    help_text = ("Click a patch: the colour of every other patch is the cosine similarity of its token to the "
                 "clicked one at the chosen layer (1 = same direction, 0 = unrelated). In deep layers a good "
                 "model makes tokens of the same object alike, even far apart in the image.")

    patch_selected = Signal(int)
    query_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.image_view = PatchImageView(colorbar=True)
        self.opacity = FloatSlider(Qt.Orientation.Horizontal)  # arrow keys and PgUp/PgDn step it
        self.opacity.setRange(0.0, 1.0)
        self.opacity.setSingleStep(0.01)
        self.opacity.setPageStep(0.1)
        self.opacity.setValue(0.75)
        self.query = QComboBox()
        self.query.setToolTip("Compare every patch with the clicked patch, or with a special token such as CLS")
        self.query.addItem("clicked patch")
        row = QHBoxLayout()
        row.addWidget(QLabel("query token"))
        row.addWidget(self.query)
        row.addWidget(QLabel("overlay opacity"))
        row.addWidget(self.opacity, 1)
        self.outer.addLayout(row)
        self.finish(self.image_view)
        self.image_view.patch_clicked.connect(self._on_patch_clicked)
        self.query.currentIndexChanged.connect(self.query_changed)
        self.opacity.valueChanged.connect(self.image_view.set_overlay_opacity)

    def set_prefix_tokens(self, names) -> None:
        """The special tokens offered as queries besides the clicked patch."""
        self.query.blockSignals(True)
        self.query.clear()
        self.query.addItem("clicked patch")
        self.query.addItems(list(names))
        self.query.blockSignals(False)

    def query_prefix(self) -> int | None:
        """Index of the special token chosen as query, or None for the clicked patch."""
        i = self.query.currentIndex()
        return None if i <= 0 else i - 1

    @Slot(int)
    def _on_patch_clicked(self, patch: int) -> None:
        self.query.setCurrentIndex(0)  # clicking a patch makes it the query again
        self.patch_selected.emit(patch)

    def set_data(self, image, grid, patch_size, similarity: np.ndarray, selected: int | None, query_name: str,
                 others: dict, layer_text: str) -> None:
        """similarity (gh, gw) of each patch token to the query token; others: special token -> similarity."""
        self.image_view.set_image(image, grid, patch_size)
        lo = float(min(0.0, np.min(similarity)))
        self.image_view.set_heat_overlay(similarity, (lo, 1.0), "viridis", self.opacity.value())
        self.image_view.set_highlight(selected)
        extra = "".join(f"; to {name}: {v:.2f}" for name, v in others.items())
        self.status.setText(f"{layer_text}, query: {query_name}{extra}.")


class DistanceView(ViewPage):
    heading = "Mean attention distance: how far each head looks"
    help_text = ("Each dot is one attention head: the average distance, in pixels, between a patch and the patches "
                 "it attends to (weighted by its attention). In the ViT paper's ImageNet models, early layers mix "
                 "near- and far-looking heads and later layers look far (Figure 7 right); the dashed line is what "
                 "attending to everything equally gives.")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = DistancePlot()
        self.finish(self.plot)

    def set_data(self, mad: np.ndarray, uniform_px: float, image_px: int, patch_size: int) -> None:
        self.plot.set_distances(mad, uniform_px, image_px)
        self.status.setText(f"{mad.shape[0]} layers x {mad.shape[1]} heads, image {image_px} px, patch "
                            f"{patch_size} px. Hover a dot for its layer and head.")

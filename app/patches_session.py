"""The Patch embeddings tab's state and what its six views draw, without Qt (unit-tested without a display).

The tab never runs a forward of its own: it shows the ``ViTForwardResult`` of the ViT session shared with the
Attention tab. This session holds the chosen layer and patch, caches the token PCA per layer, remembers which
views are out of date, and turns the result into frozen, render-ready frames (numpy arrays, strings) whose
field names are the parameters of the matching view's ``set_data`` (widgets/patches_views.py).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from models.errors import UserFacingError
from models.vit import tokens as T
from models.vit.patch_blas import single_blas_thread
from models.vit.result import ViTForwardResult

PCA_COMPONENTS = 10
FILTER_COMPONENTS = 28
MAX_FILTER_TILES = 256
VIEWS = ("patchify", "filters", "position", "pca", "similarity", "distance")  # in the order of the view list
LAYER_VIEWS = ("pca", "similarity")  # the views that show the tokens of the chosen layer


def frame_kwargs(frame) -> dict:
    """A frame's fields as keyword arguments of its view's set_data (no copies)."""
    return {f.name: getattr(frame, f.name) for f in fields(frame)}


@dataclass(frozen=True)
class PatchifyFrame:
    image: np.ndarray  # (H, W, 3) uint8
    grid: tuple[int, int]
    patch_size: int
    prefix_tokens: tuple[str, ...]
    names: list[str]  # one per token, prefix tokens first
    embeddings: np.ndarray  # (N, D) tokens entering the first block


@dataclass(frozen=True)
class FiltersFrame:
    tiles_mosaic: np.ndarray | None  # RGB mosaic of the filters, None when the model does not expose them
    comps_mosaic: np.ndarray | None
    n_filters: int
    kernel: tuple[int, int]
    explained: np.ndarray | None  # (k,) variance fractions of the principal components
    note: str  # appended to the view's status


@dataclass(frozen=True)
class PositionFrame:
    mosaic_img: np.ndarray | None  # (gh * (gw + 1) ..) similarity maps mosaic, None without position embeddings
    grid: tuple[int, int]
    note: str


@dataclass(frozen=True)
class PCAFrame:
    image: np.ndarray
    grid: tuple[int, int]
    patch_size: int
    rgb: np.ndarray  # (gh, gw, 3) in [0, 1]
    scores: np.ndarray  # (P, k)
    explained: np.ndarray  # (k,)
    selected: int | None
    layer_text: str
    colours: np.ndarray  # (P, 3) scatter point colours


@dataclass(frozen=True)
class SimilarityFrame:
    image: np.ndarray
    grid: tuple[int, int]
    patch_size: int
    similarity: np.ndarray  # (gh, gw) cosine similarity of each patch token to the query token
    selected: int | None  # patch to outline (None when the query is a special token)
    query_name: str
    others: dict  # special token name -> similarity
    layer_text: str


@dataclass(frozen=True)
class DistanceFrame:
    mad: np.ndarray  # (L, heads) mean attention distance in pixels
    uniform_px: float
    image_px: int
    patch_size: int


class PatchesSession:
    def __init__(self) -> None:
        self.result: ViTForwardResult | None = None
        self.layer = 0
        self.selected = 0  # patch index (row-major, prefix tokens not counted)
        self.pca_cache: dict[int, T.PCAResult] = {}
        self._dirty: set[str] = set()

    # ---- state changes ---------------------------------------------------------------------------------
    def set_result(self, result: ViTForwardResult) -> None:
        """A new forward: every view is out of date. The same model on another image keeps the layer and
        patch; another model starts at its last layer and the centre patch."""
        previous = self.result
        self.result = result
        self.pca_cache.clear()
        same_model = previous is not None and (previous.model_key, previous.hidden_states.shape[0], previous.grid) \
            == (result.model_key, result.hidden_states.shape[0], result.grid)
        if not same_model:
            gh, gw = result.grid
            self.selected = (gh // 2) * gw + gw // 2
            self.layer = self.num_layers() - 1
        self._dirty = set(VIEWS)

    def num_layers(self) -> int:
        """Layers to choose from: 0 (embedded input) .. number of blocks."""
        return 0 if self.result is None else int(self.result.hidden_states.shape[0])

    def set_layer(self, layer: int) -> bool:
        if self.result is None or int(layer) == self.layer:
            return False
        self.layer = int(layer)
        self._dirty |= set(LAYER_VIEWS)
        return True

    def set_selected(self, patch: int) -> bool:
        if self.result is None or patch < 0:
            return False
        self.selected = int(patch)
        self._dirty.add("similarity")
        return True

    def mark_dirty(self, view: str) -> None:
        self._dirty.add(view)

    def take_dirty(self, view: str) -> bool:
        """True (once) when `view` must be redrawn."""
        if self.result is None or view not in self._dirty:
            return False
        self._dirty.discard(view)
        return True

    def precompute_next_layer(self) -> bool:
        """PCA of one more layer (deepest first); True while layers are left. ~10 ms each for ViT-B/16."""
        missing = [l for l in range(self.num_layers() - 1, -1, -1) if l not in self.pca_cache]
        if self.result is None or not missing:
            return False
        with single_blas_thread():
            self.pca_cache[missing[0]] = self._layer_pca(missing[0])
        return len(missing) > 1

    # ---- texts -------------------------------------------------------------------------------------------
    def model_text(self) -> str:
        r = self.result
        h, w = r.image.shape[:2]
        gh, gw = r.grid
        return (f"{r.model_title}: {w}x{h} px input, {gh}x{gw} patches of {r.patch_size} px, {r.num_prefix} special "
                f"token(s), {r.num_layers} blocks of {r.num_heads} heads, width {r.hidden_states.shape[2]}")

    def layer_text(self) -> str:
        return "Layer: embedded input" if self.layer == 0 else f"Layer: block {self.layer}"

    def layer_caption(self) -> str:
        return "Embedded input tokens (layer 0)" if self.layer == 0 else f"Tokens after block {self.layer}"

    # ---- frames ------------------------------------------------------------------------------------------
    def _layer_pca(self, layer: int) -> T.PCAResult:
        r = self.result
        return T.pca(T.patch_tokens(r.hidden_states, layer, r.num_prefix), PCA_COMPONENTS)

    def pca(self) -> T.PCAResult:
        if self.layer not in self.pca_cache:
            with single_blas_thread():
                self.pca_cache[self.layer] = self._layer_pca(self.layer)
        return self.pca_cache[self.layer]

    def patchify_frame(self) -> PatchifyFrame:
        r = self.result
        return PatchifyFrame(r.image, r.grid, r.patch_size, r.prefix_tokens, T.token_names(r.prefix_tokens, r.grid),
                             r.hidden_states[0])

    def filters_frame(self) -> FiltersFrame:
        r = self.result
        f = r.embedding_filters  # (K, 3, kh, kw)
        if f is None:
            return FiltersFrame(None, None, 0, (0, 0), None, "")
        with single_blas_thread():
            tiles = T.filter_tiles(f[:MAX_FILTER_TILES])
            comps, explained = T.filter_components(f, min(FILTER_COMPONENTS, max(1, len(f) // 2)))
        cols = int(np.ceil(np.sqrt(len(tiles) * 1.5)))
        note = ""
        if f.shape[2] != r.patch_size:
            note += (f" This model embeds patches with a stack of convolutions (a conv stem): these are the "
                     f"{f.shape[2]}x{f.shape[3]} filters of its first one, which slide over the image; the stem as a "
                     f"whole covers {r.patch_size}x{r.patch_size} px.")
        if len(f) > MAX_FILTER_TILES:
            note += f" Showing the first {MAX_FILTER_TILES} of {len(f)} filters."
        return FiltersFrame(T.mosaic(tiles, cols), T.mosaic(comps, 7), len(f), tuple(f.shape[2:]), explained, note)

    def position_frame(self) -> PositionFrame:
        r = self.result
        if r.position_embeddings is None:
            return PositionFrame(None, r.grid, "")
        with single_blas_thread():
            maps = T.position_similarity(r.position_embeddings, r.grid)
        gh, gw = r.grid
        return PositionFrame(T.similarity_maps_mosaic(maps), r.grid,
                             f"{gh}x{gw} positions (interpolated by the model when the image size differs from "
                             "training).")

    def pca_frame(self, hide_background: bool = False) -> PCAFrame:
        r = self.result
        res = self.pca()
        with single_blas_thread():
            mask = T.foreground_mask(res.scores[:, 0], r.grid) if hide_background else None  # (gh, gw) bool
            tokens = T.patch_tokens(r.hidden_states, self.layer, r.num_prefix)  # (P, D)
            if mask is None:
                rgb = T.to_unit_range(res.scores[:, :3]).reshape(*r.grid, 3) if res.scores.shape[1] >= 3 \
                    else T.pca_rgb(tokens, r.grid)
            else:
                rgb = T.pca_rgb(tokens, r.grid, mask)
        colours = rgb.reshape(-1, 3).copy()
        if mask is not None:
            colours[~mask.reshape(-1)] = 0.45  # background points grey in the scatter (black on the image)
        return PCAFrame(r.image, r.grid, r.patch_size, rgb, res.scores, res.explained, self.selected,
                        self.layer_caption(), colours)

    def similarity_frame(self, query_prefix: int | None = None) -> SimilarityFrame:
        """Cosine similarity of every patch token to the clicked patch, or to special token `query_prefix`."""
        r = self.result
        toks = r.hidden_states[self.layer]  # (N, D)
        if query_prefix is None:
            query, highlight = r.num_prefix + self.selected, self.selected
            row, col = divmod(self.selected, r.grid[1])
            name = f"patch row {row}, column {col} (its own similarity is 1)"
        else:
            query, highlight, name = query_prefix, None, f"the {r.prefix_tokens[query_prefix]} token"
        sims = T.cosine_to(toks, query)  # (N,)
        others = {n: float(sims[i]) for i, n in enumerate(r.prefix_tokens) if i != query}
        return SimilarityFrame(r.image, r.grid, r.patch_size, sims[r.num_prefix:].reshape(r.grid), highlight, name,
                               others, self.layer_caption())

    def distance_frame(self) -> DistanceFrame:
        r = self.result
        mad = T.mean_attention_distance(r.attentions, r.grid, r.patch_size, r.num_prefix)  # (L, heads)
        uniform = float(T.pairwise_patch_distances(r.grid, r.patch_size).mean())
        return DistanceFrame(mad, uniform, max(r.image.shape[:2]), r.patch_size)

    def frame(self, view: str, hide_background: bool = False, query_prefix: int | None = None):
        """The frame of `view` (one of VIEWS) with the view's own options."""
        makers = {"patchify": self.patchify_frame, "filters": self.filters_frame, "position": self.position_frame,
                  "pca": lambda: self.pca_frame(hide_background),
                  "similarity": lambda: self.similarity_frame(query_prefix), "distance": self.distance_frame}
        with single_blas_thread():  # small matrices: extra BLAS threads only fight torch for the cores
            return makers[view]()

    def tokens_for_export(self) -> np.ndarray:
        """The tokens of the chosen layer, (N, D) float32, prefix tokens first."""
        if self.result is None:
            raise UserFacingError("There are no tokens yet: open an image first.")
        return np.ascontiguousarray(self.result.hidden_states[self.layer], dtype=np.float32)

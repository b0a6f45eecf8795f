"""Token maths behind the Patch embeddings tab: pure numpy, no torch, no Qt.

Everything here takes arrays from one captured forward (``ViTForwardResult``) and returns arrays
the tab draws: PCA of tokens, cosine similarities, position-embedding similarity maps, mean
attention distance (ViT paper, Fig. 7 right), patchify helpers and embedding-filter tiles
(Fig. 7 left). Patch tokens are in row-major grid order after the prefix tokens (CLS, ...).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models import imaging
from models.errors import UserFacingError

_EPS = 1e-12


# ----------------------------------------------------------------------------- patchify helpers

def token_names(prefix_tokens: tuple[str, ...], grid: tuple[int, int]) -> list[str]:
    """Name of every token in sequence order: prefix names, then "r,c" of each patch (row-major)."""
    gh, gw = grid
    return list(prefix_tokens) + [f"{r},{c}" for r in range(gh) for c in range(gw)]


def patch_rc(index: int, grid: tuple[int, int]) -> tuple[int, int]:
    """(row, col) of patch ``index`` (0-based among patch tokens, row-major)."""
    gh, gw = grid
    if not 0 <= index < gh * gw:
        raise IndexError(f"patch {index} outside a {gh}x{gw} grid")
    return divmod(int(index), gw)


def patch_at(x: float, y: float, grid: tuple[int, int], patch_size: int) -> int | None:
    """Patch index under image pixel (x, y), or None outside the patch grid."""
    gh, gw = grid
    if x < 0 or y < 0:
        return None
    c, r = int(x // patch_size), int(y // patch_size)
    if r >= gh or c >= gw:
        return None
    return r * gw + c


def patch_block(image: np.ndarray, grid: tuple[int, int], patch_size: int, index: int) -> np.ndarray:
    """The pixels of one patch: (patch_size, patch_size, C) view into ``image`` (H, W, C)."""
    r, c = patch_rc(index, grid)
    p = patch_size
    return image[r * p:(r + 1) * p, c * p:(c + 1) * p]


def patch_centers(grid: tuple[int, int], patch_size: float) -> np.ndarray:
    """Pixel (x, y) centre of every patch, row-major. (P, 2) float64"""
    gh, gw = grid
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    return np.stack([(cols.ravel() + 0.5) * patch_size, (rows.ravel() + 0.5) * patch_size], axis=1)


def patch_tokens(hidden_states: np.ndarray, layer: int, num_prefix: int) -> np.ndarray:
    """Patch tokens (without prefix tokens) at ``layer`` (0 = embedded input). (P, D)"""
    if not 0 <= layer < hidden_states.shape[0]:
        raise UserFacingError(f"Layer {layer} does not exist: this model has layers 0..{hidden_states.shape[0] - 1}.")
    return hidden_states[layer, num_prefix:]


# ----------------------------------------------------------------------------- PCA and similarity

@dataclass(frozen=True)
class PCAResult:
    scores: np.ndarray  # (P, k) projections of the centred tokens on the axes
    axes: np.ndarray  # (k, D) unit principal directions, sign fixed: largest |loading| positive
    explained: np.ndarray  # (k,) fraction of total variance per component
    mean: np.ndarray  # (D,)


def _top_eigh(sym: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenvalues (descending) and eigenvectors (columns) of a symmetric matrix."""
    n = sym.shape[0]
    k = min(k, n)
    if k < n // 2:
        import scipy.linalg  # lazily: importing it costs ~0.3 s at start-up

        w, v = scipy.linalg.eigh(sym, subset_by_index=[n - k, n - 1], driver="evr")
    else:
        w, v = np.linalg.eigh(sym)
        w, v = w[n - k:], v[:, n - k:]
    return w[::-1], v[:, ::-1]


def pca(x: np.ndarray, k: int = 3) -> PCAResult:
    """PCA of the rows of ``x`` (P, D); k is clipped to the rank of the centred data.

    Same answer as the SVD of the centred data (up to sign), computed from the eigenvectors of the
    smaller Gram matrix (P x P when P <= D, else the D x D covariance): about 5x faster than a full
    SVD for 196 tokens of width 768, which keeps a layer change interactive.
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    xc = x - mean  # (P, D)
    total = float((xc**2).sum())
    if xc.shape[0] <= xc.shape[1]:
        w, u = _top_eigh(xc @ xc.T, k)  # descending; (k,), (P, k)
        keep = int(min(k, np.sum(w > max(w[0], 0.0) * 1e-12)))
        keep = max(keep, 1)
        s = np.sqrt(np.maximum(w[:keep], _EPS))
        axes = (u[:, :keep].T @ xc) / s[:, None]  # (k, D) = rows of V^T
    else:
        w, v = _top_eigh(xc.T @ xc, k)  # (k,), (D, k)
        keep = max(1, int(min(k, np.sum(w > max(w[0], 0.0) * 1e-12))))
        axes = v[:, :keep].T
    # Deterministic sign: the largest-magnitude loading of each axis is positive.
    flip = np.sign(axes[np.arange(keep), np.abs(axes).argmax(axis=1)])
    flip[flip == 0] = 1.0
    axes = axes * flip[:, None]
    explained = np.maximum(w[:keep], 0.0) / max(total, _EPS)
    return PCAResult(scores=xc @ axes.T, axes=axes, explained=explained, mean=mean)


def to_unit_range(x: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.0) -> np.ndarray:
    """Scale each column of ``x`` (P, k) to [0, 1] between its percentiles (robust to outliers)."""
    lo = np.percentile(x, low_pct, axis=0)
    hi = np.percentile(x, high_pct, axis=0)
    return np.clip((x - lo) / np.maximum(hi - lo, _EPS), 0.0, 1.0)


def foreground_mask(first_component: np.ndarray, grid: tuple[int, int], threshold: float = 0.0) -> np.ndarray:
    """Foreground patches from the first PCA component (as DINOv2 does). (gh, gw) bool

    The component's sign is arbitrary, so the side that touches the image border less is taken
    as the foreground (a background usually surrounds the object).
    """
    gh, gw = grid
    side = first_component.reshape(gh, gw) > threshold
    border = np.zeros((gh, gw), bool)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    pos_on_border = side[border].mean() if side.any() else 1.0
    neg_on_border = (~side)[border].mean() if (~side).any() else 1.0
    return side if pos_on_border <= neg_on_border else ~side


def pca_rgb(tokens: np.ndarray, grid: tuple[int, int], mask: np.ndarray | None = None) -> np.ndarray:
    """First three PCA components of ``tokens`` (P, D) as an RGB map (gh, gw, 3) float in [0, 1].

    With ``mask`` (gh, gw), PCA is refit on the foreground patches only and the background is black.
    """
    gh, gw = grid
    rgb = np.zeros((gh * gw, 3))
    sel = np.ones(gh * gw, bool) if mask is None else mask.reshape(-1)
    if sel.sum() >= 2:
        res = pca(tokens[sel], 3)
        scores = np.zeros((int(sel.sum()), 3))
        scores[:, :res.scores.shape[1]] = res.scores
        rgb[sel] = to_unit_range(scores)
    return rgb.reshape(gh, gw, 3)


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    """Cosine similarity between all rows of ``x`` (P, D). (P, P)"""
    x = np.asarray(x, dtype=np.float64)
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _EPS)
    return xn @ xn.T


def cosine_to(x: np.ndarray, index: int) -> np.ndarray:
    """Cosine similarity of every row of ``x`` (N, D) to row ``index``. (N,)"""
    x = np.asarray(x, dtype=np.float64)
    norms = np.maximum(np.linalg.norm(x, axis=1), _EPS)
    return (x @ x[index]) / (norms * norms[index])


def position_similarity(position_embeddings: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Cosine similarity of each position's embedding to all others, as maps. (gh, gw, gh, gw)

    ``[r, c]`` is the map of position (r, c): its similarity to every grid position. The
    embeddings must already match the grid (interpolated by the model for other input sizes).
    """
    gh, gw = grid
    if position_embeddings.shape[0] != gh * gw:
        raise UserFacingError(
            f"The model gave {position_embeddings.shape[0]} position embeddings for a {gh}x{gw} patch grid "
            f"({gh * gw} patches): cannot lay them out.")
    return cosine_matrix(position_embeddings).reshape(gh, gw, gh, gw)


# ----------------------------------------------------------------------------- attention distance

def pairwise_patch_distances(grid: tuple[int, int], patch_size: float) -> np.ndarray:
    """Euclidean pixel distance between the centres of every pair of patches. (P, P)"""
    c = patch_centers(grid, patch_size)
    return np.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1))


def mean_attention_distance(attentions: np.ndarray, grid: tuple[int, int], patch_size: float,
                            num_prefix: int) -> np.ndarray:
    """Mean attention distance in pixels per layer and head (ViT paper, Fig. 7 right). (L, heads)

    For each patch query, the attention it pays to patch keys (prefix keys left out, weights
    renormalised to sum to 1) weights the pixel distance to each key; averaged over queries.
    """
    gh, gw = grid
    p = gh * gw
    if attentions.shape[-1] != num_prefix + p:
        raise UserFacingError(f"Attention has {attentions.shape[-1]} tokens, expected {num_prefix} + {gh}x{gw}.")
    a = attentions[:, :, num_prefix:, num_prefix:].astype(np.float64)  # (L, H, P, P)
    a = a / np.maximum(a.sum(-1, keepdims=True), _EPS)
    d = pairwise_patch_distances(grid, patch_size)  # (P, P)
    return np.einsum("lhqk,qk->lh", a, d) / p


# ----------------------------------------------------------------------------- embedding filters

def normalise_tiles(tiles: np.ndarray) -> np.ndarray:
    """Each tile (n, h, w, 3) scaled on its own to [0, 1] symmetric around 0.5 (0 weight = grey)."""
    m = np.abs(tiles).reshape(tiles.shape[0], -1).max(axis=1)
    return 0.5 + 0.5 * tiles / np.maximum(m, _EPS)[:, None, None, None]


def filter_tiles(filters: np.ndarray) -> np.ndarray:
    """Patch-projection weights (K, 3, kh, kw) as displayable RGB tiles. (K, kh, kw, 3) in [0, 1]"""
    return normalise_tiles(np.transpose(filters, (0, 2, 3, 1)).astype(np.float64))


def filter_components(filters: np.ndarray, k: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Top-k principal components of the flattened filters, as RGB tiles (k, kh, kw, 3) in [0, 1],
    and the fraction of variance each explains (k,)."""
    kf, ch, kh, kw = filters.shape
    res = pca(filters.reshape(kf, -1), k)
    comps = res.axes.reshape(-1, ch, kh, kw)
    return filter_tiles(comps), res.explained


def mosaic(tiles: np.ndarray, cols: int, pad: int = 1, fill: float = 1.0) -> np.ndarray:
    """Tiles (n, h, w[, C]) laid out ``cols`` per row with ``pad`` pixels of ``fill`` between them."""
    return imaging.mosaic(tiles, cols, gap=pad, fill=fill, border=pad, dtype=np.float64)


def similarity_maps_mosaic(maps: np.ndarray, pad: int = 1) -> np.ndarray:
    """Position-similarity maps (gh, gw, gh, gw) as one image, map (r, c) at tile (r, c); pads NaN."""
    gh, gw = maps.shape[:2]
    return mosaic(maps.reshape(gh * gw, gh, gw), cols=gw, pad=pad, fill=np.nan)

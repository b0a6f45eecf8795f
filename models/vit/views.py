"""What the Attention tab draws, computed from a cached ViTForwardResult only (numpy, no model, no Qt).

``AttentionView`` (frozen) says what the user chose; ``AttentionViews.render(view)`` returns the heatmap
over the patch grid, the heads of the chosen layer, the layer x head overview and the texts that explain
them. The rollout's per-layer factors are cached for the current (fusion, discard ratio), so moving the
layer, head or patch controls never recomputes them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .result import ViTForwardResult
from .rollout import FUSIONS, fuse_heads

MODES = ("cls", "rollout", "patch")
MODE_TITLES = {"cls": "CLS-token attention", "rollout": "Attention rollout", "patch": "Patch attention"}


@dataclass(frozen=True)
class AttentionView:
    mode: str = "rollout"  # one of MODES
    layer: int = -1  # 0-based; -1 = the last layer
    head: int | None = None  # None: heads fused with `fusion`
    fusion: str = "mean"
    discard_ratio: float = 0.0
    patch: int | None = None  # row-major patch index for mode "patch"
    reverse: bool = False  # mode "patch": which patches attend to it, instead of what it attends to


@dataclass(frozen=True)
class RenderedView:
    heatmap: np.ndarray  # (gh, gw)
    heads: np.ndarray  # (1, heads, gh, gw): every head of the layer, same query as the heatmap
    overview: np.ndarray  # (L, heads, gh, gw)
    selected: tuple[int, int]  # (layer, head) tile to outline in the overview; head -1 when fused
    caption: str  # one line: what exactly is drawn
    explanation: str  # two or three plain sentences for a student
    prefix_share: float | None  # share of the query's attention that goes to non-patch tokens


EXPLAIN = {
    "cls": ("The CLS token is an extra token whose final state sums up the image (the classifier reads it). "
            "This map is one row of "
            "the attention matrix: how strongly the CLS token looks at each patch in this layer (the row sums "
            "to 1 over all tokens). Bright patches are where it gathers information from at this depth."),
    "no_cls": ("This model has no CLS token: it pools all patch tokens (for example their mean) to make its "
               "prediction. So the map shows the mean attention each patch receives from all patches in this "
               "layer: patches that many others look at are bright."),
    "rollout": ("Attention rollout (Abnar and Zuidema, 2020) follows information through every layer up to this "
                "one: it multiplies the layers' attention, each mixed half-and-half with the skip connection. "
                "The map estimates how much each input patch flows into the CLS token. The discard ratio drops "
                "the weakest links first, which sharpens the map; it ignores the MLPs, so it is an estimate."),
    "rollout_no_cls": ("Attention rollout (Abnar and Zuidema, 2020) multiplies the attention of every layer up to "
                       "this one, each mixed with the skip connection. This model has no CLS token, so the map "
                       "shows how much each input patch flows, on average, into all final patch tokens."),
    "patch": ("Hover a patch (outlined in blue) or click it to pin it (outlined in amber) to see what it attends "
              "to in this layer: its row of "
              "the attention matrix. Early layers often look at neighbouring patches, later layers at whole "
              "objects or at a few 'summary' tokens."),
    "patch_reverse": ("Reverse: the map shows which patches attend to the chosen patch (its column of the "
                      "attention matrix), so a bright patch takes information from the outlined one. Columns do "
                      "not sum to 1, so some patches are looked at far more than others."),
}
HEADS_TEXT = ("Small multiples: each head of the chosen layer computes its own attention, and heads specialise "
              "(some look nearby, some far, some at the CLS token). The overview below has one row per layer "
              "and one column per head; click any tile to show that map on the image. Each tile is scaled to "
              "its own range.")


class AttentionViews:
    """Renders views of one result; caches rollouts and overviews for fast redraws."""

    def __init__(self, result: ViTForwardResult) -> None:
        self.result = result
        self.att = result.attentions  # (L, H, N, N)
        self.p = result.num_prefix
        self.grid = result.grid
        self._steps: dict[tuple[str, float], np.ndarray] = {}
        self._fused: dict[str, np.ndarray] = {}
        self._orders: dict[str, np.ndarray] = {}
        self._overviews: dict[tuple, np.ndarray] = {}

    # ---- pieces --------------------------------------------------------------------------
    def layer_index(self, layer: int) -> int:
        return self.result.num_layers - 1 if layer < 0 else min(layer, self.result.num_layers - 1)

    def fused(self, fusion: str) -> np.ndarray:
        """Heads fused by `fusion`, every layer. (L, N, N), cached."""
        if fusion not in self._fused:
            self._fused[fusion] = fuse_heads(self.att, fusion)
        return self._fused[fusion]

    def precompute(self) -> None:
        """Fuse the heads every way and prepare the plain rollouts once, when the result arrives, so that
        later changes of layer, head, patch or fusion only slice cached arrays."""
        for fusion in FUSIONS:
            self._rollout_steps(fusion, 0.0)
            self._order(fusion)  # the discard ratio's sort (~0.15 s for ViT-B): a first discard change is a slice

    def _order(self, fusion: str) -> np.ndarray:
        """Per layer, the fused entries from weakest to strongest, CLS column excluded. (L, N*N - N) or (L, N*N)"""
        if fusion not in self._orders:
            fused = self.fused(fusion)
            L, n, _ = fused.shape
            scores = fused.reshape(L, n * n).copy()
            if self.result.has_cls:
                scores[:, 0::n] = np.inf  # the CLS column is never discarded: sorted last, then cut off
            order = np.argsort(scores, axis=-1, kind="stable")
            self._orders[fusion] = order[:, : n * n - (n if self.result.has_cls else 0)]
        return self._orders[fusion]

    def _rollout_steps(self, fusion: str, discard: float) -> np.ndarray:
        """Every layer's rollout factor 0.5 * fused + 0.5 * I (weakest links discarded), rows normalised.

        Vectorised over layers; the order of the weakest links is sorted once per fusion, so moving the
        discard slider is a slice. (L, N, N)
        """
        key = (fusion, round(float(discard), 4))
        if key not in self._steps:
            fused = self.fused(fusion)  # (L, N, N) float32
            L, n, _ = fused.shape
            k = min(int(n * n * discard), n * n - (n if self.result.has_cls else 0))
            if k > 0:
                flat = fused.reshape(L, n * n).copy()
                np.put_along_axis(flat, self._order(fusion)[:, :k], 0.0, axis=-1)
                fused = flat.reshape(L, n, n)
            a = 0.5 * fused + 0.5 * np.eye(n, dtype=np.float32)
            a /= a.sum(axis=-1, keepdims=True)
            if discard > 0:  # keep the plain rollouts of every fusion, and only the latest discard setting
                self._steps = {k_: v for k_, v in self._steps.items() if k_[1] == 0.0}
            self._steps[key] = a
        return self._steps[key]

    def rollout_row(self, layer: int, fusion: str, discard: float) -> np.ndarray:
        """The query row of the rollout through layers 0..layer: the CLS row, or the mean of the patch rows
        when there is no CLS token. Computed as a row vector times the layer factors (N^2 per layer). (N,)"""
        n = self.att.shape[-1]
        v = np.zeros(n)
        if self.result.has_cls:
            v[0] = 1.0
        else:
            v[self.p:] = 1.0 / (n - self.p)
        steps = self._rollout_steps(fusion, discard)
        for l in range(layer, -1, -1):  # R = A'_layer ... A'_0, so v R = ((v A'_layer) A'_layer-1) ...
            v = v @ steps[l]
        return v

    def _query_maps(self, att: np.ndarray, view: AttentionView) -> np.ndarray:
        """att (..., N, N) -> (..., gh, gw): the map of the view's query token (or received mean)."""
        gh, gw = self.grid
        p = self.p
        if view.mode == "patch" and view.patch is not None:
            t = p + view.patch
            vec = att[..., p:, t] if view.reverse else att[..., t, p:]
        elif self.result.has_cls:
            vec = att[..., 0, p:]
        else:
            vec = att[..., p:, p:].mean(axis=-2)
        return vec.reshape(*vec.shape[:-1], gh, gw)

    def overview(self, view: AttentionView) -> np.ndarray:
        query = ("patch", view.patch, view.reverse) if view.mode == "patch" and view.patch is not None else ("cls",)
        if query not in self._overviews:
            self._overviews = {query: self._query_maps(self.att, view)}  # keep only the latest
        return self._overviews[query]

    # ---- the whole view ------------------------------------------------------------------
    def render(self, view: AttentionView) -> RenderedView:
        res = self.result
        layer = self.layer_index(view.layer)
        overview = self.overview(view)  # (L, H, gh, gw)
        heads = overview[layer:layer + 1]
        head_text = f"head {view.head + 1}" if view.head is not None else f"{view.fusion} of {res.num_heads} heads"
        if view.mode == "rollout":
            row = self.rollout_row(layer, view.fusion, view.discard_ratio)  # (N,)
            heatmap = row[self.p:].reshape(self.grid)
            caption = (f"Rollout through layers 1-{layer + 1}, heads fused by {view.fusion}, discard ratio "
                       f"{view.discard_ratio:.2f}")
            explanation = EXPLAIN["rollout" if res.has_cls else "rollout_no_cls"]
            query_row = row if res.has_cls else None
        else:
            a = self.att[layer]
            a = self.fused(view.fusion)[layer] if view.head is None else a[view.head]  # (N, N)
            heatmap = self._query_maps(a, view)
            if view.mode == "patch" and view.patch is not None:
                r, c = divmod(view.patch, self.grid[1])
                what = "patches attending to" if view.reverse else "attention of"
                caption = f"Layer {layer + 1}, {head_text}: {what} patch (row {r + 1}, col {c + 1})"
                explanation = EXPLAIN["patch_reverse" if view.reverse else "patch"]
                query_row = None if view.reverse else a[self.p + view.patch]
            elif view.mode == "patch":
                caption = f"Layer {layer + 1}, {head_text}: click or hover a patch"
                explanation = EXPLAIN["patch"]
                query_row = None
            else:
                who = "CLS token" if res.has_cls else "mean attention received (no CLS token)"
                caption = f"Layer {layer + 1}, {head_text}: {who}"
                explanation = EXPLAIN["cls" if res.has_cls else "no_cls"]
                query_row = a[0] if res.has_cls else None
        share = float(query_row[:self.p].sum()) if query_row is not None and self.p else None
        if share is not None and res.num_prefix > 1:
            explanation += (f" This model also has {', '.join(res.prefix_tokens[1:])} token(s), which are not "
                            "patches and are not drawn.")
        selected = (layer, -1 if view.head is None else view.head)
        return RenderedView(heatmap.astype(np.float32), heads, overview, selected, caption, explanation, share)

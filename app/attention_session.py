"""The Attention tab's state and what it draws, without Qt (unit-tested without a display).

The page forwards every user action here (a slider moved, a tile or a patch clicked, the mouse hovered)
and draws the frozen frame it gets back: ``ResultFrame`` when a new forward arrives (image, slider ranges,
top-5, texts), ``MapsFrame`` for every redraw (heatmap, heads, overview, captions, the outlined patch).
The maps come from ``models.vit.views`` over the cached forward: no model runs here.

"Follow the mouse": hovering a patch shows its attention; a click pins the patch (hovering no longer
moves it) until the pinned patch is clicked again or following is switched off and on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from models.vit.patch_blas import single_blas_thread
from models.vit.result import ViTForwardResult
from models.vit.views import EXPLAIN, AttentionView, AttentionViews

MODE_BUTTON_TEXT = {"cls": "CLS", "rollout": "Rollout", "patch": "Patch"}
NO_CLASSIFIER = "This model has no classifier (e.g. DINOv2): no class scores."
PIN_NOTE = " (pinned, outlined in amber: click it again to follow the mouse)"


def top_k(logits: np.ndarray, names: tuple[str, ...] | None, k: int = 5) -> tuple[tuple[str, float], ...]:
    """((class name, probability), ...) of the k most likely classes, softmax of the logits (C,)."""
    z = logits.astype(np.float64) - logits.max()
    p = np.exp(z) / np.exp(z).sum()
    order = np.argsort(-p)[:k]
    return tuple(((names[i] if names and i < len(names) else f"class {i}"), float(p[i])) for i in order)


def precompute_maps(ctx, maps: AttentionViews) -> None:
    """Job (numpy reductions only): fuse the heads every way off the GUI thread, so a later fusion change is instant."""
    maps.precompute()


@dataclass(frozen=True)
class Controls:
    """What the view controls should show (after a tile click the page moves them to match)."""
    mode: str
    layer: int  # 1-based, as the slider shows it
    head: int  # 1-based
    single_head: bool


@dataclass(frozen=True)
class ResultFrame:
    image: np.ndarray  # (H, W, 3) uint8 as the model saw it
    grid: tuple[int, int] | None  # patch grid to draw, None when the grid is switched off
    num_layers: int
    num_heads: int
    controls: Controls
    cls_button_text: str  # "CLS", or "Received" for a model without a CLS token
    predictions: tuple[tuple[str, float], ...] | None  # top-5, None when the model has no classifier
    predictions_note: str


@dataclass(frozen=True)
class MapsFrame:
    heatmap: np.ndarray  # (gh, gw) float32
    smooth: bool
    heads: np.ndarray  # (1, heads, gh, gw)
    heads_selected: tuple[int, int] | None
    overview: np.ndarray  # (L, heads, gh, gw)
    overview_selected: tuple[int, int] | None
    heads_title: str
    caption: str
    explanation: str
    share_text: str  # attention that goes to the prefix tokens, "" when not applicable
    patch_rect: tuple[float, float, float, float] | None  # (x, y, w, h) in image pixels, None: no outline
    pinned: bool
    controls: Controls


class AttentionSession:
    def __init__(self) -> None:
        self.result: ViTForwardResult | None = None
        self.maps: AttentionViews | None = None
        self.view = AttentionView()
        self.single_head = False
        self.head = 0  # the head chosen with the head slider (used when single_head)
        self.smooth = False
        self.show_grid = True
        self.follow_mouse = True
        self.pinned = False

    # ---- texts the page reserves room for --------------------------------------------------------------
    @staticmethod
    def explanation_texts() -> tuple[str, ...]:
        extra = " This model also has DIST, REG0, REG1, REG2, REG3 token(s), which are not patches and are not drawn."
        return tuple(t + extra for t in EXPLAIN.values())

    @staticmethod
    def caption_texts() -> tuple[str, ...]:
        """The longest captions (a big model, a pinned patch)."""
        return ("Layer 24, head 16: patches attending to patch (row 24, col 24)" + PIN_NOTE,
                "Rollout through layers 1-24, heads fused by mean, discard ratio 0.99")

    # ---- a new forward ------------------------------------------------------------------------------
    def set_result(self, result: ViTForwardResult) -> ResultFrame:
        old = self.result
        same_shape = old is not None and (old.num_layers, old.num_heads, old.grid) == (
            result.num_layers, result.num_heads, result.grid)
        self.result = result
        self.maps = AttentionViews(result)
        if not same_shape:
            gh, gw = result.grid
            self.head = 0
            self.pinned = False
            self.view = replace(self.view, layer=result.num_layers - 1, head=0 if self.single_head else None,
                                patch=(gh // 2) * gw + gw // 2)
        preds = top_k(result.logits, result.class_names, 5) if result.logits is not None else None
        note = (result.ood_warning if preds is not None else NO_CLASSIFIER)
        return ResultFrame(result.image, self.grid(), result.num_layers, result.num_heads, self.controls(),
                           "CLS" if result.has_cls else "Received", preds, note)

    def grid(self) -> tuple[int, int] | None:
        return self.result.grid if self.result is not None and self.show_grid else None

    def controls(self) -> Controls:
        layer = self.maps.layer_index(self.view.layer) if self.maps is not None else 0
        return Controls(self.view.mode, layer + 1, self.head + 1, self.single_head)

    # ---- user actions (each returns the frame to draw, or None when nothing changed) -----------------
    def change(self, **changes) -> MapsFrame | None:
        """Change fields of the AttentionView (mode, layer, fusion, discard_ratio, reverse, patch, head)."""
        view = replace(self.view, **changes)
        if view == self.view:
            return None
        if view.mode != "patch":
            self.pinned = False
        self.view = view
        return self.render()

    def set_mode(self, mode: str) -> MapsFrame | None:
        return self.change(mode=mode)

    def set_layer(self, layer_1based: int) -> MapsFrame | None:
        return self.change(layer=int(layer_1based) - 1)

    def set_head(self, head_1based: int) -> MapsFrame | None:
        self.head = int(head_1based) - 1
        return self.change(head=self.head) if self.single_head else None

    def set_single_head(self, on: bool) -> MapsFrame | None:
        self.single_head = bool(on)
        return self.change(head=self.head if on else None)

    def set_smooth(self, on: bool) -> MapsFrame | None:
        self.smooth = bool(on)
        return self.render()

    def set_follow_mouse(self, on: bool) -> None:
        self.follow_mouse = bool(on)
        self.pinned = False

    def select_tile(self, layer: int, head: int) -> MapsFrame | None:
        """A tile of the overview (or of the heads row) was clicked: show that layer and head (0-based)."""
        if self.result is None:
            return None
        self.single_head, self.head = True, int(head)
        mode = "cls" if self.view.mode == "rollout" else self.view.mode
        return self.change(layer=int(layer), head=int(head), mode=mode) or self.render()

    def select_patch(self, patch: int) -> MapsFrame | None:
        return self.change(mode="patch", patch=int(patch))

    def patch_at(self, x: float, y: float) -> int | None:
        """The row-major patch under image pixel (x, y), or None."""
        if self.result is None or math.isnan(x) or math.isnan(y):
            return None
        gh, gw = self.result.grid
        h, w = self.result.image.shape[:2]
        r, c = int(y * gh / h), int(x * gw / w)
        return r * gw + c if 0 <= r < gh and 0 <= c < gw else None

    def click(self, x: float, y: float) -> MapsFrame | None:
        """A click on the image: show that patch. While following the mouse, the click pins it (a second
        click on the pinned patch lets it follow the mouse again)."""
        patch = self.patch_at(x, y)
        if patch is None:
            return None
        release = self.follow_mouse and self.pinned and self.view.mode == "patch" and patch == self.view.patch
        self.pinned = self.follow_mouse and not release
        self.view = replace(self.view, mode="patch", patch=patch)
        return self.render()

    def hover(self, x: float, y: float) -> MapsFrame | None:
        """The mouse moved over the image: in patch mode, follow it unless a click pinned a patch."""
        if self.view.mode != "patch" or not self.follow_mouse or self.pinned:
            return None
        patch = self.patch_at(x, y)
        return None if patch is None else self.change(patch=patch)

    # ---- drawing -------------------------------------------------------------------------------------
    def render(self) -> MapsFrame | None:
        if self.maps is None:
            return None
        res, view = self.result, self.view
        with single_blas_thread():  # small matrices: extra BLAS threads only spin against torch for the cores
            out = self.maps.render(view)
        share = ""
        if out.prefix_share is not None:
            share = (f"Attention that goes to the {'/'.join(res.prefix_tokens)} token(s) instead of patches: "
                     f"{out.prefix_share * 100:.1f}% (not drawn; the map shows the rest).")
        layer = out.selected[0]
        rect = None
        pinned = self.pinned and view.mode == "patch"
        if view.mode == "patch" and view.patch is not None:
            gh, gw = res.grid
            h, w = res.image.shape[:2]
            r, c = divmod(view.patch, gw)
            rect = (c * w / gw, r * h / gh, w / gw, h / gh)
        return MapsFrame(
            heatmap=out.heatmap, smooth=self.smooth, heads=out.heads,
            heads_selected=None if view.head is None else (0, view.head),
            overview=out.overview, overview_selected=None if view.head is None else (layer, view.head),
            heads_title=f"<b>Heads of layer {layer + 1}</b> (click one to select it)",
            caption=out.caption + (PIN_NOTE if pinned else ""), explanation=out.explanation, share_text=share,
            patch_rect=rect, pinned=pinned, controls=self.controls())

"""The frozen, render-ready values of the Compare tab (no Qt): what each column and the shared plot draw.

Built by app/compare_session.py from the jobs' results; the page and its column views only draw them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from models.compare.results import ColumnBase, EquivarianceResult, FeaturesResult, StageField

PALETTE = ("#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176", "#a1887f", "#90a4ae")


# what a stage's output is, as the label says it: a hybrid's attention stage that outputs a map is a "feature map"
STAGE_LAYOUT_NAMES = {"conv": "feature map", "tokens": "tokens"}


@dataclass(frozen=True)
class Curve:
    name: str
    x: np.ndarray  # (n,)
    y: np.ndarray  # (n,) NaN: no point
    colour: str
    width: float = 2.0
    dashed: bool = False


@dataclass(frozen=True)
class AttributionPanel:
    image: np.ndarray  # (S, S, 3) uint8 as the model saw it
    heatmap: np.ndarray | None  # (S, S) in [0, 1]; None while computing
    caption: str
    methods: tuple[str, ...]  # method keys that apply to this column's stage
    method_titles: tuple[str, ...]
    method: str
    class_names: tuple[str, ...]
    class_choice: int | None  # None: the top class
    box: tuple[float, float, float, float] | None  # the known object's [x, y, w, h], model-input pixels


@dataclass(frozen=True)
class FieldPanel:
    image: np.ndarray
    erf: np.ndarray | None  # (S, S) normalised to max 1
    caption: str


@dataclass(frozen=True)
class EquivariancePanel:
    error_curves: tuple[Curve, ...]  # one per stage (the slider's stage drawn wider)
    probability: tuple[Curve, ...]  # top-class probability vs shift
    tiles: np.ndarray | None  # (G, S, S, 3) uint8 shuffled images
    tile_texts: tuple[str, ...]
    occlusion: np.ndarray | None  # (S, S) probability drop
    image: np.ndarray | None
    caption: str
    error_range: tuple[float, float] | None = None  # the error plot's fixed y range (a wider curve keeps it)

    @classmethod
    def empty(cls, caption: str) -> "EquivariancePanel":
        return cls((), (), None, (), None, None, caption)

    @staticmethod
    def series(r: EquivarianceResult) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """x (T,) and one (T,) error array per stage: made once per result and shared by every panel built from
        it, so a depth change (a wider curve) re-sends no data to the plots."""
        return r.shifts.astype(np.float32), tuple(np.ascontiguousarray(r.errors[:, j]) for j in range(r.errors.shape[1]))

    @classmethod
    def build(cls, r: EquivarianceResult, base: ColumnBase, current: int, series=None) -> "EquivariancePanel":
        x, ys = cls.series(r) if series is None else series
        curves = tuple(Curve(f"stage {j + 1}", x, y, PALETTE[j % len(PALETTE)], 4.0 if j == current else 1.5)
                       for j, y in enumerate(ys))
        name = _name(base.class_names, r.class_index)
        prob = (Curve("top-class probability", x, r.shift_probability, "#ffffff", 2.0),)
        texts = []
        for g, top, p in zip(r.grids, r.shuffled_top, r.shuffled_probability):
            verdict = "survives" if int(top) == r.class_index else f"-> {_name(base.class_names, int(top))}"
            texts.append(f"{g}x{g}: {name} {p * 100:.0f}% ({verdict})")
        at8 = r.errors[list(r.shifts).index(8), current] if 8 in r.shifts else np.nan
        caption = (f"Stage {current + 1}: error {at8:.3f} at an 8 px shift. Occlusion: a grey {r.occluder_px} px "
                   f"square, drop of p({name}) (bright: the evidence).")
        finite = r.errors[np.isfinite(r.errors)]
        top = float(finite.max()) * 1.05 if finite.size and finite.max() > 0 else 1.0
        return cls(curves, prob, r.shuffled, tuple(texts), r.occlusion, base.image, caption, (0.0, top))


@dataclass(frozen=True)
class StageBox:
    """One stage drawn to scale: width ~ channels, height ~ resolution (1 / stride)."""

    channels: int
    resolution: float  # 1 / stride: 1 = input resolution
    kind: str  # "conv" | "tokens"
    title: str
    lines: tuple[str, ...]

    @classmethod
    def of(cls, stage, cost) -> "StageBox":
        from .compare_session import _shape

        lines = (_shape(stage),)
        if cost is not None:
            lines += (f"{_count(cost.parameters)} params, {_count(cost.flops)}FLOPs, {cost.milliseconds:.1f} ms",)
        return cls(stage.channels, 1.0 / stage.stride, stage.kind, f"stage {stage.index + 1} ({STAGE_LAYOUT_NAMES[stage.kind]})", lines)


@dataclass(frozen=True)
class HierarchyPanel:
    boxes: tuple[StageBox, ...]
    selected: int
    feature_maps: np.ndarray | None  # (R, C, h, w) mosaic of the most active channels
    feature_rgb: np.ndarray | None  # (h, w, 3) uint8 token PCA
    features_caption: str
    summary: str

    @classmethod
    def build(cls, boxes, selected: int, feats: FeaturesResult | None, summary: str, error: str) -> "HierarchyPanel":
        maps = rgb = None
        if feats is None:
            caption = error or f"Features of stage {selected + 1}: computing..."
        elif feats.kind == "tokens":
            rgb = (np.clip(feats.rgb, 0.0, 1.0) * 255).round().astype(np.uint8)
            caption = f"Stage {selected + 1}: its tokens' first three principal components as RGB"
        else:
            k = feats.maps.shape[0]
            cols = 4 if k > 4 else k
            rows = int(np.ceil(k / cols))
            pad = np.zeros((rows * cols - k, *feats.maps.shape[1:]), np.float32)
            maps = np.concatenate([feats.maps, pad]).reshape(rows, cols, *feats.maps.shape[1:])
            shown = ", ".join(str(int(c)) for c in feats.channels[:8])
            caption = f"Stage {selected + 1}: the {k} most active channels ({shown}...)"
        return cls(boxes, selected, maps, rgb, caption, summary)


@dataclass(frozen=True)
class ColumnFrame:
    title: str
    top5: str  # "" when nothing to show
    message: str  # non-empty: the column shows only this (loading, weights missing, failure)
    stage_text: str
    warning: str = ""  # the out-of-distribution warning under the prediction ("" for none)
    attribution: AttributionPanel | None = None
    field: FieldPanel | None = None
    equivariance: EquivariancePanel | None = None
    hierarchy: HierarchyPanel | None = None

    def with_panel(self, view: str, panel) -> "ColumnFrame":
        return replace(self, **{{"receptive-field": "field"}.get(view, view): panel})


@dataclass(frozen=True)
class CompareFrame:
    view: str
    depth: float
    columns: tuple[ColumnFrame, ...]
    erf_curves: tuple[Curve, ...]  # receptive-field view: radius / side vs relative depth per column


def _name(names: tuple[str, ...], i: int) -> str:
    return names[i] if 0 <= i < len(names) else f"class {i}"


def _count(n: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n:.0f} "


def top5_text(probs: np.ndarray, names: tuple[str, ...]) -> str:
    order = np.argsort(-probs)[:5]
    return "  ".join(f"{_name(names, int(i))} {probs[i] * 100:.1f}%" for i in order)


def erf_plot(columns: list[tuple[ColumnBase, dict[int, StageField]]]) -> tuple[Curve, ...]:
    """Per column: ERF radius and (dashed) theoretical half-field, both as a share of the image side,
    against relative depth. Theoretical values are clipped at 1 (the field already covers the image)."""
    curves = []
    for i, (base, fields) in enumerate(columns):
        depth = np.array([s.relative_depth for s in base.stages], np.float32)
        side = float(base.image.shape[0])
        radius = np.array([fields[s.index].radius_px / side if s.index in fields else np.nan for s in base.stages],
                          np.float32)
        colour = PALETTE[i % len(PALETTE)]
        curves.append(Curve(f"{base.title}: ERF radius", depth, radius, colour, 2.5))
        theo = np.array([min(fields[s.index].theoretical_px / 2 / side, 1.0)
                         if s.index in fields and fields[s.index].theoretical_px is not None else np.nan
                         for s in base.stages], np.float32)
        if np.isfinite(theo).any():
            curves.append(Curve(f"{base.title}: theoretical (half side)", depth, theo, colour, 1.5, True))
    return tuple(curves)

"""The Compare tab's state and what it draws, without Qt (unit-tested without a display).

Two or three columns, each a model (a ModelRef) on the same image. The page forwards every user action
here (image, model, view, depth slider, method, class, a clicked stage), asks `requests()` for the jobs
the visible view still lacks, submits them (one worker channel per column and kind) and hands each result
back with `add_result`; then it draws `render()`, a frozen `CompareFrame`. Results are kept per column
(keyed by what they depend on), so moving the depth slider or switching views re-uses them: only a
result nobody asked for yet is computed, and drawing never runs a model.

torch-side helpers (stage_at_depth, methods_for) are imported when the first result arrives, when the
worker thread has already loaded torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.compare.jobs import (attribution_job, box_for, column_job, equivariance_job, features_job,
                                 hierarchy_job, receptive_field_job)
from models.compare.results import (AttributionResult, ColumnBase, ColumnUnavailable, EquivarianceResult,
                                    FeaturesResult, HierarchyResult, ModelRef, StageField)

from .compare_frames import (AttributionPanel, ColumnFrame, CompareFrame, EquivariancePanel, FieldPanel,
                             HierarchyPanel, StageBox, erf_plot, top5_text)

VIEWS = ("attribution", "receptive-field", "equivariance", "hierarchy")
LAB_VIEWS = ("data-hunger", "fine-tune")  # whole pages of the data lab (app/tabs/lab_*_page.py), not column views
TAB_VIEWS = VIEWS + LAB_VIEWS
VIEW_TITLES = {"attribution": "Attribution", "receptive-field": "Receptive field", "equivariance": "Equivariance",
               "hierarchy": "Hierarchy", "data-hunger": "Data hunger", "fine-tune": "Fine-tune"}
DEFAULT_MODELS = (ModelRef("compare/convnext", "bundled"), ModelRef("compare/vit-convstem", "bundled"),
                  ModelRef("compare/coatnet", "bundled"))
LOADING = "Loading and running the model..."
ERF_DECADES = 4  # the log colour scale of the receptive-field maps spans 1e-4 .. 1
WORKING = "Computing..."


@dataclass(frozen=True)
class Request:
    """A job for the page to submit: fn(ctx, *args) on channel `compare-<column>-<kind>`."""

    column: int
    kind: str
    key: tuple  # what the result depends on (the column's cache key)
    fn: object
    args: tuple
    title: str
    generation: int

    @property
    def channel(self) -> str:
        return f"compare-{self.column}-{self.kind}"


@dataclass
class Column:
    model: ModelRef
    base: ColumnBase | ColumnUnavailable | None = None
    error: str = ""
    method: str = ""  # "": the first method that applies (rollout for token stages with CLS attention)
    class_choice: int | None = None  # None: the top class
    selected_stage: int | None = None  # hierarchy: a clicked stage (None: the one under the slider)
    results: dict = field(default_factory=dict)  # key -> result
    pending: dict = field(default_factory=dict)  # kind -> key submitted and not answered
    errors: dict = field(default_factory=dict)  # key -> message


class CompareSession:
    def __init__(self, models: tuple[ModelRef, ...] = DEFAULT_MODELS) -> None:
        self.all_columns = [Column(m) for m in models]
        self.count = len(models)
        self.view = VIEWS[0]
        self.depth = 1.0
        self.image: np.ndarray | None = None
        self.generation = 0
        self.erf_log = True  # receptive-field heat maps on a log colour scale (the far tail stays visible)
        self._scaled: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id(erf) -> (erf, log-scaled): drawn once
        self._memo: dict[tuple, tuple[tuple, object]] = {}  # name -> (inputs, value): same inputs, same value

    @property
    def columns(self) -> list[Column]:
        return self.all_columns[: self.count]

    # ---- inputs ----------------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        self.image = image
        self.generation += 1
        for i in range(len(self.all_columns)):
            self._reset(i, self.all_columns[i].model)

    def set_model(self, column: int, model: ModelRef) -> None:
        self.generation += 1  # answers of the old model are dropped
        self._reset(column, model)

    def _reset(self, column: int, model: ModelRef) -> None:
        old = self.all_columns[column]
        self.all_columns[column] = Column(model, method=old.method if old.model == model else "gradcam")

    def set_count(self, n: int) -> None:
        self.count = max(2, min(int(n), len(self.all_columns)))

    def set_view(self, view: str) -> None:
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}")
        self.view = view

    def set_depth(self, depth: float) -> None:
        self.depth = float(min(max(depth, 0.0), 1.0))
        for c in self.all_columns:
            c.selected_stage = None  # the slider takes every column's hierarchy selection with it

    def set_method(self, column: int, method: str) -> None:
        self.all_columns[column].method = method

    def set_class(self, column: int, class_index: int | None) -> None:
        self.all_columns[column].class_choice = None if class_index is None or class_index < 0 else int(class_index)

    def select_stage(self, column: int, stage: int) -> None:
        self.all_columns[column].selected_stage = int(stage)

    # ---- answers ---------------------------------------------------------------------------------------
    def add_result(self, column: int, generation: int, kind: str, key: tuple, result) -> bool:
        """Keep a job's (partial or final) result; False when it belongs to an older image or model."""
        if generation != self.generation or column >= len(self.all_columns):
            return False
        c = self.all_columns[column]
        if kind == "column":
            c.base = result
        elif kind == "erf":
            fields = c.results.setdefault(key, {})
            for f in (result if isinstance(result, tuple) else (result,)):
                fields[f.stage] = f
        else:
            c.results[key] = result
        if kind != "erf" or isinstance(result, tuple):
            c.pending.pop(kind, None)
        return True

    def add_error(self, column: int, generation: int, kind: str, key: tuple, message: str) -> None:
        if generation != self.generation:
            return
        c = self.all_columns[column]
        c.pending.pop(kind, None)
        if kind == "column":
            c.error = message
        else:
            c.errors[key] = message

    # ---- what each column shows now ------------------------------------------------------------------
    @staticmethod
    def ready(c: Column) -> bool:
        return isinstance(c.base, ColumnBase)

    def stage(self, c: Column):
        """The StageInfo under the depth slider."""
        from models.compare.stages import stage_at_depth

        return stage_at_depth(list(c.base.stages), self.depth)

    def methods(self, c: Column) -> tuple[str, ...]:
        from models.compare.attribution import methods_for

        return methods_for(self.stage(c), c.base.has_cls_attention)

    def method(self, c: Column) -> str:
        methods = self.methods(c)
        return c.method if c.method in methods else methods[0]

    def class_index(self, c: Column) -> int:
        return int(np.argmax(c.base.probabilities)) if c.class_choice is None else c.class_choice

    def shown_stage(self, c: Column) -> int:
        return c.selected_stage if c.selected_stage is not None else self.stage(c).index

    def _attribution_request(self, c: Column):
        from models.compare.attribution import TOKEN_METHODS

        method, cls = self.method(c), self.class_index(c)
        stage = c.base.stages[-1] if method in TOKEN_METHODS else self.stage(c)
        index = -1 if method in TOKEN_METHODS else stage.index
        return ("attribution", index, method, cls), attribution_job, (stage, method, cls, self.box(c, cls))

    @staticmethod
    def box(c: Column, cls: int) -> np.ndarray | None:
        """The known box the map is judged on: the largest object of the explained class, else the only
        object of a one-shape sample; None on other images."""
        b = c.base
        name = b.class_names[cls] if 0 <= cls < len(b.class_names) else ""
        box = box_for(b.boxes, b.box_names, name)
        return b.boxes[0] if box is None and len(b.boxes) == 1 else box

    def _view_needs(self, c: Column) -> list[tuple[str, tuple, object, tuple]]:
        """(kind, key, fn, args after the ModelRef) the current view needs for column c."""
        b = c.base
        if self.view == "attribution":
            key, fn, args = self._attribution_request(c)
            return [("attribution", key, fn, (b.image, *args))]
        if self.view == "receptive-field":
            first = self.stage(c).index
            order = (first, *[i for i in range(len(b.stages)) if i != first])
            return [("erf", ("erf",), receptive_field_job, (b.stages, order))]
        if self.view == "equivariance":
            return [("equivariance", ("equivariance",), equivariance_job, (b.image, b.stages))]
        stage = self.shown_stage(c)
        return [("hierarchy", ("hierarchy",), hierarchy_job, (b.image, b.stages)),
                ("features", ("features", stage), features_job, (b.image, b.stages[stage]))]

    def _has(self, c: Column, kind: str, key: tuple) -> bool:
        got = c.results.get(key)
        if kind == "erf":
            return got is not None and len(got) == len(c.base.stages)
        return got is not None or key in c.errors

    def requests(self) -> list[Request]:
        """Jobs to submit now for what is visible (each marked pending; a newer one replaces an older one
        of the same column and kind, whose channel the page's submit cancels)."""
        out = []
        for i, c in enumerate(self.columns):
            if c.base is None and not c.error:
                if "column" not in c.pending and self.image is not None:
                    c.pending["column"] = ("column",)
                    out.append(Request(i, "column", ("column",), column_job, (c.model, self.image),
                                       "Loading a model to compare", self.generation))
                continue
            if not self.ready(c):
                continue
            for kind, key, fn, args in self._view_needs(c):
                if self._has(c, kind, key) or c.pending.get(kind) == key:
                    continue
                c.pending[kind] = key
                out.append(Request(i, kind, key, fn, (c.model, *args), f"Compare: {kind} of {c.base.title}",
                                   self.generation))
        return out

    def busy(self) -> bool:
        return any(c.pending for c in self.columns)

    # ---- drawing -------------------------------------------------------------------------------------
    def render(self) -> CompareFrame:
        columns = tuple(self._column_frame(c) for c in self.columns)
        plot = ()
        if self.view == "receptive-field":
            pairs = [(c.base, c.results.get(("erf",), {})) for c in self.columns if self.ready(c)]
            inputs = tuple(x for b, f in pairs for x in (b, f, len(f)))
            plot = self._memoised("erf-plot", inputs, lambda: erf_plot(pairs))
        return CompareFrame(self.view, self.depth, columns, plot)

    def _column_frame(self, c: Column) -> ColumnFrame:
        if isinstance(c.base, ColumnUnavailable):
            return ColumnFrame(c.base.title, "", c.base.message, "")
        if c.error:
            return ColumnFrame(c.model.key, "", f"The model could not run: {c.error}", "")
        if not self.ready(c):
            return ColumnFrame(c.model.key, "", LOADING if self.image is not None else "Open an image.", "")
        b = c.base
        st = self.stage(c)
        stage_text = (f"Stage {st.index + 1} of {len(b.stages)} (depth {st.relative_depth:.2f}): "
                      f"{_shape(st)}")
        frame = ColumnFrame(b.title, top5_text(b.probabilities, b.class_names), "", stage_text, b.ood_warning)
        panel = {"attribution": self._attribution_panel, "receptive-field": self._field_panel,
                 "equivariance": self._equivariance_panel, "hierarchy": self._hierarchy_panel}[self.view](c)
        return frame.with_panel(self.view, panel)

    def _attribution_panel(self, c: Column) -> AttributionPanel:
        from models.compare.attribution import METHOD_TITLES

        b = c.base
        key, _, (stage, method, cls, box) = self._attribution_request(c)
        result: AttributionResult | None = c.results.get(key)
        name = b.class_names[cls] if cls < len(b.class_names) else f"class {cls}"
        where = "all attention blocks" if key[1] < 0 else f"stage {stage.index + 1}"
        if result is not None:
            caption = f"{METHOD_TITLES[method]} at {where}: {name} {result.probability * 100:.1f}%"
            if result.heatmap.max() <= 0:
                caption += "; the map is empty: no positive evidence for this class here"
            elif result.box_ratio is not None:
                caption += f"; density in the object's box / outside: {result.box_ratio:.2f}x"
            elif len(b.boxes):
                caption += f"; no {name} in this sample's boxes"
        else:
            caption = c.errors.get(key, f"{METHOD_TITLES[method]} at {where}: {WORKING}")
        if b.rollout_note:  # a model with attention that rollout cannot explain (Swin's windows, PVT, ...)
            caption += "\n" + b.rollout_note
        methods = self.methods(c)
        return AttributionPanel(b.image, None if result is None else result.heatmap, caption, methods,
                                tuple(METHOD_TITLES[m] for m in methods), method, b.class_names, c.class_choice,
                                None if box is None else tuple(float(v) for v in box))

    def _field_panel(self, c: Column) -> FieldPanel:
        st = self.stage(c)
        got: StageField | None = c.results.get(("erf",), {}).get(st.index)
        if got is None:
            return FieldPanel(c.base.image, None, c.errors.get(("erf",), f"Receptive field of stage {st.index + 1}: "
                                                              f"{WORKING}"))
        side = c.base.image.shape[0]
        theo = "whole image (attention)" if got.theoretical_px is None else f"{got.theoretical_px:.0f} px"
        caption = (f"Effective receptive field, stage {st.index + 1} (mean over {got.images} images): "
                   f"radius {got.radius_px:.1f} px = {got.radius_px / side:.2f} of the image side; "
                   f"theoretical field {theo}")
        if self.erf_log:
            caption += f"; colours: log scale, 1e-{ERF_DECADES} .. 1"
        return FieldPanel(c.base.image, self._log_erf(got.erf) if self.erf_log else got.erf, caption)

    def _memoised(self, name: str, inputs: tuple, make):
        """make() again only when `inputs` changed (objects by identity, numbers and text by value): the page
        skips redrawing a value it has drawn (plots are re-sent only when their data changed)."""
        def same(a, b) -> bool:
            return a is b or (type(a) in (int, float, str) and a == b)

        hit = self._memo.get(name)
        if hit is None or len(hit[0]) != len(inputs) or not all(same(a, b) for a, b in zip(hit[0], inputs)):
            hit = self._memo[name] = (inputs, make())
        return hit[1]

    def _log_erf(self, erf: np.ndarray) -> np.ndarray:
        """The log-scaled map, the same array for the same ERF (the page then skips redrawing it)."""
        hit = self._scaled.get(id(erf))
        if hit is None or hit[0] is not erf:
            if len(self._scaled) > 64:
                self._scaled.clear()
            hit = self._scaled[id(erf)] = (erf, log_scale(erf, ERF_DECADES))
        return hit[1]

    def _equivariance_panel(self, c: Column) -> EquivariancePanel:
        got: EquivarianceResult | None = c.results.get(("equivariance",))
        if got is None:
            return EquivariancePanel.empty(c.errors.get(("equivariance",), f"Shifting, shuffling, occluding: {WORKING}"))
        current = self.stage(c).index
        series = self._memoised(f"equivariance-series-{id(c)}", (got,), lambda: EquivariancePanel.series(got))
        return self._memoised(f"equivariance-{id(c)}", (got, c.base, current),
                              lambda: EquivariancePanel.build(got, c.base, current, series))

    def _hierarchy_panel(self, c: Column) -> HierarchyPanel:
        b = c.base
        got: HierarchyResult | None = c.results.get(("hierarchy",))
        selected = self.shown_stage(c)
        feats: FeaturesResult | None = c.results.get(("features", selected))
        error = c.errors.get(("features", selected), "")

        def build() -> HierarchyPanel:
            boxes = tuple(StageBox.of(st, cost) for st, cost in zip(b.stages, got.costs)) if got is not None else \
                tuple(StageBox.of(st, None) for st in b.stages)
            summary = "" if got is None else \
                f"Per stage: output shape, parameters, FLOPs, time on {got.device}. Click a stage for its features."
            return HierarchyPanel.build(boxes, selected, feats, summary or f"Timing the stages: {WORKING}", error)

        # the same panel (the same arrays) while nothing it shows changed: the page skips redrawing it
        return self._memoised(f"hierarchy-{id(c)}", (b, got, feats, selected, error), build)


def log_scale(values: np.ndarray, decades: int) -> np.ndarray:
    """Values in [0, 1] (max 1) -> [0, 1] on a log scale over `decades` decades (below: 0)."""
    return ((np.log10(np.maximum(values, 10.0 ** -decades)) + decades) / decades).astype(np.float32)


def _shape(stage) -> str:
    h, w = stage.grid
    if stage.kind == "tokens":
        return f"{h * w} tokens x {stage.channels}" + (f" (+{stage.prefix_tokens})" if stage.prefix_tokens else "")
    return f"{h}x{w} x {stage.channels} ch"

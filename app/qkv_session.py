"""The Q/K/V step-through sessions (Qt-free): state + turning captured numbers into frozen render-ready values.

``QKVSession`` holds one captured ViT forward (models.vit.qkv.QKVCapture) and a selection (layer, head,
query token, temperature toggle); ``frame()`` returns a ``QKVFrame`` of numpy arrays and texts that the
page hands to the widgets as they are. A new query or head is numpy work on cached arrays (no model call).
The jobs at the bottom run on the worker thread (torch is imported there).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from models.qkv_math import HeadStep, MultiHeadStep, entropy_bits, head_step, multi_head_step
from models.vit.patch_blas import single_blas_thread


@dataclass(frozen=True)
class Matrix:
    """A heat map with hover labels: values (rows, cols); row i is called row_labels[i], column j col_prefix+j."""

    title: str
    values: np.ndarray  # (rows, cols) float32
    row_labels: tuple[str, ...]
    col_prefix: str = "d"
    highlight_row: int | None = None


@dataclass(frozen=True)
class Bars:
    title: str
    values: np.ndarray  # (N,) one bar per token
    labels: tuple[str, ...]
    highlight: int | None = None  # the query token (outlined)
    y_range: tuple[float, float] | None = None  # a fixed axis (None: fit the values)


@dataclass(frozen=True)
class QKVSelection:
    layer: int = 0
    head: int = 0
    token: int = 0
    use_scale: bool = True  # False: the temperature toggle, softmax of the raw scores


@dataclass(frozen=True)
class QKVFrame:
    caption: str  # the model and picture (changes with a new capture only)
    query_text: str  # layer, head and query token
    selection: QKVSelection
    x: Matrix  # (1, D) the query token after the block's LayerNorm
    q: Matrix  # (1, d_k)
    k: Matrix  # (N, d_k)
    v: Matrix  # (N, d_k)
    scores: Bars
    scaled: Bars
    weights: Bars
    weights_map: np.ndarray  # (gh, gw) the softmax weights over the patch tokens
    prefix_share: float  # weight on the non-patch tokens (not in the map)
    output: Matrix  # (1, d_k) weights x V
    heads_maps: np.ndarray  # (1, heads, gh, gw) the same query's weights for every head
    heads_out: Matrix  # (heads, d_k) every head's output: concatenated row after row
    projection: Matrix  # (2 or 3, D): concat, W_o concat + b_o (and the hooked module output)
    residual: Matrix  # (3, D): residual in, + attention branch, = residual out
    checks: str  # how well the step-through matches the model's own hooks
    explanation: str


def token_labels(prefix: tuple[str, ...], grid: tuple[int, int]) -> tuple[str, ...]:
    gh, gw = grid
    return tuple(prefix) + tuple(f"patch ({r},{c})" for r in range(gh) for c in range(gw))


def matrix(title: str, values: np.ndarray, rows: tuple[str, ...], col_prefix: str = "d", hl: int | None = None) -> Matrix:
    v = np.asarray(values, np.float32)
    return Matrix(title, v.reshape(1, -1) if v.ndim == 1 else v, rows, col_prefix, hl)


def temperature_text(step: HeadStep, n: int) -> str:
    d_k = step.q.shape[0]
    ent = entropy_bits(step.weights)
    top = float(step.weights.max())
    if step.use_scale:
        return (f"Scaled by 1/sqrt(d_k) = 1/sqrt({d_k}) = {step.scale:.4f}: the weights spread over "
                f"{ent:.2f} of at most {np.log2(n):.2f} bits; the largest weight is {top:.3f}.")
    return (f"Without the 1/sqrt({d_k}) scaling the scores are {1 / step.scale:.1f}x larger, so the softmax is "
            f"sharper: {ent:.2f} of at most {np.log2(n):.2f} bits, largest weight {top:.3f}. The larger d_k, the "
            f"larger dot products grow and the more the weights collapse onto one token; that is why the model scales.")


class QKVSession:
    """State of the ViT Q/K/V view: one QKVCapture and the current selection."""

    def __init__(self) -> None:
        self.capture = None  # models.vit.qkv.QKVCapture
        self.selection = QKVSelection()
        self._labels: tuple[str, ...] = ()
        self._layer_scale = False

    def set_capture(self, capture) -> None:
        """A new forward: keep layer/head/token where they still exist, else pick the last layer, the centre patch."""
        fits = self.capture is not None and (capture.num_layers, capture.num_heads, capture.grid) == (
            self.capture.num_layers, self.capture.num_heads, self.capture.grid)
        self.capture = capture
        self._labels = token_labels(capture.prefix_tokens, capture.grid)
        self._layer_scale = capture.has_layer_scale  # compares whole arrays: once per capture, not per frame
        if not fits:
            gh, gw = capture.grid
            centre = capture.num_prefix + (gh // 2) * gw + gw // 2
            self.selection = QKVSelection(capture.num_layers - 1, 0, centre, self.selection.use_scale)

    def select(self, **changes) -> QKVFrame:
        self.selection = replace(self.selection, **changes)
        return self.frame()

    def token_at_patch(self, row: int, col: int) -> int:
        return self.capture.num_prefix + row * self.capture.grid[1] + col

    def token_at_pixel(self, x: float, y: float) -> int | None:
        """The patch token under image pixel (x, y) of the picture the model saw, None outside."""
        gh, gw = self.capture.grid
        h, w = self.capture.image.shape[:2]
        if not (0 <= x < w and 0 <= y < h):
            return None
        return self.token_at_patch(int(y * gh / h), int(x * gw / w))

    def patch_rect(self, token: int) -> tuple[float, float, float, float] | None:
        """(x, y, width, height) in image pixels of a patch token; None for a prefix token (CLS, ...)."""
        patch = self.patch_of_token(token)
        if patch is None:
            return None
        gh, gw = self.capture.grid
        h, w = self.capture.image.shape[:2]
        return patch[1] * w / gw, patch[0] * h / gh, w / gw, h / gh

    def patch_of_token(self, token: int) -> tuple[int, int] | None:
        i = token - self.capture.num_prefix
        return None if i < 0 else divmod(i, self.capture.grid[1])

    def frame(self) -> QKVFrame:
        with single_blas_thread():  # small products: extra BLAS threads would only spin against torch
            return self._frame()

    def _frame(self) -> QKVFrame:
        c, s = self.capture, self.selection
        layer, head, tok = s.layer, s.head, s.token
        scale = float(c.scale[layer])
        step = head_step(c.q[layer, head, tok], c.k[layer, head], c.v[layer, head], scale, s.use_scale)
        multi = multi_head_step(c.q[layer, :, tok], c.k[layer], c.v[layer], scale, c.w_o[layer], c.b_o[layer], s.use_scale)
        labels, n, name = self._labels, c.num_tokens, self._labels[tok]
        gh, gw = c.grid
        p = c.num_prefix
        heads_maps = multi.weights[:, p:].reshape(1, c.num_heads, gh, gw)
        w_o_shape = c.w_o.shape[1:]
        d_k = c.d_k
        return QKVFrame(
            caption=f"{c.model_title}: click a patch to make it the query",
            query_text=f"Layer {layer + 1}, head {head + 1} of {c.num_heads}, query = {name}.",
            selection=s,
            x=matrix(f"1. x = LayerNorm(query token), D = {c.normed.shape[-1]}", c.normed[layer, tok], (name,)),
            q=matrix(f"1. q = x W_q of this head (d_k = {d_k})", step.q, (name,)),
            k=matrix(f"1. K = X W_k ({n} x {d_k})", step.k, labels, hl=tok),
            v=matrix(f"1. V = X W_v ({n} x {d_k})", step.v, labels, hl=tok),
            scores=Bars("2. scores = q K^T", step.scores.astype(np.float32), labels, tok),
            scaled=Bars(f"2. scaled = scores / sqrt({d_k})" + ("" if s.use_scale else "  (not used: temperature off)"),
                        step.scaled.astype(np.float32), labels, tok),
            weights=Bars("2. softmax" + ("(scaled)" if s.use_scale else "(scores), no scaling"),
                         step.weights.astype(np.float32), labels, tok),
            weights_map=step.weights[p:].reshape(gh, gw).astype(np.float32),
            prefix_share=float(step.weights[:p].sum()),
            output=matrix(f"3. output = weights x V (d_k = {d_k})", step.output, (name,)),
            heads_maps=heads_maps.astype(np.float32),
            heads_out=matrix("4. each head's output; concat = rows in turn", multi.outputs,
                         tuple(f"head {h + 1}" for h in range(c.num_heads)), hl=head),
            projection=self._projection(multi, layer, tok, s.use_scale),
            residual=self._residual(layer, tok, s.use_scale, multi),
            checks=self._checks(step, multi, layer, head, tok),
            explanation=temperature_text(step, n) + (
                f" Multi-head: the {c.num_heads} heads' outputs ({d_k} values each) are concatenated into "
                f"{c.num_heads * d_k} values; W_o ({w_o_shape[0]} x {w_o_shape[1]}) mixes them into the attention "
                f"output, which the residual adds to the token."),
        )

    def _projection(self, multi: MultiHeadStep, layer: int, tok: int, use_scale: bool) -> Matrix:
        rows = [multi.concat, multi.projected]
        names = ["concat(heads)", "W_o concat + b_o"]
        if use_scale:
            rows.append(self.capture.attn_out[layer, tok])
            names.append("hooked attention output")
        return matrix("4. concat -> W_o concat + b_o (= hooked output)", np.stack(rows), tuple(names))

    def _residual(self, layer: int, tok: int, use_scale: bool, multi: MultiHeadStep) -> Matrix:
        c = self.capture
        branch = c.branch_out[layer, tok] if use_scale else None
        if branch is None:  # temperature off: the what-if output (a layer scale, if any, is not re-applied)
            branch = multi.projected
        title = "5. residual add: x_in + attention" + (" (after the layer scale)" if self._layer_scale else "")
        return matrix(title, np.stack([c.block_in[layer, tok], branch, c.block_in[layer, tok] + branch]),
                  ("residual in", "+ attention", "= residual out"))

    def _checks(self, step: HeadStep, multi: MultiHeadStep, layer: int, head: int, tok: int) -> str:
        c = self.capture
        if not step.use_scale:
            return "Temperature off: a what-if, the model itself scales by 1/sqrt(d_k); no comparison with its hooks."
        d_w = float(np.abs(step.weights - c.attentions[layer, head, tok]).max())
        d_o = float(np.abs(multi.projected - c.attn_out[layer, tok]).max())
        d_r = float(np.abs(c.block_in[layer, tok] + c.branch_out[layer, tok] - c.residual[layer, tok]).max())
        return (f"Checked against the model's own hooks: softmax vs captured attention max |diff| {d_w:.1e}; "
                f"W_o concat vs attention module output {d_o:.1e}; residual vs next norm's input {d_r:.1e}.")


def qkv_vit_job(ctx, choice, image: np.ndarray):
    """Job: the ViT chosen in the shared ViT session (same model cache entry), one forward with Q/K/V hooks."""
    from models.jobs import Progress
    from models.model_cache import MODEL_CACHE
    from models.registry import ModelSource, SourceKind, get
    from models.vit import specs  # noqa: F401  (registers the ViT specs)
    from models.vit.qkv import qkv_capture_job

    spec = get(choice.key)
    source = spec.default_source if choice.source_kind is None else ModelSource(
        SourceKind(choice.source_kind), choice.ref or spec.default_source.ref)
    yield Progress(None, f"Loading {spec.title}")
    model = yield from MODEL_CACHE.load_job(("vit", choice.key, source), ctx.device,  # a loader thread if not cached
                                            lambda dev: spec.load(source, dev), f"Loading {spec.title}")
    ctx.check_cancelled()
    return (yield from qkv_capture_job(ctx, model, image, choice.input_size))

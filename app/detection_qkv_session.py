"""The Detection tab's Q/K/V view (Qt-free): cross-attention of one DETR object query, step by step.

State: one models.detection.qkv.DetrQKVCapture and a selection (decoder layer, head, object query,
temperature toggle). ``frame()`` labels every step with where it comes from: Q from the object query
(decoder), K and V from the encoder memory (image features); beside it the decoder self-attention of
the same query over the other queries (how DETR avoids duplicate boxes).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from models.qkv_math import head_step, multi_head_step
from models.vit.patch_blas import single_blas_thread

from .qkv_session import Bars, Matrix, matrix, temperature_text


@dataclass(frozen=True)
class DetrSelection:
    layer: int = 0
    head: int = 0
    query: int = 0
    use_scale: bool = True


@dataclass(frozen=True)
class DetrQKVFrame:
    caption: str
    selection: DetrSelection
    q_in: Matrix  # (1, D) the object query as W_q sees it (decoder state + query position)
    q: Matrix  # (1, d_k)
    k: Matrix  # (HW, d_k) from the encoder memory (+ its position)
    v: Matrix  # (HW, d_k) from the encoder memory
    scores: Bars
    scaled: Bars
    weights: Bars
    weights_map: np.ndarray  # (h, w) cross-attention weights over the memory grid
    output: Matrix  # (1, d_k)
    heads_maps: np.ndarray  # (1, heads, h, w) every head's map for this query
    projection: Matrix  # concat, W_o concat + b_o, hooked output
    self_weights: Bars  # (Q,) decoder self-attention of this query, this head, over the queries
    boxes: np.ndarray  # (Q, 4) xyxy pixels of every query's box
    box_texts: tuple[str, ...]  # one label per query
    checks: str
    explanation: str


def query_labels(capture) -> tuple[str, ...]:
    return tuple(f"query {i}: {capture.class_names[int(lab)] if int(lab) < len(capture.class_names) else lab} "
                 f"{float(s):.2f}" for i, (lab, s) in enumerate(zip(capture.labels, capture.scores)))


def query_at(boxes: np.ndarray, scores: np.ndarray, x: float, y: float) -> int | None:
    """The object query whose box contains (x, y); among several, the best-scoring one."""
    inside = (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])
    if not inside.any():
        return None
    idx = np.flatnonzero(inside)
    return int(idx[np.argmax(scores[idx])])


class DetrQKVSession:
    def __init__(self) -> None:
        self.capture = None  # models.detection.qkv.DetrQKVCapture
        self.selection = DetrSelection()
        self._queries: tuple[str, ...] = ()

    def set_capture(self, capture) -> None:
        """A new forward: keep the selection where it still fits, else the last layer and the best query."""
        old = self.capture
        self.capture = capture
        self._queries = query_labels(capture)
        fits = old is not None and (old.num_layers, old.cross[0].heads, old.num_queries) == (
            capture.num_layers, capture.cross[0].heads, capture.num_queries)
        if not fits:
            self.selection = DetrSelection(capture.num_layers - 1, 0, int(np.argmax(capture.scores)),
                                           self.selection.use_scale)

    def select(self, **changes) -> DetrQKVFrame:
        self.selection = replace(self.selection, **changes)
        return self.frame()

    def query_at(self, x: float, y: float) -> int | None:
        return query_at(self.capture.boxes, self.capture.scores, x, y)

    def frame(self) -> DetrQKVFrame:
        with single_blas_thread():
            return self._frame()

    def _frame(self) -> DetrQKVFrame:
        c, s = self.capture, self.selection
        rec, srec = c.cross[s.layer], c.self_attn[s.layer]
        qi, h = s.query, s.head
        step = head_step(rec.q[h, qi], rec.k[h], rec.v[h], rec.scale, s.use_scale)
        multi = multi_head_step(rec.q[:, qi], rec.k, rec.v, rec.scale, rec.w_o, rec.b_o, s.use_scale)
        self_step = head_step(srec.q[h, qi], srec.k[h], srec.v[h], srec.scale, s.use_scale)
        gh, gw = c.grid
        cells = tuple(f"memory ({r},{col})" for r in range(gh) for col in range(gw))
        name, d_k, n = self._queries[qi], rec.q.shape[-1], rec.k.shape[1]
        rows = [multi.concat, multi.projected] + ([rec.out[qi]] if s.use_scale else [])
        names = ("concat(heads)", "W_o concat + b_o") + (("hooked W_o output",) if s.use_scale else ())
        return DetrQKVFrame(
            caption=f"{c.model_title}: decoder layer {s.layer + 1}, head {h + 1} of {rec.heads}, {name}",
            selection=s,
            q_in=matrix("1. W_q's input: decoder state + query position", rec.q_in[qi], (name,)),
            q=matrix(f"1. q (decoder), d_k = {d_k}", step.q, (name,)),
            k=matrix(f"1. K from the encoder, {n} x {d_k}", step.k, cells),
            v=matrix(f"1. V from the encoder, {n} x {d_k}", step.v, cells),
            scores=Bars("2. scores = q K^T over the image cells", step.scores.astype(np.float32), cells),
            scaled=Bars(f"2. scaled = scores / sqrt({d_k})", step.scaled.astype(np.float32), cells),
            weights=Bars("2. softmax: cross-attention weights" + ("" if s.use_scale else " (no scaling)"),
                         step.weights.astype(np.float32), cells),
            weights_map=step.weights.reshape(gh, gw).astype(np.float32),
            output=matrix(f"3. output = weights x V (d_k = {d_k})", step.output, (name,)),
            heads_maps=multi.weights.reshape(1, rec.heads, gh, gw).astype(np.float32),
            projection=matrix("4. concat of every head, W_o", np.stack(rows), names),
            self_weights=Bars(f"Decoder self-attention of {name.split(':')[0]} over the queries (head {h + 1})",
                              self_step.weights.astype(np.float32), self._queries, qi),
            boxes=c.boxes, box_texts=self._queries,
            checks=self._checks(step, multi, self_step, rec, srec),
            explanation=temperature_text(step, n) + " Self-attention: the queries trade what they found, so two "
                        "queries on one object can see each other and one of them drops it.",
        )

    def _checks(self, step, multi, self_step, rec, srec) -> str:
        s = self.selection
        if not s.use_scale:
            return "Temperature off: a what-if; the model scales by 1/sqrt(d_k), so no comparison with its hooks."
        d_w = float(np.abs(step.weights - rec.weights[s.head, s.query]).max())
        d_o = float(np.abs(multi.projected - rec.out[s.query]).max())
        d_s = float(np.abs(self_step.weights - srec.weights[s.head, s.query]).max())
        return (f"Checked against the model's own capture: cross-attention weights max |diff| {d_w:.1e}; W_o output "
                f"{d_o:.1e}; self-attention weights {d_s:.1e}.")


def detr_qkv_job(ctx, key: str, ref: str, image: np.ndarray):
    """Job: the detector chosen in the Detection tab (shared model cache), one forward with Q/K/V hooks."""
    from models.detection.jobs import detector_job
    from models.detection.qkv import detr_qkv_job as capture_job
    from models.jobs import Progress

    yield Progress(None, "Loading the detector")
    detector, _ = yield from detector_job(key, ref, ctx.device)  # loads on the loader thread if not cached
    ctx.check_cancelled()
    return (yield from capture_job(ctx, detector, image))

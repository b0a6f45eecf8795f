"""One DETR forward recording Q, K and V of every decoder attention: cross-attention (Q from the object
queries, K and V from the encoder memory) and the decoder self-attention (queries among themselves).

Forward hooks on the attention modules' own q / k / v / output Linear layers record their inputs and
outputs, so q, K and V are the model's own numbers (nothing recomputed); the softmax weights come from
the model's own attention capture (the bundled DETR's ``set_capture``, Hugging Face ``output_attentions``).
Families are adapters keyed by detector class (bundled ShapesDETR, Hugging Face DETR with dense attention).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..errors import UserFacingError
from ..jobs import JobContext, Progress, run_to_completion
from .boxes import cxcywh_to_xyxy
from .bundled import BundledDetector
from .hf_detectors import HFDetector

LINEAR_NAMES = (("q", "k", "v", "out"), ("q_proj", "k_proj", "v_proj", "o_proj"), ("q_proj", "k_proj", "v_proj", "out_proj"))


@dataclass(frozen=True)
class AttentionRecord:
    """One attention module of one decoder layer (batch of one)."""

    q_in: np.ndarray  # (Nq, D) what W_q was applied to (query content + its position)
    k_in: np.ndarray  # (Nk, D) what W_k was applied to
    v_in: np.ndarray  # (Nk, D) what W_v was applied to
    q: np.ndarray  # (heads, Nq, d_k) hooked output of W_q
    k: np.ndarray  # (heads, Nk, d_k)
    v: np.ndarray  # (heads, Nk, d_k)
    weights: np.ndarray  # (heads, Nq, Nk) the model's own captured softmax weights
    out: np.ndarray  # (Nq, D) hooked output of W_o
    w_o: np.ndarray  # (D, D)
    b_o: np.ndarray  # (D,)
    scale: float  # 1 / sqrt(d_k)

    @property
    def heads(self) -> int:
        return int(self.q.shape[0])


@dataclass(frozen=True)
class DetrQKVCapture:
    model_title: str
    image: np.ndarray  # (H, W, 3) uint8, the original image (boxes are in its pixels)
    grid: tuple[int, int]  # (h, w) of the encoder memory: cross-attention keys are its cells, row by row
    boxes: np.ndarray  # (Q, 4) float32 xyxy pixels: each object query's box (last decoder layer)
    scores: np.ndarray  # (Q,) float32 best real-class probability
    labels: np.ndarray  # (Q,) int64
    class_names: tuple[str, ...]
    cross: tuple[AttentionRecord, ...]  # per decoder layer
    self_attn: tuple[AttentionRecord, ...]  # per decoder layer

    @property
    def num_layers(self) -> int:
        return len(self.cross)

    @property
    def num_queries(self) -> int:
        return int(self.boxes.shape[0])


@dataclass(frozen=True)
class DetrParts:
    """Where a DETR family keeps what the capture needs."""

    model: nn.Module
    layers: list[tuple[nn.Module, nn.Module]]  # per decoder layer: (self-attention, cross-attention)
    input_proj: nn.Module  # output (1, D, h, w): the memory grid
    heads: int
    run: Callable[[np.ndarray, str], tuple[torch.Tensor, torch.Tensor, list, list]]
    # run(image, device) -> (boxes (Q, 4) cxcywh normalised, class probs (Q, C) without no-object,
    #                        self weights per layer [(1, heads, Q, Q)], cross weights per layer [(1, heads, Q, HW)])


def _bundled(det: BundledDetector) -> DetrParts:
    model = det.model

    def run(image, device):
        size = model.config.image_size
        small = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR)) if image.shape[:2] != (size, size) else image
        x = torch.from_numpy(np.array(small, copy=True)).permute(2, 0, 1)[None].float().div(255).to(device)
        model.set_capture(True)
        try:
            out = model(x)
            self_w = [layer.self_attn.weights for layer in model.decoder]
            cross_w = [layer.cross_attn.weights for layer in model.decoder]
        finally:
            model.set_capture(False)
        probs = out["logits"][-1, 0].softmax(-1)[:, :-1]
        return out["boxes"][-1, 0], probs, self_w, cross_w

    return DetrParts(model, [(layer.self_attn, layer.cross_attn) for layer in model.decoder], model.input_proj,
                     model.config.heads, run)


def _hf(det: HFDetector) -> DetrParts:
    base = det.model.model
    layers = list(base.decoder.layers)
    if not layers or not all(hasattr(layer, "encoder_attn") and _linears(layer.encoder_attn) for layer in layers):
        raise UserFacingError(f"{det.title}: the Q/K/V view needs dense cross-attention with plain q/k/v projections "
                              "(DETR); this decoder works differently.")

    def run(image, device):
        inputs = det.processor(images=image, return_tensors="pt")
        inputs = {k: v.to(device) for k, v in inputs.items() if k in ("pixel_values", "pixel_mask")}
        out = det.model(**inputs, output_attentions=True)
        return out.pred_boxes[0], out.logits[0].softmax(-1)[:, :-1], list(out.decoder_attentions), list(out.cross_attentions)

    return DetrParts(det.model, [(layer.self_attn, layer.encoder_attn) for layer in layers], base.input_projection,
                     int(det.model.config.decoder_attention_heads), run)


ADAPTERS: dict[type, Callable[[object], DetrParts]] = {BundledDetector: _bundled, HFDetector: _hf}


def detr_parts(detector) -> DetrParts:
    for cls in type(detector).__mro__:
        if cls in ADAPTERS:
            return ADAPTERS[cls](detector)
    raise UserFacingError(f"{getattr(detector, 'title', detector)}: the Q/K/V view reads the bundled DETR and "
                          "Hugging Face DETR.")


def _linears(attn: nn.Module) -> tuple[nn.Linear, ...] | None:
    for names in LINEAR_NAMES:
        mods = tuple(getattr(attn, n, None) for n in names)
        if all(isinstance(m, nn.Linear) for m in mods):
            return mods
    return None


@contextmanager
def _record(modules: list[nn.Module], rec: dict) -> Iterator[None]:
    """Keep (input, output) of every hooked Linear, by module."""
    def hook(m, args, out):
        rec[m] = (args[0].detach(), out.detach())

    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def _record_of(attn: nn.Module, rec: dict, weights: torch.Tensor, heads: int) -> AttentionRecord:
    lq, lk, lv, lo = _linears(attn)
    (q_in, q), (k_in, k), (v_in, v), (_o_in, out) = rec[lq], rec[lk], rec[lv], rec[lo]

    def split(t):  # (1, N, D) -> (heads, N, d_k)
        return _np(t[0].reshape(t.shape[1], heads, -1).transpose(0, 1))

    d_k = q.shape[-1] // heads
    b_o = lo.bias if lo.bias is not None else torch.zeros(lo.out_features)
    return AttentionRecord(_np(q_in[0]), _np(k_in[0]), _np(v_in[0]), split(q), split(k), split(v), _np(weights[0]),
                           _np(out[0]), _np(lo.weight), _np(b_o), d_k ** -0.5)


def detr_qkv_job(ctx: JobContext, detector, image: np.ndarray):
    """Job: one forward of a DETR on `image` with the decoder's q/k/v/o projections hooked -> DetrQKVCapture."""
    yield Progress(0.0, f"Running {detector.title} with Q/K/V hooks")
    parts = detr_parts(detector)
    attns = [a for pair in parts.layers for a in pair]
    rec: dict = {}
    grid: list = []
    handle = parts.input_proj.register_forward_hook(lambda _m, _a, out: grid.append(tuple(out.shape[-2:])))
    try:
        with torch.inference_mode(), _record([m for a in attns for m in _linears(a)], rec):
            boxes, probs, self_w, cross_w = parts.run(image, detector.device)
    finally:
        handle.remove()
    ctx.check_cancelled()
    h, w = image.shape[:2]
    scores, labels = probs.max(-1)
    xyxy = _np(cxcywh_to_xyxy(boxes.float())) * np.array([w, h, w, h], np.float32)
    return DetrQKVCapture(
        model_title=detector.title, image=image, grid=grid[-1], boxes=xyxy.astype(np.float32),
        scores=_np(scores), labels=labels.cpu().numpy().astype(np.int64), class_names=tuple(detector.class_names),
        cross=tuple(_record_of(c, rec, wt, parts.heads) for (_s, c), wt in zip(parts.layers, cross_w)),
        self_attn=tuple(_record_of(s, rec, wt, parts.heads) for (s, _c), wt in zip(parts.layers, self_w)))


def capture_detr_qkv(detector, image: np.ndarray) -> DetrQKVCapture:
    result, _ = run_to_completion(detr_qkv_job, detector, image, ctx=JobContext(device=detector.device))
    return result

"""Hugging Face transformers detectors (DETR, Conditional DETR, Deformable DETR, RT-DETR, RF-DETR), from a hub id or
a local folder saved with save_pretrained. trust_remote_code stays off; attention runs in "eager" mode so
the weights come out. Dense-attention families give per-query cross-attention and encoder self-attention;
deformable ones give each query's sampling points and their weights (captured from the attention kernel).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from models.config_checks import ConfigReader, check_module_finite
from models.errors import WeightsUnavailableError
from models.hf_errors import first_line, load_errors, load_failure, refused_pickle
from models.hub_access import hub_usable, load_cache_first
from models.registry import ModelSource, ModelSpec, SourceKind, register

from .detector import Detector, check_image
from .postprocess import POSTPROCESSORS
from .result import DetectionResult


@dataclass(frozen=True)
class HFFamily:
    key: str
    title: str
    default_id: str
    score: str  # "softmax" (with a "no object" class) or "sigmoid" (focal loss, top-k)
    deformable: bool  # deformable cross-attention: sampling points instead of dense maps
    processor_class: str  # used when the model folder has no preprocessor_config.json
    description: str


FAMILIES = (
    HFFamily("detr", "DETR (Hugging Face)", "facebook/detr-resnet-50", "softmax", False, "DetrImageProcessor",
             "Carion et al. 2020: ResNet-50 + transformer, 100 object queries, Hungarian matching, no NMS."),
    HFFamily("conditional-detr", "Conditional DETR (Hugging Face)", "microsoft/conditional-detr-resnet-50", "sigmoid",
             False, "ConditionalDetrImageProcessor",
             "Meng et al. 2021: DETR whose queries carry a spatial part, so cross-attention finds the box extremities faster."),
    HFFamily("deformable-detr", "Deformable DETR (Hugging Face)", "SenseTime/deformable-detr", "sigmoid", True,
             "DeformableDetrImageProcessor",
             "Zhu et al. 2021: each query looks at a few learned sampling points per scale instead of every pixel."),
    HFFamily("rt-detr", "RT-DETR (Hugging Face)", "PekingU/rtdetr_r50vd", "sigmoid", True, "RTDetrImageProcessor",
             "Zhao et al. 2024: a real-time DETR with a hybrid encoder, query selection and deformable decoder attention."),
    HFFamily("rf-detr", "RF-DETR (Hugging Face)", "Roboflow/rf-detr-base", "sigmoid", True, "RfDetrImageProcessor",
             "Robinson et al. 2025: a DINOv2 backbone with a light deformable DETR decoder, real-time."),
)


def _feature_grid(tokens: int, height: int, width: int) -> tuple[int, int]:
    """(h, w) of a stride-32-ish feature map with `tokens` cells for an input of height x width."""
    h, w = math.ceil(height / 32), math.ceil(width / 32)
    if h * w == tokens:
        return h, w
    pairs = [(a, tokens // a) for a in range(1, tokens + 1) if tokens % a == 0]
    return min(pairs, key=lambda p: abs(math.log(p[0] / p[1]) - math.log(height / width)))


class _DeformableRecorder:
    """Forward pre-hook on the last decoder layer's deformable-attention kernel: keeps sampling locations
    (B, Q, heads, levels, points, 2), normalised (x, y), and attention weights (B, Q, heads, levels, points)."""

    def __init__(self, model: torch.nn.Module):
        kernels = [m for name, m in model.named_modules()
                   if type(m).__name__ == "MultiScaleDeformableAttention" and "decoder" in name]
        self.locations = self.weights = None
        self.handle = kernels[-1].register_forward_pre_hook(self._hook, with_kwargs=True) if kernels else None

    def _hook(self, module, args, kwargs):
        locs = kwargs.get("sampling_locations", args[4] if len(args) > 4 else None)
        weights = kwargs.get("attention_weights", args[5] if len(args) > 5 else None)
        self.locations, self.weights = locs.detach(), weights.detach()


class HFDetector(Detector):
    def __init__(self, family: HFFamily, model, processor, key: str, title: str):
        self.family, self.model, self.processor, self.key, self.title = family, model, processor, key, title
        id2label = model.config.id2label or {}
        n = max((int(k) for k in id2label), default=-1) + 1
        self.class_names = tuple(str(id2label.get(i, id2label.get(str(i), f"class {i}"))) for i in range(n))
        self.needs_nms = False
        self.recorder = _DeformableRecorder(model) if family.deformable else None

    def to(self, device: str) -> "HFDetector":
        self.model.to(device)
        self.device = device
        return self

    def predict(self, image: np.ndarray, check_cancelled: Callable[[], None] = lambda: None) -> DetectionResult:
        check_image(image)
        h, w = image.shape[:2]
        inputs = self.processor(images=image, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items() if k in ("pixel_values", "pixel_mask")}
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model(**inputs, output_attentions=not self.family.deformable)
        t1 = time.perf_counter()
        check_cancelled()
        logits = out.logits[0].float().cpu().numpy()  # (Q, C) or (Q, C+1)
        boxes = out.pred_boxes[0].float().cpu().numpy()  # (Q, 4) normalised cxcywh
        scores, labels, xyxy, queries = POSTPROCESSORS[self.family.score](logits, boxes, w, h)
        extra: dict = {}
        ph, pw = inputs["pixel_values"].shape[-2:]
        cross = getattr(out, "cross_attentions", None)
        if not self.family.deformable and cross:
            last = cross[-1][0].float().cpu().numpy()  # (heads, Q, HW)
            gh, gw = _feature_grid(last.shape[-1], ph, pw)
            extra["cross_attention"] = last.transpose(1, 0, 2).reshape(last.shape[1], last.shape[0], gh, gw)
            extra["attention_grid"] = (gh, gw)
            enc = getattr(out, "encoder_attentions", None)
            if enc:
                extra["encoder_attention"] = enc[-1][0].float().mean(0).cpu().numpy()  # (HW, HW)
        if self.recorder is not None and self.recorder.locations is not None:
            loc = self.recorder.locations[0].float().cpu().numpy()  # (Q, heads, levels, points, 2)
            wts = self.recorder.weights[0].float().cpu().numpy()  # (Q, heads, levels, points)
            q = loc.shape[0]
            extra["sampling_points"] = (loc.reshape(q, -1, 2) * np.array([w, h], np.float32)).astype(np.float32)
            extra["sampling_weights"] = wts.reshape(q, -1).astype(np.float32)
        return DetectionResult(
            model_key=self.key, model_title=self.title, image=image, boxes=xyxy, scores=scores, labels=labels,
            class_names=self.class_names, needs_nms=False, query_index=queries,
            forward_ms=(t1 - t0) * 1000, postprocess_ms=(time.perf_counter() - t1) * 1000, **extra)


def _processor(family: HFFamily, ref: str, is_local: bool = False):
    import transformers

    try:
        return transformers.AutoImageProcessor.from_pretrained(
            ref, trust_remote_code=False, local_files_only=is_local or not hub_usable())
    except (OSError, ValueError, TypeError, KeyError):
        return getattr(transformers, family.processor_class)()


def _checked_config(ref: str, is_local: bool = False):
    """The model's config.json, its sizes checked before any tensor is built."""
    from transformers import AutoConfig

    config = load_cache_first(AutoConfig.from_pretrained, ref, ref, is_local)
    r = ConfigReader(config.to_dict(), f"'{ref}'")
    for name in ("d_model", "hidden_dim", "hidden_size"):
        r.integer(name, 1, 8192, 1)
    for name in ("encoder_layers", "decoder_layers", "num_hidden_layers"):
        r.integer(name, 0, 64, 1)
    for name in ("encoder_ffn_dim", "decoder_ffn_dim", "intermediate_size"):
        r.integer(name, 1, 65536, 1)
    r.integer("num_queries", 1, 10_000, 1)
    r.require(len(getattr(config, "id2label", None) or {}) <= 100_000, "id2label has more than 100,000 classes.")
    return config


def load_hf_detector(family: HFFamily, ref: str, device: str = "cpu", key: str = "", title: str = "") -> HFDetector:
    from transformers import AutoModelForObjectDetection

    is_local = Path(ref).expanduser().is_dir()
    if not is_local and (ref.startswith(("/", "~", ".", "\\")) or ref.count("/") > 1 or ":" in ref):
        raise WeightsUnavailableError(f"Could not load a detector: the folder '{ref}' does not exist.")
    ref = str(Path(ref).expanduser()) if is_local else ref
    try:
        config = _checked_config(ref, is_local)
        load = AutoModelForObjectDetection.from_pretrained
        try:
            model = load_cache_first(load, ref, ref, is_local, config=config, attn_implementation="eager")
        except ValueError as exc:
            if "attn_implementation" not in str(exc) and "eager" not in str(exc):
                raise
            model = load_cache_first(load, ref, ref, is_local, config=config)
        check_module_finite(model, f"'{ref}'")
        model.eval()
        name = Path(ref).name if is_local else ref
        return HFDetector(family, model, _processor(family, ref, is_local), key or f"detection/hf-{family.key}",
                          title or f"{family.title}: {name}").to(device)
    except OSError as exc:
        if refused_pickle(exc):
            raise load_failure(exc, ref, "detector") from None
        where = f"the folder {ref}" if is_local else f"'{ref}' (not in the local Hugging Face cache, and the hub is unreachable?)"
        raise WeightsUnavailableError(f"Could not load a detector from {where}: {first_line(exc, 200)}") from None
    except load_errors() as exc:  # a pickled pytorch_model.bin, a bad config.json, weights of other shapes, ...
        raise load_failure(exc, ref, "detector") from None


def _loader(family: HFFamily):
    def load(source: ModelSource, device: str, progress=None) -> HFDetector:
        if progress:
            progress(None, f"Loading {family.title}")
        return load_hf_detector(family, source.ref or family.default_id, device)
    return load


for _fam in FAMILIES:
    register(ModelSpec(
        key=f"detection/hf-{_fam.key}", task="detection", title=_fam.title, description=_fam.description,
        loader=_loader(_fam), default_source=ModelSource(SourceKind.HUGGINGFACE, _fam.default_id),
        sources=(SourceKind.HUGGINGFACE,),
        capabilities={"needs_nms": False, "cross_attention": not _fam.deformable, "encoder_attention": not _fam.deformable,
                      "deformable": _fam.deformable, "family": _fam.key, "asks_for_ref": True}))

"""The bundled shapes detector (assets/weights/detr_shapes.safetensors), trained by models.detection.train."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from models.config_checks import ConfigReader, check_budget
from models.loading import bundled_weights_path, load_into, load_state_dict_file
from models.safetensors_io import read_metadata
from models.registry import ModelSource, ModelSpec, SourceKind, register

from .config import DetrConfig
from .detector import Detector, check_image
from .detr_model import ShapesDETR
from .postprocess import softmax_postprocess
from .result import DetectionResult

WEIGHTS_FILE = "detr_shapes.safetensors"
KEY = "detection/bundled-shapes-detr"
TITLE = "Shapes DETR (bundled, trained here)"


def detr_config_from_metadata(meta: dict[str, str], where: str = "This weights file") -> DetrConfig:
    """The architecture saved in a weights file, every field checked (CheckpointError) before anything is built."""
    r, d = ConfigReader(meta, where), DetrConfig()
    num_classes = r.integer("num_classes", 1, 1000, d.num_classes)
    config = DetrConfig(
        image_size=r.integer("image_size", 32, 256, d.image_size), num_classes=num_classes,
        class_names=r.names("class_names", 1000, default=d.class_names),
        backbone_channels=r.ints("backbone_channels", 1, 1024, 3, 8, d.backbone_channels),
        d_model=r.integer("d_model", 8, 1024, d.d_model), heads=r.integer("heads", 1, 32, d.heads),
        ffn=r.integer("ffn", 1, 8192, d.ffn), encoder_layers=r.integer("encoder_layers", 0, 12, d.encoder_layers),
        decoder_layers=r.integer("decoder_layers", 1, 12, d.decoder_layers),
        queries=r.integer("queries", 1, 1000, d.queries), dropout=r.number("dropout", 0.0, 1.0, d.dropout))
    r.require(len(config.class_names) == config.num_classes,
              f"class_names has {len(config.class_names)} names for num_classes={config.num_classes}.")
    r.require(config.d_model % config.heads == 0 and config.d_model % 4 == 0,
              f"d_model={config.d_model} must be divisible by 4 and by heads={config.heads}.")
    check_budget(lambda: ShapesDETR(config), where)
    return config


def load_bundled_model(path: str | Path | None = None) -> ShapesDETR:
    """The trained ShapesDETR from a safetensors file (default: the bundled one), in eval mode."""
    path = Path(path) if path else bundled_weights_path(WEIGHTS_FILE)
    meta: dict[str, str] = {}
    if path.suffix == ".safetensors" and path.is_file():
        meta = read_metadata(path)
    config = detr_config_from_metadata(meta, where=f"'{path.name}'")  # checked before any tensor is built
    model = load_into(ShapesDETR(config), load_state_dict_file(path), "the shapes DETR")
    return model.eval()


class BundledDetector(Detector):
    needs_nms = False

    def __init__(self, model: ShapesDETR, key: str = KEY, title: str = TITLE):
        self.model, self.key, self.title = model, key, title
        self.class_names = model.config.class_names

    def to(self, device: str) -> "BundledDetector":
        self.model.to(device)
        self.device = device
        return self

    def predict(self, image: np.ndarray, check_cancelled: Callable[[], None] = lambda: None) -> DetectionResult:
        check_image(image)
        h, w = image.shape[:2]
        size = self.model.config.image_size
        small = image if (h, w) == (size, size) else np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
        x = torch.from_numpy(np.array(small, copy=True)).permute(2, 0, 1)[None].float().div(255).to(self.device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            self.model.set_capture(True)
            try:
                out = self.model(x)
                cap = self.model.captured()
            finally:
                self.model.set_capture(False)
        logits, boxes = out["logits"][-1, 0].cpu().numpy(), out["boxes"][-1, 0].cpu().numpy()  # (Q, C+1), (Q, 4)
        gh, gw = out["grid"]
        t1 = time.perf_counter()
        check_cancelled()
        scores, labels, xyxy, queries = softmax_postprocess(logits, boxes, w, h)
        cross = cap["cross"][0].float().cpu().numpy()  # (heads, Q, hw)
        enc = cap["encoder"][0].float().mean(0).cpu().numpy()  # (hw, hw)
        heads, q, _ = cross.shape
        return DetectionResult(  # the attention arrays are views (no copies): the views index them when asked
            model_key=self.key, model_title=self.title, image=image, boxes=xyxy, scores=scores, labels=labels,
            class_names=self.class_names, needs_nms=False, query_index=queries,
            cross_attention=cross.transpose(1, 0, 2).reshape(q, heads, gh, gw),  # (Q, heads, h, w)
            encoder_attention=enc, attention_grid=(gh, gw),
            forward_ms=(t1 - t0) * 1000, postprocess_ms=(time.perf_counter() - t1) * 1000)


def _load(source: ModelSource, device: str, progress=None) -> BundledDetector:
    path = source.ref if source.kind == SourceKind.CHECKPOINT and source.ref else None
    return BundledDetector(load_bundled_model(path)).to(device)


SPEC = register(ModelSpec(
    key=KEY, task="detection", title=TITLE,
    description="A small DETR-style set predictor (1.7 M parameters) trained in this repo on 96x96 procedural "
                "scenes with 1-5 shapes; 15 anchor-box object queries, no NMS.",
    loader=_load, default_source=ModelSource(SourceKind.BUNDLED), sources=(SourceKind.BUNDLED, SourceKind.CHECKPOINT),
    capabilities={"needs_nms": False, "cross_attention": True, "encoder_attention": True, "deformable": False,
                  "class_names": DetrConfig().class_names, "family": "detr"}))

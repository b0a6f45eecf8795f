"""torchvision COCO detectors (Faster R-CNN v2, RetinaNet v2, FCOS, SSDlite). They need NMS: we switch
their built-in NMS off (IoU threshold 1) and keep every candidate above a low score, so the tab's NMS
slider can show what non-maximum suppression removes. Weights come through models.loading (hub cache
or download); class names from the weights' metadata."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torchvision.models.detection as tvd

from models.loading import load_into, torchvision_state_dict
from models.registry import ModelSource, ModelSpec, SourceKind, register

from .detector import Detector, check_image
from .result import DetectionResult


@dataclass(frozen=True)
class TVDetector:
    key: str
    title: str
    builder: str  # function name in torchvision.models.detection
    weights: str  # weights enum name in torchvision.models.detection, default member COCO_V1
    nms_iou: float  # the model's own NMS IoU threshold: the slider's default
    score_floor: float  # candidates below this score are not kept at all
    description: str


TV_DETECTORS = (
    TVDetector("fasterrcnn-v2", "Faster R-CNN v2 (torchvision)", "fasterrcnn_resnet50_fpn_v2",
               "FasterRCNN_ResNet50_FPN_V2_Weights", 0.5, 0.05,
               "Two-stage detector: proposals from a region proposal network, then per-region classification."),
    TVDetector("retinanet-v2", "RetinaNet v2 (torchvision)", "retinanet_resnet50_fpn_v2",
               "RetinaNet_ResNet50_FPN_V2_Weights", 0.5, 0.05,
               "One-stage detector with dense anchors on a feature pyramid and focal loss."),
    TVDetector("fcos", "FCOS (torchvision)", "fcos_resnet50_fpn", "FCOS_ResNet50_FPN_Weights", 0.6, 0.2,
               "Anchor-free one-stage detector: every feature-map location predicts its distances to a box's sides."),
    TVDetector("ssdlite", "SSDlite320 MobileNetV3 (torchvision)", "ssdlite320_mobilenet_v3_large",
               "SSDLite320_MobileNet_V3_Large_Weights", 0.55, 0.05,
               "A small, fast single-shot detector for phones, at 320x320 input."),
)


def _disable_nms(model: torch.nn.Module, score_floor: float) -> None:
    """Keep every candidate: NMS IoU 1 removes nothing; allow up to 300 detections."""
    target = getattr(model, "roi_heads", model)  # Faster R-CNN keeps these on roi_heads
    target.nms_thresh = 1.0
    target.score_thresh = score_floor
    target.detections_per_img = 300


class TorchvisionDetector(Detector):
    needs_nms = True

    def __init__(self, info: TVDetector, model: torch.nn.Module, class_names: tuple[str, ...]):
        self.info, self.model, self.class_names = info, model, class_names
        self.key, self.title = f"detection/tv-{info.key}", info.title

    def to(self, device: str) -> "TorchvisionDetector":
        self.model.to(device)
        self.device = device
        return self

    def predict(self, image: np.ndarray, check_cancelled: Callable[[], None] = lambda: None) -> DetectionResult:
        check_image(image)
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255).to(self.device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model([x])[0]
        t1 = time.perf_counter()
        check_cancelled()
        return DetectionResult(
            model_key=self.key, model_title=self.title, image=image,
            boxes=out["boxes"].float().cpu().numpy().reshape(-1, 4), scores=out["scores"].float().cpu().numpy(),
            labels=out["labels"].cpu().numpy().astype(np.int64), class_names=self.class_names, needs_nms=True,
            forward_ms=(t1 - t0) * 1000, postprocess_ms=(time.perf_counter() - t1) * 1000)


def load_torchvision_detector(info: TVDetector, device: str = "cpu", progress=None) -> TorchvisionDetector:
    weights = getattr(tvd, info.weights).COCO_V1
    names = tuple(weights.meta["categories"])
    model = getattr(tvd, info.builder)(weights=None, weights_backbone=None, num_classes=len(names))
    load_into(model, torchvision_state_dict(weights, progress), info.title)
    _disable_nms(model, info.score_floor)
    return TorchvisionDetector(info, model.eval(), names).to(device)


def _loader(info: TVDetector):
    def load(source: ModelSource, device: str, progress=None) -> TorchvisionDetector:
        return load_torchvision_detector(info, device, progress)
    return load


for _info in TV_DETECTORS:
    register(ModelSpec(
        key=f"detection/tv-{_info.key}", task="detection", title=_info.title, description=_info.description,
        loader=_loader(_info), default_source=ModelSource(SourceKind.TORCHVISION, _info.weights),
        sources=(SourceKind.TORCHVISION,),
        capabilities={"needs_nms": True, "default_nms_iou": _info.nms_iou, "cross_attention": False,
                      "encoder_attention": False, "deformable": False, "family": "torchvision"}))

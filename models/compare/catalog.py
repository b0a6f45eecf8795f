"""Registers every classifier the Compare tab can show (task "compare"); each loader returns a StageModel.

What differs between models lives in the tables below: the builder, where the weights come from, and
the module paths of the stages (the only per-architecture knowledge the Compare views need; layouts,
grids and prefix tokens are then found by the shape trace in models.compare.stages).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torchvision import models as tvm

from ..loading import bundled_weights_path, load_into, load_state_dict_file
from ..registry import ModelSource, ModelSpec, SourceKind, register
from ..safetensors_io import read_metadata
from ..shapes import SHAPE_CLASSES
from ..torchvision_models import build_torchvision
from .architectures import ARCHITECTURES, Architecture
from .rollout_capture import AttentionCapture, NoRollout, TorchMultiheadAttention
from .stages import StageModel

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetClassifier(nn.Module):
    """(B, 3, H, W) in [0, 1] -> logits: ImageNet normalisation in front of a torchvision classifier."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def _bundled_stage_paths(arch: Architecture) -> tuple[str, ...]:
    n = arch.config.depth if arch.family == "vit" else len(arch.config.dims)
    return tuple(f"{'blocks' if arch.family == 'vit' else 'stages'}.{i}" for i in range(n))


def _bundled_loader(arch: Architecture):
    config_type = type(arch.config)

    def load(source: ModelSource, device: str = "cpu", progress=None) -> StageModel:
        torch.manual_seed(0)
        cfg = arch.config
        if source.kind != SourceKind.RANDOM:
            path = Path(bundled_weights_path(arch.weights_file) if source.kind == SourceKind.BUNDLED else source.ref)
            if path.suffix == ".safetensors" and path.is_file():
                cfg = config_type.from_metadata(read_metadata(path), where=f"'{path.name}'")
            model = arch.build(cfg)
            load_into(model, load_state_dict_file(path), arch.title)
        else:
            model = arch.build(cfg)
            arch.init(model)
        title = arch.title if source.kind == SourceKind.BUNDLED else f"{arch.title.split(' (')[0]} ({source.kind.value})"
        return StageModel(model.to(device).eval(), _bundled_stage_paths(arch), SHAPE_CLASSES, (64, 64), title)

    return load


@dataclass(frozen=True)
class TorchvisionEntry:
    key: str
    title: str
    family: str  # "cnn" | "vit" | "hybrid"
    builder: Callable[..., nn.Module]
    weights: object  # the torchvision weights enum member
    stage_paths: tuple[str, ...]  # inside the wrapped model ("net." + torchvision's own paths)
    attention: AttentionCapture | None = None  # how rollout reads its attention (None: no attention)


def _paths(*names: str) -> tuple[str, ...]:
    return tuple(f"net.{n}" for n in names)


TORCHVISION_MODELS = (
    TorchvisionEntry("compare/resnet50", "ResNet-50 (torchvision, ImageNet)", "cnn", tvm.resnet50,
                     tvm.ResNet50_Weights.IMAGENET1K_V2, _paths("layer1", "layer2", "layer3", "layer4")),
    TorchvisionEntry("compare/convnext_tiny", "ConvNeXt-T (torchvision, ImageNet)", "cnn", tvm.convnext_tiny,
                     tvm.ConvNeXt_Tiny_Weights.IMAGENET1K_V1, _paths("features.1", "features.3", "features.5", "features.7")),
    TorchvisionEntry("compare/swin_t", "Swin-T (torchvision, ImageNet)", "vit", tvm.swin_t,
                     tvm.Swin_T_Weights.IMAGENET1K_V1, _paths("features.1", "features.3", "features.5", "features.7"),
                     NoRollout("Attention rollout is not defined for Swin: it attends within shifted local windows, "
                               "never over the whole image at once. Use Grad-CAM.", windowed=True)),
    TorchvisionEntry("compare/maxvit_t", "MaxViT-T (torchvision, ImageNet; hybrid)", "hybrid", tvm.maxvit_t,
                     tvm.MaxVit_T_Weights.IMAGENET1K_V1, _paths("blocks.0", "blocks.1", "blocks.2", "blocks.3"),
                     NoRollout("Attention rollout is not defined for MaxViT: it attends within blocks and grids, "
                               "after convolutions, and pools instead of reading a CLS token. Use Grad-CAM.")),
    TorchvisionEntry("compare/vit_b_16", "ViT-B/16 (torchvision, ImageNet)", "vit", tvm.vit_b_16,
                     tvm.ViT_B_16_Weights.IMAGENET1K_V1,
                     _paths(*(f"encoder.layers.encoder_layer_{i}" for i in range(12))), TorchMultiheadAttention()),
)


def _torchvision_loader(entry: TorchvisionEntry):
    def load(source: ModelSource, device: str = "cpu", progress=None) -> StageModel:
        net, title, names = build_torchvision(entry.builder, entry.weights, entry.title, source, progress)
        return StageModel(ImageNetClassifier(net).to(device).eval(), entry.stage_paths, names, (224, 224), title,
                          attention=entry.attention)

    return load


for _arch in ARCHITECTURES.values():
    register(ModelSpec(
        key=f"compare/{_arch.key}", task="compare", title=_arch.title,
        description=f"A small {_arch.family} trained in this repo on the widened shapes data (offline).",
        loader=_bundled_loader(_arch), default_source=ModelSource(SourceKind.BUNDLED),
        sources=(SourceKind.BUNDLED, SourceKind.CHECKPOINT, SourceKind.RANDOM),
        capabilities={"family": _arch.family, "bundled": True, "input_size": 64, "weights_file": _arch.weights_file},
    ))
for _entry in TORCHVISION_MODELS:
    register(ModelSpec(
        key=_entry.key, task="compare", title=_entry.title,
        description="torchvision's ImageNet-1k classifier; weights from the torch hub cache or downloaded once.",
        loader=_torchvision_loader(_entry), default_source=ModelSource(SourceKind.TORCHVISION),
        sources=(SourceKind.TORCHVISION, SourceKind.RANDOM, SourceKind.CHECKPOINT),
        capabilities={"family": _entry.family, "bundled": False, "input_size": 224},
    ))

from . import hf_catalog, timm_catalog  # noqa: E402,F401  (register the transformers and timm entries)

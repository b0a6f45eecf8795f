"""The bundled classifiers of the Compare tab, by key: how to build each, its family and its weights file.

No if/elif over names elsewhere: what differs between the architectures lives on `Architecture`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from ..vit.bundled import ShapesViT, ViTConfig, init_weights
from .coatnet import CoAtNetConfig, CoAtNetShapes
from .convnext import ConvNeXtConfig, ConvNeXtShapes, keep_default_init
from .plain_vit import PlainViT


@dataclass(frozen=True)
class Architecture:
    key: str
    title: str
    family: str  # "cnn" | "vit" | "hybrid"
    config: Any  # the frozen config dataclass instance it is built from
    build: Callable[[Any], nn.Module]
    init: Callable[[nn.Module], None]
    weights_file: str
    patch_token_loss: bool  # ViTs: the head also classifies the mean patch token after every block


ARCHITECTURES: dict[str, Architecture] = {a.key: a for a in (
    Architecture("convnext", "ConvNeXt-style CNN (bundled)", "cnn", ConvNeXtConfig(), ConvNeXtShapes,
                 keep_default_init, "compare_convnext_shapes.safetensors", False),
    Architecture("vit-convstem", "Conv-stem ViT (bundled)", "vit", ViTConfig(), ShapesViT, init_weights,
                 "vit_shapes.safetensors", True),
    Architecture("coatnet", "CoAtNet-style hybrid (bundled)", "hybrid", CoAtNetConfig(), CoAtNetShapes,
                 keep_default_init, "compare_coatnet_shapes.safetensors", False),
    Architecture("vit-plain", "Plain ViT, linear patches (bundled)", "vit", ViTConfig(), PlainViT, init_weights,
                 "compare_vit_plain_shapes.safetensors", True),
)}

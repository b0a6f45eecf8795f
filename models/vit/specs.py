"""Registers every ViT the Attention and Patch embeddings tabs can show (task "vit").

Importing this module fills the registry; each spec's loader returns a ``CapturableViT``. What differs
between models (builder, weights enum, default source) lives in the tables below, not in branches.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torchvision.models import ViT_B_16_Weights, ViT_B_32_Weights, ViT_L_16_Weights, vit_b_16, vit_b_32, vit_l_16

from ..loading import bundled_weights_path, load_into, load_state_dict_file
from ..registry import ModelSource, ModelSpec, SourceKind, register
from ..safetensors_io import read_metadata
from ..torchvision_models import build_torchvision
from .bundled import ShapesViT, ViTConfig
from .capture_bundled import BundledViT
from .capture_hf import load_hf_vit
from .capture_timm import load_timm_vit
from .capture_torchvision import TorchvisionViT

BUNDLED_KEY = "vit/bundled-shapes"
BUNDLED_FILE = "vit_shapes.safetensors"


def _bundled_config(path) -> ViTConfig:
    """The architecture saved in a .safetensors file's metadata, checked; a .pt file: the default one."""
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return ViTConfig()  # a missing file is reported by load_state_dict_file
    return ViTConfig.from_metadata(read_metadata(path), where=f"'{path.name}'")


def load_bundled(source: ModelSource, device: str = "cpu", progress=None) -> BundledViT:
    torch.manual_seed(0)
    if source.kind == SourceKind.RANDOM:
        return BundledViT(ShapesViT(ViTConfig()).to(device), title="Shapes ViT (random weights)")
    path = bundled_weights_path(BUNDLED_FILE) if source.kind == SourceKind.BUNDLED else source.ref
    model = ShapesViT(_bundled_config(path))  # the config is checked before any tensor is built
    load_into(model, load_state_dict_file(path), "the bundled shapes ViT")
    title = "Bundled shapes ViT" if source.kind == SourceKind.BUNDLED else f"Shapes ViT: {path}"
    return BundledViT(model.to(device), title=title)


@dataclass(frozen=True)
class TorchvisionViTEntry:
    key: str
    title: str
    builder: Callable[..., torch.nn.Module]
    weights: object  # the torchvision weights enum member


TORCHVISION_VITS = (
    TorchvisionViTEntry("vit/torchvision-b16", "ViT-B/16 (torchvision, ImageNet)", vit_b_16, ViT_B_16_Weights.IMAGENET1K_V1),
    TorchvisionViTEntry("vit/torchvision-b32", "ViT-B/32 (torchvision, ImageNet)", vit_b_32, ViT_B_32_Weights.IMAGENET1K_V1),
    TorchvisionViTEntry("vit/torchvision-l16", "ViT-L/16 (torchvision, ImageNet)", vit_l_16, ViT_L_16_Weights.IMAGENET1K_V1),
)


def _torchvision_loader(entry: TorchvisionViTEntry):
    def load(source: ModelSource, device: str = "cpu", progress=None) -> TorchvisionViT:
        model, title, names = build_torchvision(entry.builder, entry.weights, entry.title, source, progress)
        return TorchvisionViT(model.to(device), entry.key, title, names)

    return load


def load_huggingface(source: ModelSource, device: str = "cpu", progress=None):
    return load_hf_vit(source.ref, "vit/huggingface", device, progress)


def load_timm(source: ModelSource, device: str = "cpu", progress=None):
    return load_timm_vit(source.ref, "vit/timm", source.kind == SourceKind.TIMM, device, progress)


register(ModelSpec(
    key=BUNDLED_KEY, task="vit", title="Bundled shapes ViT (offline)",
    description="A small ViT (conv stem, CLS token, 3 blocks of 4 heads) trained in this repo on procedural shapes.",
    loader=load_bundled, default_source=ModelSource(SourceKind.BUNDLED),
    sources=(SourceKind.BUNDLED, SourceKind.CHECKPOINT, SourceKind.RANDOM),
    capabilities={"has_cls_token": True, "classifier": True, "input_size": 64},
))
for _entry in TORCHVISION_VITS:
    register(ModelSpec(
        key=_entry.key, task="vit", title=_entry.title,
        description="torchvision's ImageNet-1k ViT; weights from the torch hub cache or downloaded once.",
        loader=_torchvision_loader(_entry), default_source=ModelSource(SourceKind.TORCHVISION),
        sources=(SourceKind.TORCHVISION, SourceKind.RANDOM, SourceKind.CHECKPOINT),
        capabilities={"has_cls_token": True, "classifier": True, "input_size": 224},
    ))
register(ModelSpec(
    key="vit/huggingface", task="vit", title="Hugging Face ViT / DeiT / DINOv2 (id or folder)",
    description="A transformers ViT, DeiT (distillation token) or DINOv2 (register tokens, no classifier).",
    loader=load_huggingface, default_source=ModelSource(SourceKind.HUGGINGFACE, "google/vit-base-patch16-224"),
    sources=(SourceKind.HUGGINGFACE,),
    capabilities={"has_cls_token": True, "needs_ref": True},
))
register(ModelSpec(
    key="vit/timm", task="vit", title="timm ViT (model name)",
    description="A timm VisionTransformer by name, pretrained weights from the cache or random.",
    loader=load_timm, default_source=ModelSource(SourceKind.TIMM, "vit_small_patch16_224"),
    sources=(SourceKind.TIMM, SourceKind.RANDOM),
    capabilities={"needs_ref": True},
))

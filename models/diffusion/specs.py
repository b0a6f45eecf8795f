"""Registers the diffusion models (task "diffusion"): the bundled sprite DDPM and diffusers UNets.

Each loader returns a ``DiffusionModel``; what differs between models lives on the spec.
"""
from __future__ import annotations

import torch

from ..errors import CheckpointError
from ..loading import bundled_weights_path
from ..registry import ModelSource, ModelSpec, SourceKind, register
from ..shapes import SHAPE_CLASSES
from .bundled import WEIGHTS_FILE, load_unet_file
from .hf import load_diffusers_unet
from .model import DiffusionModel
from .results import BUNDLED_KEY, DIFFUSERS_KEY
from .schedule import make_schedule
from .training import TrainConfig
from .unet import UNet



def random_sprite_ddpm(device: str = "cpu", seed: int = 0) -> DiffusionModel:
    torch.manual_seed(seed)
    net = UNet(TrainConfig().unet).to(device).eval().requires_grad_(False)
    return DiffusionModel(key=BUNDLED_KEY, title="Sprite DDPM (random weights)", net=net,
                          schedule=make_schedule("linear", 500), image_size=32, class_names=SHAPE_CLASSES,
                          device=device, module=net)


def load_bundled(source: ModelSource, device: str = "cpu", progress=None) -> DiffusionModel:
    if source.kind == SourceKind.RANDOM:
        return random_sprite_ddpm(device)
    if source.kind == SourceKind.BUNDLED:
        return load_unet_file(bundled_weights_path(WEIGHTS_FILE), device)
    if source.kind == SourceKind.CHECKPOINT:
        return load_unet_file(source.ref, device, title=f"Sprite DDPM: {source.ref}")
    raise CheckpointError(f"The sprite DDPM can't load from a {source.kind.value} source.")


def load_diffusers(source: ModelSource, device: str = "cpu", progress=None) -> DiffusionModel:
    if source.kind != SourceKind.HUGGINGFACE:
        raise CheckpointError(f"diffusers UNets load from a Hugging Face id or folder, not a {source.kind.value} source.")
    return load_diffusers_unet(source.ref, device, progress)


register(ModelSpec(
    key=BUNDLED_KEY, task="diffusion", title="Sprite DDPM (bundled, 32x32, 6 classes)",
    description="A 1.5M-parameter class-conditional UNet trained in this repo on procedural shape sprites.",
    loader=load_bundled, default_source=ModelSource(SourceKind.BUNDLED),
    sources=(SourceKind.BUNDLED, SourceKind.CHECKPOINT, SourceKind.RANDOM),
    capabilities={"class_names": SHAPE_CLASSES, "guidance": True, "trainable": True}))

register(ModelSpec(
    key=DIFFUSERS_KEY, task="diffusion", title="diffusers UNet2DModel (id or folder)",
    description="Any diffusers UNet2DModel with its scheduler config, e.g. google/ddpm-cifar10-32 (unconditional).",
    loader=load_diffusers, default_source=ModelSource(SourceKind.HUGGINGFACE, "google/ddpm-cifar10-32"),
    sources=(SourceKind.HUGGINGFACE,),
    capabilities={"class_names": (), "guidance": False, "trainable": False}))

"""The model registry: every model the app can show, by task, with where its weights come from.

Each tab's model module registers its specs at import (``register(ModelSpec(...))``); the app lists
``specs_for(task)`` in its Model menu and loads through ``spec.load(source, device)``. No if/elif
over model names anywhere: what differs between models lives on the spec.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Mapping

TASKS = ("vit", "detection", "gan", "diffusion", "compare")


class SourceKind(str, Enum):
    BUNDLED = "bundled"  # safetensors in assets/weights, trained by a script in this repo
    TORCHVISION = "torchvision"  # torchvision pretrained weights (hub cache, or downloaded)
    HUGGINGFACE = "huggingface"  # a Hugging Face id or a local folder (optional extra)
    TIMM = "timm"  # a timm model name (optional extra)
    CHECKPOINT = "checkpoint"  # a checkpoint file the user picks (.safetensors / .pt, weights only)
    RANDOM = "random"  # the architecture with random weights (for learning and tests)


@dataclass(frozen=True)
class ModelSource:
    kind: SourceKind
    ref: str = ""  # path, hub id or weights name; empty when the spec knows it


# load(source, device, progress) -> the loaded model object (what the task's jobs take)
Loader = Callable[["ModelSource", str, Callable[[float | None, str], None] | None], Any]


@dataclass(frozen=True)
class ModelSpec:
    key: str  # unique, e.g. "vit/bundled-shapes"
    task: str  # one of TASKS
    title: str  # menu text
    description: str
    loader: Loader
    default_source: ModelSource
    sources: tuple[SourceKind, ...] = ()
    capabilities: Mapping[str, Any] = field(default_factory=dict)  # e.g. has_cls_token, class_names

    def load(self, source: ModelSource | None = None, device: str = "cpu", progress=None) -> Any:
        return self.loader(source or self.default_source, device, progress)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.task not in TASKS:
        raise ValueError(f"unknown task {spec.task!r}")
    _REGISTRY[spec.key] = spec
    return spec


def get(key: str) -> ModelSpec:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise KeyError(f"No model '{key}' is registered (known: {', '.join(sorted(_REGISTRY))}).") from None


def specs_for(task: str) -> list[ModelSpec]:
    return [s for s in _REGISTRY.values() if s.task == task]


def all_specs() -> list[ModelSpec]:
    return list(_REGISTRY.values())

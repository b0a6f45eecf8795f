"""Building a torchvision classifier from a registry source: its hub weights, a checkpoint file, or random.

Shared by every tab that lists torchvision models (the ViTs of the Attention tab, the Compare tab's CNNs,
ViTs and hybrids), so the source handling and the titles are written once.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .errors import CheckpointError
from .loading import load_into, load_state_dict_file, torchvision_state_dict
from .registry import ModelSource, SourceKind


def build_torchvision(builder: Callable[..., nn.Module], weights, title: str, source: ModelSource,
                      progress=None) -> tuple[nn.Module, str, tuple[str, ...]]:
    """(model, title to show, class names) for `source`; the model is on the CPU, in train mode."""
    names = tuple(weights.meta["categories"])
    torch.manual_seed(0)
    model = builder(weights=None, num_classes=len(names))
    short = title.split(" (")[0]
    if source.kind == SourceKind.TORCHVISION:
        load_into(model, torchvision_state_dict(weights, progress), title)
    elif source.kind == SourceKind.CHECKPOINT:
        load_into(model, load_state_dict_file(source.ref), title)
        title = f"{short}: {source.ref}"
    elif source.kind == SourceKind.RANDOM:
        title = f"{short} (random weights)"
    else:
        raise CheckpointError(f"{title} can't load from a {source.kind.value} source.")
    return model, title, names

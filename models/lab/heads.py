"""The classification head of any loaded classifier, found and replaced for new classes. No Qt.

Where the head is may be declared on the model's registry entry (capability ``head_paths``: module paths
inside `StageModel.model`); otherwise it is found generically: the last ``nn.Linear`` whose
``out_features`` equals the number of classes, together with every other such Linear of the same input
width (distilled models such as timm's LeViT have two heads whose outputs are averaged). No per-model code.

After the swap a blank forward must give (1, new classes) logits, else the head was not found (one clear
sentence). Hugging Face configs (``id2label``, ``label2id``) and timm's ``num_classes`` are kept in step,
so ``save_pretrained`` writes the new labels.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..errors import UserFacingError
from ..compare.stages import StageModel

MODES = ("all", "head")


class HeadNotFoundError(UserFacingError):
    """The model's classification head could not be found or replaced."""


def find_head_paths(model: nn.Module, num_classes: int, declared: Sequence[str] = ()) -> tuple[str, ...]:
    """Module paths of the head Linear layer(s) producing the `num_classes` logits."""
    if declared:
        for path in declared:
            try:
                module = model.get_submodule(path)
            except AttributeError:
                raise HeadNotFoundError(f"The declared head '{path}' is not part of the model.") from None
            if not isinstance(module, nn.Linear):
                raise HeadNotFoundError(f"The declared head '{path}' is a {type(module).__name__}, not a Linear layer.")
        return tuple(declared)
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear) and m.out_features == num_classes]
    if not linears:
        raise HeadNotFoundError(f"No Linear layer with {num_classes} outputs (one per class) was found: this model's "
                                "classification head can't be replaced.")
    width = linears[-1][1].in_features
    return tuple(name for name, m in linears if m.in_features == width)


def _new_linear(old: nn.Linear, out_features: int, generator: torch.Generator) -> nn.Linear:
    new = nn.Linear(old.in_features, out_features, bias=old.bias is not None)
    with torch.no_grad():
        new.weight.copy_(torch.randn(new.weight.shape, generator=generator) * 0.01)
        if new.bias is not None:
            new.bias.zero_()
    return new.to(device=old.weight.device, dtype=old.weight.dtype)


def _set_module(model: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, module)


def _sync_labels(model: nn.Module, classes: tuple[str, ...]) -> None:
    """Keep library bookkeeping in step with the new head (HF configs, timm's num_classes)."""
    for m in model.modules():
        config = getattr(m, "config", None)
        if config is not None and hasattr(config, "id2label"):
            config.id2label = {i: name for i, name in enumerate(classes)}
            config.label2id = {name: i for i, name in enumerate(classes)}
        if isinstance(getattr(m, "num_labels", None), int):
            m.num_labels = len(classes)
        if isinstance(getattr(m, "num_classes", None), int):
            m.num_classes = len(classes)


def replace_head(sm: StageModel, classes: Sequence[str], declared: Sequence[str] = (), seed: int = 0) -> tuple[StageModel, tuple[str, ...]]:
    """(the StageModel with a new head for `classes`, the head paths). The model is changed in place."""
    classes = tuple(str(c) for c in classes)
    if len(classes) < 2:
        raise HeadNotFoundError("A classifier needs at least two classes.")
    paths = find_head_paths(sm.model, len(sm.class_names), declared)
    generator = torch.Generator().manual_seed(int(seed))
    for path in paths:
        _set_module(sm.model, path, _new_linear(sm.model.get_submodule(path), len(classes), generator))
    _sync_labels(sm.model, classes)
    new = StageModel(sm.model, sm.stage_paths, classes, sm.image_size, sm.title, attention=sm.attention)
    check_output(new)
    return new, paths


def check_output(sm: StageModel) -> None:
    """One forward on a blank image must give (1, classes) logits."""
    param = next(sm.model.parameters())
    was_training = sm.model.training
    sm.model.eval()
    try:
        with torch.no_grad():
            out = sm.model(torch.full((1, 3, *sm.image_size), 0.5, device=param.device, dtype=param.dtype))
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise HeadNotFoundError(f"{sm.title or 'The model'} does not run with a new head "
                                f"({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}).") from None
    finally:
        sm.model.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, len(sm.class_names)):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise HeadNotFoundError(f"{sm.title or 'The model'} gives {shape} outputs after its head was replaced, not "
                                f"(1, {len(sm.class_names)}): its classification head was not found.")


def head_parameters(model: nn.Module, head_paths: Sequence[str]) -> list[nn.Parameter]:
    return [p for path in head_paths for p in model.get_submodule(path).parameters()]


def set_trainable(model: nn.Module, head_paths: Sequence[str], mode: str) -> list[nn.Parameter]:
    """mode "all": every parameter trains; "head": only the head's (the rest frozen). Returns what trains."""
    if mode not in MODES:
        raise UserFacingError(f"Unknown fine-tuning mode {mode!r} (use one of {', '.join(MODES)}).")
    head = {id(p) for p in head_parameters(model, head_paths)}
    for p in model.parameters():
        p.requires_grad_(mode == "all" or id(p) in head)
    return [p for p in model.parameters() if p.requires_grad]


def set_train_mode(model: nn.Module, head_paths: Sequence[str], mode: str) -> None:
    """Training mode for what trains: the whole model ("all"); only the head ("head": the frozen body stays in
    eval mode, so its batch-norm statistics and dropout do not change)."""
    model.train(mode == "all")
    for path in head_paths:
        model.get_submodule(path).train(True)

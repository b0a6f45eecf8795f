"""Capture adapter for Hugging Face ``transformers`` ViTs: ViT, DeiT (distillation token), DINOv2 (with or
without register tokens; no classifier). Loaded from a hub id or a local folder with eager attention
(SDPA returns no attention weights) and never with ``trust_remote_code``. What differs between the
families lives in the ``FAMILIES`` table, keyed by the config's ``model_type``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..config_checks import ConfigReader, check_budget, check_module_finite
from ..errors import CheckpointError, WeightsUnavailableError
from ..hf_errors import first_line, load_errors, load_failure, refused_pickle
from ..hub_access import hub_usable, load_cache_first
from .capture import IMAGENET_MEAN, IMAGENET_STD, CapturableViT, Preprocessing, interpolate_grid

HALF = (0.5, 0.5, 0.5)
HF_MAX_PARAMETERS = 2_000_000_000  # DINOv2-giant has 1.1 G; a config asking for more is refused before loading


@dataclass(frozen=True)
class HFFamily:
    classes: tuple[str, ...]  # transformers class names this app accepts, the bare encoder last
    prefix: Callable[[object], tuple[str, ...]]  # config -> names of the non-patch tokens
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolate_kwarg: bool  # forward takes interpolate_pos_encoding=True (DINOv2 always interpolates)


FAMILIES: dict[str, HFFamily] = {
    "vit": HFFamily(("ViTForImageClassification", "ViTModel"), lambda c: ("CLS",), HALF, HALF, True),
    "deit": HFFamily(("DeiTForImageClassificationWithTeacher", "DeiTForImageClassification", "DeiTModel"),
                     lambda c: ("CLS", "DIST"), IMAGENET_MEAN, IMAGENET_STD, True),
    "dinov2": HFFamily(("Dinov2ForImageClassification", "Dinov2Model"), lambda c: ("CLS",),
                       IMAGENET_MEAN, IMAGENET_STD, False),
    "dinov2_with_registers": HFFamily(
        ("Dinov2WithRegistersForImageClassification", "Dinov2WithRegistersModel"),
        lambda c: ("CLS",) + tuple(f"REG{i}" for i in range(c.num_register_tokens)), IMAGENET_MEAN, IMAGENET_STD, False),
}


def _model_class(config) -> type:
    import transformers

    family = FAMILIES[config.model_type]
    wanted = (config.architectures or [None])[0]
    name = wanted if wanted in family.classes else family.classes[-1]
    return getattr(transformers, name)


def encoder_layers(base: nn.Module) -> list[nn.Module]:
    """The transformer blocks, wherever this transformers version keeps them (layers, encoder.layer, ...)."""
    for path in ("layers", "encoder.layer", "encoder.layers"):
        node = base
        for part in path.split("."):
            node = getattr(node, part, None)
        if isinstance(node, nn.ModuleList):
            return list(node)
    raise CheckpointError(f"Can't find the encoder blocks of {type(base).__name__}.")


def _prefix_tokens(config, model: nn.Module) -> tuple[str, ...]:
    names = FAMILIES[config.model_type].prefix(config)
    if config.model_type == "deit" and not hasattr(model.base_model.embeddings, "distillation_token"):
        return ("CLS",)
    return names


class HFViT(CapturableViT):
    def __init__(self, model: nn.Module, key: str, title: str, preprocessing: Preprocessing):
        self.model = model.eval()
        self.config = model.config
        self.family = FAMILIES[self.config.model_type]
        self.key, self.title = key, title
        self._prep = preprocessing
        self._prefix = _prefix_tokens(self.config, model)
        has_classifier = hasattr(model, "classifier") or hasattr(model, "cls_classifier")
        labels = getattr(self.config, "id2label", None) or {}
        self.class_names = tuple(labels[i] for i in range(len(labels))) if has_classifier and labels else None

    @property
    def module(self) -> nn.Module:
        return self.model

    @property
    def patch_size(self) -> int:
        p = self.config.patch_size
        return int(p[0] if isinstance(p, (tuple, list)) else p)

    def preprocessing(self, size: int | None) -> Preprocessing:
        return self._prep if size is None else Preprocessing(size, self._prep.mean, self._prep.std)

    def prefix_tokens(self) -> tuple[str, ...]:
        return self._prefix

    def blocks(self, size: int) -> list[nn.Module]:
        return encoder_layers(self.model.base_model)

    def _kwargs(self) -> dict:
        return {"interpolate_pos_encoding": True} if self.family.interpolate_kwarg else {}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        out = self.model(pixel_values=x, output_attentions=True, **self._kwargs())
        return getattr(out, "logits", None), [a.detach() for a in out.attentions]

    def plain_forward(self, x: torch.Tensor) -> torch.Tensor | None:
        return getattr(self.model(pixel_values=x, **self._kwargs()), "logits", None)

    def embedding_filters(self) -> np.ndarray:
        return self.model.base_model.embeddings.patch_embeddings.projection.weight.detach().float().cpu().numpy()

    def position_embeddings(self, grid: tuple[int, int]) -> np.ndarray:
        pos = self.model.base_model.embeddings.position_embeddings.detach()[0].float().cpu()  # (P + g*g, D)
        g = int(self.config.image_size) // self.patch_size
        return interpolate_grid(pos[pos.shape[0] - g * g:], (g, g), grid).numpy()


def _processor_preprocessing(ref: str, config) -> Preprocessing:
    """Mean, std and crop size from the repository's image processor, else the family's defaults."""
    family = FAMILIES[config.model_type]
    size = int(config.image_size)
    mean, std = family.mean, family.std
    try:
        from transformers import AutoImageProcessor

        proc = AutoImageProcessor.from_pretrained(ref, trust_remote_code=False,
                                                  local_files_only=Path(ref).is_dir() or not hub_usable())
        mean, std = tuple(proc.image_mean), tuple(proc.image_std)
        crop = getattr(proc, "crop_size", None) or getattr(proc, "size", None) or {}
        size = int(crop.get("height") or crop.get("shortest_edge") or size)
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        pass  # no usable image processor: the family's defaults
    if not 1 <= size <= 4096:
        size = int(config.image_size)
    return Preprocessing(size, mean, std)


def _check_config(config, ref: str) -> None:
    """The sizes in a config.json, checked before the model is built (even on the meta device)."""
    r = ConfigReader(config.to_dict(), f"'{ref}'")
    r.integer("num_hidden_layers", 1, 128)
    r.integer("hidden_size", 1, 16384)
    r.integer("num_attention_heads", 1, 256)
    r.integer("intermediate_size", 1, 65536, 1)
    r.integer("num_register_tokens", 0, 256, 0)
    r.integer("num_channels", 1, 16, 3)
    for name, hi in (("image_size", 4096), ("patch_size", 1024)):
        r.ints(name, 1, hi, 1, 2) if isinstance(getattr(config, name), (list, tuple)) else r.integer(name, 1, hi)
    r.require(len(getattr(config, "id2label", None) or {}) <= 100_000, "id2label has more than 100,000 classes.")


def load_hf_vit(ref: str, key: str, device: str = "cpu", progress=None) -> HFViT:
    """A ViT / DeiT / DINOv2 from a hub id (cache first, then download) or a local folder."""
    from transformers import AutoConfig

    ref = ref.strip()
    if not ref:
        raise CheckpointError("Give a Hugging Face model id (e.g. google/vit-base-patch16-224) or a local folder.")
    local = Path(ref).expanduser()
    is_dir = local.is_dir()
    src = str(local) if is_dir else ref
    if progress:
        progress(None, f"Loading {ref}")
    try:
        config = load_cache_first(AutoConfig.from_pretrained, src, ref, is_dir)  # not cached: download (internet)
    except OSError as exc:
        if is_dir:
            raise CheckpointError(f"The folder '{ref}' has no readable config.json ({first_line(exc)}).") from None
        raise WeightsUnavailableError(
            f"Could not load '{ref}' from Hugging Face: not a local model folder, not in the cache, and not "
            f"downloadable now (offline?). {str(exc).splitlines()[0]}") from exc
    except load_errors() as exc:  # a config.json with wrong types or values
        raise load_failure(exc, ref, "ViT") from None
    if config.model_type not in FAMILIES:
        raise CheckpointError(f"'{ref}' is a '{config.model_type}' model; the Attention tab reads "
                              f"{', '.join(sorted(FAMILIES))}.")
    try:
        cls = _model_class(config)
        _check_config(config, ref)
        check_budget(lambda: cls(config), f"'{ref}'", HF_MAX_PARAMETERS)  # on the meta device: no memory
    except load_errors() as exc:
        raise load_failure(exc, ref, "ViT") from None
    try:
        model = load_cache_first(cls.from_pretrained, src, ref, is_dir, attn_implementation="eager")
    except OSError as exc:
        if refused_pickle(exc):
            raise load_failure(exc, ref, "ViT") from None
        raise WeightsUnavailableError(f"The weights of '{ref}' are not available: {first_line(exc)}") from None
    except load_errors() as exc:  # a pickled pytorch_model.bin, weights that do not fit config.json, ...
        raise load_failure(exc, ref, "ViT") from None
    check_module_finite(model, f"'{ref}'")
    title = f"{cls.__name__.replace('ForImageClassification', '')}: {local.name if is_dir else ref}"
    try:
        return HFViT(model.to(device), key, title, _processor_preprocessing(src, config))
    except load_errors() as exc:  # e.g. id2label without every class index, patch_size 0
        raise load_failure(exc, ref, "ViT") from None

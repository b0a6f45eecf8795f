"""Hugging Face transformers classifiers in the Compare tab (task "compare"): ConvNeXt, Swin, CvT, PVT-v2,
MobileViT and ViT, from a hub id (the local cache first, downloaded only when online) or a folder saved
with ``save_pretrained``. ``trust_remote_code`` is always False; models with attention load with eager
attention so their weights can be read (ViT's rollout). Each loader returns a StageModel.

What differs between the families lives in ``HF_MODELS``: the transformers class, the accepted
``model_type`` values, where the stages are (a module list, optionally the last block inside each stage:
Swin's and CvT's stage modules return the map after the next stage's downsampling, or without the CLS
token that carries the class), and how attention is read for rollout (or why it cannot be).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..config_checks import ConfigReader, check_budget, check_module_finite
from ..errors import CheckpointError, WeightsUnavailableError
from ..hf_errors import first_line, load_errors, load_failure, refused_pickle
from ..hub_access import hub_usable, load_cache_first
from ..registry import ModelSource, ModelSpec, SourceKind, register
from .rollout_capture import AttentionCapture, HFOutputAttentions, NoRollout
from .stages import StageModel, trace_stages

HF_MAX_PARAMETERS = 1_000_000_000
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    size: tuple[int, int]  # (H, W) the model runs at
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    flip_channels: bool = False  # MobileViT's processor feeds BGR


class HFClassifier(nn.Module):
    """(B, 3, H, W) in [0, 1] -> logits (B, classes): the processor's normalisation in front of a
    transformers classifier, ``.logits`` taken out. While a rollout capture sets ``attention_sink``, the
    model is asked for its attentions and they are handed to the sink."""

    def __init__(self, net: nn.Module, prep: Preprocessing):
        super().__init__()
        self.net = net
        self.flip_channels = prep.flip_channels
        self.attention_sink = None
        self.register_buffer("mean", torch.tensor(prep.mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(prep.std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        if self.flip_channels:
            x = x.flip(1)  # RGB -> BGR
        if self.attention_sink is None:
            return self.net(pixel_values=x).logits
        out = self.net(pixel_values=x, output_attentions=True)
        self.attention_sink(out.attentions)  # one (B, heads, N, N) per block
        return out.logits


@dataclass(frozen=True)
class HFEntry:
    key: str
    title: str
    family: str  # "cnn" | "vit" | "hybrid"
    class_name: str  # the transformers class
    model_types: tuple[str, ...]  # config.model_type values this entry reads
    default_ref: str
    stage_lists: tuple[str, ...]  # candidate paths of the stage list (transformers versions differ)
    inner: str = ""  # a list inside each stage whose last block is the stage's output
    has_attention: bool = True  # load with attn_implementation="eager"
    attention: AttentionCapture = AttentionCapture()
    description: str = ""


SWIN_NOTE = ("Attention rollout is not defined for Swin: it attends within shifted local windows, never over "
             "the whole image at once. Use Grad-CAM.")
PVT_NOTE = ("Attention rollout is not defined for PVT: its queries attend to a spatially reduced set of keys and "
            "its token grid shrinks stage by stage. Use Grad-CAM.")
CVT_NOTE = ("Attention rollout is not defined for CvT: its token grid shrinks stage by stage (convolutional "
            "token embeddings) and its keys are strided convolutions. Use Grad-CAM.")
MOBILEVIT_NOTE = ("Attention rollout is not defined for MobileViT: its transformers run inside convolution "
                  "stages on unfolded patches (the pixels at the same place of every patch attend to each other), "
                  "with no CLS token to follow. Use Grad-CAM.")

HF_MODELS = (
    HFEntry("compare/hf-convnext", "ConvNeXt (Hugging Face)", "cnn", "ConvNextForImageClassification", ("convnext",),
            "facebook/convnext-tiny-224", ("convnext.encoder.stages",), has_attention=False,
            description="transformers ConvNeXt (Liu et al. 2022): a CNN modernised with 7x7 depthwise convolutions."),
    HFEntry("compare/hf-swin", "Swin (Hugging Face)", "vit", "SwinForImageClassification", ("swin",),
            "microsoft/swin-tiny-patch4-window7-224", ("swin.encoder.layers",), "blocks",
            attention=NoRollout(SWIN_NOTE, windowed=True),
            description="transformers Swin Transformer: shifted-window attention in a 4-stage pyramid."),
    HFEntry("compare/hf-cvt", "CvT (Hugging Face; hybrid)", "hybrid", "CvtForImageClassification", ("cvt",),
            "microsoft/cvt-13", ("cvt.encoder.stages",), "layers", attention=NoRollout(CVT_NOTE),
            description="transformers CvT: convolutional token embeddings and convolutional Q/K/V projections."),
    HFEntry("compare/hf-pvt-v2", "PVT-v2 (Hugging Face)", "vit", "PvtV2ForImageClassification", ("pvt_v2",),
            "OpenGVLab/pvt_v2_b0", ("pvt_v2.encoder.layers",), attention=NoRollout(PVT_NOTE),
            description="transformers Pyramid Vision Transformer v2: a 4-stage token pyramid."),
    HFEntry("compare/hf-mobilevit", "MobileViT (Hugging Face; hybrid)", "hybrid", "MobileViTForImageClassification",
            ("mobilevit",), "apple/mobilevit-small", ("mobilevit.encoder.layer",), attention=NoRollout(MOBILEVIT_NOTE),
            description="transformers MobileViT: MobileNet blocks with transformers over unfolded patches."),
    HFEntry("compare/hf-vit", "ViT (Hugging Face)", "vit", "ViTForImageClassification", ("vit",),
            "google/vit-base-patch16-224", ("vit.layers", "vit.encoder.layer", "vit.encoder.layers"),
            attention=HFOutputAttentions(), description="transformers ViT: a CLS token and global attention from block 1."),
)


def stage_paths(model: nn.Module, lists: tuple[str, ...], inner: str = "") -> tuple[str, ...]:
    """Paths of the stages: each element of the first stage list found, or the last block of its `inner` list."""
    for path in lists:
        try:
            stages = model.get_submodule(path)
        except AttributeError:
            continue
        out = []
        for i, stage in enumerate(stages):
            blocks = stage.get_submodule(inner) if inner else None
            out.append(f"{path}.{i}" + (f".{inner}.{len(blocks) - 1}" if blocks is not None else ""))
        if out:
            return tuple(out)
    raise CheckpointError(f"Can't find the stages of {type(model).__name__} (looked for {', '.join(lists)}).")


def _size(value) -> tuple[int, int] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (int(value[0]), int(value[1]))
    return None


def preprocessing(src: str, config, is_dir: bool) -> Preprocessing:
    """Size, mean, std (and channel order) from the repository's image processor, else from the config
    (size) and ImageNet's statistics."""
    size = _size(getattr(config, "image_size", None)) or (224, 224)
    mean, std, flip = IMAGENET_MEAN, IMAGENET_STD, False
    try:
        from transformers import AutoImageProcessor

        proc = AutoImageProcessor.from_pretrained(src, trust_remote_code=False,
                                                  local_files_only=is_dir or not hub_usable())
    except (OSError, ValueError, AttributeError, TypeError, KeyError, ImportError):
        proc = None  # no usable processor (a folder saved without one): the config's size, ImageNet statistics
    if proc is not None:
        if getattr(proc, "do_normalize", False) and getattr(proc, "image_mean", None) is not None:
            mean, std = tuple(float(v) for v in proc.image_mean), tuple(float(v) for v in proc.image_std)
        else:  # e.g. MobileViT: pixels in [0, 1] as they are
            mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        flip = bool(getattr(proc, "do_flip_channel_order", False))
        crop = getattr(proc, "crop_size", None) if getattr(proc, "do_center_crop", False) else None
        crop = crop or getattr(proc, "size", None) or {}
        crop = crop if isinstance(crop, dict) else dict(crop)
        h = crop.get("height") or crop.get("shortest_edge")
        w = crop.get("width") or crop.get("shortest_edge")
        if isinstance(h, int) and isinstance(w, int):
            size = (h, w)
    if not all(8 <= s <= 2048 for s in size) or len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise CheckpointError(f"'{src}': the image size or normalisation in its config is not usable ({size}).")
    return Preprocessing(size, mean, std, flip)


def _check_config(config, ref: str) -> None:
    r = ConfigReader(config.to_dict(), f"'{ref}'")
    r.integer("num_channels", 3, 3, 3)
    value = getattr(config, "image_size", None)
    if isinstance(value, (list, tuple)):
        r.ints("image_size", 8, 2048, 2, 2)
    else:
        r.integer("image_size", 8, 2048, 224)
    r.require(len(getattr(config, "id2label", None) or {}) <= 100_000, "id2label has more than 100,000 classes.")


def _config(entry: HFEntry, src: str, ref: str, is_dir: bool):
    from transformers import AutoConfig

    try:
        config = load_cache_first(AutoConfig.from_pretrained, src, ref, is_dir)
    except OSError as exc:
        if is_dir:
            raise CheckpointError(f"The folder '{ref}' has no readable config.json ({first_line(exc)}).") from None
        raise WeightsUnavailableError(
            f"Could not load '{ref}' from Hugging Face: not a local model folder, not in the cache, and not "
            f"downloadable now (offline?). {first_line(exc)}") from None
    except load_errors() as exc:  # a config.json with wrong types or values
        raise load_failure(exc, ref, entry.title) from None
    if getattr(config, "model_type", None) not in entry.model_types:
        raise CheckpointError(f"'{ref}' is a '{getattr(config, 'model_type', '?')}' model; the {entry.title} entry "
                              f"reads {', '.join(entry.model_types)} models.")
    return config


def load_hf_classifier(entry: HFEntry, ref: str, device: str = "cpu", progress=None) -> StageModel:
    """The entry's classifier from a hub id (cache first, then download) or a folder saved with save_pretrained."""
    try:
        import transformers
    except ImportError as exc:
        raise WeightsUnavailableError("transformers is not installed: pip install 'vision-explorer[hf]'.") from exc
    ref = (ref or entry.default_ref).strip()
    local = Path(ref).expanduser()
    is_dir = local.is_dir()
    if not is_dir and (local.exists() or ref.startswith(("/", "~", ".", "\\")) or ref.count("/") > 1):
        raise CheckpointError(f"'{ref}' is not a model folder (a folder saved with save_pretrained, holding "
                              "config.json and model.safetensors) nor a Hugging Face id.")
    src = str(local) if is_dir else ref
    if progress:
        progress(None, f"Loading {ref}")
    config = _config(entry, src, ref, is_dir)
    cls = getattr(transformers, entry.class_name)
    kwargs = {"attn_implementation": "eager"} if entry.has_attention else {}
    try:
        _check_config(config, ref)
        check_budget(lambda: cls(config), f"'{ref}'", HF_MAX_PARAMETERS)  # on the meta device: no memory
        net = load_cache_first(cls.from_pretrained, src, ref, is_dir, **kwargs)
    except OSError as exc:
        if refused_pickle(exc):
            raise load_failure(exc, ref, entry.title) from None
        if is_dir:
            raise CheckpointError(f"The folder '{ref}' holds no readable weights ({first_line(exc)}).") from None
        raise WeightsUnavailableError(f"The weights of '{ref}' are not available: {first_line(exc)}") from None
    except load_errors() as exc:  # a pickled pytorch_model.bin, weights that do not fit config.json, ...
        raise load_failure(exc, ref, entry.title) from None
    check_module_finite(net, f"'{ref}'")
    try:
        prep = preprocessing(src, config, is_dir)
        paths = tuple(f"net.{p}" for p in stage_paths(net, entry.stage_lists, entry.inner))
        labels = getattr(config, "id2label", None) or {}
        names = tuple(str(labels.get(i, f"class {i}")) for i in range(int(config.num_labels)))
    except load_errors() as exc:
        raise load_failure(exc, ref, entry.title) from None
    model = HFClassifier(net, prep).to(device).eval()
    title = f"{entry.title.split(' (')[0]}: {local.name if is_dir else ref}"
    return checked_runs(StageModel(model, paths, names, prep.size, title, attention=entry.attention), ref)


def checked_runs(sm: StageModel, ref: str) -> StageModel:
    """The model, after one forward on a blank image has found its stages; a model whose settings load but
    do not run (or whose stages form no grid) gives one clear sentence instead of a library traceback."""
    try:
        trace_stages(sm)
    except (RuntimeError, ValueError, IndexError, TypeError, AttributeError, AssertionError) as exc:
        text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise CheckpointError(f"'{ref}' loads but does not run on a {sm.image_size[0]}x{sm.image_size[1]} image "
                              f"({text}).") from None
    return sm


def _loader(entry: HFEntry):
    def load(source: ModelSource, device: str = "cpu", progress=None) -> StageModel:
        if source.kind != SourceKind.HUGGINGFACE:
            raise CheckpointError(f"{entry.title} loads from a Hugging Face id or folder, not a {source.kind.value} source.")
        return load_hf_classifier(entry, source.ref, device, progress)

    return load


for _entry in HF_MODELS:
    register(ModelSpec(
        key=_entry.key, task="compare", title=_entry.title,
        description=_entry.description + " Weights: the Hugging Face cache, a save_pretrained folder, or downloaded when online.",
        loader=_loader(_entry), default_source=ModelSource(SourceKind.HUGGINGFACE, _entry.default_ref),
        sources=(SourceKind.HUGGINGFACE,),
        capabilities={"family": _entry.family, "bundled": False, "needs_ref": True, "library": "transformers"},
    ))

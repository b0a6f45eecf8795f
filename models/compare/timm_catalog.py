"""timm classifiers in the Compare tab (task "compare"): CoAtNet, ConViT, LeViT and PVT-v2, by name.

Sources of the weights, per registry source kind:
- TIMM: the model name (default the entry's); the pretrained weights come from the Hugging Face cache
  (timm publishes them as ``timm/<name>.<tag>`` repositories), or are downloaded when online;
- CHECKPOINT: a ``.safetensors`` state dict of the entry's model, or a folder saved by timm's
  ``save_for_hf`` (``config.json`` with ``architecture`` and ``model_args``, ``model.safetensors``);
- RANDOM: the architecture with random weights.
Pickled weights are never read (safetensors only). A name or folder of another architecture is refused:
the stage paths and the attention capture belong to the entry's model class.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..config_checks import check_budget
from ..errors import CheckpointError, WeightsUnavailableError
from ..hub_access import require_hub
from ..loading import load_into, load_state_dict_file
from ..registry import ModelSource, ModelSpec, SourceKind, register
from .hf_catalog import checked_runs
from .rollout_capture import AttentionCapture, NoRollout, TimmAttention
from .stages import StageModel

TIMM_MAX_PARAMETERS = 1_000_000_000
# create_model arguments a config.json may not set: they load files or change what create_model does
_REFUSED_ARG_WORDS = ("path", "file", "pretrained", "cache", "checkpoint", "url", "hub", "features", "script", "export")


@dataclass(frozen=True)
class TimmEntry:
    key: str
    title: str
    family: str  # "cnn" | "vit" | "hybrid"
    name: str  # the default timm model name
    model_class: str  # the timm class every accepted name must build
    stage_list: str  # the ModuleList of stages (or blocks)
    attention: AttentionCapture
    description: str


TIMM_MODELS = (
    TimmEntry("compare/timm-coatnet", "CoAtNet-0 (timm; hybrid)", "hybrid", "coatnet_0_rw_224", "MaxxVit", "stages",
              NoRollout("Attention rollout is not defined for CoAtNet: its first stages are convolutions and it "
                        "pools its last map instead of reading a CLS token. Use Grad-CAM."),
              "timm CoAtNet (Dai et al. 2021): MBConv stages with squeeze-excitation, then relative-attention stages (C-C-T-T)."),
    TimmEntry("compare/timm-convit", "ConViT-Ti (timm; hybrid)", "hybrid", "convit_tiny", "ConVit", "blocks",
              TimmAttention(),
              "timm ConViT (d'Ascoli et al. 2021): gated positional self-attention that can start local, CLS token added late."),
    TimmEntry("compare/timm-levit", "LeViT-128S (timm; hybrid)", "hybrid", "levit_128s", "LevitDistilled", "stages",
              NoRollout("Attention rollout is not defined for LeViT: attention downsampling shrinks its token grid "
                        "between stages and it pools instead of reading a CLS token. Use Grad-CAM."),
              "timm LeViT (Graham et al. 2021): a convolutional stem and attention stages that shrink the grid."),
    TimmEntry("compare/timm-pvt-v2", "PVT-v2-B0 (timm)", "vit", "pvt_v2_b0", "PyramidVisionTransformerV2", "stages",
              NoRollout("Attention rollout is not defined for PVT: its queries attend to a spatially reduced set of "
                        "keys and its token grid shrinks stage by stage. Use Grad-CAM."),
              "timm Pyramid Vision Transformer v2 (Wang et al. 2022): a 4-stage token pyramid."),
)


def _timm():
    try:
        import timm
    except ImportError as exc:
        raise WeightsUnavailableError("timm is not installed: pip install 'vision-explorer[timm]'.") from exc
    return timm


def _checked_args(args: object, where: str) -> dict:
    """model_args of a timm config.json: plain JSON values under names that load nothing."""
    if not isinstance(args, dict):
        raise CheckpointError(f"{where}: model_args is not a table of values.")

    def plain(v) -> bool:
        if isinstance(v, (list, tuple)):
            return len(v) <= 64 and all(plain(x) for x in v)
        return v is None or isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= 64)

    for k, v in args.items():
        if not isinstance(k, str) or any(w in k.lower() for w in _REFUSED_ARG_WORDS) or not plain(v):
            raise CheckpointError(f"{where}: the model argument {str(k)[:40]!r} is refused.")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}


def build(entry: TimmEntry, name: str, where: str, **kwargs) -> nn.Module:
    """timm.create_model(name, pretrained=False, **kwargs), checked on the meta device first: a known name
    of the entry's class, within the parameter budget."""
    timm = _timm()
    if not isinstance(name, str) or not timm.is_model(name):
        raise CheckpointError(f"{where}: timm has no model named '{name}' (try {entry.name}).")
    try:
        with torch.device("meta"):
            meta = timm.create_model(name, pretrained=False, **kwargs)
    except (TypeError, ValueError, RuntimeError, AssertionError, KeyError, IndexError, ZeroDivisionError) as exc:
        raise CheckpointError(f"{where}: the model settings do not describe a buildable {name} "
                              f"({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}).") from None
    if type(meta).__name__ != entry.model_class:
        raise CheckpointError(f"{where}: '{name}' is a {type(meta).__name__}; the {entry.title} entry reads "
                              f"{entry.model_class} models (e.g. {entry.name}).")
    check_budget(lambda: meta, where, TIMM_MAX_PARAMETERS)  # counts the meta model's parameters
    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False, **kwargs)


def _hub_weights(model: nn.Module, name: str, progress=None) -> dict[str, torch.Tensor]:
    """The pretrained state dict of a timm model: the Hugging Face cache first, else downloaded."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    hub_id = (getattr(model, "pretrained_cfg", None) or {}).get("hf_hub_id")
    if not hub_id:
        raise WeightsUnavailableError(f"timm publishes no Hugging Face weights for '{name}'.")
    filename = "model.safetensors"
    cached = try_to_load_from_cache(hub_id, filename)
    if not isinstance(cached, str):
        require_hub(hub_id)  # offline: one clear sentence now
        if progress:
            progress(None, f"Downloading {hub_id}")
        try:
            cached = hf_hub_download(hub_id, filename)
        except OSError as exc:  # the hub's errors (not found, connection) are OSErrors
            raise WeightsUnavailableError(f"The weights of timm '{name}' ({hub_id}) could not be downloaded "
                                          f"({str(exc).splitlines()[0][:120]}).") from None
    return load_state_dict_file(cached)


def _folder(entry: TimmEntry, folder: Path) -> tuple[nn.Module, dict]:
    """A folder saved by timm's save_for_hf: (model with its weights, its pretrained_cfg)."""
    where = f"'{folder}'"
    config_file = folder / "config.json"
    try:
        cfg = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"The folder {where} has no config.json (save a timm model with save_for_hf).") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{where}: config.json is not readable JSON ({type(exc).__name__}).") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("architecture"), str):
        raise CheckpointError(f"{where}: config.json names no timm architecture.")
    pretrained_cfg = cfg.get("pretrained_cfg") if isinstance(cfg.get("pretrained_cfg"), dict) else {}
    args = _checked_args(cfg.get("model_args", {}), where)
    num_classes = cfg.get("num_classes", pretrained_cfg.get("num_classes"))
    if num_classes is not None:
        if not isinstance(num_classes, int) or not 1 <= num_classes <= 100_000:
            raise CheckpointError(f"{where}: num_classes={str(num_classes)[:20]} is refused.")
        args["num_classes"] = num_classes
    model = build(entry, cfg["architecture"], where, **args)
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise CheckpointError(f"The folder {where} has no model.safetensors (pickled weights are not read).")
    load_into(model, load_state_dict_file(weights), f"timm {cfg['architecture']}")
    return model, {**pretrained_cfg, **({"input_size": (3, *_pair(args["img_size"]))} if "img_size" in args else {})}


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, float)) else (int(v[0]), int(v[1]))


def _input_size(model: nn.Module, cfg: dict) -> tuple[int, int]:
    size = cfg.get("input_size") or (getattr(model, "pretrained_cfg", None) or {}).get("input_size") or (3, 224, 224)
    try:
        h, w = int(size[-2]), int(size[-1])
    except (TypeError, ValueError, IndexError):
        h = w = 224
    return (h, w) if 8 <= h <= 2048 and 8 <= w <= 2048 else (224, 224)


def class_names(model: nn.Module, cfg: dict) -> tuple[str, ...]:
    n = int(getattr(model, "num_classes", 0) or 0)
    labels = cfg.get("label_names")
    if isinstance(labels, list) and len(labels) == n:
        return tuple(str(v) for v in labels)
    if n == 1000:
        from torchvision.models import ResNet50_Weights  # the same ImageNet-1k classes in the same order

        return tuple(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])
    return tuple(f"class {i}" for i in range(n))


class TimmClassifier(nn.Module):
    """(B, 3, H, W) in [0, 1] -> logits: the model's normalisation in front of a timm classifier."""

    def __init__(self, net: nn.Module, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(tuple(mean), dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(tuple(std), dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def load_timm_classifier(entry: TimmEntry, source: ModelSource, device: str = "cpu", progress=None) -> StageModel:
    ref = source.ref.strip()
    cfg: dict = {}
    if source.kind in (SourceKind.TIMM, SourceKind.RANDOM):
        name = ref or entry.name
        if progress:
            progress(None, f"Loading timm {name}")
        model = build(entry, name, f"timm '{name}'")
        if source.kind == SourceKind.TIMM:
            load_into(model, _hub_weights(model, name, progress), f"timm {name}")
        title = f"{entry.title.split(' (')[0]}: timm {name}" + (" (random weights)" if source.kind == SourceKind.RANDOM else "")
    elif source.kind == SourceKind.CHECKPOINT:
        path = Path(ref).expanduser()
        if path.is_dir():
            model, cfg = _folder(entry, path)
        elif path.suffix == ".safetensors" or not path.exists():
            model = build(entry, entry.name, f"'{path.name}'")
            load_into(model, load_state_dict_file(path), f"timm {entry.name}")
        else:
            raise CheckpointError(f"'{path.name}' is not a .safetensors file or a timm save_for_hf folder "
                                  "(pickled weights are not read).")
        title = f"{entry.title.split(' (')[0]}: {path.name}"
    else:
        raise CheckpointError(f"{entry.title} can't load from a {source.kind.value} source.")
    pcfg = {**(getattr(model, "pretrained_cfg", None) or {}), **cfg}
    try:
        mean = tuple(float(v) for v in pcfg.get("mean", (0.485, 0.456, 0.406)))
        std = tuple(float(v) for v in pcfg.get("std", (0.229, 0.224, 0.225)))
    except (TypeError, ValueError):
        mean = std = ()
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise CheckpointError(f"{title}: its normalisation (mean, std in config.json) is not usable.")
    net = TimmClassifier(model, mean, std).to(device).eval()
    stages = model.get_submodule(entry.stage_list)
    paths = tuple(f"net.{entry.stage_list}.{i}" for i in range(len(stages)))
    sm = StageModel(net, paths, class_names(model, pcfg), _input_size(model, cfg), title, attention=entry.attention)
    return checked_runs(sm, ref or entry.name)


def _loader(entry: TimmEntry):
    def load(source: ModelSource, device: str = "cpu", progress=None) -> StageModel:
        return load_timm_classifier(entry, source, device, progress)

    return load


for _entry in TIMM_MODELS:
    register(ModelSpec(
        key=_entry.key, task="compare", title=_entry.title,
        description=_entry.description + " Weights: the Hugging Face cache or downloaded when online; a .safetensors "
                                         "file or a timm save_for_hf folder; or random.",
        loader=_loader(_entry), default_source=ModelSource(SourceKind.TIMM, _entry.name),
        sources=(SourceKind.TIMM, SourceKind.CHECKPOINT, SourceKind.RANDOM),
        capabilities={"family": _entry.family, "bundled": False, "library": "timm"},
    ))

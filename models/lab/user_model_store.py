"""Fine-tuned classifiers on disk, and in every classification model picker. No Qt.

One folder per fine-tuned model inside the user's folder (the app passes its data folder):

    <out_dir>/<base>-<data folder>-<date>/
        model.safetensors   the whole classifier's weights; metadata: base model key, classes, data size, accuracy
        MODEL_CARD.md       classes, data size, held-out accuracy, base model, date
        hf/                 Hugging Face bases only: save_pretrained (id2label / label2id set) and an image processor,
                            so transformers.pipeline("image-classification", model=".../hf") works

`register_user_models(out_dir)` registers each saved model as a ModelSpec of task "compare" (the app calls it on the
GUI thread at start-up and when a fine-tune result arrives; registering again is harmless). Its loader rebuilds the base
architecture (the base entry's RANDOM source, or its Hugging Face loader on hf/), puts the new head on, and loads
the safetensors strictly. Nothing read from a file is trusted: metadata is checked field by field (a known base
model, 2..10,000 unique class names, counts and accuracy in range, no paths), and the tensors must fit the rebuilt
model exactly and be finite. A broken or crafted file is skipped with a message; the others still register.
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..compare.stages import StageModel
from ..errors import CheckpointError, UserFacingError
from ..loading import atomic_write, load_into, load_state_dict_file, save_safetensors
from ..registry import ModelSource, ModelSpec, SourceKind, get, register, specs_for
from ..safetensors_io import read_metadata
from ..compare import catalog  # noqa: F401  (registers every base classifier)
from .heads import replace_head

FORMAT = "vision-explorer/fine-tuned-classifier"
FORMAT_VERSION = "1"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "MODEL_CARD.md"
HF_DIR = "hf"
KEY_PREFIX = "compare/fine-tuned/"
MAX_CLASSES = 10_000
_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]{0,100}")  # a timm model name: never a path


@dataclass(frozen=True)
class SavedModelInfo:
    """The checked metadata of a fine-tuned model's safetensors file."""

    base_model: str  # registry key of the base classifier
    base_ref: str  # a model name to rebuild it by (timm), else ""
    classes: tuple[str, ...]
    train_images: int
    held_out_images: int
    held_out_accuracy: float | None
    mode: str  # "all" | "head"
    steps: int
    created: str  # ISO date and time (UTC)
    data_name: str  # the training folder's name

    def to_metadata(self) -> dict[str, str]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "base_model": self.base_model,
                "base_ref": self.base_ref, "classes": json.dumps(list(self.classes)),
                "train_images": str(self.train_images), "held_out_images": str(self.held_out_images),
                "held_out_accuracy": "" if self.held_out_accuracy is None else f"{self.held_out_accuracy:.6f}",
                "mode": self.mode, "steps": str(self.steps), "created": self.created, "data_name": self.data_name}


@dataclass(frozen=True)
class UserModelScan:
    registered: tuple[str, ...]  # registry keys
    skipped: tuple[str, ...]  # one message per folder that could not be used


def _clean_text(value: object, what: str, where: str, most: int) -> str:
    if not isinstance(value, str) or len(value) > most or any(ord(ch) < 32 for ch in value):
        raise CheckpointError(f"{where}: the {what} is refused (text of at most {most} printable characters).")
    return value


def _int(meta: dict, key: str, lo: int, hi: int, where: str) -> int:
    text = meta.get(key)
    if not isinstance(text, str) or not re.fullmatch(r"\d{1,12}", text) or not lo <= int(text) <= hi:
        raise CheckpointError(f"{where}: '{key}' is refused ({str(text)[:20]!r}; a whole number from {lo} to {hi:,}).")
    return int(text)


def parse_metadata(meta: dict[str, str], where: str) -> SavedModelInfo:
    """The checked SavedModelInfo of a metadata table; CheckpointError naming the bad field."""
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{where} is not a fine-tuned classifier saved by this app.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{where}: format version {str(meta.get('format_version'))[:10]!r} is not known.")
    base = _clean_text(meta.get("base_model"), "base model", where, 200)
    try:
        spec = get(base)
    except KeyError:
        raise CheckpointError(f"{where}: its base model '{base}' is not available in this app.") from None
    if spec.task != "compare" or base.startswith(KEY_PREFIX):
        raise CheckpointError(f"{where}: '{base}' is not a base classifier.")
    ref = _clean_text(meta.get("base_ref", ""), "base model name", where, 100)
    if not _NAME_RE.fullmatch(ref):
        raise CheckpointError(f"{where}: the base model name is refused (a name, never a path).")
    try:
        classes = json.loads(meta.get("classes", ""))
    except (ValueError, TypeError):
        raise CheckpointError(f"{where}: 'classes' is not a JSON list.") from None
    if (not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES
            or any(not isinstance(c, str) or not 0 < len(c) <= 200 for c in classes) or len(set(classes)) != len(classes)):
        raise CheckpointError(f"{where}: 'classes' is refused (2 to {MAX_CLASSES:,} different names).")
    acc_text = meta.get("held_out_accuracy", "")
    accuracy = None
    if acc_text != "":
        try:
            accuracy = float(acc_text)
        except (TypeError, ValueError):
            accuracy = math.nan
        if not math.isfinite(accuracy) or not 0.0 <= accuracy <= 1.0:
            raise CheckpointError(f"{where}: 'held_out_accuracy' is refused ({str(acc_text)[:20]!r}).")
    mode = meta.get("mode")
    if mode not in ("all", "head"):
        raise CheckpointError(f"{where}: 'mode' is refused.")
    return SavedModelInfo(base, ref, tuple(classes), _int(meta, "train_images", 1, 100_000_000, where),
                          _int(meta, "held_out_images", 0, 100_000_000, where), accuracy, mode,
                          _int(meta, "steps", 1, 100_000_000, where),
                          _clean_text(meta.get("created", ""), "date", where, 40),
                          _clean_text(meta.get("data_name", ""), "data folder name", where, 200))


def read_info(weights: str | Path) -> SavedModelInfo:
    weights = Path(weights)
    return parse_metadata(read_metadata(weights), f"'{weights.parent.name}/{weights.name}'")


def _slug(text: str, most: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:most] or "model"


def short_title(spec: ModelSpec) -> str:
    return spec.title.split(" (")[0]


def title_for(info: SavedModelInfo) -> str:
    name = info.data_name or "your images"
    return f"{short_title(get(info.base_model))} (fine-tuned on {name}, {len(info.classes)} classes)"


def _hf_net(model):
    """The transformers model inside a wrapper (the first submodule with save_pretrained and a config), or None."""
    for m in model.modules():
        if callable(getattr(m, "save_pretrained", None)) and getattr(m, "config", None) is not None:
            return m
    return None


def _save_hf(sm: StageModel, folder: Path) -> None:
    """save_pretrained plus an image processor that resizes and normalises as the app does."""
    import transformers

    net = _hf_net(sm.model)
    net.save_pretrained(str(folder))
    mean = [float(v) for v in getattr(sm.model, "mean", [0.485, 0.456, 0.406]).flatten().tolist()]
    std = [float(v) for v in getattr(sm.model, "std", [0.229, 0.224, 0.225]).flatten().tolist()]
    h, w = sm.image_size
    if getattr(sm.model, "flip_channels", False):  # BGR models (MobileViT) read pixels in [0, 1], channels flipped
        proc = transformers.MobileViTImageProcessor(do_resize=True, size={"height": h, "width": w}, resample=2,
                                                    do_center_crop=False, do_flip_channel_order=True)
    else:
        proc = transformers.ViTImageProcessor(do_resize=True, size={"height": h, "width": w}, resample=2,
                                              do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
                                              image_mean=mean, image_std=std)
    proc.save_pretrained(str(folder))


def model_card(info: SavedModelInfo, title: str) -> str:
    acc = "not measured (no held-out images)" if info.held_out_accuracy is None else f"{info.held_out_accuracy:.1%}"
    classes = "\n".join(f"- {c}" for c in info.classes)
    return (f"# {title}\n\n"
            f"Fine-tuned in Vision Explorer on {info.created}.\n\n"
            f"- Base model: `{info.base_model}` ({short_title(get(info.base_model))})\n"
            f"- Data: the folder '{info.data_name}': {info.train_images:,} training images, "
            f"{info.held_out_images:,} held-out images\n"
            f"- Training: {info.steps:,} steps, {'all layers' if info.mode == 'all' else 'the new head only'}\n"
            f"- Held-out accuracy: {acc}\n\n"
            f"## Classes ({len(info.classes)})\n\n{classes}\n\n"
            "## Limits\n\nMeasured on images held out from the same folder: expect lower accuracy on images "
            "unlike these. Stub card: add where the data came from and what the model must not be used for.\n")


def save_fine_tuned(sm: StageModel, info: SavedModelInfo, out_dir: str | Path) -> tuple[Path, Path, Path | None]:
    """(weights path, card path, hf folder or None). The weights file is written last: a folder without it is
    an unfinished save and is never registered."""
    base_spec = get(info.base_model)
    root = Path(out_dir).expanduser()
    stem = f"{_slug(short_title(base_spec))}-{_slug(info.data_name)}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    folder, n = root / stem, 1
    while folder.exists():
        n += 1
        folder = root / f"{stem}-{n}"
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise UserFacingError(f"Could not save the fine-tuned model in '{root}': {exc.strerror or exc}.") from None
    hf_dir = None
    if _hf_net(sm.model) is not None:
        hf_dir = folder / HF_DIR
        try:
            _save_hf(sm, hf_dir)
        except OSError as exc:
            raise UserFacingError(f"Could not save the Hugging Face copy in '{hf_dir}': {exc}.") from None
    card = atomic_write(folder / CARD_FILE, lambda tmp: Path(tmp).write_text(model_card(info, title_for(info)), "utf-8"))
    weights = save_safetensors(sm.model, folder / WEIGHTS_FILE, info.to_metadata())
    return weights, card, hf_dir


def load_fine_tuned(weights: str | Path, device: str = "cpu", progress=None) -> StageModel:
    """Rebuild the base architecture with the new head and load the saved weights (strict, finite)."""
    weights = Path(weights)
    info = read_info(weights)
    spec = get(info.base_model)
    hf_dir = weights.parent / HF_DIR
    if hf_dir.is_dir() and SourceKind.HUGGINGFACE in spec.sources:
        source = ModelSource(SourceKind.HUGGINGFACE, str(hf_dir))
    elif SourceKind.RANDOM in spec.sources:
        source = ModelSource(SourceKind.RANDOM, info.base_ref)
    else:
        raise CheckpointError(f"'{weights.parent.name}': its base model {spec.title} can't be rebuilt offline.")
    sm = spec.load(source, "cpu", progress)
    if tuple(sm.class_names) != info.classes:
        sm, _ = replace_head(sm, info.classes, tuple(spec.capabilities.get("head_paths", ())))
    load_into(sm.model, load_state_dict_file(weights), title_for(info))
    return StageModel(sm.model.to(device).eval(), sm.stage_paths, info.classes, sm.image_size, title_for(info),
                      attention=sm.attention)


def key_for(weights: str | Path) -> str:
    """The registry key of a saved fine-tuned model (its folder's name under KEY_PREFIX)."""
    return KEY_PREFIX + Path(weights).parent.name


def register_saved(weights: str | Path) -> ModelSpec:
    """Register one saved fine-tuned model (metadata checked now, tensors when it is loaded)."""
    weights = Path(weights)
    info = read_info(weights)
    base = get(info.base_model)
    key = key_for(weights)
    title = title_for(info)
    if any(s.title == title and s.key != key for s in specs_for("compare")):  # the same base and folder again
        title = f"{title[:-1]}, {info.created})"

    def load(source: ModelSource, device: str = "cpu", progress=None) -> StageModel:
        picked = Path(source.ref) if source.kind == SourceKind.CHECKPOINT and source.ref else weights
        return load_fine_tuned(picked, device, progress)

    acc = "" if info.held_out_accuracy is None else f", {info.held_out_accuracy:.0%} held-out accuracy"
    return register(ModelSpec(
        key=key, task="compare", title=title,
        description=f"{short_title(base)} fine-tuned in this app on '{info.data_name}' ({info.train_images:,} "
                    f"training images{acc}, {info.created}). Saved in {weights.parent}.",
        loader=load, default_source=ModelSource(SourceKind.CHECKPOINT, str(weights)), sources=(SourceKind.CHECKPOINT,),
        capabilities={**{k: v for k, v in base.capabilities.items() if k in ("family", "input_size", "library")},
                      "bundled": False, "fine_tuned": True, "base_model": info.base_model,
                      "class_names": info.classes, "folder": str(weights.parent)},
    ))


def register_user_models(folder: str | Path) -> UserModelScan:
    """Register every fine-tuned model saved in `folder` (one sub-folder each); broken ones are skipped with a
    message. A missing folder registers nothing."""
    root = Path(folder).expanduser()
    registered, skipped = [], []
    try:
        subs = sorted(p for p in root.iterdir() if p.is_dir() and (p / WEIGHTS_FILE).is_file())
    except OSError:
        return UserModelScan((), ())
    for sub in subs:
        try:
            registered.append(register_saved(sub / WEIGHTS_FILE).key)
        except UserFacingError as exc:
            skipped.append(f"{sub.name}: {exc}")
    return UserModelScan(tuple(registered), tuple(skipped))

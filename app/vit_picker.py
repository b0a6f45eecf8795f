"""The ViT model picker's data and its link to the shared ViT session (used by the Attention and Patches tabs).

``model_entries(specs)`` turns the registry's ViT specs into the plain ``ModelEntry`` values that
``widgets.model_picker.ModelPicker`` shows (what each weights source needs is data here, not branches in
the widget). The registry is read on the worker thread (``list_vit_models``, where torch is imported),
once per window (``ViTModelList``). ``PickerLink`` keeps one picker and the ViT session in step: the
picker's choice goes to the session, and the session's model, busy state and failures show in the picker.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from widgets.model_picker import ModelEntry, ModelPicker, PickedModel, SourceOption

from .context import AppContext
from .vit_session import ViTSession

WEIGHT_SUFFIXES = (".pt", ".pth", ".safetensors", ".bin")
# what each registry SourceKind value needs in the picker
SOURCE_OPTIONS: dict[str, SourceOption] = {
    "bundled": SourceOption("bundled", "Bundled weights (offline)"),
    "torchvision": SourceOption("torchvision", "Pretrained (torch hub cache or download)"),
    "huggingface": SourceOption(
        "huggingface", "Hugging Face id or local folder", needs_ref=True, browse="folder",
        hint="e.g. google/vit-base-patch16-224, facebook/deit-small-distilled-patch16-224, facebook/dinov2-small"),
    "timm": SourceOption("timm", "timm pretrained (cache or download)", needs_ref=True,
                         hint="a timm model name, e.g. vit_small_patch16_224"),
    "checkpoint": SourceOption("checkpoint", "Checkpoint file (.safetensors / .pt)", needs_ref=True, browse="file",
                               hint="path to a .safetensors or .pt state dict", ref_suffixes=WEIGHT_SUFFIXES,
                               file_filter="Weights (*.safetensors *.pt *.pth *.bin);;All files (*)"),
    "random": SourceOption("random", "Random weights", hint="a timm model name, e.g. vit_tiny_patch16_224"),
}


def model_entries(specs) -> tuple[ModelEntry, ...]:
    """Registry specs -> picker entries. A spec with capability needs_ref needs an id for every source."""
    entries = []
    for spec in specs:
        spec_needs = bool(spec.capabilities.get("needs_ref"))
        options = []
        for kind in spec.sources:
            base = SOURCE_OPTIONS.get(kind.value, SourceOption(kind.value, kind.value))
            options.append(SourceOption(base.kind, base.text, base.needs_ref or spec_needs, base.hint, base.browse,
                                        base.file_filter, base.ref_suffixes))
        entries.append(ModelEntry(spec.key, spec.title, spec.description, tuple(options),
                                  spec.default_source.kind.value, spec.default_source.ref))
    return tuple(entries)


def list_vit_models(ctx) -> tuple[ModelEntry, ...]:
    """Job: the registered ViTs as picker entries (imported on the worker thread, where torch is loaded)."""
    from models.registry import specs_for
    from models.vit import specs  # noqa: F401  (registers the ViT models)

    return model_entries(specs_for("vit"))


def describe_result(res) -> str:
    """One line about a ViTForwardResult: input, patches, layers x heads, extra tokens."""
    gh, gw = res.grid
    h, w = res.image.shape[:2]
    prefix = ", ".join(res.prefix_tokens) if res.prefix_tokens else "none"
    return (f"{res.model_title}: {w}x{h} px input, {gh}x{gw} patches of {res.patch_size} px, "
            f"{res.num_layers} layers x {res.num_heads} heads, extra tokens: {prefix}")


class ViTModelList(QObject):
    """The picker entries, listed once per window on the worker thread; `ready` fires when they are there."""

    ready = Signal(object)  # tuple[ModelEntry, ...]

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.entries: tuple[ModelEntry, ...] | None = None
        ctx.worker.submit(list_vit_models, channel="vit-specs", title="Listing ViT models", on_result=self._on_entries)

    def _on_entries(self, entries) -> None:
        self.entries = tuple(entries)
        self.ready.emit(self.entries)


def shared_model_list(ctx: AppContext) -> ViTModelList:
    return ctx.service("vit_model_list", lambda: ViTModelList(ctx))


class PickerLink(QObject):
    """Keeps `picker` and the ViT `session` in step (one link per picker; both tabs' pickers show the same model)."""

    def __init__(self, ctx: AppContext, session: ViTSession, picker: ModelPicker) -> None:
        super().__init__(picker)
        self.session, self.picker = session, picker
        models = shared_model_list(ctx)
        models.ready.connect(self._on_entries)
        if models.entries is not None:
            self._on_entries(models.entries)
        picker.picked.connect(self._on_picked)
        session.model_changed.connect(self._on_model_changed)
        session.busy_changed.connect(self._on_busy)
        session.failed.connect(self._on_failed)
        session.result_ready.connect(self._on_result)
        if session.result is not None:
            self._on_result(session.result)
        elif session.is_busy():
            self._on_busy(True)

    def current_choice(self) -> PickedModel:
        c = self.session.choice
        return PickedModel(c.key, c.source_kind or "", c.ref, c.input_size)

    @Slot(object)
    def _on_entries(self, entries) -> None:
        self.picker.set_models(entries, self.current_choice())

    @Slot(object)
    def _on_picked(self, picked: PickedModel) -> None:
        self.session.set_model(picked.key, picked.kind, picked.ref, picked.input_size)

    @Slot(str)
    def _on_model_changed(self, label: str) -> None:
        self.picker.set_choice(self.current_choice())
        self.picker.set_status(f"Chosen: {label}")

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.picker.set_busy(busy)
        if busy:
            self.picker.set_status("Loading and running the model...", "busy")
        elif self.session.result is not None and self.picker.status.kind == "busy":
            self.picker.set_status(describe_result(self.session.result))

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.picker.set_status(f"Could not run: {message}", "error")

    @Slot(object)
    def _on_result(self, result) -> None:
        self.picker.set_status(describe_result(result))

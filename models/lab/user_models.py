"""Fine-tune any loaded classifier on the user's own images: the jobs and their results. No Qt.

    index = yield from index_folder_job(ctx, folder)                # models.lab.image_folder
    result = yield from fine_tune_folder_job(ctx, "compare/resnet50", source, index, FineTuneConfig(...),
                                             control, out_dir, device)

The base model (bundled, torchvision, Hugging Face or timm: any "compare" registry entry) is loaded through
the registry (a `Load`), its classification head replaced for the folder's classes (`models.lab.heads`; a
``head_paths`` capability on the entry wins over the generic search), and trained with all layers or the
head only. Partial results: `FineTuneUpdate` (loss, held-out accuracy at each evaluation, unreadable
files skipped so far), at most one per `min_update_s` plus one per evaluation.

Control (`models.lab.control.LabControl`, polled between steps): pause ends the job with `FineTunePaused`,
whose `tuner` is handed to `resume_fine_tune_job` to go on exactly where it stopped; stop finishes now
(final evaluation and save of what was learned); cancelling the job (the worker's cancel) discards the run.

At the end: the held-out confusion matrix, the most confidently wrong held-out images and the model saved
(`models.lab.user_model_store`: safetensors + model card, and save_pretrained for Hugging Face bases):
`FineTuneResult`. The job does not touch the registry (the GUI thread reads it while jobs run): the app calls
`register_user_models(out_dir)` at start-up and when a result arrives, and the model appears in every
classification model picker under `FineTuneResult.model_key`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..compare import catalog  # noqa: F401  (registers every base classifier)
from ..errors import UserFacingError
from ..jobs import JobContext, Load, Progress
from ..registry import ModelSource, SourceKind, get
from .finetune_run import FineTuneConfig, FolderFineTuner, Prediction
from .image_folder import FolderIndex
from .records import CurvePoint
from .user_model_store import SavedModelInfo, key_for, save_fine_tuned, title_for

MOST_CONFUSED = 12

__all__ = ["ConfusedImage", "FineTuneConfig", "FineTunePaused", "FineTuneResult", "FineTuneUpdate",
           "FolderFineTuner", "fine_tune_folder_job", "resume_fine_tune_job"]


@dataclass(frozen=True)
class FineTuneUpdate:
    step: int
    steps: int
    loss: float  # mean training loss since the previous update
    held_out_accuracy: float | None  # set when this update follows an evaluation
    skipped_unreadable: int  # unreadable images met so far (training and held-out)
    seconds: float  # training time so far (evaluation excluded)
    point: CurvePoint | None = None  # the new curve point, with held_out_accuracy


class ConfusedImage(NamedTuple):
    image: np.ndarray  # (H, W, 3) uint8 at the model's input size
    true_class: str
    predicted_class: str
    confidence: float  # probability given to the predicted (wrong) class


@dataclass(frozen=True)
class FineTuneResult:
    classes: tuple[str, ...]
    confusion: np.ndarray  # (C, C) int64: rows true class, columns predicted class (held-out images)
    held_out_accuracy: float | None  # None when no class had two images (nothing held out)
    most_confused: tuple[ConfusedImage, ...]  # the most confidently wrong held-out images, worst first
    saved_path: str  # the .safetensors file
    card_path: str  # MODEL_CARD.md
    skipped_unreadable: int
    model_key: str = ""  # registry key the model gets from register_user_models(out_dir) (call it on the GUI thread)
    title: str = ""
    base_model: str = ""
    hf_folder: str | None = None  # save_pretrained folder (Hugging Face bases)
    steps_done: int = 0
    stopped_early: bool = False
    train_images: int = 0
    held_out_images: int = 0
    curve: tuple[CurvePoint, ...] = ()
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class FineTunePaused:
    tuner: FolderFineTuner  # hand back to resume_fine_tune_job
    step: int
    steps: int
    skipped_unreadable: int


def _flag(control, name: str) -> bool:
    if control is None:
        return False
    value = getattr(control, name, False)
    return bool(value() if callable(value) else value)


def fine_tune_folder_job(ctx: JobContext, model_key: str, source: ModelSource | None, index: FolderIndex,
                         config: FineTuneConfig, control, out_dir: str | Path, device: str | None = None,
                         min_update_s: float = 0.1):
    """Job: load `model_key` (from `source`, default the entry's), fine-tune it on `index` and save it.
    Returns FineTuneResult, or FineTunePaused when paused."""
    config = config.checked()
    spec = get(model_key)
    if spec.task != "compare":
        raise UserFacingError(f"{spec.title} is not an image classifier.")
    device = device or ctx.device
    source = source or spec.default_source
    sm = yield Load(lambda: spec.load(source, device), f"Loading {spec.title}")
    ctx.check_cancelled()
    yield Progress(None, f"Replacing the head of {sm.title or spec.title} for {len(index.classes)} classes")
    tuner = FolderFineTuner(sm, model_key, source, index, config, device,
                            tuple(spec.capabilities.get("head_paths", ())), out_dir)
    return (yield from resume_fine_tune_job(ctx, tuner, control, min_update_s))


def resume_fine_tune_job(ctx: JobContext, tuner: FolderFineTuner, control, min_update_s: float = 0.1):
    """Job: train `tuner` until done (then evaluate and save), paused, stopped or cancelled."""
    steps = tuner.config.steps
    last = time.monotonic()
    stopped = False
    while not tuner.done:
        ctx.check_cancelled()
        if _flag(control, "stop_requested"):
            stopped = True
            break
        if _flag(control, "pause_requested"):
            return FineTunePaused(tuner, tuner.step, steps, tuner.skipped_unreadable)
        tuner.train_step()
        now = time.monotonic()
        if tuner.eval_due:
            point = yield from tuner.evaluate()
            yield FineTuneUpdate(tuner.step, steps, point.loss, point.accuracy, tuner.skipped_unreadable,
                                 tuner.seconds, point)
            tuner.take_update_loss()
            last = time.monotonic()
        elif now - last >= min_update_s or tuner.done:
            yield FineTuneUpdate(tuner.step, steps, tuner.take_update_loss(), None, tuner.skipped_unreadable,
                                 tuner.seconds)
            last = now
    return (yield from _finish(ctx, tuner, stopped))


def _confused(tuner: FolderFineTuner, pred: Prediction) -> tuple[ConfusedImage, ...]:
    wrong = np.flatnonzero(pred.labels != pred.predicted)
    worst = wrong[np.argsort(-pred.confidence[wrong], kind="stable")][:MOST_CONFUSED]
    classes = tuner.index.classes
    out = []
    for i in worst:
        image = tuner.cache.get(pred.paths[i])
        if image is not None:
            out.append(ConfusedImage(image.copy(), classes[pred.labels[i]], classes[pred.predicted[i]],
                                     float(pred.confidence[i])))
    return tuple(out)


def _finish(ctx: JobContext, tuner: FolderFineTuner, stopped: bool):
    if tuner.step == 0:
        raise UserFacingError("Stopped before the first training step: nothing to save.")
    pred = yield from tuner.predict(tuner.split.held_out, "Final evaluation")
    ctx.check_cancelled()
    n = len(tuner.index.classes)
    confusion = np.zeros((n, n), np.int64)
    np.add.at(confusion, (pred.labels, pred.predicted), 1)
    if tuner.split.held_out and (not tuner.curve or tuner.curve[-1].step != tuner.step):
        tuner.curve.append(CurvePoint(tuner.step, pred.accuracy or 0.0, tuner.take_update_loss(), tuner.seconds))
    yield Progress(None, "Saving the fine-tuned model")
    info = SavedModelInfo(
        base_model=tuner.base_key, base_ref=_rebuild_name(tuner.source), classes=tuple(tuner.index.classes),
        train_images=len(tuner.split.train), held_out_images=len(pred.labels), held_out_accuracy=pred.accuracy,
        mode=tuner.config.mode, steps=tuner.step, created=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        data_name=tuner.index.name[:200])
    weights, card, hf_dir = save_fine_tuned(tuner.sm, info, tuner.out_dir)
    notes = list(tuner.index.notes)
    if tuner.skipped_unreadable:
        notes.append(f"Skipped as unreadable, e.g. {tuner.cache.unreadable_examples(1)[0]}.")
    if not tuner.split.held_out:
        notes.append("No class has two images, so nothing was held out: accuracy not measured.")
    if stopped:
        notes.append(f"Stopped at step {tuner.step:,} of {tuner.config.steps:,}.")
    return FineTuneResult(
        classes=tuple(tuner.index.classes), confusion=confusion, held_out_accuracy=pred.accuracy,
        most_confused=_confused(tuner, pred), saved_path=str(weights), card_path=str(card),
        skipped_unreadable=tuner.skipped_unreadable, model_key=key_for(weights), title=title_for(info),
        base_model=tuner.base_key, hf_folder=str(hf_dir) if hf_dir else None, steps_done=tuner.step,
        stopped_early=stopped, train_images=len(tuner.split.train), held_out_images=len(pred.labels),
        curve=tuple(tuner.curve), notes=tuple(notes))


def _rebuild_name(source: ModelSource) -> str:
    """The model name the base is rebuilt by (a timm name for TIMM/RANDOM sources); never a file path."""
    ref = source.ref.strip()
    return ref if source.kind in (SourceKind.TIMM, SourceKind.RANDOM) and "/" not in ref and "\\" not in ref else ""

"""The fine-tune view's state and what it draws, without Qt (unit-tested without a display).

Two parts. *Pretrained vs scratch*: on four new shape classes with 10, 30 or 100 images per class, a bundled
architecture fine-tuned from its bundled weights (all layers or the new head only) races the same
architecture trained from scratch with the same budget; both curves grow live (RunRecord partials tagged
extra["init"]); the shipped results show at once. *Use a folder*: a folder in the ImageFolder layout is
indexed in the worker (progress, cancellable), any Compare classifier is fine-tuned on it with live loss and
held-out accuracy, and the end shows a confusion matrix, the most confused held-out images and where the
model was saved. Every failure becomes a message in the view; nothing else changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable

import numpy as np

from models.lab.records import ARCH_KEYS, RunRecord

from .compare_frames import Curve
from .lab_hunger_frames import ARCH_TITLES

PER_CLASS = (10, 30, 100)
MODES = {"all": "all layers", "head": "new head only"}
COMPARE_STEPS = 150  # the same budget for both runs (models.lab.fine_tune.DEFAULT_STEPS: the shipped results')
INITS = {"pretrained": ("from the bundled weights", "#4cd07d"), "scratch": ("from scratch", "#9aa0a6")}
LESSON = ("Four shape classes these models never saw (pentagon, ellipse, arrow, crescent). The same network either "
          "starts from the weights it learnt on the six bundled shapes (with a new head for the four classes) or from "
          "random weights, with the same steps and batches. The lesson: pretraining wins when data is small, because "
          "the early layers already know edges, corners and curves; with more images per class the gap narrows. "
          "The accuracies above are measured on 400 held-out images.")
FOLDER_HELP = ("Drop a folder here, or choose one: one sub-folder per class (cat/, dog/, ...), any image sizes and "
               "modes. A fifth of each class is held out to measure accuracy. The fine-tuned model is saved and "
               "joins the model pickers.")


class Phase(Enum):
    IDLE = "idle"
    RUNNING = "running"


class FolderPhase(Enum):
    NONE = "none"  # no folder yet
    INDEXING = "indexing"
    READY = "ready"  # indexed: Start fine-tunes
    TRAINING = "training"
    DONE = "done"


@dataclass(frozen=True)
class RaceFrame:
    curves: tuple[Curve, ...]  # pretrained, scratch: x = step, y = held-out accuracy
    result: str  # the final accuracies (or what is running / what is shown)
    source: str  # "shipped" | "live" | "none"


@dataclass(frozen=True)
class FolderControls:
    choose: bool
    start: bool
    cancel: bool
    status: str


@dataclass(frozen=True)
class FolderResultView:
    confusion: np.ndarray  # (C, C) int64: rows true class, columns predicted
    classes: tuple[str, ...]
    gallery: tuple[np.ndarray, ...]  # the most confused held-out images, (H, W, 3) uint8 each
    captions: tuple[str, ...]
    summary: str  # accuracy, skipped files, where the model and its card were saved


class FinetuneSession:
    def __init__(self) -> None:
        # ---- pretrained vs scratch
        self.arch = ARCH_KEYS[0]
        self.per_class = PER_CLASS[0]
        self.mode = "all"
        self.phase = Phase.IDLE
        self.live: dict[str, RunRecord] = {}  # init -> newest record of the running (or last) comparison
        self.live_choice: tuple | None = None  # (arch, per_class, mode) of self.live
        self.shipped: tuple[RunRecord, ...] = ()
        self.race_error = ""
        # ---- a user's folder
        self.folder_phase = FolderPhase.NONE
        self.folder = ""
        self.index: Any = None  # models.lab.image_folder.FolderIndex (opaque here, but for describe())
        self.folder_text = FOLDER_HELP
        self.folder_error = ""
        self.index_progress = ""
        self.loss_points: list[tuple[int, float]] = []
        self.acc_points: list[tuple[int, float]] = []
        self.result: FolderResultView | None = None
        self.saved_paths: tuple[str, ...] = ()

    # ==== pretrained vs scratch ===========================================================================
    def choose(self, arch: str | None = None, per_class: int | None = None, mode: str | None = None) -> None:
        if self.phase == Phase.RUNNING:
            return
        self.arch = arch or self.arch
        self.per_class = per_class or self.per_class
        self.mode = mode or self.mode

    @property
    def choice(self) -> tuple[str, int, str]:
        return (self.arch, self.per_class, self.mode)

    def add_shipped(self, records: Iterable[RunRecord]) -> None:
        self.shipped = tuple(records)

    def start(self) -> tuple | None:
        """Start pressed: the comparison job's arguments (arch, per_class, mode, steps), or None when running."""
        if self.phase == Phase.RUNNING:
            return None
        self.phase = Phase.RUNNING
        self.live, self.live_choice, self.race_error = {}, self.choice, ""
        return (self.arch, self.per_class, self.mode, self.budget())

    def budget(self) -> int:
        """The steps of a comparison: the shipped results' (for the same architecture), else COMPARE_STEPS."""
        steps = [r.spec.steps for r in self.shipped if r.spec.arch == self.arch]
        return max(set(steps), key=steps.count) if steps else COMPARE_STEPS

    def race_update(self, item: Any) -> bool:
        """A partial result of the comparison job: True when it is a run's record (the curves change)."""
        if self.phase != Phase.RUNNING or not isinstance(item, RunRecord):
            return False
        self.live[item.extra.get("init", "scratch")] = item
        return True

    def race_done(self, result: Any) -> None:
        """The job's result: the two final records (a tuple, a dict or one record)."""
        if hasattr(result, "pretrained"):  # models.lab.fine_tune.FineTuneComparison
            result = (result.pretrained, result.scratch)
        items = result.values() if isinstance(result, dict) else result if isinstance(result, (tuple, list)) else (result,)
        for item in items:
            if isinstance(item, RunRecord):
                self.live[item.extra.get("init", "scratch")] = item
        self.phase = Phase.IDLE

    def race_failed(self, message: str) -> None:
        self.phase = Phase.IDLE
        self.race_error = message

    def race_cancelled(self) -> None:
        self.phase = Phase.IDLE
        self.live, self.live_choice = {}, None

    def _shipped_for(self, choice: tuple[str, int, str]) -> dict[str, RunRecord]:
        arch, per_class, mode = choice
        out = {}
        for r in self.shipped:
            n = r.extra.get("per_class")
            same_n = str(per_class) == n if n is not None else r.spec.train_size in (per_class, 4 * per_class)
            init = r.extra.get("init", "scratch")  # scratch trains every layer whatever the mode
            if r.spec.arch == arch and same_n and (init == "scratch" or r.extra.get("mode", "all") == mode):
                out[r.extra.get("init", "scratch")] = r
        return out

    def render_race(self) -> RaceFrame:
        live = self.live if self.live_choice == self.choice or self.phase == Phase.RUNNING else {}
        records, source = (live, "live") if live else (self._shipped_for(self.choice), "shipped")
        if not records:
            source = "none"
        curves = []
        for init, (label, colour) in INITS.items():
            r = records.get(init)
            xs = tuple(p.step for p in r.points) if r else ()
            ys = tuple(p.accuracy for p in r.points) if r else ()
            curves.append(Curve(f"{label}", xs, ys, colour, 2.5, init == "scratch"))
        return RaceFrame(tuple(curves), self._race_text(records, source), source)

    def _race_text(self, records: dict[str, RunRecord], source: str) -> str:
        arch, per_class, mode = self.choice
        what = f"{ARCH_TITLES.get(arch, arch)}, {per_class} images per class, {MODES[mode]}"
        if self.race_error:
            return f"{what}: the comparison failed: {self.race_error}"
        if source == "none":
            return f"{what}: no result yet. Press Start (about a minute on a CPU for 10 images per class)."
        parts = []
        for init, (label, _) in INITS.items():
            r = records.get(init)
            if r is None or not r.points:
                parts.append(f"{label}: waiting")
            else:
                acc = r.points[-1].accuracy * 100
                parts.append(f"{label}: {acc:.1f}%" + ("" if r.finished else f" (step {r.last_step})"))
        head = "Training" if self.phase == Phase.RUNNING else ("Shipped result" if source == "shipped" else "Result")
        return f"{head} - {what}: " + "; ".join(parts)

    # ==== a user's folder ================================================================================
    def folder_chosen(self, path: str) -> bool:
        """A folder was picked or dropped: True when it should be indexed now."""
        if self.folder_phase in (FolderPhase.INDEXING, FolderPhase.TRAINING):
            self.folder_error = "Wait for the current folder to finish (or Cancel it) before choosing another."
            return False
        self.folder, self.folder_phase = path, FolderPhase.INDEXING  # a good index chosen before stays until then
        self.folder_error, self.index_progress = "", "Indexing..."
        return True

    def index_progress_text(self, progress: Any) -> None:
        self.index_progress = getattr(progress, "message", "") or "Indexing..."

    def indexed(self, index: Any) -> None:
        self.index, self.result = index, None
        self.folder_phase = FolderPhase.READY
        notes = " ".join(getattr(index, "notes", ()) or ())
        skipped = getattr(index, "skipped_non_images", 0)
        self.folder_text = index.describe() + (f"; {skipped:,} other files skipped" if skipped else "") + \
            (f". {notes}" if notes else ".")

    def folder_failed(self, message: str) -> None:
        """Indexing or fine-tuning failed: the message shows; a good index chosen before stays usable."""
        self.folder_error = message
        self.folder_phase = FolderPhase.READY if self.index is not None else FolderPhase.NONE

    def folder_cancelled(self) -> None:
        self.folder_phase = FolderPhase.READY if self.index is not None else FolderPhase.NONE
        self.index_progress = ""

    def train_started(self) -> bool:
        if self.folder_phase != FolderPhase.READY:
            return False
        self.folder_phase = FolderPhase.TRAINING
        self.loss_points, self.acc_points, self.result, self.folder_error = [], [], None, ""
        return True

    def train_update(self, upd: Any) -> tuple[tuple[int, float] | None, tuple[int, float] | None]:
        """A FineTuneUpdate: the (step, loss) and (step, held-out accuracy) points to append (None: none)."""
        loss = getattr(upd, "loss", None)
        acc = getattr(upd, "held_out_accuracy", None)
        step = int(getattr(upd, "step", 0))
        lp = (step, float(loss)) if loss is not None and np.isfinite(loss) else None
        ap = (step, float(acc)) if acc is not None else None
        if lp:
            self.loss_points.append(lp)
        if ap:
            self.acc_points.append(ap)
        return lp, ap

    def train_done(self, result: Any) -> FolderResultView:
        """The FineTuneResult: what the page shows at the end."""
        self.folder_phase = FolderPhase.DONE
        classes = tuple(result.classes)
        gallery, captions = [], []
        for image, true, predicted, confidence in result.most_confused:
            gallery.append(np.asarray(image, np.uint8)[..., :3])
            t = classes[true] if isinstance(true, (int, np.integer)) and 0 <= true < len(classes) else str(true)
            p = classes[predicted] if isinstance(predicted, (int, np.integer)) and 0 <= predicted < len(classes) \
                else str(predicted)
            captions.append(f"{t} -> {p} ({float(confidence) * 100:.0f}%)")
        self.saved_paths = tuple(str(p) for p in (result.saved_path, getattr(result, "card_path", "")) if p)
        skipped = getattr(result, "skipped_unreadable", 0)
        acc = result.held_out_accuracy
        summary = ((f"Held-out accuracy {acc * 100:.1f}%" if acc is not None else "Accuracy not measured")
                   + f" on {len(classes)} classes"
                   + (f"; {skipped:,} unreadable files skipped" if skipped else "")
                   + f". Saved to {result.saved_path}" + (f" (model card: {result.card_path})"
                                                          if getattr(result, "card_path", "") else "")
                   + ". It is now in the model pickers." + "".join(f" {n}" for n in getattr(result, "notes", ())))
        self.result = FolderResultView(np.asarray(result.confusion, np.int64), classes, tuple(gallery),
                                       tuple(captions), summary)
        return self.result

    def folder_controls(self) -> FolderControls:
        ph = self.folder_phase
        busy = ph in (FolderPhase.INDEXING, FolderPhase.TRAINING)
        if self.folder_error:
            status = self.folder_error
        elif ph == FolderPhase.INDEXING:
            status = f"{self.folder}: {self.index_progress}"
        elif ph == FolderPhase.TRAINING:
            status = "Fine-tuning..." + (f" step {self.loss_points[-1][0]}" if self.loss_points else "")
        elif ph == FolderPhase.DONE and self.result is not None:
            status = self.result.summary
        else:
            status = self.folder_text
        return FolderControls(choose=not busy, start=ph in (FolderPhase.READY, FolderPhase.DONE) and
                              self.index is not None, cancel=busy, status=status)

    def retrain(self) -> None:
        """Start pressed after a finished fine-tune: the same folder again."""
        if self.folder_phase == FolderPhase.DONE:
            self.folder_phase = FolderPhase.READY

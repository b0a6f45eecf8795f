"""One fine-tuning run of a loaded classifier on a user's folder: the state that survives a pause. No Qt.

`FolderFineTuner` holds the model (its head replaced for the folder's classes), the optimizer, the
stratified split, the decode cache and the curve. Training images are decoded lazily, batch by batch
(`DecodeCache` keeps them within a memory budget); unreadable files are skipped and counted. Steps: AdamW,
a short warm-up then cosine decay to a tenth, random horizontal flips, gradient clipping; a loss that is not
finite stops the run with one clear sentence. Evaluation is a generator (Progress every batch): the
periodic curve points use a fixed stratified subset of at most EVAL_CAP held-out images, the final
evaluation all of them.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..compare.stages import StageModel
from ..errors import UserFacingError
from ..jobs import Progress
from ..registry import ModelSource
from .heads import MODES, replace_head, set_train_mode, set_trainable
from .image_decode import DecodeCache
from .image_folder import FolderIndex, split
from .records import CurvePoint

EVAL_CAP = 500  # held-out images scored at each curve point (the final evaluation scores all of them)
EVAL_BATCH = 32
DEFAULT_LR = {"head": 1e-3, "all": 1e-4}  # AdamW; all layers need a gentler rate not to wreck the pretraining


@dataclass(frozen=True)
class FineTuneConfig:
    steps: int = 200
    batch: int = 16
    lr: float | None = None  # None: DEFAULT_LR for the mode
    mode: str = "head"  # "all": every layer trains; "head": only the new head (the rest frozen)
    held_out_fraction: float = 0.2
    seed: int = 0
    eval_every: int = 50

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR.get(self.mode, 1e-3) if self.lr is None else float(self.lr)

    def checked(self) -> "FineTuneConfig":
        def bad(what: str) -> UserFacingError:
            return UserFacingError(f"Fine-tuning setting refused: {what}.")

        if self.mode not in MODES:
            raise bad(f"mode {self.mode!r} (use {' or '.join(MODES)})")
        for name, lo, hi in (("steps", 1, 10_000_000), ("batch", 1, 4096), ("eval_every", 1, 10_000_000),
                             ("seed", 0, 2**31 - 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise bad(f"{name}={value!r} (a whole number from {lo} to {hi:,})")
        if not (isinstance(self.learning_rate, float) and math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 1):
            raise bad(f"learning rate {self.lr!r} (a number in (0, 1])")
        if not 0.0 < float(self.held_out_fraction) <= 0.5:
            raise bad(f"held-out fraction {self.held_out_fraction!r} (a number in (0, 0.5])")
        return self


@dataclass(frozen=True)
class Prediction:
    labels: np.ndarray  # (N,) int64, true classes of the readable images
    predicted: np.ndarray  # (N,) int64
    confidence: np.ndarray  # (N,) float32, softmax probability of the predicted class
    paths: tuple[str, ...]  # (N,) the images scored

    @property
    def accuracy(self) -> float | None:
        return float((self.labels == self.predicted).mean()) if len(self.labels) else None


def stratified_subset(items: tuple[tuple[str, int], ...], cap: int) -> tuple[tuple[str, int], ...]:
    """At most `cap` items, spread evenly over the (class-sorted) list, so every class keeps its share."""
    if len(items) <= cap:
        return items
    picks = np.linspace(0, len(items) - 1, cap).round().astype(int)
    return tuple(items[i] for i in np.unique(picks))


class FolderFineTuner:
    """The model with its new head, the optimizer and the data of one run; stepped by the jobs."""

    def __init__(self, sm: StageModel, base_key: str, source: ModelSource, index: FolderIndex,
                 config: FineTuneConfig, device: str = "cpu", declared_heads: tuple[str, ...] = (),
                 out_dir: str | Path = "."):
        self.config = config.checked()
        self.out_dir = Path(out_dir)  # where the finished model is saved
        self.base_key, self.source, self.index, self.device = base_key, source, index, device
        self.base_title = sm.title
        self.split = split(index, self.config.held_out_fraction, self.config.seed)
        if not self.split.train:
            raise UserFacingError(f"'{index.name}' has no training images.")
        sm.model.to(device)
        self.sm, self.head_paths = replace_head(sm, index.classes, declared_heads, self.config.seed)
        self.params = set_trainable(self.sm.model, self.head_paths, self.config.mode)
        self.opt = torch.optim.AdamW(self.params, lr=self.config.learning_rate,
                                     weight_decay=0.05 if self.config.mode == "all" else 0.0)
        self.cache = DecodeCache(self.sm.image_size)
        self.eval_items = stratified_subset(self.split.held_out, EVAL_CAP)
        self.rng = np.random.default_rng(self.config.seed)
        self.order: list[int] = []
        self.step = 0
        self.seconds = 0.0  # training time, evaluation excluded
        self.curve: list[CurvePoint] = []
        self._loss_sum, self._loss_n = 0.0, 0  # since the last curve point
        self._update_sum, self._update_n = 0.0, 0  # since the last live update

    # ---- training ---------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.step >= self.config.steps

    @property
    def eval_due(self) -> bool:
        return bool(self.split.held_out) and self.step > 0 and self.step % self.config.eval_every == 0 and (
            not self.curve or self.curve[-1].step != self.step)

    @property
    def skipped_unreadable(self) -> int:
        return self.cache.unreadable

    def lr_at(self, step: int) -> float:
        warm = max(1, self.config.steps // 20)
        base = self.config.learning_rate
        if step < warm:
            return base * (step + 1) / warm
        t = (step - warm) / max(1, self.config.steps - warm)
        return base * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t))))

    def _next_items(self, n: int) -> list[tuple[str, int]]:
        train = self.split.train
        out: list[tuple[str, int]] = []
        looked = 0
        while len(out) < n:
            if not self.order:
                self.order = self.rng.permutation(len(train)).tolist()
            item = train[self.order.pop()]
            looked += 1
            if not self.cache.known_bad(item[0]):
                out.append(item)
            elif looked > len(train) and not out:
                break
        return out

    def _batch(self) -> tuple[np.ndarray, np.ndarray]:
        for _ in range(len(self.split.train) + 1):
            items = self._next_items(self.config.batch)
            images, labels = self.cache.batch(items)
            if len(images):
                return images, labels
            if all(self.cache.known_bad(p) for p, _ in self.split.train):
                break
        example = (self.cache.unreadable_examples(1) or ("",))[0]
        raise UserFacingError(f"None of the {len(self.split.train):,} training images of '{self.index.name}' could "
                              f"be read (e.g. {example}).")

    def train_step(self) -> float:
        """One optimisation step; returns the loss."""
        start = time.perf_counter()
        images, labels = self._batch()  # (B, H, W, 3) uint8, (B,)
        flip = self.rng.random(len(images)) < 0.5
        images = np.where(flip[:, None, None, None], images[:, :, ::-1], images)
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        y = torch.from_numpy(labels).to(self.device)
        for group in self.opt.param_groups:
            group["lr"] = self.lr_at(self.step)
        set_train_mode(self.sm.model, self.head_paths, self.config.mode)
        with torch.enable_grad():
            loss = F.cross_entropy(self.sm.model(x).float(), y)  # (B, classes) logits
            if not torch.isfinite(loss):
                raise UserFacingError(
                    f"Training stopped at step {self.step + 1}: the loss became {loss.item()} (learning rate "
                    f"{self.lr_at(self.step):.1e} is probably too high for this model: try a lower one). "
                    "Nothing was saved.")
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params, 5.0)
            self.opt.step()
        self.step += 1
        value = float(loss.item())
        self._loss_sum += value
        self._loss_n += 1
        self._update_sum += value
        self._update_n += 1
        self.seconds += time.perf_counter() - start
        return value

    def take_update_loss(self) -> float:
        """Mean training loss since the previous live update."""
        value = self._update_sum / max(1, self._update_n)
        self._update_sum, self._update_n = 0.0, 0
        return value

    # ---- evaluation -------------------------------------------------------------------------------------
    def predict(self, items: tuple[tuple[str, int], ...], what: str = "Evaluating"):
        """Generator: scores `items` (unreadable ones skipped and counted); returns a Prediction."""
        labels, predicted, confidence, paths = [], [], [], []
        self.sm.model.eval()
        for start in range(0, len(items), EVAL_BATCH):
            chunk = items[start:start + EVAL_BATCH]
            yield Progress(start / max(1, len(items)), f"{what}: {start:,}/{len(items):,} held-out images")
            readable = [(p, c) for p, c in chunk if self.cache.get(p) is not None]
            if not readable:
                continue
            images, y = self.cache.batch(readable)
            x = torch.from_numpy(images).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
            with torch.no_grad():
                probs = torch.softmax(self.sm.model(x).float(), dim=1)  # (B, classes)
            conf, pred = probs.max(dim=1)
            labels.append(y)
            predicted.append(pred.cpu().numpy().astype(np.int64))
            confidence.append(conf.cpu().numpy().astype(np.float32))
            paths.extend(p for p, _ in readable)
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros((0,), dt))
        return Prediction(cat(labels, np.int64), cat(predicted, np.int64), cat(confidence, np.float32), tuple(paths))

    def evaluate(self):
        """Generator: a curve point on the evaluation subset; returns it (None without held-out images)."""
        if not self.split.held_out:
            return None
        pred = yield from self.predict(self.eval_items, f"Step {self.step}")
        point = CurvePoint(self.step, pred.accuracy if pred.accuracy is not None else 0.0,
                           self._loss_sum / max(1, self._loss_n), self.seconds)
        self._loss_sum, self._loss_n = 0.0, 0
        self.curve.append(point)
        return point

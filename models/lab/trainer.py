"""One data-lab run: a bundled architecture trained on N images with the Compare recipe, step by step.

The recipe is models.compare.train's (imported, not copied): AdamW lr 8e-4, weight decay 0.05 off norms,
biases and tables, label smoothing 0.1, the 8 flips/transposes of the square, the ViTs' patch-token loss.
Only the warm-up is scaled to the lab's short budgets: min(300, steps // 8) steps, then cosine to
`spec.steps`. A run is deterministic for a given spec on the CPU (its own torch generator for batches and
augmentation; the initialisation is seeded inside a forked RNG, so nothing global changes).

Evaluation: a point at step 0 (the untrained model; its `loss` is the held-out loss, as no training step
has run yet), then every `eval_every` steps and at the last step; a later point's `loss` is the mean
training loss of the steps since the previous point. `seconds` counts training only, never evaluation.

A NaN or infinite loss stops the run before the bad step is applied (weights and curve are kept) with a
`LabTrainingError`; running out of GPU memory says so clearly.
"""
from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..compare.architectures import ARCHITECTURES
from ..compare.train import Recipe, loss_fn, param_groups
from ..errors import UserFacingError
from ..vit.metrics import to_tensor
from ..vit.train import TrainConfig as ScheduleConfig
from ..vit.train import augment, lr_at
from .data import LabData, train_subset
from .records import CurvePoint, LabRecordError, LabRunSpec, RunRecord

HEAD_PREFIX = "head."  # every bundled architecture ends in `head`, a Linear to the classes


class LabTrainingError(UserFacingError):
    """A lab run cannot go on (NaN loss, out of memory); what it has so far is kept."""


def warmup_steps(steps: int) -> int:
    return max(1, min(Recipe.warmup_steps, steps // 8))


class LabTrainer:
    """Model, optimizer, generator, step, loss accumulators and training time of one run.

    init_state: weights to start from (e.g. a bundled model's); tensors under `head.` are left out, so the
    head is new and sized for `data`'s classes. config: the architecture's config (default: the bundled one).
    head_only: train the head alone (every other parameter frozen, and batch-norm statistics too).
    """

    def __init__(self, spec: LabRunSpec, data: LabData, device: str = "cpu",
                 init_state: Mapping[str, torch.Tensor] | None = None, config: Any = None,
                 head_only: bool = False, extra: Mapping[str, str] | None = None):
        if spec.arch not in ARCHITECTURES:
            raise UserFacingError(f"Unknown architecture '{spec.arch}' (known: {', '.join(sorted(ARCHITECTURES))}).")
        if spec.eval_size > len(data.eval_images):
            raise UserFacingError(f"A run asks for {spec.eval_size} held-out images; there are {len(data.eval_images)}.")
        self.spec, self.device = spec, str(device)
        self.arch = ARCHITECTURES[spec.arch]
        self.recipe = replace(Recipe(), batch=spec.batch, steps=spec.steps, warmup_steps=warmup_steps(spec.steps))
        self._schedule = ScheduleConfig(lr=self.recipe.lr, warmup_steps=self.recipe.warmup_steps, max_steps=spec.steps)
        images, labels = train_subset(data, spec.train_size, spec.seed)
        self._train_x, self._train_y = torch.from_numpy(images), torch.from_numpy(labels)  # CPU, (n, H, W, 3) uint8
        self._eval_x = data.eval_images[:spec.eval_size]
        self._eval_y = data.eval_labels[:spec.eval_size]
        cfg = replace(config if config is not None else self.arch.config, num_classes=data.num_classes)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.seed)
            self.model = self.arch.build(cfg)
            self.arch.init(self.model)
        if init_state is not None:
            self._load_body(init_state)
        if head_only:
            for name, p in self.model.named_parameters():
                p.requires_grad_(name.startswith(HEAD_PREFIX))
        self.head_only = head_only
        self.model.to(self.device)
        self._train_mode()
        groups = [{"params": [p for p in g["params"] if p.requires_grad], "weight_decay": g["weight_decay"]}
                  for g in param_groups(self.model, self.recipe.weight_decay)]
        self.optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=self.recipe.lr)
        self.generator = torch.Generator().manual_seed(1_000_003 * spec.seed + 12_345)
        self.step = 0
        self.seconds = 0.0
        self._loss_sum, self._loss_steps = 0.0, 0
        self._points: list[CurvePoint] = []
        self.error: str | None = None
        self.extra = dict(extra or {})

    def _load_body(self, state: Mapping[str, torch.Tensor]) -> None:
        body = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIX)}
        missing, unexpected = self.model.load_state_dict(body, strict=False)
        missing = [k for k in missing if not k.startswith(HEAD_PREFIX)]
        if missing or unexpected:
            raise UserFacingError(f"These weights do not fit {self.arch.title}: "
                                  f"{len(missing)} tensors missing, {len(unexpected)} unexpected.")

    def _train_mode(self) -> None:
        """Training mode; with head_only the frozen body stays in eval mode (its norms' running statistics too)."""
        self.model.train()
        if self.head_only:
            self.model.eval()
            self.model.head.train()

    # -- state -------------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """Finished: all steps trained and the last point taken, or stopped by an error."""
        return self.error is not None or (self.step >= self.spec.steps and self.last_eval_step == self.step)

    @property
    def last_eval_step(self) -> int | None:
        return self._points[-1].step if self._points else None

    @property
    def eval_due(self) -> bool:
        """A point is due at this step (step 0, every eval_every, the last) and not taken yet."""
        on_grid = self.step % self.spec.eval_every == 0 or self.step == self.spec.steps
        return self.error is None and on_grid and self.last_eval_step != self.step

    @property
    def steps_to_next_eval(self) -> int:
        nxt = min((self.step // self.spec.eval_every + 1) * self.spec.eval_every, self.spec.steps)
        return max(0, nxt - self.step)

    @property
    def record(self) -> RunRecord:
        extra = dict(self.extra) | ({"error": self.error} if self.error else {})
        return RunRecord(self.spec, tuple(self._points), self.step >= self.spec.steps and self.done
                         and self.error is None, self.device, extra)

    def checkpoint(self) -> dict:
        """Everything needed to continue this run exactly (tensors and plain numbers: torch.load weights_only)."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "step": self.step, "seconds": self.seconds,
                "loss_sum": self._loss_sum, "loss_steps": self._loss_steps}

    def restore(self, state: Mapping[str, Any], record: RunRecord) -> None:
        """Continue from `checkpoint()` and the run's curve so far; both are checked (a file is never trusted)."""
        step, seconds = state.get("step"), state.get("seconds")
        loss_sum, loss_steps = state.get("loss_sum"), state.get("loss_steps")
        if (record.spec != self.spec or record.finished or not isinstance(step, int) or not 0 < step < self.spec.steps
                or not isinstance(loss_steps, int) or not 0 <= loss_steps <= step
                or not all(isinstance(v, float) and math.isfinite(v) and v >= 0 for v in (seconds, loss_sum))
                or not record.points or record.points[-1].step > step):
            raise LabRecordError(f"The unfinished run {self.spec.key} does not fit its checkpoint.")
        self.model.load_state_dict(state["model"])  # strict: raises on a wrong shape or name
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.step, self.seconds, self._loss_sum, self._loss_steps = step, seconds, loss_sum, loss_steps
        self._points = list(record.points)

    # -- work --------------------------------------------------------------------------------------------
    def train(self, n_steps: int) -> None:
        """Up to n_steps training steps, never past spec.steps. Raises LabTrainingError on NaN / OOM."""
        if self.error is not None:
            raise LabTrainingError(self.error)
        end = min(self.spec.steps, self.step + max(0, int(n_steps)))
        start = time.perf_counter()
        try:
            while self.step < end:
                self._one_step()
        except torch.cuda.OutOfMemoryError:
            self._fail(f"Out of GPU memory at step {self.step} of {self.spec.key}: the curve so far is kept. "
                       "Close other GPU work or run on the CPU.", oom=True)
        finally:
            self.seconds += time.perf_counter() - start

    def _one_step(self) -> None:
        idx = torch.randint(0, len(self._train_x), (self.spec.batch,), generator=self.generator)
        x = augment(to_tensor(self._train_x[idx].numpy()), self.generator).to(self.device)  # (B, 3, H, W)
        y = self._train_y[idx].to(self.device)
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, self._schedule)
        loss = loss_fn(self.arch, self.model, x, y, self.recipe)
        value = float(loss.item())
        if not math.isfinite(value):  # stop before the step: the weights stay as they were
            self._fail(f"The training loss became {value} at step {self.step} of {self.arch.title} "
                       f"(N={self.spec.train_size}, seed {self.spec.seed}); the run stopped, its curve so far is kept.")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self._loss_sum += value
        self._loss_steps += 1
        self.step += 1

    def _fail(self, message: str, oom: bool = False) -> None:
        self.error = message
        self.optimizer.zero_grad(set_to_none=True)
        if oom and torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise LabTrainingError(message)

    @torch.no_grad()
    def evaluate(self) -> CurvePoint:
        """Held-out accuracy now; appended to the curve (once per step: a second call returns the same point)."""
        if self._points and self._points[-1].step == self.step:
            return self._points[-1]
        self.model.eval()
        correct, ce = 0, 0.0
        try:
            for i in range(0, len(self._eval_x), 250):
                logits = self.model(to_tensor(self._eval_x[i:i + 250]).to(self.device))  # (b, classes)
                y = torch.from_numpy(self._eval_y[i:i + 250]).to(self.device)
                correct += int((logits.argmax(1) == y).sum())
                ce += float(F.cross_entropy(logits.float(), y, reduction="sum"))
        except torch.cuda.OutOfMemoryError:
            self._fail(f"Out of GPU memory while evaluating {self.spec.key}: the curve so far is kept.", oom=True)
        finally:
            self._train_mode()
        n = max(1, len(self._eval_x))
        loss = self._loss_sum / self._loss_steps if self._loss_steps else ce / n
        point = CurvePoint(self.step, correct / n, float(min(max(loss, 0.0), 1e6)) if math.isfinite(loss) else 1e6,
                           self.seconds)
        self._loss_sum, self._loss_steps = 0.0, 0
        self._points.append(point)
        return point


def train_to_end(trainer: LabTrainer, on_point: Callable[[CurvePoint], None] | None = None) -> RunRecord:
    """The headless loop (no job, no yields): the same steps and points as models.lab.jobs.lab_run_job."""
    while not trainer.done:
        if trainer.eval_due:
            point = trainer.evaluate()
            if on_point is not None:
                on_point(point)
            continue
        trainer.train(trainer.steps_to_next_eval)
    return trainer.record


def as_numpy_curve(record: RunRecord) -> tuple[np.ndarray, np.ndarray]:
    """Steps (P,) and accuracies (P,) of a record's curve, for plotting."""
    return (np.array([p.step for p in record.points], np.int64),
            np.array([p.accuracy for p in record.points], np.float64))

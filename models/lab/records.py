"""What the data lab runs and what it keeps: the plain values every part of the lab shares. No Qt, no torch.

A *run* trains one bundled architecture from scratch (or from pretrained weights) on N images with one seed
and a fixed step budget, and evaluates it on held-out images every `eval_every` steps. `LabRunSpec` says
which run; `CurvePoint` is one evaluation; `RunRecord` is a run's curve so far. Records are written to and
read from JSON: reading validates every field (a file is never trusted: a wrong type, NaN where a number is
required, an accuracy outside [0, 1] or steps out of order raise `LabRecordError`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import UserFacingError

ARCH_KEYS = ("convnext", "vit-plain", "vit-convstem", "coatnet")  # models.compare.architectures keys, plot order
SIZES = (250, 1000, 4000, 16000)
SEEDS = (0, 1)
# the quick grid (``python -m models.lab.data_hunger --quick`` and the data-hunger view's Quick preset): 8 runs
QUICK = {"sizes": (250, 4000), "seeds": 1, "steps": 500, "batch": 16, "eval_size": 500, "eval_every": 100}


class LabRecordError(UserFacingError):
    """A data-lab record (cached run, shipped grid) is malformed; it is ignored, nothing else changes."""


@dataclass(frozen=True)
class LabRunSpec:
    """One from-scratch training run of the data-hunger grid."""

    arch: str  # a key of models.compare.architectures.ARCHITECTURES
    train_size: int  # N training images
    seed: int  # initialisation, data order, and which N images of the pool
    steps: int = 2000  # the step budget, the same for every run of a grid (the shipped grid's)
    batch: int = 16  # the shipped grid: 2,000 steps of 16 (32,000 images seen); small batches, many updates
    eval_every: int = 400
    eval_size: int = 2000  # held-out images, the same for every run

    @property
    def key(self) -> str:
        """A stable, file-name-safe id: equal specs have equal keys."""
        return (f"{self.arch}_n{self.train_size}_s{self.seed}_t{self.steps}_b{self.batch}"
                f"_e{self.eval_every}_v{self.eval_size}")


@dataclass(frozen=True)
class CurvePoint:
    step: int
    accuracy: float  # on the held-out images, in [0, 1]
    loss: float  # mean training loss over the steps since the previous point
    seconds: float  # training time so far (evaluation excluded)


@dataclass(frozen=True)
class RunRecord:
    spec: LabRunSpec
    points: tuple[CurvePoint, ...] = ()
    finished: bool = False
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # free-form notes (e.g. "init": "pretrained")

    @property
    def final_accuracy(self) -> float | None:
        return self.points[-1].accuracy if self.finished and self.points else None

    @property
    def last_step(self) -> int:
        return self.points[-1].step if self.points else 0

    def with_point(self, point: CurvePoint) -> "RunRecord":
        return RunRecord(self.spec, self.points + (point,), self.finished, self.device, dict(self.extra))

    def finish(self) -> "RunRecord":
        return RunRecord(self.spec, self.points, True, self.device, dict(self.extra))

    def to_json(self) -> dict:
        return {"spec": asdict(self.spec), "points": [asdict(p) for p in self.points], "finished": self.finished,
                "device": self.device, "extra": {k: str(v) for k, v in self.extra.items()}}

    @staticmethod
    def from_json(data: Any) -> "RunRecord":
        if not isinstance(data, dict):
            raise LabRecordError("A data-lab record is not a JSON object.")
        spec = _spec(data.get("spec"))
        raw = data.get("points")
        if not isinstance(raw, list):
            raise LabRecordError(f"Run {spec.key}: 'points' is not a list.")
        points = tuple(_point(p, spec) for p in raw)
        if any(b.step <= a.step for a, b in zip(points, points[1:])):
            raise LabRecordError(f"Run {spec.key}: steps are not increasing.")
        finished = data.get("finished")
        if not isinstance(finished, bool):
            raise LabRecordError(f"Run {spec.key}: 'finished' is not true/false.")
        device = data.get("device", "cpu")
        extra = data.get("extra", {})
        if not isinstance(device, str) or not isinstance(extra, dict):
            raise LabRecordError(f"Run {spec.key}: bad 'device' or 'extra'.")
        return RunRecord(spec, points, finished, device[:40], {str(k)[:40]: str(v)[:200] for k, v in extra.items()})


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise LabRecordError(f"A data-lab record has a bad '{name}': {value!r} (want an integer in [{lo}, {hi}]).")
    return value


def _float(value: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not lo <= value <= hi:
        raise LabRecordError(f"A data-lab record has a bad '{name}': {value!r} (want a number in [{lo}, {hi}]).")
    return float(value)


def _spec(data: Any) -> LabRunSpec:
    if not isinstance(data, dict):
        raise LabRecordError("A data-lab record has no 'spec' object.")
    arch = data.get("arch")
    if not isinstance(arch, str) or not 0 < len(arch) <= 40:
        raise LabRecordError(f"A data-lab record has a bad architecture: {arch!r}.")
    return LabRunSpec(arch=arch, train_size=_int(data.get("train_size"), "train_size", 1, 10_000_000),
                      seed=_int(data.get("seed"), "seed", 0, 2**31), steps=_int(data.get("steps"), "steps", 1, 10_000_000),
                      batch=_int(data.get("batch"), "batch", 1, 65_536),
                      eval_every=_int(data.get("eval_every"), "eval_every", 1, 10_000_000),
                      eval_size=_int(data.get("eval_size"), "eval_size", 1, 10_000_000))


def _point(data: Any, spec: LabRunSpec) -> CurvePoint:
    if not isinstance(data, dict):
        raise LabRecordError(f"Run {spec.key}: a curve point is not an object.")
    return CurvePoint(step=_int(data.get("step"), "step", 0, spec.steps),
                      accuracy=_float(data.get("accuracy"), "accuracy", 0.0, 1.0),
                      loss=_float(data.get("loss"), "loss", 0.0, 1e6),
                      seconds=_float(data.get("seconds"), "seconds", 0.0, 1e9))

"""The data-hunger view's plain values: presets (which runs a grid needs), display names and colours per
architecture, and the frozen values the page draws. No Qt, no torch."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from models.lab.records import ARCH_KEYS, QUICK, SEEDS, SIZES, LabRunSpec

from .compare_frames import Curve

ARCH_TITLES = {"convnext": "ConvNeXt-style CNN", "vit-plain": "Plain ViT (linear patches)",
               "vit-convstem": "Conv-stem ViT", "coatnet": "CoAtNet-style hybrid"}  # display names, plot order
ARCH_COLOURS = {"convnext": "#4f9cff", "vit-plain": "#ff6b5b", "vit-convstem": "#f6c343", "coatnet": "#4cd07d"}
OTHER_COLOUR = "#c58af9"
LESSON = ("What is measured: each architecture trains from scratch with the same recipe, seeds and step budget on N "
          "training images (N on a log axis), then is scored on 2,000 held-out images it never saw; a line is the mean "
          "over seeds, the bars the lowest and highest seed. The notes say CNNs work with little data and ViTs need "
          "much data or pretraining: compare the lines at small N (left) with large N (right), whatever they show.")
PARALLEL = 4  # runs training at once (the worker steps them round-robin)


@dataclass(frozen=True)
class Preset:
    title: str
    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    steps: int
    eval_every: int = 100
    eval_size: int = 2000
    batch: int = 64

    def specs(self, archs: tuple[str, ...] = ARCH_KEYS) -> tuple[LabRunSpec, ...]:
        """Smallest N first (the quick, telling runs come first), every architecture per size."""
        return tuple(LabRunSpec(a, n, s, self.steps, self.batch, self.eval_every, self.eval_size)
                     for n in self.sizes for s in self.seeds for a in archs)


PRESETS = {
    # the headless twin's --quick (models.lab.records.QUICK): 8 runs
    "quick": Preset(f"Quick: N = {' and '.join(f'{n:,}' for n in QUICK['sizes'])}, one seed, {QUICK['steps']} steps "
                    f"(batch {QUICK['batch']})", tuple(QUICK["sizes"]), tuple(range(QUICK["seeds"])), QUICK["steps"],
                    QUICK["eval_every"], QUICK["eval_size"], QUICK["batch"]),
    # LabRunSpec's defaults: the shipped grid's budget
    "full": Preset(f"Full grid: N = {min(SIZES):,} .. {max(SIZES):,}, {len(SEEDS)} seeds, {LabRunSpec.steps} steps",
                   SIZES, SEEDS, LabRunSpec.steps, LabRunSpec.eval_every, LabRunSpec.eval_size, LabRunSpec.batch),
}


@dataclass(frozen=True)
class Controls:
    start: bool
    pause_text: str  # "Pause" | "Resume"
    pause: bool
    cancel: bool
    choose: bool  # the preset and curve choices
    export: bool
    status: str


@dataclass(frozen=True)
class Band:
    """The spread over seeds at each N of one architecture: x (log10 N), low and high accuracy (K,) each."""

    name: str
    x: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    colour: str


@dataclass(frozen=True)
class HungerFrame:
    summary: tuple[Curve, ...]  # one line per architecture: x = log10(N), y = mean accuracy (NaN: no run yet)
    bands: tuple[Band, ...]
    ticks: tuple[tuple[float, str], ...]  # (log10 N, "N") for the bottom axis
    runs: tuple[Curve, ...]  # one curve per run: x = step, y = held-out accuracy
    table: str  # the summary as text (mean [low, high] per architecture and N)
    status: str
    steps: int = 0  # the run curves' x range is [0, steps]: the budget, fixed while curves grow (no axis re-render)


def summary_table(rows) -> str:
    """'arch  N  mean [low, high]' lines for the page's table label."""
    lines = []
    for r in rows:
        n = r.seeds if isinstance(r.seeds, int) else len(r.seeds)
        lines.append(f"{ARCH_TITLES.get(r.arch, r.arch)}, N={r.train_size:,}: {r.mean * 100:.1f}% "
                     f"[{r.low * 100:.1f}, {r.high * 100:.1f}] over {n} seed{'s' if n != 1 else ''}")
    return "\n".join(lines)


def size_rank(n: int) -> float:
    """0 for the smallest grid size, 1 for the largest (line width grows with N)."""
    lo, hi = math.log10(min(SIZES)), math.log10(max(SIZES))
    return min(max((math.log10(max(n, 1)) - lo) / (hi - lo), 0.0), 1.0)


def tiny_preset(steps: int = 4, size: int = 64) -> Preset:
    """A run small enough for tests and benchmarks (seconds on a CPU)."""
    return replace(PRESETS["quick"], title="tiny", sizes=(size,), seeds=(0,), steps=steps, eval_every=2,
                   eval_size=32, batch=8)

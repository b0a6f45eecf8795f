"""The data-hunger view's state and what it draws, without Qt (unit-tested without a display).

A *plan* is the runs one grid needs (architectures x sizes x seeds, one step budget): the "Quick" preset or
the full grid (`PRESETS`). Records come from three places, merged by run key: the shipped grid
(assets/lab, shown at once), the run cache on disk (finished runs of earlier sessions) and live runs.
Start launches up to `parallel` runs (the page gives each its own worker channel, and the worker steps
them round-robin); a finished run launches the next of the plan. Pause asks every active run to stop after
its current step (each job then ends, keeping its trainer); Resume starts new jobs on the same trainers;
Cancel ends every run and forgets the unfinished curves. The page draws `render()`, a frozen `HungerFrame`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Iterable

from models.lab.records import ARCH_KEYS, SEEDS, SIZES, LabRunSpec, RunRecord

from .compare_frames import Curve
from .lab_hunger_frames import (ARCH_COLOURS, ARCH_TITLES, OTHER_COLOUR, PARALLEL, PRESETS, Band, Controls,
                                HungerFrame, Preset, size_rank, summary_table)


class HungerState(Enum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"


STATE_TEXT = {HungerState.IDLE: "Showing the finished runs. Press Start to train the chosen grid's missing runs.",
              HungerState.RUNNING: "Training", HungerState.PAUSING: "Pausing after the current step...",
              HungerState.PAUSED: "Paused: Resume continues every run where it stopped."}


@dataclass
class _Slot:
    """An active run: its spec, its opaque trainer (None while it is built), and whether a job is running."""

    spec: LabRunSpec
    trainer: Any = None
    running: bool = False
    fraction: float = 0.0  # of its steps trained (from the job's Progress)


class HungerSession:
    def __init__(self, summarise: Callable[[Iterable[RunRecord]], tuple] | None = None,
                 parallel: int = PARALLEL) -> None:
        self._summarise = summarise
        self.parallel = parallel
        self.records: dict[str, RunRecord] = {}  # run key -> newest record (shipped, cached or live)
        self.shipped_keys: set[str] = set()
        self.presets = dict(PRESETS)  # "full" follows the shipped grid's budget once it is read
        self.preset = "full"  # the shipped grid's budget: it shows at once
        self.plan: tuple[LabRunSpec, ...] = PRESETS["full"].specs()
        self.curve_size: int | None = None  # the run curves of one N only (None: all)
        self.state = HungerState.IDLE
        self.slots: dict[str, _Slot] = {}  # active runs by key
        self.queue: list[LabRunSpec] = []  # runs of the plan not started yet
        self.errors: list[str] = []
        self.version = 0  # bumped on every change of what render() shows
        self._curves: dict[str, tuple] = {}  # run key -> (record, live, Curve): unchanged runs keep their Curve
        self._summary_memo: tuple | None = None  # (plan, finished records' ids) -> the summary's values

    # ---- records -------------------------------------------------------------------------------------
    def add_records(self, records: Iterable[RunRecord], shipped: bool = False) -> None:
        """Shipped or cached finished runs (a live record of the same run is never replaced by an older one)."""
        records = tuple(records)
        for r in records:
            if r.spec.key in self.slots:
                continue
            self.records[r.spec.key] = r
            if shipped:
                self.shipped_keys.add(r.spec.key)
        if shipped and records:
            self._follow_shipped_budget(records)
        self.version += 1

    def _follow_shipped_budget(self, records: tuple[RunRecord, ...]) -> None:
        """The full grid uses the shipped grid's budget (its most common steps, batch and evaluation), so the
        shipped runs count as done and show at once."""
        budgets = [(r.spec.steps, r.spec.eval_every, r.spec.eval_size, r.spec.batch) for r in records]
        steps, every, size, batch = max(set(budgets), key=budgets.count)
        sizes = tuple(sorted(set(SIZES) | {r.spec.train_size for r in records}))
        seeds = tuple(sorted(set(SEEDS) | {r.spec.seed for r in records}))
        title = (f"Full grid: N = {min(sizes):,} .. {max(sizes):,}, {len(seeds)} seeds, {steps:,} steps "
                 f"(batch {batch})")
        self.presets["full"] = Preset(title, sizes, seeds, steps, every, size, batch)
        if self.preset == "full" and self.state == HungerState.IDLE:
            self.plan = self.presets["full"].specs()

    def is_done(self, spec: LabRunSpec) -> bool:
        r = self.records.get(spec.key)
        return r is not None and r.finished

    def missing(self) -> tuple[LabRunSpec, ...]:
        return tuple(s for s in self.plan if not self.is_done(s))

    # ---- choices -------------------------------------------------------------------------------------
    def choose(self, preset: str) -> None:
        if self.state != HungerState.IDLE:
            return
        self.preset = preset
        self.plan = self.presets[preset].specs()
        self.version += 1

    def set_plan(self, specs: tuple[LabRunSpec, ...]) -> None:
        """A custom plan (tests, benchmarks): these runs instead of a preset's."""
        if self.state == HungerState.IDLE:
            self.plan = tuple(specs)
            self.preset = "custom"
            self.version += 1

    def set_curve_size(self, size: int | None) -> None:
        self.curve_size = size
        self.version += 1

    # ---- the run state machine -------------------------------------------------------------------------
    def start(self) -> list[LabRunSpec]:
        """Start pressed: the runs to build now (up to `parallel`); the rest wait in the queue."""
        if self.state != HungerState.IDLE:
            return []
        self.errors.clear()
        self.queue = list(self.missing())
        if not self.queue:
            return []
        self.state = HungerState.RUNNING
        return self._launch()

    def _launch(self) -> list[LabRunSpec]:
        out = []
        while self.queue and len(self.slots) < self.parallel:
            spec = self.queue.pop(0)
            self.slots[spec.key] = _Slot(spec, running=True)
            self.records[spec.key] = RunRecord(spec)
            out.append(spec)
        self.version += 1
        return out

    def trainer_ready(self, spec: LabRunSpec, trainer: Any) -> bool:
        """A run's trainer is built: True when its training job should start now (False: paused meanwhile)."""
        slot = self.slots.get(spec.key)
        if slot is None:
            return False
        slot.trainer = trainer
        if self.state == HungerState.RUNNING:
            return True
        slot.running = False
        self._settle_pause()
        return False

    def progress(self, spec: LabRunSpec, fraction: float | None) -> bool:
        """A running job's Progress (its step / steps): True when it belongs to an active run."""
        slot = self.slots.get(spec.key)
        if slot is None or fraction is None:
            return False
        slot.fraction = float(fraction)
        return True

    def update(self, record: RunRecord) -> bool:
        """A live (partial) record: True when it belongs to an active run (the page redraws)."""
        if record.spec.key not in self.slots:
            return False
        self.records[record.spec.key] = record
        self.version += 1
        return True

    def run_ended(self, record: RunRecord | None, spec: LabRunSpec) -> list[LabRunSpec]:
        """A run's job returned (finished, or stopped by Pause): the runs to build next."""
        slot = self.slots.get(spec.key)
        if slot is None:
            return []
        if self.state == HungerState.RUNNING and (record is None or not record.finished):
            error = record.extra.get("error", "") if record is not None else ""
            return self.run_failed(spec, error or f"Run {spec.key} stopped before its last step.")
        if record is not None:
            self.records[spec.key] = record
        slot.running = False
        if record is not None and record.finished:
            del self.slots[spec.key]
        self.version += 1
        if self.state == HungerState.RUNNING:
            out = self._launch()
            self._settle_idle()
            return out
        self._settle_pause()
        return []

    def run_failed(self, spec: LabRunSpec, message: str) -> list[LabRunSpec]:
        """A run failed: it is dropped (its partial curve too); the others go on."""
        if self.slots.pop(spec.key, None) is None:
            return []
        self.records.pop(spec.key, None)
        self.errors.append(message)
        self.version += 1
        if self.state == HungerState.RUNNING:
            out = self._launch()
            self._settle_idle()
            return out
        self._settle_pause()
        return []

    def pause(self) -> list[str]:
        """Pause pressed: the keys of the running jobs to ask to pause."""
        if self.state != HungerState.RUNNING:
            return []
        self.state = HungerState.PAUSING
        self.version += 1
        keys = [k for k, s in self.slots.items() if s.running and s.trainer is not None]
        self._settle_pause()
        return keys

    def resume(self) -> list[_Slot]:
        """Resume pressed: the slots whose training job starts again (on the same trainer)."""
        if self.state != HungerState.PAUSED:
            return []
        self.state = HungerState.RUNNING
        out = [s for s in self.slots.values() if s.trainer is not None and not s.running]
        for s in out:
            s.running = True
        self.version += 1
        return out

    def cancel(self) -> list[str]:
        """Cancel pressed: the keys of every active run's channel to cancel; unfinished curves are forgotten."""
        keys = list(self.slots)
        for k in keys:
            self.records.pop(k, None)
        self.slots.clear()
        self.queue.clear()
        self.state = HungerState.IDLE
        self.version += 1
        return keys

    def _settle_pause(self) -> None:
        if self.state == HungerState.PAUSING and not any(s.running and s.trainer is not None
                                                         for s in self.slots.values()):
            self.state = HungerState.PAUSED if self.slots else HungerState.IDLE
            self.version += 1

    def _settle_idle(self) -> None:
        if self.state == HungerState.RUNNING and not self.slots and not self.queue:
            self.state = HungerState.IDLE

    @property
    def busy(self) -> bool:
        return self.state in (HungerState.RUNNING, HungerState.PAUSING)

    def controls(self) -> Controls:
        s = self.state
        status = STATE_TEXT[s]
        if s in (HungerState.RUNNING, HungerState.PAUSING, HungerState.PAUSED):
            done = sum(self.is_done(x) for x in self.plan)
            paused = s == HungerState.PAUSED
            status = status.rstrip(".") + (f" ({done} of {len(self.plan)} runs finished, {len(self.slots)} "
                                           f"{'paused' if paused else 'active'}, {len(self.queue)} waiting).")
            active = [f"{ARCH_TITLES.get(x.spec.arch, x.spec.arch)} N={x.spec.train_size:,} seed {x.spec.seed}: "
                      + (f"{x.fraction:.0%}" if x.trainer is not None else "preparing") for x in self.slots.values()]
            status += (" Runs: " + "; ".join(active) + ".") if active else ""
        elif self.missing():
            status += f" The chosen grid lacks {len(self.missing())} of {len(self.plan)} runs."
        else:
            status = "Every run of the chosen grid is finished (shipped with the app or cached from earlier runs)."
        if self.errors:
            status += f"  {len(self.errors)} run(s) failed: {self.errors[-1]}"
        return Controls(start=s == HungerState.IDLE and bool(self.missing()),
                        pause_text="Resume" if s == HungerState.PAUSED else "Pause",
                        pause=s in (HungerState.RUNNING, HungerState.PAUSED), cancel=s != HungerState.IDLE,
                        choose=s == HungerState.IDLE, export=bool(self.finished_records()), status=status)

    # ---- drawing -------------------------------------------------------------------------------------
    def finished_records(self) -> tuple[RunRecord, ...]:
        return tuple(r for r in self.records.values() if r.finished)

    def shown_records(self) -> tuple[RunRecord, ...]:
        """The records of the chosen plan's step budget (shipped/cached runs of another budget are not mixed in)."""
        steps = {s.steps for s in self.plan}
        return tuple(r for r in self.records.values() if r.spec.steps in steps)

    def summarise(self, records: Iterable[RunRecord]) -> tuple:
        if self._summarise is None:
            from models.lab.summary import summarise

            self._summarise = summarise
        return tuple(self._summarise(tuple(records)))

    def render(self) -> HungerFrame:
        shown = self.shown_records()
        finished = tuple(r for r in shown if r.finished)
        summary, bands, ticks, table = self._summary(finished)
        runs = tuple(self._run_curve(r) for r in sorted(shown, key=_order)
                     if r.points and (self.curve_size is None or r.spec.train_size == self.curve_size))
        steps = max([s.steps for s in self.plan] + [r.spec.steps for r in shown], default=0)
        return HungerFrame(summary, bands, ticks, runs, table, self.controls().status, steps)

    def _summary(self, finished: tuple[RunRecord, ...]) -> tuple:
        """(summary curves, bands, ticks, table), the same objects while the finished runs and the plan are the
        same: a live run's new point then redraws its own curve only, not the summary plot."""
        key = (self.plan, tuple(id(r) for r in finished))
        if self._summary_memo is not None and self._summary_memo[0] == key:
            return self._summary_memo[1]
        rows = self.summarise(finished)
        sizes = sorted({s.train_size for s in self.plan} | {row.train_size for row in rows})
        archs = [a for a in ARCH_KEYS if any(row.arch == a for row in rows) or any(s.arch == a for s in self.plan)]
        archs += sorted({row.arch for row in rows} - set(archs))
        summary, bands = [], []
        for arch in archs:
            mine = sorted((row for row in rows if row.arch == arch), key=lambda row: row.train_size)
            colour = ARCH_COLOURS.get(arch, OTHER_COLOUR)
            x = tuple(math.log10(row.train_size) for row in mine)
            summary.append(Curve(ARCH_TITLES.get(arch, arch), x, tuple(row.mean for row in mine), colour, 2.5))
            bands.append(Band(arch, x, tuple(row.low for row in mine), tuple(row.high for row in mine), colour))
        ticks = tuple((math.log10(n), f"{n:,}") for n in sizes)
        value = (tuple(summary), tuple(bands), ticks, summary_table(rows))
        self._summary_memo = (key, value)
        return value

    def _run_curve(self, r: RunRecord) -> Curve:
        """The same Curve object while its record is the same (the plot then skips re-sending its data)."""
        live = r.spec.key in self.slots
        hit = self._curves.get(r.spec.key)
        if hit is None or hit[0] is not r or hit[1] != live:
            hit = self._curves[r.spec.key] = (r, live, self._make_curve(r, live))
        return hit[2]

    @staticmethod
    def _make_curve(r: RunRecord, live: bool) -> Curve:
        s = r.spec
        width = 2.5 if live else 1.0 + 1.5 * size_rank(s.train_size)
        name = f"{ARCH_TITLES.get(s.arch, s.arch)}, N={s.train_size:,}, seed {s.seed}{' (live)' if live else ''}"
        return Curve(name, tuple(p.step for p in r.points), tuple(p.accuracy for p in r.points),
                     ARCH_COLOURS.get(s.arch, OTHER_COLOUR), width, s.seed % 2 == 1)

    def curve_sizes(self) -> tuple[int, ...]:
        return tuple(sorted({r.spec.train_size for r in self.shown_records()} | {s.train_size for s in self.plan}))

    # ---- export --------------------------------------------------------------------------------------
    def export_csv(self) -> str:
        """The summary table and every finished run's curve, as CSV text (models.lab.summary's columns)."""
        from models.lab.summary import curves_csv, summary_csv

        done = tuple(r for r in self.shown_records() if r.finished)
        return summary_csv(done) + "\n" + curves_csv(done)


def _order(r: RunRecord) -> tuple:
    s = r.spec
    return (s.train_size, ARCH_KEYS.index(s.arch) if s.arch in ARCH_KEYS else len(ARCH_KEYS), s.seed)

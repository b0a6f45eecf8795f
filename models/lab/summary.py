"""From finished lab runs to the accuracy-against-N table, and CSV text for export. Pure Python and numpy.

`summarise` groups finished runs by (architecture, N): mean, lowest and highest final accuracy over the
seeds, and how many seeds there are; rows in ARCH_KEYS order (unknown architectures after), then by N.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .records import ARCH_KEYS, RunRecord


@dataclass(frozen=True)
class SummaryRow:
    arch: str
    train_size: int
    mean: float
    low: float
    high: float
    seeds: int


def _order(arch: str) -> tuple[int, str]:
    return (ARCH_KEYS.index(arch) if arch in ARCH_KEYS else len(ARCH_KEYS), arch)


def summarise(records: Iterable[RunRecord]) -> tuple[SummaryRow, ...]:
    """One row per (arch, N) over the finished runs (a spec counted once, its last record winning)."""
    latest = {r.spec.key: r for r in records if r.finished and r.points}
    groups: dict[tuple[str, int], list[float]] = {}
    for r in latest.values():
        groups.setdefault((r.spec.arch, r.spec.train_size), []).append(r.points[-1].accuracy)
    rows = []
    for (arch, n), accs in sorted(groups.items(), key=lambda kv: (_order(kv[0][0]), kv[0][1])):
        a = np.asarray(accs, np.float64)
        rows.append(SummaryRow(arch, n, float(a.mean()), float(a.min()), float(a.max()), len(a)))
    return tuple(rows)


def _csv(header: list[str], rows: Iterable[list]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def summary_csv(records: Iterable[RunRecord]) -> str:
    return _csv(["arch", "train_size", "mean_accuracy", "min_accuracy", "max_accuracy", "seeds"],
                ([r.arch, r.train_size, f"{r.mean:.4f}", f"{r.low:.4f}", f"{r.high:.4f}", r.seeds]
                 for r in summarise(records)))


def curves_csv(records: Iterable[RunRecord]) -> str:
    """Every curve point of every record (finished or not)."""
    return _csv(["arch", "train_size", "seed", "steps", "init", "finished", "step", "accuracy", "loss", "seconds"],
                ([r.spec.arch, r.spec.train_size, r.spec.seed, r.spec.steps, r.extra.get("init", "scratch"),
                  int(r.finished), p.step, f"{p.accuracy:.4f}", f"{p.loss:.4f}", f"{p.seconds:.2f}"]
                 for r in records for p in r.points))


def format_table(rows: Iterable[SummaryRow]) -> str:
    """Architectures down, N across: 'mean (low-high)' in percent."""
    rows = tuple(rows)
    sizes = sorted({r.train_size for r in rows})
    archs = sorted({r.arch for r in rows}, key=_order)
    cell = {(r.arch, r.train_size): r for r in rows}
    width = 22
    lines = [f"{'architecture':<14}" + "".join(f"{'N=' + str(n):>{width}}" for n in sizes)]
    for a in archs:
        parts = []
        for n in sizes:
            r = cell.get((a, n))
            txt = "-" if r is None else (f"{100 * r.mean:.1f}% ({100 * r.low:.1f}-{100 * r.high:.1f}, {r.seeds})"
                                         if r.seeds > 1 else f"{100 * r.mean:.1f}% (1 seed)")
            parts.append(f"{txt:>{width}}")
        lines.append(f"{a:<14}" + "".join(parts))
    return "\n".join(lines)

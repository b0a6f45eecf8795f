"""The data-hunger grid, headless: ``python -m models.lab.data_hunger --sizes 250 1000 4000 --seeds 2``.

Trains each bundled architecture from scratch on N of the lab's pool images (models.lab.data) with the
Compare recipe and one step budget, evaluates on the held-out images, and prints accuracy against N per
architecture (mean over seeds, lowest-highest in brackets). Finished runs are cached in --cache-dir (one
JSON file each), so an interrupted grid resumes where it stopped and a finished one prints at once.
Runs go seed by seed, so a grid stopped early still has every (architecture, N) of its first seed; a
second process with --reverse on the same cache runs the grid from its end (each run is checked against the
cache just before it starts), so two single-thread processes share one grid.

--quick: N in {250, 4000}, 1 seed, 500 steps of 16 images, 500 held-out images, a point every 100 steps
(the same recipe; meant to fit in 10 min on 2 CPU cores from a cold cache). --write-shipped writes the finished runs to
assets/lab/data_hunger_grid.json (the grid the app shows at once) after every run.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from ..errors import UserFacingError
from .cache import SHIPPED_GRID, RunCache, write_grid
from .data import load_lab_data
from .records import ARCH_KEYS, QUICK, SEEDS, SIZES, LabRunSpec, RunRecord
from .summary import curves_csv, format_table, summarise, summary_csv
from .trainer import LabTrainer, train_to_end



def grid_specs(archs, sizes, seeds: int, base: LabRunSpec) -> list[LabRunSpec]:
    seed_list = list(SEEDS[:seeds]) + list(range(len(SEEDS), seeds))
    return [replace(base, arch=a, train_size=n, seed=s) for s in seed_list for n in sizes for a in archs]


def ship(cache: RunCache, specs: list[LabRunSpec], args: argparse.Namespace, argv: list[str] | None) -> None:
    """Every finished run of this grid in the cache (whoever ran it) to the shipped grid file."""
    shipped = [r for r in (cache.get(s) for s in specs) if r is not None]
    words = [w for w in (sys.argv[1:] if argv is None else argv) if w != "--reverse"]
    write_grid(shipped, Path(args.shipped_path), note="python -m models.lab.data_hunger " + " ".join(words))


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help=f"training set sizes (default {list(SIZES)})")
    ap.add_argument("--seeds", type=int, default=None, help=f"seeds per (arch, N) (default {len(SEEDS)})")
    ap.add_argument("--archs", nargs="+", choices=ARCH_KEYS, default=list(ARCH_KEYS))
    ap.add_argument("--steps", type=int, default=None, help=f"step budget of every run (default {LabRunSpec.steps})")
    ap.add_argument("--eval-every", type=int, default=None)
    ap.add_argument("--eval-size", type=int, default=None, help=f"held-out images (default {LabRunSpec.eval_size})")
    ap.add_argument("--batch", type=int, default=None, help=f"images per step (default {LabRunSpec.batch})")
    ap.add_argument("--quick", action="store_true", help="a short grid that fits in 10 min on 2 CPU cores")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (use 1 on a busy, shared CPU: there 2 threads were 5x slower)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cache-dir", default="runs/lab")
    ap.add_argument("--csv", default=None, help="write the summary table here (and the curves beside it)")
    ap.add_argument("--write-shipped", action="store_true", help=f"write finished runs to {SHIPPED_GRID}")
    ap.add_argument("--reverse", action="store_true",
                    help="run the grid from its end: a second process with --reverse on the same cache shares the work")
    ap.add_argument("--shipped-path", default=str(SHIPPED_GRID), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    quick = QUICK if args.quick else {}
    args.sizes = args.sizes or list(quick.get("sizes", SIZES))
    args.seeds = args.seeds or quick.get("seeds") or len(SEEDS)
    args.steps = args.steps or quick.get("steps") or LabRunSpec.steps
    args.eval_size = args.eval_size or quick.get("eval_size") or LabRunSpec.eval_size
    args.eval_every = args.eval_every or quick.get("eval_every") or LabRunSpec.eval_every
    args.batch = args.batch or quick.get("batch") or LabRunSpec.batch
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch.set_num_threads(max(1, args.threads))
    base = LabRunSpec(arch=args.archs[0], train_size=args.sizes[0], seed=0, steps=args.steps, batch=args.batch,
                      eval_every=args.eval_every, eval_size=args.eval_size)
    specs = grid_specs(args.archs, args.sizes, args.seeds, base)
    print(f"grid: archs {args.archs}, N {args.sizes}, {args.seeds} seed(s), {args.steps} steps, batch {args.batch}, "
          f"{args.eval_size} held-out images, a point every {args.eval_every} steps, {args.threads} thread(s), "
          f"device {args.device}; {len(specs)} runs", flush=True)
    cache = RunCache(Path(args.cache_dir))
    records: dict[str, RunRecord] = {}
    todo = []
    for spec in specs:
        cached = cache.get(spec)
        if cached is not None:
            records[spec.key] = cached
            print(f"cached  {spec.key}: {100 * cached.points[-1].accuracy:.1f}%", flush=True)
        else:
            todo.append(spec)
    for problem in cache.problems:
        print(problem, file=sys.stderr)
    t_start = time.time()
    if todo:
        t0 = time.time()
        data = load_lab_data(Path(args.cache_dir))
        print(f"data: {len(data.pool_images)} pool, {len(data.eval_images)} held-out images ({time.time() - t0:.0f} s)",
              flush=True)
        for i, spec in enumerate(todo[::-1] if args.reverse else todo, 1):
            cached = cache.get(spec)  # another process (--reverse) may have run it meanwhile
            if cached is not None:
                records[spec.key] = cached
                continue
            try:
                trainer = LabTrainer(spec, data, args.device, extra={"init": "scratch"})
                record = train_to_end(trainer, lambda p, s=spec, i=i: print(
                    f"[{i}/{len(todo)}] {s.arch} N={s.train_size} seed {s.seed}: step {p.step} "
                    f"acc {100 * p.accuracy:.1f}% loss {p.loss:.3f} ({p.seconds:.0f} s)", flush=True))
            except UserFacingError as exc:
                print(f"run {spec.key} failed: {exc}", file=sys.stderr, flush=True)
                continue
            cache.put(record)
            records[spec.key] = record
            if args.write_shipped:
                ship(cache, specs, args, argv)
    if args.write_shipped:
        ship(cache, specs, args, argv)
    print(f"\ntraining time this call: {(time.time() - t_start) / 60:.1f} min", flush=True)
    done = [r for r in (records.get(s.key) or cache.get(s) for s in specs) if r is not None]
    print(f"final held-out accuracy, {args.steps} steps, {args.eval_size} held-out images "
          f"(mean over seeds, lowest-highest, seeds):\n" + format_table(summarise(done)), flush=True)
    if args.csv:
        out = Path(args.csv)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(summary_csv(done))
        out.with_name(out.stem + "_curves.csv").write_text(curves_csv(done))
        print(f"wrote {out} and {out.with_name(out.stem + '_curves.csv')}")
    return 0 if len(done) == len(specs) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Pre-trained versus from scratch on a new small task: ``python -m models.lab.fine_tune --arch convnext``.

The task: the four new shape classes of models.lab.new_shapes (pentagon, ellipse, arrow, crescent) with
10, 30 or 100 training images per class (nested: the 10 are the first of the 30, of the 100) and 400
held-out images. One architecture starts from its bundled weights (assets/weights, trained on the six old
shapes) with a new 4-class head, training all layers (`--mode all`) or the head alone (`--mode head`); the
same architecture starts from scratch (all layers); both use the same recipe, steps and batches
(models.lab.trainer.LabTrainer). RunRecord.extra says "init": "pretrained" | "scratch" and the "mode".

Finished runs are cached under <cache-dir>/fine_tune/<init>[-<mode>]/; --write-shipped writes them to
assets/lab/fine_tune_results.json, which the app shows at once (`load_shipped_fine_tune`).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from ..compare.architectures import ARCHITECTURES, Architecture
from ..config_checks import check_finite
from ..jobs import JobContext, Load, Progress
from ..loading import ASSETS_DIR, bundled_weights_path, load_state_dict_file
from ..safetensors_io import read_metadata
from .cache import RunCache, read_json, records_from_json, write_json
from .control import LabControl
from .data import LabData, cached_arrays
from .jobs import lab_run_job
from .new_shapes import NEW_SHAPE_CLASSES, new_shape_arrays
from .records import ARCH_KEYS, LabRecordError, LabRunSpec, RunRecord
from .trainer import LabTrainer, train_to_end

TRAIN_SEED = 20_261_301
HELD_OUT_SEED = 20_261_302
MAX_PER_CLASS = 100
HELD_OUT_PER_CLASS = 100  # 400 held-out images
PER_CLASS = (10, 30, 100)
MODES = ("all", "head")
DEFAULT_STEPS = 100
DEFAULT_BATCH = 32
EVAL_EVERY = 25
SHIPPED_FINE_TUNE = ASSETS_DIR / "lab" / "fine_tune_results.json"


def fine_tune_data(cache_dir: Path, per_class: int) -> LabData:
    """per_class training images of each new class (the first of a fixed 100 per class) and 400 held-out."""
    if not 1 <= per_class <= MAX_PER_CLASS:
        raise ValueError(f"per_class must be in [1, {MAX_PER_CLASS}], not {per_class}")
    k = len(NEW_SHAPE_CLASSES)
    folder = Path(cache_dir) / "fine_tune"
    pool = cached_arrays(folder / f"new_shapes_{MAX_PER_CLASS}pc_s{TRAIN_SEED}.npz", k * MAX_PER_CLASS, k,
                         lambda: new_shape_arrays(MAX_PER_CLASS, TRAIN_SEED))
    held = cached_arrays(folder / f"new_shapes_{HELD_OUT_PER_CLASS}pc_s{HELD_OUT_SEED}.npz", k * HELD_OUT_PER_CLASS,
                         k, lambda: new_shape_arrays(HELD_OUT_PER_CLASS, HELD_OUT_SEED))
    n = k * per_class  # classes are interleaved: the first k * per_class images hold per_class of each
    return LabData(pool[0][:n], pool[1][:n], held[0], held[1], NEW_SHAPE_CLASSES)


def bundled_start(arch: Architecture) -> tuple[dict[str, torch.Tensor], object]:
    """The bundled weights of `arch` and its config as written in their metadata (like the Compare loader)."""
    path = bundled_weights_path(arch.weights_file)
    cfg = type(arch.config).from_metadata(read_metadata(path), where=f"'{path.name}'")
    state = load_state_dict_file(path)
    check_finite(state, f"The bundled weights '{path.name}'")
    return state, cfg


def fine_tune_spec(arch: str, per_class: int, steps: int = DEFAULT_STEPS, seed: int = 0,
                   held_out: int = HELD_OUT_PER_CLASS * len(NEW_SHAPE_CLASSES)) -> LabRunSpec:
    """held_out: the first images of the 400 (classes interleaved, so any multiple of 4 is balanced)."""
    return LabRunSpec(arch=arch, train_size=len(NEW_SHAPE_CLASSES) * per_class, seed=seed, steps=steps,
                      batch=DEFAULT_BATCH, eval_every=min(EVAL_EVERY, steps), eval_size=held_out)


def run_cache(cache_dir: Path, init: str, mode: str) -> RunCache:
    return RunCache(Path(cache_dir) / "fine_tune" / (init if init == "scratch" else f"{init}-{mode}"))


def make_trainer(spec: LabRunSpec, data: LabData, init: str, mode: str, start, device: str = "cpu") -> LabTrainer:
    """A pretrained (start = bundled_start(...)) or scratch trainer; the scratch one uses the same config."""
    state, cfg = start
    pretrained = init == "pretrained"
    return LabTrainer(spec, data, device, init_state=state if pretrained else None, config=cfg,
                      head_only=pretrained and mode == "head",
                      extra={"init": init, "mode": mode if pretrained else "all", "per_class": str(spec.train_size
                                                                                                  // len(data.class_names))})


@dataclass(frozen=True)
class FineTuneComparison:
    arch: str
    per_class: int
    mode: str
    pretrained: RunRecord
    scratch: RunRecord


def fine_tune_compare_job(ctx: JobContext, arch: str, per_class: int, mode: str = "all",
                          steps: int = DEFAULT_STEPS, cache_dir: Path = Path("runs/lab"), device: str = "cpu",
                          control: LabControl | None = None,
                          held_out: int = HELD_OUT_PER_CLASS * len(NEW_SHAPE_CLASSES)) -> Iterator[Load | Progress | RunRecord]:
    """Pretrained then scratch on per_class images of each new class; yields each run's RunRecord as it grows
    (extra["init"] tells which); returns a FineTuneComparison. Finished runs come from the cache at once."""
    if arch not in ARCHITECTURES or mode not in MODES:
        raise LabRecordError(f"Unknown architecture '{arch}' or mode '{mode}' (modes: {', '.join(MODES)}).")
    control = control or LabControl()
    data = yield Load(lambda: fine_tune_data(Path(cache_dir), per_class), "Drawing the new shapes")
    start = yield Load(lambda: bundled_start(ARCHITECTURES[arch]), f"Reading the bundled {arch} weights")
    spec = fine_tune_spec(arch, per_class, steps, held_out=held_out)
    out = {}
    for init in ("pretrained", "scratch"):
        ctx.check_cancelled()
        cache = run_cache(Path(cache_dir), init, mode)
        record = cache.get(spec)
        if record is None:
            trainer = yield Load(lambda i=init: make_trainer(spec, data, i, mode, start, device), f"Building {init} {arch}")
            record = yield from lab_run_job(ctx, trainer, control, cache)
        yield record
        out[init] = record
        if not record.finished:  # paused: the comparison is not complete
            break
    return FineTuneComparison(arch, per_class, mode, out.get("pretrained"), out.get("scratch"))


def load_shipped_fine_tune(path: Path = SHIPPED_FINE_TUNE) -> tuple[RunRecord, ...]:
    """The shipped fine-tune runs (validated; each has extra init, mode, per_class); () if absent."""
    path = Path(path)
    if not path.is_file():
        return ()
    records = records_from_json(read_json(path), f"The shipped fine-tune results '{path.name}'")
    for r in records:
        if r.extra.get("init") not in ("pretrained", "scratch"):
            raise LabRecordError(f"A shipped fine-tune run ({r.spec.key}) does not say pretrained or scratch.")
    return records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", nargs="+", choices=ARCH_KEYS, default=["convnext"])
    ap.add_argument("--per-class", type=int, nargs="+", default=list(PER_CLASS))
    ap.add_argument("--mode", choices=MODES, default="all", help="pretrained: train all layers, or the head only")
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cache-dir", default="runs/lab")
    ap.add_argument("--write-shipped", action="store_true", help=f"add the runs to {SHIPPED_FINE_TUNE}")
    ap.add_argument("--shipped-path", default=str(SHIPPED_FINE_TUNE), help=argparse.SUPPRESS)
    ap.add_argument("--held-out", type=int, default=HELD_OUT_PER_CLASS * len(NEW_SHAPE_CLASSES), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    print(f"fine-tune: {args.arch}, {args.per_class} images per class, mode {args.mode}, {args.steps} steps, "
          f"batch {DEFAULT_BATCH}, {args.held_out} held-out images", flush=True)
    results: list[RunRecord] = []
    for arch in args.arch:
        start = bundled_start(ARCHITECTURES[arch])
        for pc in args.per_class:
            data = fine_tune_data(Path(args.cache_dir), pc)
            spec = fine_tune_spec(arch, pc, args.steps, held_out=args.held_out)
            row = {}
            for init in ("pretrained", "scratch"):
                cache = run_cache(Path(args.cache_dir), init, args.mode)
                record = cache.get(spec)
                if record is None:
                    t0 = time.time()
                    record = train_to_end(make_trainer(spec, data, init, args.mode, start, args.device))
                    cache.put(record)
                    print(f"  {arch} {pc}/class {init}: {time.time() - t0:.0f} s", flush=True)
                row[init] = record
                results.append(record)
            print(f"{arch:<13} {pc:>4} per class: pretrained ({args.mode}) {100 * row['pretrained'].final_accuracy:5.1f}%"
                  f"   scratch {100 * row['scratch'].final_accuracy:5.1f}%", flush=True)
    if args.write_shipped:
        path = Path(args.shipped_path)
        old = [r for r in (load_shipped_fine_tune(path) if path.is_file() else ())
               if (r.spec.key, r.extra.get("init"), r.extra.get("mode")) not in
               {(n.spec.key, n.extra.get("init"), n.extra.get("mode")) for n in results}]
        write_json(path, {"note": "python -m models.lab.fine_tune " + " ".join(sys.argv[1:] if argv is None else argv),
                          "records": [r.to_json() for r in old + results]})
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

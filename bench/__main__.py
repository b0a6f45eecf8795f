"""`python -m bench [NAME ...]`: run benchmarks, print one JSON object per line.

Each bench/bench_*.py module defines BENCHMARKS = {"name": fn}; fn() returns
{"name", "value", "unit", "target"} (target is a string such as "<= 16"). With names, only those run.
"""
from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import traceback
from pathlib import Path


def discover() -> dict[str, callable]:
    found: dict[str, callable] = {}
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        try:
            module = importlib.import_module(f"bench.{info.name}")
        except Exception as exc:
            print(json.dumps({"name": info.name, "error": f"import failed: {type(exc).__name__}: {exc}"}),
                  flush=True)
            continue
        found.update(getattr(module, "BENCHMARKS", {}))
    return found


def main(argv: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    benchmarks = discover()
    names = argv or list(benchmarks)
    unknown = [n for n in names if n not in benchmarks]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(benchmarks)}", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        try:
            result = benchmarks[name]()
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            result = {"name": name, "error": f"{type(exc).__name__}: {exc}"}
            failed += 1
        print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

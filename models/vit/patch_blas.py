"""Run small numpy linear algebra on one BLAS thread (what the Patch embeddings tab does on the GUI thread).

numpy's OpenBLAS starts one busy-waiting thread per core for matrices as small as 196 x 768. While
torch uses the same cores (a training run, a forward), those threads fight and a 15 ms
eigendecomposition took 1.2 s (measured on 2 shared cores). ``single_blas_thread()`` pins OpenBLAS
to one thread for the duration of a block and restores the previous count; where numpy does not use
OpenBLAS (macOS Accelerate, MKL), it does nothing. threadpoolctl does the same, but is not a dependency.
"""
from __future__ import annotations

import ctypes
import sys
import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _openblas() -> tuple[tuple, ...]:
    """(get_num_threads, set_num_threads) of every OpenBLAS loaded (numpy's and scipy's differ)."""
    import numpy  # noqa: F401  (loads its BLAS)
    import scipy.linalg  # noqa: F401  (loads its own)

    if not sys.platform.startswith("linux"):
        return ()
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return ()
    found = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "64_"), ("openblas", "")):
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype = ctypes.c_int
                set_.argtypes = [ctypes.c_int]
                found.append((get, set_))
                break
    return tuple(found)


def blas_threads() -> list[int]:
    """Thread count of each OpenBLAS loaded (empty where none is found)."""
    return [int(get()) for get, _ in _openblas()]


@contextmanager
def single_blas_thread() -> Iterator[None]:
    libs = _openblas()
    with _lock:
        before = [int(get()) for get, _ in libs]
        for _, set_ in libs:
            set_(1)
    try:
        yield
    finally:
        with _lock:
            for (_, set_), n in zip(libs, before):
                set_(n)

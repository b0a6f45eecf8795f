"""Image intake timings: phone-sized JPEGs (12 MP full size, 48 MP with max_side=2048) and a bomb refusal."""
from __future__ import annotations

import io
import statistics
import struct
import tempfile
import time
import zlib
from pathlib import Path

from PIL import Image

from app.image_io import load_image_file
from app.samples import SAMPLES_DIR
from models.errors import ImageLoadError

REPEATS = 5


def _median_seconds(fn) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _photo(folder: Path, size: tuple[int, int]) -> Path:
    """A JPEG with photo-like content (a sample photo scaled up), quality 90."""
    path = folder / "photo.jpg"
    Image.open(SAMPLES_DIR / "coffee.jpg").convert("RGB").resize(size, Image.BICUBIC).save(path, quality=90)
    return path


def _load(size: tuple[int, int], max_side: int | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = _photo(Path(tmp), size)
        return _median_seconds(lambda: load_image_file(path, max_side=max_side))


def bench_load_12mp() -> dict:
    seconds = _load((4000, 3000), None)
    return {"name": "image_load_12mp_jpeg_s", "value": round(seconds, 3), "unit": "s", "target": "<= 1.0"}


def bench_load_48mp() -> dict:
    seconds = _load((8000, 6000), None)  # the reference for max_side below
    return {"name": "image_load_48mp_jpeg_s", "value": round(seconds, 3), "unit": "s", "target": "<= 2.0"}


def bench_load_48mp_max2048() -> dict:
    seconds = _load((8000, 6000), 2048)
    return {"name": "image_load_48mp_jpeg_max2048_s", "value": round(seconds, 3), "unit": "s", "target": "<= 1.0"}


def _png_claiming(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def bench_bomb_refusal() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bomb.png"
        path.write_bytes(_png_claiming(30000, 30000))

        def refuse() -> None:
            try:
                load_image_file(path)
            except ImageLoadError:
                return
            raise AssertionError("a 900 MP header was not refused")

        seconds = _median_seconds(refuse)
    return {"name": "image_bomb_refusal_ms", "value": round(seconds * 1000, 2), "unit": "ms", "target": "<= 50"}


def _big_photo(folder: Path, fmt: str, side: int = 10_000) -> Path:
    """A 100-megapixel photo (the largest size we open): a sample photo scaled up, as JPEG or PNG."""
    im = Image.open(SAMPLES_DIR / "coffee.jpg").convert("RGB").resize((side, side), Image.BILINEAR)
    path = folder / f"huge.{fmt.lower()}"
    im.save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 1}))
    return path


def bench_gui_stall_image_open(fmt: str = "JPEG") -> dict:
    """Largest gap of a 10 ms GUI heartbeat while the window's ImageLoader opens a 100 MP photo (decode +
    scale to 4096 on its own thread); the decode time itself is reported beside it."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from functools import partial

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.image_io import MAX_WORKING_SIDE
    from app.image_loader import ImageLoader

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        path = _big_photo(Path(tmp), fmt)
        loader = ImageLoader()
        gaps: list[float] = []
        last = [time.perf_counter()]

        def beat() -> None:
            now = time.perf_counter()
            gaps.append((now - last[0]) * 1000.0)
            last[0] = now

        heartbeat = QTimer()
        heartbeat.setInterval(10)
        heartbeat.timeout.connect(beat)
        done = QEventLoop()
        got: list = []
        loader.loaded.connect(lambda im, _c: (got.append(im), done.quit()))
        loader.failed.connect(lambda msg, _c: (got.append(msg), done.quit()))
        start = time.perf_counter()
        last[0] = start
        heartbeat.start()
        loader.load(partial(load_image_file, path, max_side=MAX_WORKING_SIDE))
        QTimer.singleShot(120_000, done.quit)
        done.exec()
        seconds = time.perf_counter() - start
        # the same heartbeat with nothing to do, for as long (capped): how much of the gap is the machine
        idle = QEventLoop()
        gaps_during = gaps[:]
        gaps.clear()
        last[0] = time.perf_counter()
        QTimer.singleShot(int(min(seconds, 5.0) * 1000), idle.quit)
        idle.exec()
        heartbeat.stop()
        baseline = max(gaps) if gaps else float("nan")
        gaps[:] = gaps_during
        app.processEvents()
    if not got or isinstance(got[0], str):
        raise RuntimeError(f"the 100 MP image did not load: {got}")
    suffix = "" if fmt == "JPEG" else "_" + fmt.lower()
    return {"name": f"gui_max_stall_ms_image_open{suffix}", "value": round(max(gaps), 1), "unit": "ms", "target": "<= 50",
            "decode_s": round(seconds, 2), "idle_baseline_ms": round(baseline, 1), "shape": list(got[0].pixels.shape)}


BENCHMARKS = {
    "image_load_12mp_jpeg_s": bench_load_12mp,
    "image_load_48mp_jpeg_s": bench_load_48mp,
    "image_load_48mp_jpeg_max2048_s": bench_load_48mp_max2048,
    "image_bomb_refusal_ms": bench_bomb_refusal,
    "gui_max_stall_ms_image_open": bench_gui_stall_image_open,
    "gui_max_stall_ms_image_open_png": lambda: bench_gui_stall_image_open("PNG"),
}

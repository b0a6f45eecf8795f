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


BENCHMARKS = {
    "image_load_12mp_jpeg_s": bench_load_12mp,
    "image_load_48mp_jpeg_s": bench_load_48mp,
    "image_load_48mp_jpeg_max2048_s": bench_load_48mp_max2048,
    "image_bomb_refusal_ms": bench_bomb_refusal,
}

"""Decoding the images of a user's folder, safely, to the model's input size. No Qt.

`load_image(path, size)` gives an (H, W, 3) uint8 RGB array at exactly `size`, whatever the file's mode
(L, LA, P, RGBA, CMYK, 16-bit and 32-bit grey, float) and size; transparency is composited onto white,
the EXIF orientation is applied, and the resize is the app's (PIL bilinear to (W, H), as
`models.compare.jobs.to_input` does, and as a Hugging Face ViT image processor does). The header's size
is checked before anything is decoded (a decompression bomb is refused without using memory); JPEGs are
decoded at reduced scale when much larger than the target. Every failure is an `ImageLoadError`.

(`app/image_io.py` is the app's full intake for one dropped image; `models/` may not import `app/`, so
this is the lean version for thousands of training images: same limits, same colour conversions.)

`DecodeCache` keeps decoded images within a memory budget and remembers unreadable files, so each
bad file is counted once and never retried.
"""
from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageLoadError

MAX_PIXELS = 100_000_000  # the app's limits (app/image_io.py): 100 megapixels...
MAX_SIDE = 20_000  # ...and 20,000 pixels a side
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError,
                  struct.error, ZeroDivisionError, UnidentifiedImageError)
# not tried: EPS/PDF/WMF (EPS runs Ghostscript); TGA has no signature
_FORMATS = ("PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "DIB", "TIFF", "PPM", "ICO", "QOI", "PSD", "JPEG2000")


def _size_hw(size: int | Sequence[int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if not (1 <= h <= 4096 and 1 <= w <= 4096):
        raise ValueError(f"target size {h}x{w} is out of range")
    return h, w


def load_image(path: str | os.PathLike, size: int | Sequence[int]) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file at `size` (H, W) (or an int for a square); ImageLoadError."""
    h, w = _size_hw(size)
    p = Path(path)
    label = p.name or str(p)
    try:
        with open(p, "rb") as fp:
            if not fp.read(16):
                raise ImageLoadError(f"'{label}' is empty (0 bytes)")
            fp.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(fp, formats=[f for f in _FORMATS if f in Image.OPEN] or None)
                with im:
                    width, height = im.size
                    if width <= 0 or height <= 0:
                        raise ImageLoadError(f"'{label}' is corrupted (it claims {width}x{height} pixels)")
                    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                        raise ImageLoadError(f"'{label}' is {width}x{height} pixels: too large "
                                             f"(limit {MAX_PIXELS // 1_000_000} MP, {MAX_SIDE} a side)")
                    im.draft("RGB", (w, h))  # JPEG: decode at a reduced DCT scale (still >= the target)
                    im.load()  # the first frame only
                    rgb = _to_rgb(_oriented(im), label)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError:
        raise ImageLoadError(f"'{label}' is too large to decode safely") from None
    except MemoryError:
        raise ImageLoadError(f"'{label}' does not fit in memory") from None
    except FileNotFoundError:
        raise ImageLoadError(f"'{label}' no longer exists") from None
    except PermissionError:
        raise ImageLoadError(f"Can't read '{label}': permission denied") from None
    except _DECODE_ERRORS:
        raise ImageLoadError(f"'{label}' is not a readable image (truncated, corrupted or another kind of file)") from None
    if rgb.size != (w, h):
        rgb = rgb.resize((w, h), Image.BILINEAR)
    out = np.asarray(rgb, dtype=np.uint8)  # (H, W, 3)
    return np.ascontiguousarray(out)


def _oriented(im: Image.Image) -> Image.Image:
    try:
        if im.getexif().get(0x0112, 1) in (0, 1):
            return im
        return ImageOps.exif_transpose(im) or im
    except _DECODE_ERRORS:
        return im  # a damaged EXIF block is ignored


def _to_rgb(im: Image.Image, label: str) -> Image.Image:
    """Any Pillow mode -> an RGB image; alpha composited onto white; 16/32-bit and float grey scaled."""
    mode = im.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        grey = _scale_to_uint8(np.asarray(im), sixteen_bit=mode.startswith("I;16"))  # (H, W)
        return Image.fromarray(np.repeat(grey[..., None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "RGB":
        return im
    try:
        return im.convert("RGB")
    except ValueError:
        raise ImageLoadError(f"'{label}' uses colour mode {mode}, which can't be converted to RGB") from None


def _scale_to_uint8(a: np.ndarray, sixteen_bit: bool = False) -> np.ndarray:
    """One channel of 16-bit, 32-bit integer or float data -> uint8 (as app/image_io.py scales it)."""
    if sixteen_bit:
        return ((a.astype(np.int64) + 128) // 257).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(a.min()), float(a.max())
        if lo >= 0.0 and hi <= 1.0:
            return np.round(a * 255.0).astype(np.uint8)
    else:
        a = a.astype(np.int64)
        lo, hi = int(a.min()), int(a.max())
        if lo >= 0 and hi <= 255:
            return a.astype(np.uint8)
        if lo >= 0 and hi <= 65535:
            return ((a + 128) // 257).astype(np.uint8)
    if hi <= lo:
        return np.full(a.shape, int(np.clip(lo, 0, 255)), np.uint8)
    return np.round((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)


class DecodeCache:
    """Decoded images by path within a byte budget; unreadable files remembered (counted once, never retried).

    Used by one worker thread at a time (a fine-tuning run's jobs)."""

    def __init__(self, size: tuple[int, int], budget_bytes: int = 512 * 2**20):
        self.size = _size_hw(size)
        self.budget_bytes = int(budget_bytes)
        self._images: dict[str, np.ndarray] = {}
        self._bytes = 0
        self._bad: dict[str, str] = {}  # path -> reason

    @property
    def unreadable(self) -> int:
        return len(self._bad)

    def unreadable_examples(self, n: int = 5) -> tuple[str, ...]:
        return tuple(list(self._bad.values())[:n])

    def known_bad(self, path: str) -> bool:
        return path in self._bad

    def get(self, path: str) -> np.ndarray | None:
        """(H, W, 3) uint8, or None when the file can't be used (then counted as unreadable)."""
        img = self._images.get(path)
        if img is not None or path in self._bad:
            return img
        try:
            img = load_image(path, self.size)
        except ImageLoadError as exc:
            self._bad[path] = str(exc)
            return None
        if self._bytes + img.nbytes <= self.budget_bytes:
            self._images[path] = img
            self._bytes += img.nbytes
        return img

    def batch(self, items: Sequence[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
        """(images (B, H, W, 3) uint8, labels (B,) int64) of the readable items (B <= len(items))."""
        images, labels = [], []
        for path, label in items:
            img = self.get(path)
            if img is not None:
                images.append(img)
                labels.append(label)
        if not images:
            return np.zeros((0, *self.size, 3), np.uint8), np.zeros((0,), np.int64)
        return np.stack(images), np.asarray(labels, np.int64)

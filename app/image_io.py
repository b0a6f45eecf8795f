"""Image intake shared by every tab: any file or pasted bytes -> one (H, W, 3) uint8 RGB array.

No Qt here (testable headless). Every failure is an ``ImageLoadError`` with a one-line message that
names the file and the reason; nothing is decoded before the header's size has been checked, so a
decompression bomb is refused without using memory.
"""
from __future__ import annotations

import base64
import binascii
import errno
import io
import math
import os
import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote_to_bytes

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from app.samples import SampleImage, sample_images  # noqa: F401  (re-exported for the gallery)
from models.errors import ImageLoadError

MAX_PIXELS = 100_000_000  # refuse images larger than this (100 megapixels)...
MAX_SIDE = 20_000  # ...or with a side longer than this
MAX_WORKING_SIDE = 4096  # what the app keeps of larger images (longest side), so tabs don't get 150 MB arrays

# Formats we let Pillow try, most common first. Deliberately not EPS/PDF/WMF (EPS runs Ghostscript).
# TGA has no signature (random bytes can pass for one), so it is only tried for files named *.tga.
_FORMATS = ("PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "DIB", "TIFF", "AVIF", "JPEG2000",
            "PPM", "ICO", "QOI", "PSD", "TGA")
_SUFFIXES = {
    "PNG": (".png", ".apng"), "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"), "GIF": (".gif",),
    "WEBP": (".webp",), "BMP": (".bmp",), "DIB": (".dib",), "TIFF": (".tif", ".tiff"),
    "AVIF": (".avif",), "JPEG2000": (".jp2", ".j2k"), "PPM": (".ppm", ".pgm", ".pbm", ".pnm"),
    "ICO": (".ico",), "QOI": (".qoi",), "PSD": (".psd",), "TGA": (".tga",),
}
# Signatures of common formats: a file that starts like an image but won't open is damaged, not "not an image".
_SIGNATURES = ((b"\x89PNG", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"II*\x00", "TIFF"),
               (b"MM\x00*", "TIFF"), (b"BM", "BMP"), (b"RIFF", "WebP"), (b"\x00\x00\x01\x00", "ICO"))
# Files people drop that are not (readable) raster images: name the kind and say what to do.
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1")
_KNOWN_OTHER = (
    (lambda b: b[4:8] == b"ftyp" and b[8:12] in _HEIF_BRANDS,
     "HEIC/HEIF photos are not supported: export it as JPEG or PNG"),
    (lambda b: b[4:8] == b"ftyp", "it looks like a video (MP4/MOV), not an image"),
    (lambda b: b"<svg" in b[:512].lower(), "it is a vector (SVG) drawing: export it as PNG first"),
    (lambda b: b.startswith(b"%PDF"), "it is a PDF document, not an image"),
    (lambda b: b.startswith(b"%!PS") or b.startswith(b"\xc5\xd0\xd3\xc6"),
     "PostScript/EPS files are not opened (they can run code): export it as PNG"),
)
# Modes Pillow scales well (alpha premultiplied); others are converted to RGB first, then scaled.
_RESIZE_FIRST_MODES = ("RGB", "RGBA", "L", "LA")
# Errors Pillow raises from damaged data while parsing or decoding.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError,
                  struct.error, ZeroDivisionError)


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image, ready for every tab."""

    pixels: np.ndarray  # (H, W, 3) uint8 RGB, EXIF orientation applied
    source: str  # the path, or a description such as "pasted image"
    original_mode: str  # Pillow mode of the file, e.g. "CMYK", "I;16", "P", "RGBA"
    original_size: tuple[int, int]  # (width, height) as stored in the file, before EXIF rotation
    format: str = ""  # e.g. "PNG", "JPEG"
    n_frames: int = 1  # > 1 for an animation (only the first frame is used)

    @property
    def name(self) -> str:
        """Short name for titles and messages: the file name, or the description."""
        return Path(self.source).name or self.source

    def describe(self) -> str:
        """One line for a status bar, e.g. 'cat.jpg: 451x300 JPEG'."""
        h, w = self.pixels.shape[:2]
        extra = [] if self.original_mode in ("RGB", "L") else [f"from {self.original_mode}"]
        if max(w, h) < max(self.original_size):
            extra.append("scaled down from {}x{}".format(*self.original_size))
        if self.n_frames > 1:
            extra.append(f"frame 1 of {self.n_frames}")
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"{self.name}: {w}x{h} {self.format}{tail}".rstrip()


def _available_formats() -> tuple[str, ...]:
    Image.init()
    return tuple(f for f in _FORMATS if f in Image.OPEN)


def _formats_for(label: str) -> tuple[str, ...]:
    tga = label.lower().endswith(_SUFFIXES["TGA"])
    return tuple(f for f in _available_formats() if f != "TGA" or tga)


SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(
    s for f in _available_formats() for s in _SUFFIXES.get(f, ()))


def is_supported_path(path: str | Path) -> bool:
    """True when the file name ends in a suffix we open (for filtering dropped files)."""
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def file_dialog_filter() -> str:
    """Filter string for a Qt file dialog: images first, then all files."""
    patterns = " ".join(f"*{s}" for s in SUPPORTED_SUFFIXES)
    return f"Images ({patterns});;All files (*)"


def load_image_file(path: str | Path, max_side: int | None = None) -> LoadedImage:
    """Decode an image file. Raises ImageLoadError with a clear message when it can't be used.

    max_side: when given, a larger image is scaled down (aspect kept) so its longer side is max_side;
    JPEGs are then decoded at reduced size directly, which is several times faster for phone photos.
    """
    p = Path(path)
    label = p.name or str(p)
    if not p.exists():
        raise ImageLoadError(f"Can't open '{label}': {_missing_reason(p)}")
    if p.is_dir():
        raise ImageLoadError(f"Can't open '{label}': it is a folder, not an image file")
    if not p.is_file():  # a pipe or device would block or never end
        raise ImageLoadError(f"Can't open '{label}': not a regular file")
    try:
        with open(p, "rb") as fp:
            return _decode(fp, label, str(p), max_side)
    except PermissionError:
        raise ImageLoadError(f"Can't open '{label}': permission denied") from None
    except IsADirectoryError:
        raise ImageLoadError(f"Can't open '{label}': it is a folder, not an image file") from None
    except ImageLoadError:
        raise
    except OSError as exc:  # the file itself could not be read (I/O error, vanished, ...)
        raise ImageLoadError(f"Can't read '{label}': {exc.strerror or exc}") from None


def _missing_reason(p: Path) -> str:
    """Why Path.exists() said no: a link loop, a dangling link, no permission, or really missing."""
    try:
        os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "it is a symbolic link loop (the link leads back to itself), not a file"
        if exc.errno == errno.EACCES:
            return "permission denied (a folder on its path can't be entered)"
        if exc.errno == errno.ENAMETOOLONG:
            return "the path is too long"
        if p.is_symlink():
            try:
                target = os.readlink(p)
            except OSError:
                target = "?"
            return f"it is a symbolic link to '{target}', which does not exist"
    except ValueError:  # e.g. a NUL character in the path
        return "the path is not valid"
    return "the file does not exist"


def load_image_bytes(data: bytes, name: str = "pasted image", max_side: int | None = None) -> LoadedImage:
    """Decode image data held in memory (clipboard, drag-and-drop from a browser)."""
    return _decode(io.BytesIO(bytes(data)), name, name, max_side)


MAX_DATA_URL_CHARS = 300_000_000  # a base64 data: URL longer than this is refused before decoding


def is_data_url(text: str) -> bool:
    """True for a 'data:' URL, as browsers give for images embedded in a page."""
    return text.lstrip()[:5].lower() == "data:"


def load_image_data_url(url: str, name: str = "dropped image", max_side: int | None = None) -> LoadedImage:
    """Decode a 'data:image/...;base64,...' URL (an image dragged out of a web page)."""
    url = url.strip()
    head, sep, payload = url.partition(",")
    if not is_data_url(head) or not sep:
        raise ImageLoadError(f"Can't open '{name}': not a data: URL")
    meta = head[5:].lower()
    media = meta.split(";")[0]
    if media and not media.startswith("image/"):
        raise ImageLoadError(f"Can't open '{name}': it holds {media}, not an image")
    if len(payload) > MAX_DATA_URL_CHARS:
        raise ImageLoadError(f"'{name}' is too large ({len(payload) / 1e6:.0f} million characters)")
    try:
        data = base64.b64decode(payload, validate=False) if meta.endswith(";base64") else unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise ImageLoadError(f"'{name}' is truncated or corrupted (bad base64 data)") from None
    return load_image_bytes(data, name, max_side)


def _decode(fp: BinaryIO, label: str, source: str, max_side: int | None = None) -> LoadedImage:
    prefix = fp.read(512)
    if not prefix:
        raise ImageLoadError(f"Can't open '{label}': it is empty (0 bytes)")
    fp.seek(0)
    im = _open_header(fp, label, prefix)
    with im:
        width, height = im.size
        _check_size(label, width, height)
        mode, fmt = im.mode, im.format or ""
        n_frames = _count_frames(im)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                if max_side and max(width, height) > max_side:
                    scale = max_side / max(width, height)
                    im.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))  # JPEG: DCT scaling
                im.load()  # first frame only
                oriented = _to_srgb(_apply_orientation(im))
                if max_side and max(oriented.size) > max_side and oriented.mode in _RESIZE_FIRST_MODES:
                    # scale in Pillow first: a 100 MP numpy copy holds the GIL (and the GUI) for long stretches
                    oriented.thumbnail((max_side, max_side), Image.BILINEAR, reducing_gap=2.0)
                pixels = _to_rgb8(oriented, label)
                if max_side and max(pixels.shape[:2]) > max_side:
                    small = Image.fromarray(pixels)
                    small.thumbnail((max_side, max_side), Image.BILINEAR, reducing_gap=2.0)
                    pixels = np.asarray(small)
        except ImageLoadError:
            raise
        except MemoryError:
            raise ImageLoadError(f"'{label}' ({width}x{height}) does not fit in memory") from None
        except Image.DecompressionBombError:
            raise ImageLoadError(f"'{label}' is too large to decode safely") from None
        except _DECODE_ERRORS:
            raise ImageLoadError(f"'{label}' is truncated or corrupted") from None
    return LoadedImage(np.ascontiguousarray(pixels), source, mode, (width, height), fmt, n_frames)


def _count_frames(im: Image.Image) -> int:
    """Frames of an animation (1 for a still image, or when a damaged animation can't be counted)."""
    if not getattr(im, "is_animated", False) or im.format == "MPO":  # MPO: a photo plus previews
        return 1
    try:
        count = int(im.n_frames)
        im.seek(0)
        return count
    except _DECODE_ERRORS:
        try:
            im.seek(0)
        except _DECODE_ERRORS:
            pass
        return 1


def _apply_orientation(im: Image.Image) -> Image.Image:
    """Rotate/flip as the EXIF orientation tag says; a damaged EXIF block is ignored, not fatal."""
    try:
        if im.getexif().get(0x0112, 1) in (0, 1):  # no rotation: skip the copy
            return im
        return ImageOps.exif_transpose(im) or im
    except _DECODE_ERRORS:
        return im


def _to_srgb(im: Image.Image) -> Image.Image:
    """Convert with the embedded ICC profile (Display P3 phone photos, Adobe RGB, CMYK print files).

    sRGB files and files without a profile are left as they are; a damaged profile is ignored.
    """
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK"):
        return im
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(src).lower():
            return im
        base = im.convert("RGB") if im.mode == "RGBA" else im
        out = ImageCms.profileToProfile(base, src, _srgb_profile(), outputMode="RGB")
        if im.mode == "RGBA":
            out.putalpha(im.getchannel("A"))
        return out
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return im


_SRGB: list = []


def _srgb_profile():
    if not _SRGB:
        _SRGB.append(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")))
    return _SRGB[0]


def _open_header(fp: BinaryIO, label: str, prefix: bytes) -> Image.Image:
    """Image.open reads only the header; its own bomb check is turned into our message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(fp, formats=_formats_for(label))
    except Image.DecompressionBombError as exc:
        size = _header_size(fp, _formats_for(label)) or _pixels_from_message(str(exc))
        raise ImageLoadError(_too_large_message(label, size)) from None
    except (UnidentifiedImageError, *_DECODE_ERRORS):
        kind = next((k for sig, k in _SIGNATURES if prefix.startswith(sig)), None)
        hint = next((h for test, h in _KNOWN_OTHER if test(prefix)), None)
        if hint is not None:
            raise ImageLoadError(f"Can't open '{label}': {hint}") from None
        if kind is not None:
            raise ImageLoadError(f"'{label}' is truncated or corrupted (it starts like a {kind} file)") from None
        raise ImageLoadError(
            f"Can't open '{label}': not an image file (PNG, JPEG, GIF, WebP, BMP, TIFF, ...)") from None


def _header_size(fp: BinaryIO, formats: tuple[str, ...]) -> tuple[int, int] | None:
    """Width and height from the header alone, bypassing Pillow's global bomb limit (nothing decoded)."""
    for fmt in formats:
        factory, accept = Image.OPEN[fmt]
        fp.seek(0)
        if accept is not None and not accept(fp.read(16)):
            continue
        fp.seek(0)
        try:
            return tuple(factory(fp, "").size)  # type: ignore[return-value]
        except Exception:  # noqa: BLE001 - any failure here just means "size unknown"
            continue
    return None


def _pixels_from_message(message: str) -> int | None:
    m = re.search(r"\((\d+) pixels\)", message)
    return int(m.group(1)) if m else None


def _too_large_message(label: str, size: tuple[int, int] | int | None) -> str:
    limit = f"limit {MAX_PIXELS // 1_000_000} MP and {MAX_SIDE} pixels a side"
    if isinstance(size, tuple):
        w, h = size
        return f"'{label}' is {w}x{h} pixels ({w * h / 1e6:.0f} MP): too large ({limit})"
    if isinstance(size, int):
        return f"'{label}' has {size / 1e6:.0f} MP: too large ({limit})"
    return f"'{label}' is too large ({limit})"


def _check_size(label: str, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageLoadError(f"'{label}' is truncated or corrupted (it claims {width}x{height} pixels)")
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise ImageLoadError(_too_large_message(label, (width, height)))


def _to_rgb8(im: Image.Image, label: str) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB. Transparency is composited onto white."""
    mode = im.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        gray = _scale_to_uint8(np.asarray(im), sixteen_bit=mode.startswith("I;16"))  # (H, W)
        return np.repeat(gray[..., None], 3, axis=2)  # (H, W, 3)
    if _has_alpha(im):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode == "RGB":
        return np.asarray(im)
    try:
        return np.asarray(im.convert("RGB"))
    except ValueError:
        raise ImageLoadError(f"'{label}' uses colour mode {mode}, which can't be converted to RGB") from None


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _scale_to_uint8(a: np.ndarray, sixteen_bit: bool = False) -> np.ndarray:
    """One-channel 16-bit, 32-bit integer or float data -> uint8 with a sensible scale.

    16-bit files: divided by 257 (65535 -> 255), so a dark image stays dark. 32-bit integers: 0..255
    is kept, 0..65535 is divided by 257, anything else is stretched from min to max. Floats: 0..1 is
    multiplied by 255, anything else is stretched; NaN/inf become 0.
    """
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


"""Turning what Qt hands us (drops, the clipboard) into a LoadedImage, or a clear ImageLoadError.

`plan_from_mime` reads the QMimeData on the GUI thread (Qt objects are not thread-safe) and returns a
function that decodes, which may run on any thread. Every source (a file, raw bytes from a browser, a
QImage, a `data:` URL) goes through the same size rule: longest side at most MAX_WORKING_SIDE.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData
from PySide6.QtGui import QImage

from models.errors import ImageLoadError

from .image_io import MAX_WORKING_SIDE, LoadedImage, is_data_url, load_image_bytes, load_image_data_url, load_image_file

_IMAGE_MIME_PREFERENCE = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff")

Decode = Callable[[], LoadedImage]


def mime_has_image(mime: QMimeData) -> bool:
    if mime.hasImage() or any(f.startswith("image/") for f in mime.formats()):
        return True
    return mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())


def drag_label(mime: QMimeData) -> str | None:
    """What a drag carries, for the drop highlight ('red.png', 'an image'), or None if we can't take it."""
    if mime.hasUrls():
        local = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if local:
            return Path(local[0]).name or local[0]
        if any(is_data_url(u.toString()) for u in mime.urls()):
            return "the image"
    if mime.hasImage() or any(f.startswith("image/") for f in mime.formats()):
        return "the image"
    if mime.hasUrls():
        return "the link"  # a web address: the drop says what to do instead
    return None


def qimage_to_png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def plan_from_mime(mime: QMimeData, what: str) -> Decode:
    """A local file URL first, then raw image bytes (as browsers send), then a decoded QImage, then text.

    Raises ImageLoadError at once when the data holds no image; the returned function decodes."""
    if mime.hasUrls():
        local = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if local:
            return partial(load_image_file, local[0], max_side=MAX_WORKING_SIDE)
    for fmt in _IMAGE_MIME_PREFERENCE + tuple(f for f in mime.formats() if f.startswith("image/")):
        if fmt in mime.formats():
            raw = bytes(mime.data(fmt).data())
            if raw:
                return partial(load_image_bytes, raw, f"{what} ({fmt})", max_side=MAX_WORKING_SIDE)
    if mime.hasImage():
        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            return partial(load_image_bytes, qimage_to_png_bytes(image), what, max_side=MAX_WORKING_SIDE)
    if mime.hasUrls():
        url = mime.urls()[0].toString()
        if is_data_url(url):
            return partial(load_image_data_url, url, what, max_side=MAX_WORKING_SIDE)
        raise ImageLoadError(f"{url} is a web address: drag the picture itself, or save it and open the file.")
    text = mime.text().strip() if mime.hasText() else ""
    if text and is_data_url(text):
        return partial(load_image_data_url, text, what, max_side=MAX_WORKING_SIDE)
    if text and "\n" not in text and Path(text).expanduser().is_file():
        return partial(load_image_file, Path(text).expanduser(), max_side=MAX_WORKING_SIDE)
    if text:
        raise ImageLoadError(f"The {what} holds text, not an image.")
    raise ImageLoadError(f"The {what} holds no image.")


def load_from_mime(mime: QMimeData, what: str) -> LoadedImage:
    """Decode at once, on this thread (plan_from_mime + call)."""
    return plan_from_mime(mime, what)()

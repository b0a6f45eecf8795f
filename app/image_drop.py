"""Turning what Qt hands us (drops, the clipboard) into a LoadedImage, or a clear ImageLoadError."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData
from PySide6.QtGui import QImage

from models.errors import ImageLoadError

from .image_io import MAX_WORKING_SIDE, LoadedImage, is_data_url, load_image_bytes, load_image_data_url, load_image_file

_IMAGE_MIME_PREFERENCE = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff")


def mime_has_image(mime: QMimeData) -> bool:
    if mime.hasImage() or any(f.startswith("image/") for f in mime.formats()):
        return True
    return mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())


def qimage_to_png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def load_from_mime(mime: QMimeData, what: str) -> LoadedImage:
    """A local file URL first, then raw image bytes (as browsers send), then a decoded QImage."""
    if mime.hasUrls():
        local = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if local:
            return load_image_file(local[0], max_side=MAX_WORKING_SIDE)
    for fmt in _IMAGE_MIME_PREFERENCE + tuple(f for f in mime.formats() if f.startswith("image/")):
        if fmt in mime.formats():
            raw = bytes(mime.data(fmt).data())
            if raw:
                return load_image_bytes(raw, f"{what} ({fmt})", max_side=MAX_WORKING_SIDE)
    if mime.hasImage():
        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            return load_image_bytes(qimage_to_png_bytes(image), what, max_side=MAX_WORKING_SIDE)
    if mime.hasUrls():
        url = mime.urls()[0].toString()
        if is_data_url(url):
            return load_image_data_url(url, what)
        raise ImageLoadError(f"{url} is a web address: drag the picture itself, or save it and open the file.")
    text = mime.text().strip() if mime.hasText() else ""
    if text and is_data_url(text):
        return load_image_data_url(text, what)
    if text and "\n" not in text and Path(text).expanduser().is_file():
        return load_image_file(Path(text).expanduser(), max_side=MAX_WORKING_SIDE)
    if text:
        raise ImageLoadError(f"The {what} holds text, not an image.")
    raise ImageLoadError(f"The {what} holds no image.")

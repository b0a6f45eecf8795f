"""Training images for the DCGAN: a registry of sources, each giving a uint8 tensor (N, C, S, S).

"shapes" (default) draws the procedural sprites offline; "folder" reads the images in a folder;
"mnist", "fashion-mnist" and "cifar10" read torchvision's files from a local folder, downloading
them with progress when they are missing and the machine is online.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserFacingError
from ..imaging import tensor_to_uint8_hwc
from ..shapes import sprite_arrays
from .catalog import DATASET_INFO

ProgressFn = Callable[[float | None, str], None]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
DEFAULT_DATA_ROOT = Path(os.environ.get("VISION_EXPLORER_DATA", Path.home() / ".cache" / "vision-explorer" / "data"))


@dataclass(frozen=True)
class DataRequest:
    ref: str  # folder (empty: the default place)
    image_size: int
    seed: int
    num_images: int  # for generated data


@dataclass(frozen=True)
class DatasetSource:
    key: str
    title: str
    channels: int
    needs_folder: bool  # True: the user must pick a folder
    load: Callable[[DataRequest, ProgressFn | None], torch.Tensor]  # -> (N, C, S, S) uint8


def _resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, h, w) uint8 -> (N, C, size, size) uint8, area/bilinear resize in chunks."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images.contiguous()
    out = []
    for chunk in images.split(2048):
        x = chunk.float()
        mode = "area" if chunk.shape[-1] > size else "bilinear"
        x = F.interpolate(x, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))
        out.append(x.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)


def _load_shapes_labelled(req: DataRequest, progress: ProgressFn | None) -> tuple[torch.Tensor, torch.Tensor]:
    if progress:
        progress(None, f"Drawing {req.num_images} shape sprites")
    images, labels = sprite_arrays(req.num_images, req.seed + 12345, size=req.image_size)  # (N, S, S, 3), (N,)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


def _load_shapes(req: DataRequest, progress: ProgressFn | None) -> torch.Tensor:
    return _load_shapes_labelled(req, progress)[0]


def _load_folder(req: DataRequest, progress: ProgressFn | None) -> torch.Tensor:
    from PIL import Image, UnidentifiedImageError

    folder = Path(req.ref).expanduser()
    if not req.ref or not folder.is_dir():
        raise UserFacingError(f"'{req.ref or '(none)'}' is not a folder: pick a folder of images.")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserFacingError(f"The folder '{folder}' holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    out, skipped = [], 0
    for i, path in enumerate(files):
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                side = min(im.size)  # centre crop to a square, then resize
                left, top = (im.width - side) // 2, (im.height - side) // 2
                im = im.crop((left, top, left + side, top + side)).resize((req.image_size,) * 2, Image.BICUBIC)
                out.append(np.asarray(im))
        except (UnidentifiedImageError, OSError):
            skipped += 1
        if progress and i % 64 == 0:
            progress(i / len(files), f"Reading images: {i}/{len(files)}")
    if len(out) < 2:
        raise UserFacingError(f"Fewer than 2 readable images in '{folder}' ({skipped} could not be read).")
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def _download(url: str, dest: Path, what: str, progress: ProgressFn | None, done: int, total: int) -> int:
    """Fetch url to dest (via a .part file) reporting progress over all files; returns bytes so far."""
    import urllib.request

    tmp = dest.with_suffix(dest.suffix + ".part")
    with urllib.request.urlopen(url, timeout=20) as response, open(tmp, "wb") as out:
        while chunk := response.read(1 << 18):
            out.write(chunk)
            done += len(chunk)
            if progress:
                progress(min(done / total, 1.0) if total else None, f"Downloading {what}: {done / 2**20:.1f} MB")
    tmp.replace(dest)
    return done


def _prefetch(cls, root: Path, title: str, progress: ProgressFn | None) -> None:
    """Download a torchvision dataset's archives with progress into the places torchvision checks;
    torchvision then only verifies and extracts them. Knows the MNIST family and CIFAR layouts."""
    from torchvision.datasets.utils import check_integrity

    if hasattr(cls, "resources") and hasattr(cls, "mirrors"):  # MNIST, Fashion-MNIST: several .gz files
        folder = root / cls.__name__ / "raw"
        files = [(name, md5, [m + name for m in cls.mirrors]) for name, md5 in cls.resources]
        total = {"MNIST": 11_594_722, "FashionMNIST": 30_878_645}.get(cls.__name__, 0)
    elif hasattr(cls, "url") and hasattr(cls, "filename"):  # CIFAR: one archive
        folder = root
        files = [(cls.filename, getattr(cls, "tgz_md5", None), [cls.url])]
        total = 170_498_071
    else:
        return
    folder.mkdir(parents=True, exist_ok=True)
    done = 0
    for name, md5, urls in files:
        dest = folder / name
        if check_integrity(str(dest), md5):
            continue
        errors = []
        for url in urls:
            try:
                done = _download(url, dest, title, progress, done, total)
                break
            except OSError as exc:  # URLError, timeouts, refused connections
                errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
        else:
            raise OSError("; ".join(errors))


def _torchvision_loader(name: str, title: str) -> Callable[[DataRequest, ProgressFn | None], torch.Tensor]:
    def load(req: DataRequest, progress: ProgressFn | None) -> torch.Tensor:
        import torchvision.datasets as tvd

        cls = getattr(tvd, name)
        root = Path(req.ref).expanduser() if req.ref else DEFAULT_DATA_ROOT
        try:
            ds = cls(str(root), train=True, download=False)
        except RuntimeError:  # not on disk: download it (with progress), then let torchvision check and unpack
            try:
                _prefetch(cls, root, title, progress)
                if progress:
                    progress(None, f"Unpacking {title}")
                ds = cls(str(root), train=True, download=True)
            except Exception as exc:  # offline, or a broken partial download
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
                raise UserFacingError(
                    f"{title} is not in {root} and could not be downloaded ({first}). Connect to the internet "
                    f"once, or pick a folder that holds torchvision's {title} files.") from None
        data = ds.data
        images = torch.as_tensor(np.asarray(data))  # MNIST: (N, 28, 28); CIFAR: (N, 32, 32, 3)
        images = images[:, None] if images.dim() == 3 else images.permute(0, 3, 1, 2)
        return _resize_uint8(images, req.image_size)

    return load


DATASETS: dict[str, DatasetSource] = {}


def register_dataset(source: DatasetSource) -> DatasetSource:
    DATASETS[source.key] = source
    return source


_LOADERS = {"shapes": _load_shapes, "folder": _load_folder, "mnist": _torchvision_loader("MNIST", "MNIST"),
            "fashion-mnist": _torchvision_loader("FashionMNIST", "Fashion-MNIST"),
            "cifar10": _torchvision_loader("CIFAR10", "CIFAR-10")}
for _key, (_title, _channels, _needs_folder) in DATASET_INFO.items():
    register_dataset(DatasetSource(_key, _title, _channels, _needs_folder, _LOADERS[_key]))


def get_dataset(key: str) -> DatasetSource:
    try:
        return DATASETS[key]
    except KeyError:
        raise UserFacingError(f"Unknown dataset '{key}' (known: {', '.join(DATASETS)}).") from None


def load_images(key: str, req: DataRequest, progress: ProgressFn | None = None) -> torch.Tensor:
    """(N, C, S, S) uint8 training images of one source."""
    images = get_dataset(key).load(req, progress)
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise UserFacingError(f"Dataset '{key}' gave unusable data {tuple(images.shape)} {images.dtype}.")
    return images


_LABELLED = {"shapes": _load_shapes_labelled}  # sources that know each image's class (conditional GANs)


def load_labelled_images(key: str, req: DataRequest,
                         progress: ProgressFn | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(N, C, S, S) uint8 images and (N,) int64 classes, or None for a source without classes."""
    if key not in _LABELLED:
        return load_images(key, req, progress), None
    return _LABELLED[key](req, progress)


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, S, S) -> float in [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8_hwc(images: torch.Tensor) -> np.ndarray:
    """float [-1, 1] (B, C, S, S) -> (B, S, S, 3) uint8 numpy (grey images repeated to RGB)."""
    return tensor_to_uint8_hwc(images, rgb=True)

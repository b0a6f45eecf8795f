"""A user's image folder in the torchvision ``ImageFolder`` layout, indexed without decoding anything. No Qt.

    root/
        cat/  a.jpg  b.png  more/c.jpg      <- one sub-folder per class (nested folders are walked)
        dog/  d.jpg  ...

`index_folder_job` walks the folder with ``os.scandir`` (no image is opened), yielding a Progress every
few thousand entries and checking for cancellation there, so 100,000 files index without freezing the
window. It returns a frozen `FolderIndex`. Files are recognised by their suffix; other files (notes,
.DS_Store, hidden files) are skipped and counted. Unreadable images are found later, when decoded
(`models.lab.image_decode`), and counted there.

Bad folders get one clear sentence (`UserFacingError`): not a folder or unreadable, empty, images loose at
the top with no class folders, only one class. **Classes without images are dropped**, with a note in
`FolderIndex.notes` naming them, as long as two classes with images remain (otherwise the error lists
them). Loose images at the top next to class folders are ignored with a note.

`split` makes the deterministic, stratified train / held-out split: every class with >= 2 images gets >= 1
held-out image and keeps >= 1 training image.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserFacingError
from ..jobs import JobContext, Progress

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".gif", ".webp", ".tif", ".tiff",
                  ".ppm", ".pgm", ".pbm", ".pnm", ".qoi", ".jp2", ".j2k", ".ico")
MAX_FILES = 500_000  # images; a larger folder is refused (pick a sub-set)
PROGRESS_EVERY = 2000  # directory entries between two Progress reports (and cancellation checks)


class FolderError(UserFacingError):
    """The folder can't be used for training; nothing was changed."""


@dataclass(frozen=True)
class FolderIndex:
    root: str
    classes: tuple[str, ...]  # sorted sub-folder names that hold images
    files: tuple[tuple[str, int], ...]  # (path, class index), by class then path
    per_class_counts: tuple[int, ...]  # images per class, same order as classes
    skipped_non_images: int  # files that are not images by their name (and hidden files)
    notes: tuple[str, ...] = field(default=())  # classes dropped, loose images ignored: one sentence each

    @property
    def name(self) -> str:
        return Path(self.root).name or self.root

    @property
    def num_images(self) -> int:
        return len(self.files)

    def files_of(self, class_index: int) -> tuple[tuple[str, int], ...]:
        start = sum(self.per_class_counts[:class_index])
        return self.files[start:start + self.per_class_counts[class_index]]

    def describe(self) -> str:
        counts = ", ".join(f"{c} {n}" for c, n in zip(self.classes, self.per_class_counts))
        return f"{self.name}: {self.num_images:,} images in {len(self.classes)} classes ({counts})"


@dataclass(frozen=True)
class FolderSplit:
    train: tuple[tuple[str, int], ...]  # (path, class index)
    held_out: tuple[tuple[str, int], ...]


def is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _scan(path: str, label: str):
    try:
        return os.scandir(path)
    except FileNotFoundError:
        raise FolderError(f"'{label}' does not exist (any more).") from None
    except NotADirectoryError:
        raise FolderError(f"'{label}' is a file, not a folder: pick a folder with one sub-folder per class.") from None
    except PermissionError:
        raise FolderError(f"Can't read '{label}': permission denied.") from None
    except OSError as exc:
        raise FolderError(f"Can't read '{label}': {exc.strerror or type(exc).__name__}.") from None


def _is_dir(entry: os.DirEntry, follow: bool = False) -> bool:
    """Inside class folders links to folders are not followed (no loops); class folders themselves may be links."""
    try:
        return entry.is_dir(follow_symlinks=follow)
    except OSError:
        return False


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


class _Walk:
    """Counts and yields Progress while walking; shared by the top level and the class folders."""

    def __init__(self, ctx: JobContext, name: str, max_files: int, every: int):
        self.ctx, self.name, self.max_files, self.every = ctx, name, max_files, every
        self.seen = 0
        self.images = 0
        self.skipped = 0

    def tick(self):
        self.seen += 1
        if self.seen % self.every == 0:
            self.ctx.check_cancelled()
            yield Progress(None, f"Indexing '{self.name}': {self.seen:,} entries, {self.images:,} images")

    def class_files(self, folder: str, label: str):
        """Generator: walks one class folder (nested folders too); returns its sorted image paths."""
        found: list[str] = []
        stack = [folder]
        while stack:
            current = stack.pop()
            try:
                it = _scan(current, label)
            except FolderError:
                if current == folder:
                    raise
                self.skipped += 1  # an unreadable nested folder is skipped, the class keeps its other images
                continue
            with it:
                for entry in it:
                    yield from self.tick()
                    if _is_dir(entry):
                        if not entry.name.startswith("."):
                            stack.append(entry.path)
                    elif _is_file(entry) and is_image_name(entry.name):
                        found.append(entry.path)
                        self.images += 1
                        if self.images > self.max_files:
                            raise FolderError(
                                f"'{self.name}' holds more than {self.max_files:,} images: pick a smaller "
                                "folder (or copy a sub-set of each class into a new one).")
                    else:
                        self.skipped += 1
        found.sort()
        return found


def index_folder_job(ctx: JobContext, root: str | os.PathLike, max_files: int = MAX_FILES,
                     progress_every: int = PROGRESS_EVERY):
    """Job: index an ImageFolder-layout folder (nothing decoded). Returns a FolderIndex; FolderError if unusable."""
    root_path = Path(root).expanduser()
    label = root_path.name or str(root_path)
    if not root_path.exists():
        raise FolderError(f"'{label}' does not exist.")
    if not root_path.is_dir():
        raise FolderError(f"'{label}' is a file, not a folder: pick a folder with one sub-folder per class.")
    walk = _Walk(ctx, label, max_files, max(1, int(progress_every)))
    yield Progress(None, f"Indexing '{label}'")
    class_dirs: list[tuple[str, str]] = []
    loose_images = 0
    with _scan(str(root_path), label) as it:
        for entry in it:
            yield from walk.tick()
            if _is_dir(entry, follow=True):
                if not entry.name.startswith("."):
                    class_dirs.append((entry.name, entry.path))
            elif _is_file(entry) and is_image_name(entry.name):
                loose_images += 1
            else:
                walk.skipped += 1
    if not class_dirs:
        if loose_images:
            raise FolderError(
                f"'{label}' holds {loose_images:,} images but no class folders: put the images of each class in "
                f"its own sub-folder (e.g. '{label}/cats/', '{label}/dogs/').")
        raise FolderError(f"'{label}' is empty: it needs one sub-folder of images per class.")
    class_dirs.sort()
    kept: list[tuple[str, list[str]]] = []
    empty: list[str] = []
    for i, (name, path) in enumerate(class_dirs):
        yield Progress(i / len(class_dirs), f"Indexing '{label}': class '{name}'")
        files = yield from walk.class_files(path, f"{label}/{name}")
        if files:
            kept.append((name, files))
        else:
            empty.append(name)
    notes: list[str] = []
    if empty:
        listed = _list_names(empty)
        if len(kept) < 2:
            have = f"only '{kept[0][0]}' has images" if kept else "none has images"
            raise FolderError(f"'{label}': the class folders {listed} hold no images, and {have}; "
                              "training needs at least two classes with images.")
        notes.append(f"Dropped {len(empty)} class folder{'s' if len(empty) > 1 else ''} without images: {listed}.")
    if len(kept) < 2:
        raise FolderError(f"'{label}' has only one class ('{kept[0][0]}'): training needs at least two class "
                          "sub-folders with images.")
    if loose_images:
        notes.append(f"Ignored {loose_images:,} image{'s' if loose_images > 1 else ''} directly in '{label}' "
                     "(not in a class folder).")
    classes = tuple(name for name, _ in kept)
    files = tuple((path, ci) for ci, (_, paths) in enumerate(kept) for path in paths)
    yield Progress(1.0, f"Indexed {len(files):,} images in {len(classes)} classes")
    return FolderIndex(str(root_path), classes, files, tuple(len(p) for _, p in kept), walk.skipped, tuple(notes))


def _list_names(names: list[str], most: int = 8) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def split(index: FolderIndex, held_out_fraction: float = 0.2, seed: int = 0) -> FolderSplit:
    """Deterministic stratified split: per class, a seeded shuffle; round(n * fraction) held out, at least 1
    (when the class has >= 2 images) and at most n - 1. A class with one image is train only."""
    if not 0.0 < float(held_out_fraction) < 1.0:
        raise UserFacingError(f"The held-out fraction must be between 0 and 1 (got {held_out_fraction}).")
    train: list[tuple[str, int]] = []
    held: list[tuple[str, int]] = []
    for ci in range(len(index.classes)):
        items = index.files_of(ci)
        n = len(items)
        k = 0 if n < 2 else min(n - 1, max(1, round(n * held_out_fraction)))
        order = np.random.default_rng([int(seed), ci]).permutation(n)
        chosen = set(order[:k].tolist())
        for j, item in enumerate(items):
            (held if j in chosen else train).append(item)
    return FolderSplit(tuple(train), tuple(held))

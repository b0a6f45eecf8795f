"""Data sets a detector is evaluated on: the bundled validation scenes (generated on the fly) or a COCO JSON
with an image folder picked by the user. A malformed or mismatched JSON is refused with one clear message
(models.errors.UserFacingError) before anything runs. numpy + PIL, no torch, no Qt."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import UserFacingError

from .ground_truth import GroundTruth

MAX_ANNOTATION_BYTES = 50 * 1024 * 1024
VALIDATION_SEED = 20_261_125  # the held-out seed of models.detection.evaluate: never used for training


class DatasetError(UserFacingError):
    """A data set that cannot be evaluated as given."""


@dataclass(frozen=True)
class EvalDataset:
    key: str  # identifies the data set for the results cache
    title: str
    class_names: tuple[str, ...]
    gt_boxes: tuple[np.ndarray, ...]  # per image (G_i, 4) float32 xyxy pixels
    gt_labels: tuple[np.ndarray, ...]  # per image (G_i,) int64
    sizes: tuple[tuple[int, int], ...]  # per image (width, height)
    names: tuple[str, ...]  # per image, for lists
    images: np.ndarray | None = None  # (N, H, W, 3) uint8 when generated in memory
    folder: str = ""  # else the images are files in this folder

    def __len__(self) -> int:
        return len(self.sizes)

    def image(self, i: int) -> np.ndarray:
        if self.images is not None:
            return self.images[i]
        from PIL import Image

        with Image.open(Path(self.folder) / self.names[i]) as f:
            return np.asarray(f.convert("RGB"))

    def ground_truth(self, i: int) -> GroundTruth:
        return GroundTruth(self.gt_boxes[i], self.gt_labels[i], self.class_names, self.title)


def bundled_scenes(n: int, seed: int = VALIDATION_SEED) -> EvalDataset:
    """n generated 96x96 shapes scenes with their boxes (the bundled DETR's validation distribution)."""
    from models.shapes import DETECTION, SHAPE_CLASSES, generate

    if not 1 <= n <= 20_000:
        raise DatasetError(f"Choose between 1 and 20000 scenes (not {n}).")
    samples = generate(n, seed, DETECTION)
    boxes = []
    for s in samples:
        b = np.asarray(s.boxes, np.float32).reshape(-1, 4)  # xywh
        boxes.append(np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1))
    return EvalDataset(key=f"shapes-scenes:{seed}:{n}", title=f"{n} validation scenes (seed {seed})",
                       class_names=tuple(SHAPE_CLASSES), gt_boxes=tuple(boxes),
                       gt_labels=tuple(np.asarray(s.labels, np.int64) for s in samples),
                       sizes=tuple((s.image.shape[1], s.image.shape[0]) for s in samples),
                       names=tuple(f"scene {i}" for i in range(n)), images=np.stack([s.image for s in samples]))


def _fail(json_path: Path, what: str) -> DatasetError:
    return DatasetError(f"{json_path.name}: {what} Nothing was changed.")


def _examples(items, n: int = 3) -> str:
    items = list(items)
    shown = ", ".join(str(x) for x in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def load_coco_dataset(json_path: str | Path, folder: str | Path, max_bytes: int = MAX_ANNOTATION_BYTES,
                      check_image_sizes: bool = True) -> EvalDataset:
    """A COCO detection JSON (images, annotations, categories) whose file_name entries are in folder."""
    json_path, folder = Path(json_path), Path(folder)
    if not json_path.is_file():
        raise DatasetError(f"The annotation file {json_path} does not exist.")
    if not folder.is_dir():
        raise DatasetError(f"The image folder {folder} does not exist.")
    size = json_path.stat().st_size
    if size > max_bytes:
        raise _fail(json_path, f"the file is {size / 2**20:.0f} MB; annotation files up to "
                               f"{max_bytes / 2**20:.0f} MB are read (split it into smaller sets).")
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _fail(json_path, "this is not a text (UTF-8) JSON file.") from None
    except json.JSONDecodeError as exc:
        raise _fail(json_path, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).") from None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list) for k in ("images", "annotations",
                                                                                   "categories")):
        raise _fail(json_path, "a COCO detection file needs the lists \"images\", \"annotations\" and \"categories\".")
    try:
        cats = {int(c["id"]): str(c["name"]) for c in doc["categories"]}
        images = {int(im["id"]): (str(im["file_name"]), int(im["width"]), int(im["height"])) for im in doc["images"]}
    except (KeyError, TypeError, ValueError):
        raise _fail(json_path, "every category needs an id and a name, every image an id, file_name, width and "
                               "height.") from None
    if not cats or not images:
        raise _fail(json_path, "it lists no categories or no images.")
    cat_order = sorted(cats)
    cat_pos = {c: i for i, c in enumerate(cat_order)}
    per_image: dict[int, list[tuple[list[float], int]]] = {i: [] for i in images}
    unknown_images, unknown_cats, bad_boxes, outside = set(), set(), [], []
    for n, a in enumerate(doc["annotations"]):
        if not isinstance(a, dict):
            raise _fail(json_path, f"annotation {n} is not an object.")
        if a.get("iscrowd", 0):
            continue
        img, cat, bbox = a.get("image_id"), a.get("category_id"), a.get("bbox")
        if img not in images:
            unknown_images.add(img)
            continue
        if cat not in cats:
            unknown_cats.add(cat)
            continue
        if (not isinstance(bbox, list) or len(bbox) != 4 or not all(isinstance(v, (int, float)) for v in bbox)
                or bbox[2] <= 0 or bbox[3] <= 0):
            bad_boxes.append(a.get("id", n))
            continue
        _, w, h = images[img]
        x, y, bw, bh = (float(v) for v in bbox)
        if x < -1 or y < -1 or x + bw > w + 1 or y + bh > h + 1:
            outside.append(a.get("id", n))
        per_image[img].append(([x, y, x + bw, y + bh], cat_pos[cat]))
    problems = []
    if unknown_images:
        problems.append(f"annotations refer to image ids that are not listed ({_examples(sorted(unknown_images, key=str))})")
    if unknown_cats:
        problems.append(f"annotations use category ids that are not listed ({_examples(sorted(unknown_cats, key=str))})")
    if bad_boxes:
        problems.append(f"{len(bad_boxes)} boxes are not [x, y, width, height] with a positive size "
                        f"(annotation ids {_examples(bad_boxes)})")
    if outside:
        problems.append(f"{len(outside)} boxes lie outside their image (annotation ids {_examples(outside)})")
    missing = [name for name, _, _ in images.values() if not (folder / name).is_file()]
    if missing:
        problems.append(f"{len(missing)} of {len(images)} images are not in {folder} ({_examples(missing)})")
    if not problems and check_image_sizes:
        from PIL import Image

        wrong = []
        for name, w, h in images.values():
            with Image.open(folder / name) as f:
                if f.size != (w, h):
                    wrong.append(f"{name} is {f.size[0]}x{f.size[1]}, not {w}x{h}")
        if wrong:
            problems.append(f"{len(wrong)} images differ in size from the JSON ({_examples(wrong, 2)})")
    if problems:
        raise _fail(json_path, "; ".join(problems) + ".")
    ids = sorted(images)
    boxes = tuple(np.array([b for b, _ in per_image[i]], np.float32).reshape(-1, 4) for i in ids)
    labels = tuple(np.array([c for _, c in per_image[i]], np.int64) for i in ids)
    return EvalDataset(key=f"coco:{json_path.resolve()}:{json_path.stat().st_mtime_ns}:{folder.resolve()}",
                       title=f"{json_path.name} ({len(ids)} images)", class_names=tuple(cats[c] for c in cat_order),
                       gt_boxes=boxes, gt_labels=labels, sizes=tuple(images[i][1:] for i in ids),
                       names=tuple(images[i][0] for i in ids), folder=str(folder))

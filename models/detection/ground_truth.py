"""Ground-truth boxes of an image, when it has some: the shapes sample scenes ship COCO annotations
(assets/samples/shapes_scenes.json). An image is recognised by its pixels (a hash), whatever its path.
numpy + PIL only (no torch): the GUI asks when an image is opened."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "samples"
SAMPLE_ANNOTATIONS = SAMPLES_DIR / "shapes_scenes.json"


@dataclass(frozen=True)
class GroundTruth:
    boxes: np.ndarray  # (G, 4) float32 xyxy pixels
    labels: np.ndarray  # (G,) int64 indices into class_names
    class_names: tuple[str, ...]
    source: str = ""  # where it came from, for the user ("shapes_scenes.json", a file name)

    def __len__(self) -> int:
        return len(self.labels)

    def class_name(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else f"class {label}"

    def relabelled(self, class_names: tuple[str, ...]) -> "GroundTruth":
        """The same boxes with labels as indices into another list of class names (a detector's), matched
        by name; boxes of classes the list lacks get label -1 (no prediction can match them)."""
        index = {n: i for i, n in enumerate(class_names)}
        labels = np.array([index.get(self.class_name(int(c)), -1) for c in self.labels], np.int64)
        return GroundTruth(self.boxes, labels, class_names, self.source)


def image_key(image: np.ndarray) -> str:
    """A content hash of an (H, W, 3) uint8 image."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


def from_coco(doc: dict, image_id, source: str = "") -> GroundTruth:
    """The ground truth of one image of a (validated) COCO dict; labels are category ids' positions in
    doc['categories']."""
    cats = [c["id"] for c in doc["categories"]]
    names = tuple(str(c["name"]) for c in doc["categories"])
    pos = {c: i for i, c in enumerate(cats)}
    anns = [a for a in doc["annotations"] if a["image_id"] == image_id and not a.get("iscrowd", 0)]
    xywh = np.array([a["bbox"] for a in anns], np.float32).reshape(-1, 4)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
    return GroundTruth(boxes, np.array([pos[a["category_id"]] for a in anns], np.int64), names, source)


@lru_cache(maxsize=1)
def _sample_index() -> dict[str, GroundTruth]:
    from PIL import Image

    if not SAMPLE_ANNOTATIONS.is_file():
        return {}
    doc = json.loads(SAMPLE_ANNOTATIONS.read_text())
    out = {}
    for im in doc["images"]:
        path = SAMPLES_DIR / im["file_name"]
        if path.is_file():
            with Image.open(path) as f:
                pixels = np.asarray(f.convert("RGB"))
            out[image_key(pixels)] = from_coco(doc, im["id"], SAMPLE_ANNOTATIONS.name)
    return out


def sample_ground_truth(image: np.ndarray) -> GroundTruth | None:
    """The annotations of a bundled sample scene with exactly these pixels, else None."""
    return _sample_index().get(image_key(image))

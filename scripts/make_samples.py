"""Build the sample gallery in assets/samples/.

Shapes images come from models.shapes (seeded: the same files every run). The photos come from
scikit-image's data folder, read straight from its wheel (scikit-image itself is not installed):

    .venv/bin/pip download scikit-image --no-deps -d /tmp/skimage
    .venv/bin/python scripts/make_samples.py --skimage-wheel /tmp/skimage/scikit_image-*.whl

Without --skimage-wheel only the shapes images are (re)generated.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.shapes import (  # noqa: E402
    CLASSIFICATION, DETECTION, NUM_CLASSES, SHAPE_CLASSES, generate, sprite_arrays, to_coco)

OUT = ROOT / "assets" / "samples"
PHOTOS = {  # file in skimage/data -> our file name; licences in assets/samples/LICENSES.md
    "astronaut.png": "astronaut.jpg",
    "chelsea.png": "chelsea.jpg",
    "coffee.png": "coffee.jpg",
    "rocket.jpg": "rocket.jpg",
    "hubble_deep_field.jpg": "hubble_deep_field.jpg",
}
MAX_SIDE = 512
JPEG_QUALITY = 88
CLASSIFICATION_SAVE = 224  # 64 px images upscaled (nearest) to a ViT's usual input size
SCENE_UPSCALE = 4  # 96 px scenes saved at 384 px (nearest: downscaling by 4 gives the scene back exactly)
N_SCENES = 4
SPRITES_PER_CLASS = 8


def _upscale(image: np.ndarray, size: tuple[int, int]) -> Image.Image:
    return Image.fromarray(image).resize(size, Image.NEAREST)


def make_photos(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        for src, dst in PHOTOS.items():
            im = Image.open(io.BytesIO(zf.read(f"skimage/data/{src}"))).convert("RGB")
            im.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)  # keeps aspect, never enlarges
            im.save(OUT / dst, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)


def make_classification(seed: int = 2024) -> None:
    """One clear 64 px image per class: the first with a large object."""
    found: dict[int, np.ndarray] = {}
    for sample in generate(400, seed, CLASSIFICATION):
        cls = int(sample.labels[0])
        w, h = sample.boxes[0][2:]
        if cls not in found and min(w, h) >= 0.45 * CLASSIFICATION.size:
            found[cls] = sample.image
        if len(found) == NUM_CLASSES:
            break
    for cls, image in found.items():
        _upscale(image, (CLASSIFICATION_SAVE, CLASSIFICATION_SAVE)).save(
            OUT / f"shapes_{SHAPE_CLASSES[cls]}.png", optimize=True)


def make_scenes(seed: int = 7) -> None:
    """A few 96 px detection scenes with 3-5 objects, plus their ground truth (COCO json, saved-size pixels)."""
    scenes = [s for s in generate(60, seed, DETECTION) if len(s.labels) >= 3][:N_SCENES]
    side = DETECTION.size * SCENE_UPSCALE
    coco = to_coco(scenes)
    for i, (scene, info) in enumerate(zip(scenes, coco["images"]), start=1):
        name = f"shapes_scene_{i}.png"
        _upscale(scene.image, (side, side)).save(OUT / name, optimize=True)
        info.update(file_name=name, width=side, height=side)
    for ann in coco["annotations"]:
        ann["bbox"] = [round(v * SCENE_UPSCALE, 2) for v in ann["bbox"]]
        ann["area"] = round(ann["area"] * SCENE_UPSCALE ** 2, 2)
    (OUT / "shapes_scenes.json").write_text(json.dumps(coco, indent=1) + "\n")


def make_sprite_sheet(seed: int = 11, gap: int = 2, scale: int = 2) -> None:
    """Rows of 32 px sprites, one row per class (the data of the GAN and diffusion tabs)."""
    rows = []
    for cls in range(NUM_CLASSES):
        images, _ = sprite_arrays(SPRITES_PER_CLASS, seed + cls, cls=cls)  # (N, 32, 32, 3)
        padded = np.pad(images, ((0, 0), (gap, gap), (gap, gap), (0, 0)))
        rows.append(np.concatenate(list(padded), axis=1))  # (36, N*36, 3)
    sheet = np.concatenate(rows, axis=0)
    h, w = sheet.shape[:2]
    _upscale(sheet, (w * scale, h * scale)).save(OUT / "shapes_sprites.png", optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skimage-wheel", type=Path, help="scikit-image wheel to take the photos from")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.skimage_wheel:
        make_photos(args.skimage_wheel)
    make_classification()
    make_scenes()
    make_sprite_sheet()
    total = sum(p.stat().st_size for p in OUT.iterdir() if p.is_file())
    print(f"{len(list(OUT.iterdir()))} files in {OUT.relative_to(ROOT)}, {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

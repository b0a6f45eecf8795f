"""Procedural "shapes" data: the offline training and test set of every bundled model.

A seeded generator of images with one or more coloured shapes (circle, square, triangle, star,
hexagon, cross) on textured backgrounds, with class labels and COCO-format boxes, plus small
single-sprite images for the generative tabs. Same seed, same data. Pure numpy + PIL, no torch.
"""
from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "hexagon", "cross")
NUM_CLASSES = len(SHAPE_CLASSES)


@dataclass(frozen=True)
class ShapesConfig:
    """How a scene is drawn. Sizes are fractions of the image side."""

    size: int = 64
    min_objects: int = 1
    max_objects: int = 1
    min_scale: float = 0.30  # object's circumscribed diameter / image side
    max_scale: float = 0.70
    textured_background: bool = True
    noise_std: float = 6.0  # additive Gaussian pixel noise, in 0..255 units
    max_overlap: float = 0.35  # intersection / smaller box; more than this and the object is redrawn elsewhere


@dataclass(frozen=True)
class ShapesSample:
    image: np.ndarray  # (H, W, 3) uint8
    labels: np.ndarray  # (K,) int64, indices into SHAPE_CLASSES
    boxes: np.ndarray  # (K, 4) float32, COCO [x, y, w, h] in pixels


CLASSIFICATION = ShapesConfig()
DETECTION = ShapesConfig(size=96, min_objects=1, max_objects=5, min_scale=0.16, max_scale=0.42)


def unit_polygon(cls: int) -> np.ndarray:
    """Vertices of a shape with circumradius 1, centred at the origin. (V, 2)"""
    name = SHAPE_CLASSES[cls]
    if name == "circle":
        n = 32
        ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
        return np.stack([np.cos(ang), np.sin(ang)], 1)
    if name in ("square", "triangle", "hexagon"):
        n = {"square": 4, "triangle": 3, "hexagon": 6}[name]
        ang = np.linspace(0, 2 * np.pi, n, endpoint=False) + np.pi / n
        return np.stack([np.cos(ang), np.sin(ang)], 1)
    if name == "star":
        ang = np.linspace(0, 2 * np.pi, 10, endpoint=False) - np.pi / 2
        rad = np.where(np.arange(10) % 2 == 0, 1.0, 0.42)
        return np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)
    if name == "cross":
        a, b = 0.33, 0.95  # half arm width, half arm length (circumradius ~1)
        pts = [(a, b), (a, a), (b, a), (b, -a), (a, -a), (a, -b),
               (-a, -b), (-a, -a), (-b, -a), (-b, a), (-a, a), (-a, b)]
        return np.asarray(pts, dtype=np.float64)
    raise KeyError(name)


_POLYGONS = [unit_polygon(c) for c in range(NUM_CLASSES)]


def _random_colour(rng: np.random.Generator, saturated: bool) -> np.ndarray:
    h = rng.random()
    if saturated:
        s, v = rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0)
    else:
        s, v = rng.uniform(0.0, 0.35), rng.uniform(0.15, 0.5)
    return np.asarray(colorsys.hsv_to_rgb(h, s, v)) * 255.0


def background_texture(rng: np.random.Generator, size: int, textured: bool) -> np.ndarray:
    """A muted background: gradient plus, when textured, stripes or a checkerboard. (H, W, 3) float32"""
    c0, c1 = _random_colour(rng, False), _random_colour(rng, False)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    img = c0[None, None, :] * (1 - ramp[..., None]) + c1[None, None, :] * ramp[..., None]
    if textured:
        kind = rng.integers(0, 3)
        if kind == 0:  # stripes
            freq = rng.uniform(3, 10)
            a2 = rng.uniform(0, np.pi)
            tex = np.sin(2 * np.pi * freq * (np.cos(a2) * xx + np.sin(a2) * yy))
        elif kind == 1:  # checkerboard
            cells = rng.integers(3, 9)
            tex = ((np.floor(xx * cells) + np.floor(yy * cells)) % 2) * 2 - 1
        else:  # blotches: low-resolution noise upsampled
            low = rng.standard_normal((4, 4)).astype(np.float32)
            tex = np.kron(low, np.ones((size // 4 + 1, size // 4 + 1), np.float32))[:size, :size]
        img = img + rng.uniform(10, 28) * tex[..., None]
    return img.astype(np.float32)


def _overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection area / area of the smaller of two [x, y, w, h] boxes: bounds how hidden either is."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    smaller = min(a[2] * a[3], b[2] * b[3])
    return inter / smaller if smaller > 0 else 0.0


def render_scene(rng: np.random.Generator, config: ShapesConfig = CLASSIFICATION) -> ShapesSample:
    """One image with between min_objects and max_objects shapes, fully inside the frame."""
    size = config.size
    bg = background_texture(rng, size, config.textured_background)
    canvas = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    count = int(rng.integers(config.min_objects, config.max_objects + 1))
    labels: list[int] = []
    boxes: list[np.ndarray] = []
    for _ in range(count):
        for _attempt in range(20):
            cls = int(rng.integers(0, NUM_CLASSES))
            radius = rng.uniform(config.min_scale, config.max_scale) * size / 2
            rot = rng.uniform(0, 2 * np.pi)
            c, s = math.cos(rot), math.sin(rot)
            pts = _POLYGONS[cls] @ np.array([[c, s], [-s, c]]) * radius
            lo, hi = pts.min(0), pts.max(0)
            cx = rng.uniform(-lo[0] + 1, size - hi[0] - 1)
            cy = rng.uniform(-lo[1] + 1, size - hi[1] - 1)
            pts = pts + np.array([cx, cy])
            lo, hi = pts.min(0), pts.max(0)
            box = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], np.float32)
            if all(_overlap_of_smaller(box, b) <= config.max_overlap for b in boxes):
                break
        else:
            continue
        colour = tuple(int(v) for v in _random_colour(rng, True))
        draw.polygon([tuple(p) for p in pts], fill=colour)
        labels.append(cls)
        boxes.append(box)
    img = np.asarray(canvas, dtype=np.float32)
    if config.noise_std > 0:
        img = img + rng.normal(0.0, config.noise_std, img.shape).astype(np.float32)
    image = np.clip(img, 0, 255).astype(np.uint8)
    return ShapesSample(
        image=image,
        labels=np.asarray(labels, np.int64),
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
    )


def generate(n: int, seed: int, config: ShapesConfig = CLASSIFICATION) -> list[ShapesSample]:
    """n scenes, deterministic in seed."""
    rng = np.random.default_rng(seed)
    return [render_scene(rng, config) for _ in range(n)]


def classification_arrays(n: int, seed: int, config: ShapesConfig = CLASSIFICATION):
    """Single-object images for classification. Returns images (N, H, W, 3) uint8, labels (N,), boxes (N, 4)."""
    samples = generate(n, seed, config)
    images = np.stack([s.image for s in samples])
    labels = np.array([int(s.labels[0]) for s in samples], np.int64)
    boxes = np.stack([s.boxes[0] for s in samples]).astype(np.float32)
    return images, labels, boxes


def render_sprite(rng: np.random.Generator, size: int = 32, cls: int | None = None) -> tuple[np.ndarray, int]:
    """A single centred shape on a black background, for the generative tabs. ((H, W, 3) uint8, class)"""
    cls = int(rng.integers(0, NUM_CLASSES)) if cls is None else int(cls)
    radius = rng.uniform(0.30, 0.44) * size
    rot = rng.uniform(0, 2 * np.pi)
    c, s = math.cos(rot), math.sin(rot)
    centre = size / 2 + rng.uniform(-0.06, 0.06, 2) * size
    pts = _POLYGONS[cls] @ np.array([[c, s], [-s, c]]) * radius + centre
    # draw at 4x and downsample: smooth edges make the sprites learnable for small generators
    big = Image.new("RGB", (size * 4, size * 4), (0, 0, 0))
    colour = tuple(int(v) for v in _random_colour(rng, True))
    ImageDraw.Draw(big).polygon([tuple(p * 4) for p in pts], fill=colour)
    return np.asarray(big.resize((size, size), Image.BOX)), cls


def sprite_arrays(n: int, seed: int, size: int = 32, cls: int | None = None):
    """n sprites: images (N, size, size, 3) uint8 and labels (N,) int64."""
    rng = np.random.default_rng(seed)
    out = [render_sprite(rng, size, cls) for _ in range(n)]
    return np.stack([o[0] for o in out]), np.array([o[1] for o in out], np.int64)


def to_coco(samples: list[ShapesSample]) -> dict:
    """A COCO-format ground-truth dict (images, annotations, categories) for these samples."""
    images, annotations = [], []
    for i, s in enumerate(samples):
        h, w = s.image.shape[:2]
        images.append({"id": i, "width": w, "height": h, "file_name": f"{i:06d}.png"})
        for lab, box in zip(s.labels, s.boxes):
            annotations.append({
                "id": len(annotations) + 1, "image_id": i, "category_id": int(lab),
                "bbox": [float(v) for v in box], "area": float(box[2] * box[3]), "iscrowd": 0,
            })
    categories = [{"id": i, "name": n} for i, n in enumerate(SHAPE_CLASSES)]
    return {"images": images, "annotations": annotations, "categories": categories}

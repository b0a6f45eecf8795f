"""Procedural "not a shape" sprites (32 x 32, on black): what a sprite judge must refuse.

Each kind is a function ``(rng, size) -> (H, W, 3) uint8`` in the ``NEGATIVE_KINDS`` table: soft Gaussian
blobs, ellipses that are not circles, random smooth outlines, polygons and stars of the wrong kind,
pixel noise, shapes cut by the border, two shapes merged, two shapes apart, blurred or degraded shapes,
and near-empty frames; 30% of them over a dim graded background (``with_background``). Pure numpy + PIL;
same seed, same images. ``positive_sprite`` draws a real sprite with the mild imperfections a good
generator leaves (faint noise, a faint or dim graded background, a slight blur).
"""
from __future__ import annotations

import colorsys
import math
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..shapes import NUM_CLASSES, render_sprite, unit_polygon

SS = 4  # supersampling factor, as render_sprite does


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    h, s, v = rng.random(), rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0)
    return tuple(int(c * 255) for c in colorsys.hsv_to_rgb(h, s, v))


def _rotate(pts: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return pts @ np.array([[c, s], [-s, c]])


def _draw(polys: list[tuple[np.ndarray, tuple[int, int, int]]], size: int) -> np.ndarray:
    """Polygons (pixel coordinates) drawn at SS x and box-downsampled: anti-aliased like the sprites."""
    big = Image.new("RGB", (size * SS, size * SS), (0, 0, 0))
    draw = ImageDraw.Draw(big)
    for pts, colour in polys:
        draw.polygon([tuple(p * SS) for p in pts], fill=colour)
    return np.asarray(big.resize((size, size), Image.BOX))


def _shape_points(rng: np.random.Generator, size: int, cls: int, radius_frac: tuple[float, float]) -> np.ndarray:
    radius = rng.uniform(*radius_frac) * size
    return _rotate(unit_polygon(cls), rng.uniform(0, 2 * np.pi)) * radius  # (V, 2), centred at 0


def _centre(rng: np.random.Generator, size: int) -> np.ndarray:
    return size / 2 + rng.uniform(-0.06, 0.06, 2) * size


def blob(rng: np.random.Generator, size: int) -> np.ndarray:
    """One to three soft Gaussian blobs of random colour, width and elongation."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    img = np.zeros((size, size, 3), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        cx, cy = rng.uniform(0.25, 0.75, 2) * size
        sx, sy = rng.uniform(0.07, 0.25, 2) * size
        a = rng.uniform(0, np.pi)
        u = (xx - cx) * math.cos(a) + (yy - cy) * math.sin(a)
        v = -(xx - cx) * math.sin(a) + (yy - cy) * math.cos(a)
        g = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))  # (H, W)
        img += g[..., None] * np.asarray(_colour(rng), np.float32) * rng.uniform(0.6, 1.0)
    return np.clip(img, 0, 255).astype(np.uint8)


def ellipse(rng: np.random.Generator, size: int) -> np.ndarray:
    """A filled ellipse whose short axis is 35-80% of its long one: not a circle."""
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    r = rng.uniform(0.30, 0.44) * size
    pts = np.stack([np.cos(t), rng.uniform(0.35, 0.8) * np.sin(t)], 1) * r
    return _draw([(_rotate(pts, rng.uniform(0, np.pi)) + _centre(rng, size), _colour(rng))], size)


def smooth_outline(rng: np.random.Generator, size: int) -> np.ndarray:
    """A closed smooth outline r(t) = R (1 + sum_k a_k cos(k t + p_k)), k = 2..5: a lumpy potato."""
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    wobble = np.zeros_like(t)
    for k in range(2, 6):
        wobble += rng.uniform(0.0, 0.22) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    wobble *= max(1.0, 0.18 / max(float(np.abs(wobble).max()), 1e-6))  # at least 18% off round
    r = rng.uniform(0.30, 0.42) * size * np.clip(1 + wobble, 0.35, 1.6)
    pts = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    return _draw([(pts + _centre(rng, size), _colour(rng))], size)


def wrong_polygon(rng: np.random.Generator, size: int) -> np.ndarray:
    """A pentagon, a star with 4, 6, 7 or 8 points, or an irregular polygon of 5-8 corners."""
    kind = int(rng.integers(0, 3))
    if kind == 0:
        n, radii = 5, None
    elif kind == 1:
        n = int(rng.choice([4, 6, 7, 8]))
        radii = np.where(np.arange(2 * n) % 2 == 0, 1.0, rng.uniform(0.3, 0.6))
    else:
        n, radii = int(rng.integers(5, 9)), None
    if radii is None:
        ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
        if kind == 2:
            ang = np.sort(ang + rng.uniform(-0.3, 0.3, n) * np.pi / n)
            rad = rng.uniform(0.45, 1.0, n)
        else:
            rad = np.ones(n)
    else:
        ang, rad = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False), radii
    pts = np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)
    pts = _rotate(pts, rng.uniform(0, 2 * np.pi)) * rng.uniform(0.30, 0.44) * size
    return _draw([(pts + _centre(rng, size), _colour(rng))], size)


def noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Pixel noise: white (grey or colour), low-frequency clouds, or sparse speckles."""
    kind = int(rng.integers(0, 3))
    if kind == 0:
        channels = 3 if rng.random() < 0.5 else 1
        img = rng.normal(rng.uniform(40, 128), rng.uniform(20, 90), (size, size, channels))
    elif kind == 1:
        cells = int(rng.integers(3, 9))
        low = rng.uniform(0, 255, (cells, cells, 3)).astype(np.uint8)
        img = np.asarray(Image.fromarray(low).resize((size, size), Image.BICUBIC), np.float32)
        img = img * rng.uniform(0.4, 1.0)
    else:
        img = (rng.random((size, size, 1)) < rng.uniform(0.03, 0.3)) * np.asarray(_colour(rng), np.float32)
    return np.clip(np.broadcast_to(img, (size, size, 3)), 0, 255).astype(np.uint8)


def cut_by_border(rng: np.random.Generator, size: int) -> np.ndarray:
    """A real shape pushed so that a third to two thirds of it lies outside the frame."""
    pts = _shape_points(rng, size, int(rng.integers(0, NUM_CLASSES)), (0.30, 0.44))
    lo, hi = pts.min(0), pts.max(0)
    axis = int(rng.integers(0, 2))
    outside = rng.uniform(0.35, 0.65) * (hi[axis] - lo[axis])
    centre = _centre(rng, size)
    centre[axis] = (-lo[axis] - outside) if rng.random() < 0.5 else (size + outside - hi[axis])
    return _draw([(pts + centre, _colour(rng))], size)


def merged(rng: np.random.Generator, size: int) -> np.ndarray:
    """Two shapes overlapping: one merged silhouette (same colour) or one over the other."""
    same = rng.random() < 0.5
    colour = _colour(rng)
    polys = []
    offset = rng.uniform(0.25, 0.45) * size
    angle = rng.uniform(0, 2 * np.pi)
    for sign in (-0.5, 0.5):
        pts = _shape_points(rng, size, int(rng.integers(0, NUM_CLASSES)), (0.22, 0.32))
        shift = size / 2 + sign * offset * np.array([math.cos(angle), math.sin(angle)])
        polys.append((pts + shift, colour if same else _colour(rng)))
    return _draw(polys, size)


def two_shapes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Two (sometimes three) small shapes apart from each other."""
    count = 2 if rng.random() < 0.8 else 3
    angle = rng.uniform(0, 2 * np.pi)
    polys = []
    for k in range(count):
        a = angle + 2 * np.pi * k / count
        centre = size / 2 + rng.uniform(0.24, 0.3) * size * np.array([math.cos(a), math.sin(a)])
        pts = _shape_points(rng, size, int(rng.integers(0, NUM_CLASSES)), (0.13, 0.19))
        polys.append((pts + centre, _colour(rng)))
    return _draw(polys, size)


def blurred(rng: np.random.Generator, size: int) -> np.ndarray:
    """A real sprite blurred by a Gaussian of 1.6 to 3.5 pixels: the shape's corners are gone."""
    img, _ = render_sprite(rng, size)
    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(rng.uniform(1.6, 3.5))))


def degraded(rng: np.random.Generator, size: int) -> np.ndarray:
    """A real sprite under heavy noise, pixelated to 6-10 px, or with a large part erased."""
    img, _ = render_sprite(rng, size)
    kind = int(rng.integers(0, 3))
    if kind == 0:
        out = img + rng.normal(0, rng.uniform(55, 110), img.shape)
    elif kind == 1:
        low = int(rng.integers(6, 11))
        out = np.asarray(Image.fromarray(img).resize((low, low), Image.BOX).resize((size, size), Image.NEAREST), np.float32)
    else:
        out = img.astype(np.float32).copy()
        w, h = (rng.uniform(0.35, 0.55, 2) * size).astype(int)
        x0, y0 = int(rng.integers(size // 4, size - size // 4 - w // 2)), int(rng.integers(size // 4, size - size // 4 - h // 2))
        out[y0:y0 + h, x0:x0 + w] = 0
    return np.clip(out, 0, 255).astype(np.uint8)


def near_empty(rng: np.random.Generator, size: int) -> np.ndarray:
    """A black or flat frame, perhaps with a faint glow or a tiny dot."""
    img = np.full((size, size, 3), rng.uniform(0, 60), np.float32) * np.asarray(_colour(rng), np.float32) / 255
    if rng.random() < 0.5:
        cx, cy = rng.integers(4, size - 4, 2)
        img[cy - 1:cy + 2, cx - 1:cx + 2] = _colour(rng)
    return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


NEGATIVE_KINDS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "blob": blob, "ellipse": ellipse, "smooth_outline": smooth_outline, "wrong_polygon": wrong_polygon,
    "noise": noise, "cut_by_border": cut_by_border, "merged": merged, "two_shapes": two_shapes,
    "blurred": blurred, "degraded": degraded, "near_empty": near_empty,
}


def with_background(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """The sprite over a dim, tinted, gently graded background (level 8-70 of 255), as generators draw it."""
    size = img.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    a = rng.uniform(0, 2 * np.pi)
    level = rng.uniform(8, 70) + rng.uniform(0, 20) * (np.cos(a) * xx + np.sin(a) * yy)  # (H, W)
    tint = np.asarray(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0, 0.4), 1.0), np.float32)
    bg = level[..., None] * tint + rng.normal(0, rng.uniform(0, 6), (size, size, 3))
    return np.clip(np.maximum(img.astype(np.float32), bg), 0, 255).astype(np.uint8)


def negative_arrays(n: int, seed: int, size: int = 32, kinds: tuple[str, ...] | None = None):
    """n "not a shape" images, kinds taken in turn: images (N, S, S, 3) uint8 and kind names (N,)."""
    kinds = tuple(NEGATIVE_KINDS) if kinds is None else kinds
    rng = np.random.default_rng(seed)
    names = [kinds[i % len(kinds)] for i in range(n)]
    images = [NEGATIVE_KINDS[k](rng, size) for k in names]
    images = [with_background(rng, im) if rng.random() < 0.3 else im for im in images]  # no cue in the background
    return np.stack(images), np.array(names)


def positive_sprite(rng: np.random.Generator, size: int = 32) -> tuple[np.ndarray, int]:
    """A real sprite, a quarter of the time up to 1.15x larger, 30% of the time over a dim graded background,
    and half of the time with faint noise, a faint background or a slight blur."""
    img, cls = render_sprite(rng, size)
    if rng.random() < 0.25:  # up to 1.15x larger: the tips may touch the frame (the DDPM draws such)
        half = size / 2 / rng.uniform(1.0, 1.15)
        img = np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR,
                                                     box=(size / 2 - half, size / 2 - half, size / 2 + half, size / 2 + half)))
    if rng.random() < 0.3:
        img = with_background(rng, img)
    if rng.random() < 0.5:
        out = img.astype(np.float32)
        if rng.random() < 0.5:
            out = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 0.6))), np.float32)
        out += rng.uniform(0, 12) * (rng.random() < 0.3)
        out += rng.normal(0, rng.uniform(0, 8), out.shape)
        img = np.clip(out, 0, 255).astype(np.uint8)
    return img, cls


def positive_arrays(n: int, seed: int, size: int = 32):
    """n real sprites with mild imperfections: images (N, S, S, 3) uint8 and labels (N,) int64."""
    rng = np.random.default_rng(seed)
    out = [positive_sprite(rng, size) for _ in range(n)]
    return np.stack([o[0] for o in out]), np.array([o[1] for o in out], np.int64)

"""The widened shapes data for every bundled classifier, and a second, independent renderer to test on.

`models.shapes` draws one filled, anti-aliased shape on a muted textured background. A learner who draws a
triangle in a paint program gets a plain white or black background, an outline, hard edges: the bundled ViT
scored 61% on such images. The widened generator varies what should not matter:

- background: plain light, plain dark, a two-colour gradient, or a texture (stripes, checkerboard, blotches);
- foreground: any colour that differs clearly from the background (contrast checked on luminance and RGB);
- style: filled, or outlined with a thin (1 px) to thick stroke;
- edges: anti-aliased (drawn at 4x and box-filtered) or hard (drawn at 1x);
- placement: fully inside the frame, or partly cut by the border (at most 20% of its box outside);
- noise: none or Gaussian;
- proportions (version 2): a star's inner radius and a cross's arm width vary (a learner's star or cross has
  any proportions; with one fixed recipe each, a thin-armed cross was read as a star).

`second_renderer_arrays` is the test set from a renderer that shares no drawing code with the training
generator: shapes rasterised analytically with numpy (point-in-polygon on a 4x4 sub-pixel grid), other
vertex recipes (a 5-point star with a fatter core, a plus-shaped cross with thinner arms, an upright
hexagon), filled, on a plain background, like a paint program.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .shapes import NUM_CLASSES, SHAPE_CLASSES, background_texture, unit_polygon


WIDE_VERSION = 2  # changes whenever the same seed gives other images (caches are named with it)


@dataclass(frozen=True)
class WideConfig:
    size: int = 64
    min_scale: float = 0.30  # circumscribed diameter / image side
    max_scale: float = 0.75
    p_outline: float = 0.35
    p_aliased: float = 0.35
    p_cut: float = 0.15
    max_cut: float = 0.20  # share of the shape's box outside the frame, at most
    p_noise: float = 0.5
    max_noise_std: float = 8.0
    star_inner: tuple[float, float] = (0.32, 0.60)  # inner / outer radius of the 5-point star
    cross_arm: tuple[float, float] = (0.14, 0.42)  # half arm width / half arm length of the cross


WIDE = WideConfig()

_BACKGROUNDS = ("plain-light", "plain-dark", "gradient", "texture")


def _luma(rgb: np.ndarray) -> float:
    return float(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])


def _background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) float32 background and its mean colour (3,)."""
    kind = _BACKGROUNDS[int(rng.integers(0, len(_BACKGROUNDS)))]
    if kind == "plain-light":
        c = rng.uniform(200, 255, 3) if rng.random() < 0.7 else np.full(3, rng.uniform(215, 255))
        img = np.broadcast_to(c, (size, size, 3)).astype(np.float32)
    elif kind == "plain-dark":
        c = rng.uniform(0, 60, 3) if rng.random() < 0.7 else np.full(3, rng.uniform(0, 45))
        img = np.broadcast_to(c, (size, size, 3)).astype(np.float32)
    elif kind == "gradient":
        c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        a = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(a) * xx + np.sin(a) * yy
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        img = (c0 * (1 - ramp[..., None]) + c1 * ramp[..., None]).astype(np.float32)
    else:
        img = background_texture(rng, size, textured=True)
    return np.clip(img, 0, 255), img.reshape(-1, 3).mean(0)


def _contrasting_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A colour whose luminance differs from the background's by >= 60 (or RGB distance >= 140)."""
    for _ in range(50):
        c = rng.uniform(0, 255, 3)
        if abs(_luma(c) - _luma(background)) >= 60 or np.linalg.norm(c - background) >= 140:
            return c
    return np.full(3, 0.0 if _luma(background) > 127 else 255.0)


def render_wide(rng: np.random.Generator, cfg: WideConfig = WIDE, cls: int | None = None,
                polygon: np.ndarray | None = None):
    """One image of one shape: ((H, W, 3) uint8, class id, [x, y, w, h] box clipped to the frame).

    polygon: vertices (V, 2) of circumradius ~1 to draw instead of class `cls`'s (the data lab's new shapes)."""
    size = cfg.size
    cls = int(rng.integers(0, NUM_CLASSES)) if cls is None else int(cls)
    bg, bg_mean = _background(rng, size)
    colour = _contrasting_colour(rng, bg_mean)
    radius = rng.uniform(cfg.min_scale, cfg.max_scale) * size / 2
    rot = rng.uniform(0, 2 * np.pi)
    c, s = math.cos(rot), math.sin(rot)
    if polygon is None:
        polygon = varied_polygon(rng, cls, cfg)
    pts = polygon @ np.array([[c, s], [-s, c]]) * radius  # (V, 2)
    lo, hi = pts.min(0), pts.max(0)
    ext = hi - lo
    if rng.random() < cfg.p_cut:  # let up to max_cut of the box leave the frame on one or two sides
        slack = ext * cfg.max_cut
        cx = rng.uniform(-lo[0] - slack[0], size - hi[0] + slack[0])
        cy = rng.uniform(-lo[1] - slack[1], size - hi[1] + slack[1])
    else:
        cx = rng.uniform(-lo[0] + 1, size - hi[0] - 1)
        cy = rng.uniform(-lo[1] + 1, size - hi[1] - 1)
    pts = pts + np.array([cx, cy])
    aliased = rng.random() < cfg.p_aliased
    scale = 1 if aliased else 4
    canvas = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8)).resize((size * scale,) * 2, Image.NEAREST)
    draw = ImageDraw.Draw(canvas)
    fill = tuple(int(v) for v in colour)
    poly = [tuple(p * scale + (scale - 1) / 2) for p in pts]
    if rng.random() < cfg.p_outline:
        width = int(rng.choice([1, 1, 2, 3, 4, 6])) * scale
        draw.line(poly + [poly[0]], fill=fill, width=width, joint="curve")
    else:
        draw.polygon(poly, fill=fill)
    if scale > 1:
        canvas = canvas.resize((size, size), Image.BOX)
    img = np.asarray(canvas, dtype=np.float32)
    if rng.random() < cfg.p_noise:
        img = img + rng.normal(0.0, rng.uniform(1.0, cfg.max_noise_std), img.shape).astype(np.float32)
    x0, y0 = np.clip(pts.min(0), 0, size)
    x1, y1 = np.clip(pts.max(0), 0, size)
    box = np.array([x0, y0, x1 - x0, y1 - y0], np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), cls, box


def varied_polygon(rng: np.random.Generator, cls: int, cfg: WideConfig) -> np.ndarray:
    """Class `cls`'s vertices (V, 2), circumradius ~1; stars and crosses with random proportions."""
    name = SHAPE_CLASSES[cls]
    if name == "star":
        inner = rng.uniform(*cfg.star_inner)
        ang = np.linspace(0, 2 * np.pi, 10, endpoint=False) - np.pi / 2
        rad = np.where(np.arange(10) % 2 == 0, 1.0, inner)
        return np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)
    if name == "cross":
        a = rng.uniform(*cfg.cross_arm)
        pts = np.array([(a, 1), (a, a), (1, a), (1, -a), (a, -a), (a, -1),
                        (-a, -1), (-a, -a), (-1, -a), (-1, a), (-a, a), (-a, 1)], np.float64)
        return pts / math.hypot(a, 1.0)
    return unit_polygon(cls)


def wide_arrays(n: int, seed: int, cfg: WideConfig = WIDE):
    """n widened images: images (N, H, W, 3) uint8, labels (N,) int64, boxes (N, 4) float32."""
    rng = np.random.default_rng(seed)
    out = [render_wide(rng, cfg) for _ in range(n)]
    return (np.stack([o[0] for o in out]), np.array([o[1] for o in out], np.int64),
            np.stack([o[2] for o in out]))


# -- the second renderer: no PIL, other vertex recipes ----------------------------------------------------

def _second_polygon(cls: int) -> np.ndarray:
    """Vertices (V, 2), circumradius ~1, drawn another way than models.shapes does."""
    name = SHAPE_CLASSES[cls]
    if name == "circle":
        ang = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        return np.stack([np.cos(ang), np.sin(ang)], 1)
    if name == "square":
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) / math.sqrt(2)
    if name == "triangle":
        ang = np.array([-90, 30, 150]) * np.pi / 180
        return np.stack([np.cos(ang), np.sin(ang)], 1)
    if name == "hexagon":
        ang = np.arange(6) * np.pi / 3  # a vertex on the x axis (models.shapes puts an edge there)
        return np.stack([np.cos(ang), np.sin(ang)], 1)
    if name == "star":
        ang = np.arange(10) * np.pi / 5 - np.pi / 2
        rad = np.where(np.arange(10) % 2 == 0, 1.0, 0.5)
        return np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)
    if name == "cross":
        a, b = 0.25, 1.0
        return np.array([(a, b), (a, a), (b, a), (b, -a), (a, -a), (a, -b),
                         (-a, -b), (-a, -a), (-b, -a), (-b, a), (-a, a), (-a, b)], np.float64) / math.hypot(a, b)
    raise KeyError(name)


def _inside(poly: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test, vectorised over points x, y (same shape)."""
    inside = np.zeros(x.shape, bool)
    xj, yj = poly[-1]
    for xi, yi in poly:
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xcross = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < xcross)
        xj, yj = xi, yi
    return inside


def render_second(rng: np.random.Generator, size: int = 64, cls: int | None = None, dark_on_light: bool | None = None):
    """A filled shape on a plain background, rasterised with 4x4 supersampling: ((H, W, 3) uint8, class)."""
    cls = int(rng.integers(0, NUM_CLASSES)) if cls is None else int(cls)
    dark_on_light = bool(rng.random() < 0.5) if dark_on_light is None else dark_on_light
    bg = rng.uniform(225, 255, 3) if dark_on_light else rng.uniform(0, 30, 3)
    fg = rng.uniform(0, 90, 3) if dark_on_light else rng.uniform(170, 255, 3)
    if rng.random() < 0.5:  # a saturated paint colour instead of grey-ish ink
        fg = np.array([255.0, 0.0, 0.0])[rng.permutation(3)] * rng.uniform(0.6, 1.0)
        if dark_on_light is False:
            fg = np.maximum(fg, 120.0)
    radius = rng.uniform(0.35, 0.8) * size / 2
    rot = rng.uniform(0, 2 * np.pi)
    c, s = math.cos(rot), math.sin(rot)
    pts = _second_polygon(cls) @ np.array([[c, s], [-s, c]]) * radius
    margin = np.abs(pts).max(0) + 1
    pts = pts + rng.uniform(margin, size - margin)
    sub = (np.arange(4) + 0.5) / 4
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    cover = np.zeros((size, size))
    for dy in sub:
        for dx in sub:
            cover += _inside(pts, xs + dx, ys + dy)
    cover = (cover / 16.0)[..., None]
    img = bg * (1 - cover) + fg * cover
    return np.clip(np.round(img), 0, 255).astype(np.uint8), cls


def second_renderer_arrays(n: int, seed: int, size: int = 64, dark_on_light: bool | None = None):
    """n images from the second renderer: images (N, H, W, 3) uint8, labels (N,) int64."""
    rng = np.random.default_rng(seed)
    out = [render_second(rng, size, dark_on_light=dark_on_light) for _ in range(n)]
    return np.stack([o[0] for o in out]), np.array([o[1] for o in out], np.int64)

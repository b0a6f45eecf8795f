"""The sample gallery in assets/samples/: real photos (CC0 / public domain) and generated shapes.

No Qt here. The files are made by scripts/make_samples.py; their origins are in assets/samples/LICENSES.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "samples"


@dataclass(frozen=True)
class SampleImage:
    path: Path
    title: str  # display name for the gallery / menu
    kind: str  # "photo" or "shapes"


# (file name, display name, kind) in gallery order: photos first, then the shapes the bundled models know.
_GALLERY: tuple[tuple[str, str, str], ...] = (
    ("astronaut.jpg", "Astronaut (Eileen Collins)", "photo"),
    ("chelsea.jpg", "Chelsea the cat", "photo"),
    ("coffee.jpg", "Coffee cup", "photo"),
    ("rocket.jpg", "Rocket launch", "photo"),
    ("hubble_deep_field.jpg", "Hubble deep field", "photo"),
    ("shapes_circle.png", "Shapes: circle", "shapes"),
    ("shapes_square.png", "Shapes: square", "shapes"),
    ("shapes_triangle.png", "Shapes: triangle", "shapes"),
    ("shapes_star.png", "Shapes: star", "shapes"),
    ("shapes_hexagon.png", "Shapes: hexagon", "shapes"),
    ("shapes_cross.png", "Shapes: cross", "shapes"),
    ("shapes_scene_1.png", "Shapes scene 1", "shapes"),
    ("shapes_scene_2.png", "Shapes scene 2", "shapes"),
    ("shapes_scene_3.png", "Shapes scene 3", "shapes"),
    ("shapes_scene_4.png", "Shapes scene 4", "shapes"),
    ("shapes_sprites.png", "Shapes: sprite sheet", "shapes"),
)


def sample_images() -> list[SampleImage]:
    """Gallery entries in a fixed order; files missing from this checkout are left out."""
    out = [SampleImage(SAMPLES_DIR / name, title, kind) for name, title, kind in _GALLERY]
    return [s for s in out if s.path.is_file()]

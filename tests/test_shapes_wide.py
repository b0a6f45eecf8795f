"""The widened shapes data and the second renderer the classifiers are tested on."""
from __future__ import annotations

import numpy as np

from models.shapes import NUM_CLASSES
from models.shapes_wide import WideConfig, render_second, render_wide, second_renderer_arrays, wide_arrays


def test_same_seed_same_images_and_every_class():
    a, la, ba = wide_arrays(120, 5)
    b, lb, bb = wide_arrays(120, 5)
    assert a.shape == (120, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and np.array_equal(la, lb) and np.array_equal(ba, bb)
    assert set(la.tolist()) == set(range(NUM_CLASSES))


def test_boxes_lie_in_the_frame_and_cover_drawn_pixels():
    images, labels, boxes = wide_arrays(60, 9, WideConfig(p_noise=0.0))
    assert (boxes[:, :2] >= 0).all() and (boxes[:, :2] + boxes[:, 2:] <= 64 + 1e-4).all()
    assert (boxes[:, 2:] > 2).all()


def test_the_shape_contrasts_with_its_background():
    rng = np.random.default_rng(3)
    cfg = WideConfig(p_noise=0.0, p_outline=0.0, p_cut=0.0)
    for _ in range(30):
        img, cls, box = render_wide(rng, cfg)
        x, y, w, h = box.astype(int) + np.array([0, 0, 1, 1])
        cx, cy = x + w // 2, y + h // 2
        corner = img[0, 0].astype(float)
        # some pixel near the centre of the box differs clearly from the corner (the background)
        patch = img[max(cy - 2, 0):cy + 3, max(cx - 2, 0):cx + 3].reshape(-1, 3).astype(float)
        assert np.abs(patch - corner).sum(1).max() > 40


def test_plain_backgrounds_outlines_and_hard_edges_occur():
    images, _, _ = wide_arrays(300, 21)
    flat = [float(np.ptp(im[:4, :4].reshape(-1, 3), axis=0).max()) for im in images]
    assert sum(f == 0 for f in flat) > 20  # plain, noise-free corners: the plain-background cases
    two_colour = [len(np.unique(im.reshape(-1, 3), axis=0)) == 2 for im in images]
    assert sum(two_colour) > 3  # hard-edged, noise-free, plain: exactly two colours


def test_second_renderer_is_plain_filled_and_balanced():
    images, labels = second_renderer_arrays(120, 4)
    assert images.shape == (120, 64, 64, 3)
    assert np.bincount(labels, minlength=NUM_CLASSES).min() >= 8
    img, _ = render_second(np.random.default_rng(0), dark_on_light=True)
    assert img[0, 0].min() >= 225  # light background
    img, _ = render_second(np.random.default_rng(0), dark_on_light=False)
    assert img[0, 0].max() <= 30


def test_stars_and_crosses_come_in_many_proportions():
    """A cross's arm width and a star's inner radius vary (a thin-armed cross of another renderer was read as a
    star when the training data had one recipe each); the other shapes keep their one recipe."""
    from models.shapes import SHAPE_CLASSES
    from models.shapes_wide import WIDE, varied_polygon

    def area(poly):  # shoelace, circumradius ~1
        x, y = poly[:, 0], poly[:, 1]
        return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))

    rng = np.random.default_rng(0)
    for name in SHAPE_CLASSES:
        polys = [varied_polygon(rng, SHAPE_CLASSES.index(name), WIDE) for _ in range(40)]
        assert all(np.abs(np.hypot(p[:, 0], p[:, 1]).max() - 1.0) < 1e-6 for p in polys)  # circumradius 1
        areas = [area(p) for p in polys]
        if name in ("star", "cross"):
            assert max(areas) - min(areas) > 0.4, (name, min(areas), max(areas))
        else:
            assert max(areas) - min(areas) < 1e-9
    # and the images use them: a thin-armed and a thick-armed cross both occur in the widened data
    thin = WideConfig(cross_arm=(0.15, 0.15))
    img_thin, _, _ = render_wide(np.random.default_rng(1), thin, cls=SHAPE_CLASSES.index("cross"))
    img_default, _, _ = render_wide(np.random.default_rng(1), WideConfig(cross_arm=(0.4, 0.4)),
                                    cls=SHAPE_CLASSES.index("cross"))
    assert not np.array_equal(img_thin, img_default)

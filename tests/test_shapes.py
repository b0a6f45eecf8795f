"""The procedural shapes data: deterministic, labelled and boxed correctly."""
import numpy as np

from models.shapes import (CLASSIFICATION, DETECTION, NUM_CLASSES, SHAPE_CLASSES, ShapesConfig, generate,
                           classification_arrays, sprite_arrays, to_coco)


def test_same_seed_same_data_other_seed_other_data():
    a = generate(5, seed=3, config=DETECTION)
    b = generate(5, seed=3, config=DETECTION)
    c = generate(5, seed=4, config=DETECTION)
    for x, y in zip(a, b):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.boxes, y.boxes)
    assert not np.array_equal(a[0].image, c[0].image)


def test_classification_images_cover_every_class_with_one_object():
    images, labels, boxes = classification_arrays(300, seed=0)
    assert images.shape == (300, 64, 64, 3) and images.dtype == np.uint8
    assert set(labels.tolist()) == set(range(NUM_CLASSES)) and len(SHAPE_CLASSES) >= 5
    assert boxes.shape == (300, 4)


def test_boxes_lie_inside_the_image_and_enclose_the_shape():
    config = ShapesConfig(size=64, textured_background=False, noise_std=0.0)
    for sample in generate(40, seed=1, config=config):
        x, y, w, h = sample.boxes[0]
        assert x >= 0 and y >= 0 and x + w <= 64 and y + h <= 64 and w > 4 and h > 4
        # the shape is saturated and bright, the plain background muted: its pixels fall in the box
        hsv_sat = sample.image.max(-1).astype(int) - sample.image.min(-1).astype(int)
        ys, xs = np.nonzero(hsv_sat > 100)
        if len(xs) > 10:
            assert xs.min() >= x - 2 and xs.max() <= x + w + 2 and ys.min() >= y - 2 and ys.max() <= y + h + 2


def test_detection_scenes_have_several_objects_and_coco_ground_truth():
    samples = generate(30, seed=2, config=DETECTION)
    counts = [len(s.labels) for s in samples]
    assert max(counts) >= 3 and min(counts) >= 1
    coco = to_coco(samples)
    assert len(coco["images"]) == 30 and len(coco["annotations"]) == sum(counts)
    ann = coco["annotations"][0]
    assert set(ann) >= {"id", "image_id", "category_id", "bbox", "area", "iscrowd"}
    assert [c["name"] for c in coco["categories"]] == list(SHAPE_CLASSES)


def test_sprites_are_small_single_shapes_on_black_and_can_be_asked_by_class():
    images, labels = sprite_arrays(12, seed=0, size=32, cls=3)
    assert images.shape == (12, 32, 32, 3) and (labels == 3).all()
    assert (images[:, 0, 0] == 0).all()  # corners are background
    assert (images.reshape(12, -1).max(1) > 150).all()  # a bright shape in each

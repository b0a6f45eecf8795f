"""Training data for the DCGAN: torchvision's MNIST files read from a local folder, a folder of images."""
import struct

import numpy as np
import pytest
from PIL import Image

from models.errors import UserFacingError
from models.gan.data import DataRequest, load_images


def _write_idx_images(path, images):
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes())


def _write_idx_labels(path, labels):
    path.write_bytes(struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def test_mnist_files_in_a_local_folder_are_read_and_resized(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (5, 28, 28))
    _write_idx_images(raw / "train-images-idx3-ubyte", train)
    _write_idx_labels(raw / "train-labels-idx1-ubyte", np.arange(5))
    _write_idx_images(raw / "t10k-images-idx3-ubyte", train[:2])
    _write_idx_labels(raw / "t10k-labels-idx1-ubyte", np.arange(2))
    images = load_images("mnist", DataRequest(str(tmp_path), 32, 0, 0))
    assert images.shape == (5, 1, 32, 32)  # grey digits, resized from 28 to 32
    assert abs(float(images.float().mean()) - float(train.mean())) < 3


def test_a_folder_of_images_is_cropped_square_and_bad_files_are_skipped(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((40, 60, 3), 50 * i, np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    images = load_images("folder", DataRequest(str(tmp_path), 64, 0, 0))
    assert images.shape == (3, 3, 64, 64)
    with pytest.raises(UserFacingError, match="not a folder"):
        load_images("folder", DataRequest(str(tmp_path / "nope"), 32, 0, 0))

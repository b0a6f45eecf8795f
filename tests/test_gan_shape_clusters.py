"""Pseudo-classes without labels for an unconditional GAN: Fourier descriptors of outlines, k-means, and a run
whose D is told each real sprite's cluster and each fake's code. Labels are read here only to check the
clusters, never by the code under test."""
import numpy as np
import pytest
import torch

from models.errors import UserFacingError
from models.gan.checkpoint import load_run, save_run
from models.gan.config import GanConfig, TrainConfig
from models.gan.data import DataRequest, load_labelled_images
from models.gan.shape_clusters import fourier_descriptors, kmeans, outline_clusters
from models.gan.trainer import GanTrainer
from models.shapes import SHAPE_CLASSES, sprite_arrays

CLUSTERED = TrainConfig(gan=GanConfig(image_size=32, latent_size=16, width=8, spectral_norm=True, latent_codes=6,
                                      code_mode="clusters"),
                        loss="hinge", batch_size=8, num_train_images=120, sample_every=4, grid_samples=9)


def _as_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # (N, 3, S, S) uint8


@pytest.mark.parametrize("name, corners", [("triangle", 3), ("square", 4), ("star", 5), ("hexagon", 6)])
def test_the_strongest_harmonic_counts_the_corners_whatever_the_colour_size_and_angle(name, corners):
    images, _ = sprite_arrays(40, seed=3, cls=SHAPE_CLASSES.index(name))  # random colours, sizes, angles
    f = fourier_descriptors(_as_tensor(images))  # (40, 12)
    assert (f[:, 1:7].argmax(1) + 2 == corners).mean() >= 0.9  # harmonics 2..7: the peak is at the corners
    circles = fourier_descriptors(_as_tensor(sprite_arrays(40, seed=3, cls=SHAPE_CLASSES.index("circle"))[0]))
    assert np.median(f[:, corners - 1]) > 3 * np.median(circles[:, corners - 1])


def test_kmeans_finds_separate_blobs_and_is_seeded():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], float)
    x = np.concatenate([c + rng.normal(0, 0.5, (50, 2)) for c in centres])
    a, b = kmeans(x, 3, seed=1), kmeans(x, 3, seed=1)
    assert np.array_equal(a.labels, b.labels)
    truth = np.repeat(np.arange(3), 50)
    assert all(len(set(a.labels[truth == t])) == 1 for t in range(3)) and len(set(a.labels)) == 3


def test_outline_clusters_match_the_shapes_without_reading_labels():
    images, labels = sprite_arrays(1200, seed=11)
    clusters = outline_clusters(_as_tensor(images), 6, seed=0).labels
    table = np.zeros((6, 6), int)
    np.add.at(table, (clusters, labels), 1)
    assert table.max(1).sum() / len(labels) >= 0.9  # purity: each cluster is mostly one shape
    assert len(set(table.argmax(1))) >= 5  # and the clusters are different shapes


@pytest.fixture(scope="module")
def data(one_thread):
    return load_labelled_images("shapes", DataRequest("", 32, 0, 120))


def test_a_clustered_run_tells_d_the_clusters_and_resumes_with_the_same_ones(tmp_path, data):
    images, labels = data
    t = GanTrainer(CLUSTERED, images, labels=labels)
    assert t.D.projected and not hasattr(t.D, "q_head") and not t.conditional  # nobody asks G for a class
    for _ in range(3):
        t.train_step()
    clusters = t.real_clusters()
    assert clusters.shape == (120,) and len(torch.unique(clusters)) == 6
    back = load_run(save_run(t, tmp_path / "run.safetensors"), images, labels=labels)
    assert back.config.gan.code_mode == "clusters" and torch.equal(back.real_clusters(), clusters)
    assert torch.equal(back.sample(), t.sample())
    back.train_step()


def test_the_projection_embedding_learns_and_too_few_images_are_refused(data):
    images, labels = data
    t = GanTrainer(CLUSTERED, images, labels=labels)
    before = t.D.embed.parametrizations.weight.original.detach().clone()
    t.train_step()
    assert not torch.equal(before, t.D.embed.parametrizations.weight.original)
    few = GanTrainer(CLUSTERED.with_(num_train_images=20), images[:20])
    with pytest.raises(UserFacingError, match="too few"):
        few.train_step()
    with pytest.raises(UserFacingError, match="code mode"):
        GanConfig(latent_codes=6, code_mode="labels")

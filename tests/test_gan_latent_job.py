"""The latent-space jobs of the GAN tab: strips from the run's current G, starting at grid cells' noise."""
import numpy as np
import pytest

from models.errors import UserFacingError
from models.gan.config import GanConfig, TrainConfig
from models.gan.data import DataRequest, load_images, to_uint8_hwc
from models.gan.latent_job import interpolation_job, walk_job
from models.gan.trainer import GanTrainer
from models.jobs import run_to_completion

TINY = TrainConfig(gan=GanConfig(image_size=32, latent_size=16, width=8), batch_size=8, num_train_images=64,
                   sample_every=4, grid_samples=9)


@pytest.fixture(scope="module")
def trainer(one_thread):
    t = GanTrainer(TINY, load_images("shapes", DataRequest("", 32, 0, 64)))
    t.train_step()
    return t


@pytest.mark.parametrize("mode", ["linear", "spherical"])
def test_interpolation_starts_and_ends_at_the_picked_cells(trainer, mode):
    grid = to_uint8_hwc(trainer.sample())  # (9, S, S, 3) the fixed-noise samples
    out = run_to_completion(interpolation_job, trainer, 2, 7, 12, mode)[0]
    assert out.images.shape == (12, 32, 32, 3) and out.cells == (2, 7)
    np.testing.assert_array_equal(out.images[0], grid[2])
    np.testing.assert_array_equal(out.images[-1], grid[7])
    assert not np.array_equal(out.images[5], grid[2])
    assert out.strip.shape == (34, 12 * 33 + 1, 3)  # one row, 1-pixel gaps and border
    assert trainer.G.training  # G goes back to training mode


def test_walk_moves_away_from_the_cell_along_one_direction(trainer):
    grid = to_uint8_hwc(trainer.sample())
    still = run_to_completion(walk_job, trainer, 4, 0.0, 3)[0]
    assert all(np.array_equal(im, grid[4]) for im in still.images)
    far = run_to_completion(walk_job, trainer, 4, 5.0, 3)[0]
    np.testing.assert_array_equal(far.images[0], grid[4])
    assert not np.array_equal(far.images[-1], grid[4])
    again = run_to_completion(walk_job, trainer, 4, 5.0, 3)[0]
    np.testing.assert_array_equal(far.images, again.images)  # same seed, same direction
    other = run_to_completion(walk_job, trainer, 4, 5.0, 4)[0]
    assert not np.array_equal(far.images[-1], other.images[-1])


def test_a_cell_outside_the_grid_is_refused(trainer):
    with pytest.raises(UserFacingError):
        run_to_completion(interpolation_job, trainer, 0, 9, 8, "linear")

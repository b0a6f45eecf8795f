"""The sprite judge inside the GAN training job: coverage of each sample grid, judge FD points, and the collapse
warnings of the health panel (a generator forced to collapse must be flagged; a healthy start must not)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from models.gan.config import GanConfig, TrainConfig
from models.gan.control import TrainingControl
from models.gan.data import DataRequest, load_images
from models.gan.history import GRID_CAPACITY, ThinnedHistory
from models.gan.job import GanUpdate, train_job
from models.gan.live_judge import COVERAGE_WIDTH, LiveJudge
from models.gan.trainer import GanTrainer
from models.jobs import JobContext
from models.judge.model import JUDGE_CLASSES

TINY = TrainConfig(gan=GanConfig(image_size=32, latent_size=16, width=8), batch_size=8, num_train_images=64,
                   sample_every=5, grid_samples=16)

pytestmark = pytest.mark.skipif(LiveJudge.load() is None, reason="no sprite judge weights")


@pytest.fixture(scope="module")
def images(one_thread):
    return load_images("shapes", DataRequest("", 32, 0, 64))


def _updates(trainer, steps, judge_on=True) -> list[GanUpdate]:
    gen = train_job(JobContext(), trainer, TrainingControl(), steps, judge_on=judge_on)
    return [u for u in gen if isinstance(u, GanUpdate)]


class IgnoresZ(nn.Module):
    """A collapsed generator: the same purple blob whatever the noise (G's weights still train)."""

    def __init__(self, g: nn.Module, size: int = 32):
        super().__init__()
        self.g = g
        yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
        blob = torch.exp(-(xx ** 2 + yy ** 2) / 0.25)  # (S, S) soft round blob
        colour = torch.tensor([0.6, 0.2, 0.8])[:, None, None]  # purple
        self.register_buffer("blob", (blob[None] * colour) * 2 - 1)  # (3, S, S) in [-1, 1]

    def forward(self, z):
        out = self.g(z)  # (B, 3, S, S): keeps the graph so G's optimiser step still runs
        return self.blob[None].expand_as(out) + 0.0 * out


def test_each_grid_is_judged_and_fd_points_follow_the_grids(images):
    trainer = GanTrainer(TINY, images)
    ups = _updates(trainer, 10)
    judged = [u.coverage for u in ups if u.coverage is not None]
    grid_steps = [u.grid_step for u in ups if u.grid is not None]
    assert [c.step for c in judged] == sorted(set(grid_steps)) == [0, 5, 10]
    for c in judged:
        assert c.classes.shape == (16,) and c.shares.shape == (len(JUDGE_CLASSES),)
        assert c.shares.sum() == pytest.approx(1.0)
        assert np.isfinite(c.judge_fd) and c.judge_fd >= 0
        assert np.allclose(c.shares, np.bincount(c.classes, minlength=len(JUDGE_CLASSES)) / 16)
    fd = np.concatenate([u.judge_fd for u in ups])
    assert fd[:, 0].tolist() == [0, 5, 10]  # each point sent once
    assert trainer.coverage.view().shape == (3, COVERAGE_WIDTH)
    assert not {w.key for u in ups for w in u.health} & {"class_dominates", "diversity_falling", "class_absent"}


def test_judge_off_sends_no_coverage(images):
    ups = _updates(GanTrainer(TINY, images), 5, judge_on=False)
    assert all(u.coverage is None and len(u.judge_fd) == 0 for u in ups)


def test_identical_purple_blobs_at_step_220_warn(images):
    trainer = GanTrainer(TINY, images)
    trainer.G = IgnoresZ(trainer.G)
    trainer.step = 200  # a run that has trained for a while
    ups = _updates(trainer, 20)
    assert ups[-1].step == 220
    last = ups[-1].health
    keys = {w.key for w in last}
    assert "diversity_falling" in keys, [w.text for w in last]
    assert "mode_collapse" not in keys  # the older diversity check says the same: said once
    judged = [u.coverage for u in ups if u.coverage is not None]
    assert len(set(judged[-1].classes.tolist())) == 1  # identical samples: one class for all


def test_a_collapsed_shape_dominates(images):
    trainer = GanTrainer(TINY, images)
    star = images[:1].float() / 127.5 - 1  # (1, 3, S, S) a real sprite, repeated for every noise vector

    class OneSprite(nn.Module):
        def __init__(self, g):
            super().__init__()
            self.g = g

        def forward(self, z):
            out = self.g(z)
            return star.expand_as(out) + 0.0 * out

    trainer.G = OneSprite(trainer.G)
    trainer.step = 200
    keys = {w.key for w in _updates(trainer, 10)[-1].health}
    assert "class_dominates" in keys and "diversity_falling" in keys


def test_rollback_truncates_the_coverage_history(images):
    trainer = GanTrainer(TINY, images, snapshot_every=5)
    _updates(trainer, 12)
    assert trainer.coverage.view()[:, 0].tolist() == [0, 5, 10, 12]
    trainer.restore_snapshot()  # back to step 10
    assert trainer.step == 10 and trainer.coverage.view()[:, 0].tolist() == [0, 5, 10]


def test_history_keeps_at_least_100_evenly_thinned_grids():
    h = ThinnedHistory()
    assert h.capacity == GRID_CAPACITY
    reached = False
    for step in range(0, 25 * 5000, 25):
        h.add(step, np.zeros((1, 1, 3), np.uint8))
        assert not reached or len(h.items) >= 100  # once 100 are kept, thinning never leaves fewer
        reached = reached or len(h.items) >= 100
    steps = np.array(h.steps())
    assert 100 <= len(steps) <= GRID_CAPACITY
    assert len(set(np.diff(steps))) == 1  # evenly spaced
    assert steps[0] == 0 and steps[-1] > 0.9 * 25 * 5000


def test_collapse_warnings_without_judged_grids_still_check_diversity():
    from models.gan.coverage import collapse_warnings

    out = collapse_warnings(np.zeros(0), np.zeros((0, len(JUDGE_CLASSES))), np.array([[220, 0.01]]))
    assert [w.key for w in out] == ["diversity_falling"]


def test_the_session_turns_coverage_and_fd_points_into_render_ready_values(images):
    from app.gan_session import GanImageSession

    trainer = GanTrainer(TINY, images)
    ups = _updates(trainer, 5)
    session = GanImageSession()
    views = [session.update(u) for u in ups]
    covs = [v.coverage for v in views if v.coverage is not None]
    assert [c[0] for c in covs] == [0, 5]
    step, shares, names = covs[-1]
    assert names == JUDGE_CLASSES and shares.shape == (len(JUDGE_CLASSES),)
    fd_steps = np.concatenate([v.curves.fd_steps for v in views])
    assert fd_steps.tolist() == [0, 5] and all(not v.curves.empty for v in views if len(v.curves.fd_steps))


def test_collapse_texts_name_the_missing_shapes_in_plain_english():
    from models.gan.coverage import collapse_warnings

    steps = np.arange(100, 225, 25)  # 5 grids
    no_cross = np.tile([0.2, 0.2, 0.2, 0.2, 0.2, 0.0, 0.0], (5, 1))
    text = collapse_warnings(steps, no_cross, np.zeros((0, 2)))[0].text
    assert "No crosses in the last 5" in text and "crosss" not in text
    blobs = np.tile([0, 0, 0, 0, 0, 0, 1.0], (5, 1))  # every sample "not a shape"
    text = collapse_warnings(steps, blobs, np.zeros((0, 2)))[0].text
    assert text.startswith("No recognisable shape in the last 5")
    crosses = np.tile([0, 0, 0, 0, 0, 0.9, 0.1], (1, 1))
    assert "are crosses:" in collapse_warnings([220], crosses, np.zeros((0, 2)))[0].text

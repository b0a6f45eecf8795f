"""The GAN tab's coverage histogram, judge FD curve and latent strip, driven like a user."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.gan_session import JUDGE_FD, RunState  # noqa: E402
from models.gan.live_judge import LiveJudge  # noqa: E402

pytestmark = pytest.mark.skipif(LiveJudge.load() is None, reason="no sprite judge weights")


@pytest.fixture
def tab(open_tab):
    from app.tabs.gan_tab import GanTab

    page = open_tab(GanTab, device="cpu")
    page.errors = []
    page.ctx.error.connect(page.errors.append)
    page.image_page.form.set_values({"batch_size": 8, "latent_size": 16, "sample_every": 2})
    return page


def test_training_fills_the_histogram_and_the_judge_fd_curve_and_cells_make_a_strip(tab, qtbot):
    page, session = tab.image_page, tab.image_page.session
    insight = page.insight
    page.start()
    qtbot.waitUntil(lambda: session.step >= 6 and insight.histogram.shares is not None, timeout=60000)
    shares = insight.histogram.shares
    assert len(shares) == 7 and abs(shares.sum() - 1) < 1e-6 and insight.histogram.names[-1] == "not a shape"
    qtbot.waitUntil(lambda: len(page.curves.data(JUDGE_FD[0])[0]) >= 2, timeout=30000)
    fd_steps = page.curves.data(JUDGE_FD[0])[0]
    assert list(fd_steps) == sorted(set(fd_steps)) and fd_steps[0] % 2 == 0  # one point per grid
    assert "not FID" in insight.help.text() + JUDGE_FD[1]

    page.samples.cell_clicked.emit(1)  # as a click on cell 2, then cell 9
    page.samples.cell_clicked.emit(8)
    qtbot.waitUntil(lambda: insight.last_strip is not None, timeout=30000)
    strip = insight.last_strip
    assert strip.kind == "interpolation" and strip.cells == (1, 8) and len(strip.images) == 10
    assert not insight.latent.strip.pixmap().isNull()
    insight.latent.walk.setValue(3.0)
    qtbot.waitUntil(lambda: insight.last_strip.kind == "walk", timeout=30000)
    page.pause()
    qtbot.waitUntil(lambda: session.state == RunState.PAUSED, timeout=20000)
    assert not tab.errors

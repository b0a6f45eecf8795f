"""Live training in the tab's job: reports, previews, pause, save and resume (no Qt)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.diffusion.live import LiveSession, LiveSettings, load_job, save_job, train_job
from models.diffusion.results import TrainingPartial
from models.jobs import JobContext, run_to_completion

SMALL = LiveSettings(batch=4, dataset_size=48, report_interval_s=0.0, preview_every_steps=3, preview_steps=2)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_train_pause_save_and_resume(tmp_path):
    session = LiveSession()
    final, partials = run_to_completion(train_job, session, SMALL, max_steps=3)
    reports = [p for p in partials if isinstance(p, TrainingPartial)]
    steps = np.concatenate([r.steps for r in reports])
    assert steps.tolist() == [1, 2, 3]
    assert all(np.isfinite(r.loss).all() and r.loss_quarters.shape == (len(r.steps), 4) for r in reports)
    assert any(r.previews is not None and r.previews.shape == (6, 32, 32, 3) for r in reports)
    assert final.paused and final.step == 3

    # pausing from the GUI ends the job after the current step; the session keeps its state
    ctx = JobContext()
    gen = train_job(ctx, session, SMALL)
    next(gen)  # Progress
    next(gen)  # first report
    session.request_pause()
    with pytest.raises(StopIteration) as stop:
        while True:
            next(gen)
    assert stop.value.value.paused and stop.value.value.step >= 4

    saved, _ = run_to_completion(save_job, session, str(tmp_path / "run.pt"))
    assert saved == str(tmp_path / "run.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # exactly the confirmed file

    other = LiveSession()
    step, _ = run_to_completion(load_job, other, str(tmp_path / "run.pt"))
    assert step == session.trainer.step
    for a, b in zip(other.trainer.opt.state_dict()["state"].values(), session.trainer.opt.state_dict()["state"].values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"])  # optimiser state resumes too
    final2, _ = run_to_completion(train_job, other, SMALL, max_steps=1)
    assert final2.step == step + 1

"""The data lab's jobs: live partial records, pause and resume without loss, cancel, trainer building."""
from __future__ import annotations

import pytest

from models.errors import JobCancelled
from models.jobs import JobContext, Load, Progress, run_to_completion
from models.lab import jobs as lab_jobs
from models.lab.cache import RunCache
from models.lab.control import LabControl
from models.lab.data import LabData
from models.lab.records import LabRunSpec, RunRecord
from models.lab.trainer import LabTrainer
from models.shapes_wide import wide_arrays

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster, and fair to a shared CPU

SPEC = LabRunSpec("vit-plain", train_size=32, seed=3, steps=6, batch=8, eval_every=3, eval_size=16)


def tiny_data() -> LabData:
    x, y, _ = wide_arrays(40, 5)
    ex, ey, _ = wide_arrays(16, 6)
    return LabData(x, y, ex, ey, ("circle", "square", "triangle", "hexagon", "star", "cross"))


def test_a_live_run_yields_its_record_after_each_evaluation_and_caches_the_end(tmp_path):
    cache = RunCache(tmp_path)
    final, partials = run_to_completion(lab_jobs.lab_run_job, LabTrainer(SPEC, tiny_data()), LabControl(), cache)
    assert [r.last_step for r in partials] == [0, 3, 6] and all(isinstance(r, RunRecord) for r in partials)
    assert final.finished and cache.get(SPEC) == final


def test_pause_then_resume_gives_the_uninterrupted_result():
    data = tiny_data()
    whole, _ = run_to_completion(lab_jobs.lab_run_job, LabTrainer(SPEC, data), LabControl())
    trainer, control = LabTrainer(SPEC, data), LabControl()
    job = lab_jobs.lab_run_job(JobContext(), trainer, control, None, 0.0)
    for item in job:
        if isinstance(item, Progress) and trainer.step == 4:
            control.request_pause()
    assert trainer.step == 4 and not trainer.record.finished  # the pause ended the job between two steps
    control.clear()
    resumed, _ = run_to_completion(lab_jobs.lab_run_job, trainer, control)
    assert resumed.finished
    assert [(p.step, p.accuracy, p.loss) for p in resumed.points] == [(p.step, p.accuracy, p.loss) for p in whole.points]


def test_cancel_ends_the_job_and_keeps_the_trainer():
    trainer, ctx = LabTrainer(SPEC, tiny_data()), JobContext()
    job = lab_jobs.lab_run_job(ctx, trainer, LabControl(), None, 0.0)
    next(job)  # the step-0 record
    next(job)  # one step's Progress
    ctx.cancel_event.set()
    with pytest.raises(JobCancelled):
        next(job)
    assert trainer.step == 1 and trainer.record.points[0].step == 0


def test_make_trainer_job_loads_off_the_job_queue(monkeypatch, tmp_path):
    data = tiny_data()
    monkeypatch.setattr(lab_jobs, "load_lab_data", lambda folder: data)
    gen = lab_jobs.make_trainer_job(JobContext(), SPEC, tmp_path, "cpu")
    first = next(gen)
    assert isinstance(first, Load)
    trainer, _ = run_to_completion(lab_jobs.make_trainer_job, SPEC, tmp_path, "cpu")
    assert isinstance(trainer, LabTrainer) and trainer.spec == SPEC and trainer.step == 0

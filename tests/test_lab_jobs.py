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


def _closed_at_step(trainer, control, cache, step):
    """Train live until `step`, then close as the window does: stop requested, the generator closed (cancel)."""
    job = lab_jobs.lab_run_job(JobContext(), trainer, control, cache, 0.0)
    for _ in job:
        if trainer.step == step:
            break
    control.request_stop()
    job.close()


def test_a_run_stopped_mid_way_by_closing_continues_where_it_stopped(tmp_path):
    from models.lab.unfinished import build_trainer

    data, cache = tiny_data(), RunCache(tmp_path)
    whole, _ = run_to_completion(lab_jobs.lab_run_job, LabTrainer(SPEC, data), LabControl())
    _closed_at_step(LabTrainer(SPEC, data), LabControl(), cache, 4)
    assert cache.get(SPEC) is None and sorted(p.name for p in (tmp_path / "unfinished").iterdir()) == [
        f"{SPEC.key}.json", f"{SPEC.key}.pt"]
    trainer = build_trainer(SPEC, data, "cpu", tmp_path)  # as Start does in the next session
    assert trainer.step == 4 and [p.step for p in trainer.record.points] == [0, 3]
    final, _ = run_to_completion(lab_jobs.lab_run_job, trainer, LabControl(), cache)
    assert [(p.step, p.accuracy, p.loss) for p in final.points] == [(p.step, p.accuracy, p.loss) for p in whole.points]
    assert cache.get(SPEC) == final and not list((tmp_path / "unfinished").iterdir())  # kept until finished


@pytest.mark.parametrize("damage", ["garbage", "other-step"])
def test_a_crafted_unfinished_run_starts_again_from_step_0(tmp_path, damage):
    import json

    from models.lab.unfinished import build_trainer

    data, cache = tiny_data(), RunCache(tmp_path)
    _closed_at_step(LabTrainer(SPEC, data), LabControl(), cache, 4)
    weights, curve = tmp_path / "unfinished" / f"{SPEC.key}.pt", tmp_path / "unfinished" / f"{SPEC.key}.json"
    if damage == "garbage":
        weights.write_bytes(b"\x80\x04 not a checkpoint")
    else:  # a curve beyond the weights' step: does not fit
        record = json.loads(curve.read_text())
        record["points"].append(dict(record["points"][-1], step=5))
        curve.write_text(json.dumps(record))
    trainer = build_trainer(SPEC, data, "cpu", tmp_path)
    assert trainer.step == 0 and trainer.record.points == () and not weights.exists()

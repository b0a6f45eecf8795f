"""The data lab's Qt-free sessions: the shipped grid's frozen render values, live records, the pause/resume
state machine, CSV export, and the fine-tune view's comparison and folder states (no display, no torch)."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pytest

from app.lab_finetune_session import COMPARE_STEPS, FinetuneSession, FolderPhase, Phase
from app.lab_hunger_frames import PRESETS, tiny_preset
from app.lab_hunger_session import HungerSession, HungerState
from models.lab.records import CurvePoint, LabRunSpec, RunRecord


def record(arch, n, seed, accs, steps=LabRunSpec.steps, finished=True, **extra) -> RunRecord:
    spec = LabRunSpec(arch, n, seed, steps)
    every = steps // len(accs)
    points = tuple(CurvePoint(every * (i + 1), a, 1.0 / (i + 1), float(i)) for i, a in enumerate(accs))
    return RunRecord(spec, points, finished, "cpu", dict(extra))


GRID = [record("convnext", 250, 0, (0.5, 0.8)), record("convnext", 250, 1, (0.4, 0.6)),
        record("convnext", 4000, 0, (0.7, 0.95)), record("convnext", 4000, 1, (0.7, 0.97)),
        record("vit-plain", 250, 0, (0.2, 0.3)), record("vit-plain", 250, 1, (0.2, 0.2)),
        record("vit-plain", 4000, 0, (0.3, 0.7)), record("vit-plain", 4000, 1, (0.4, 0.8))]


def test_shipped_grid_renders_at_once_as_frozen_values():
    s = HungerSession()
    s.add_records(GRID, shipped=True)
    frame = s.render()
    # every architecture of the plan has its line (a stable legend); those without finished runs are empty
    assert [c.name for c in frame.summary] == ["ConvNeXt-style CNN", "Plain ViT (linear patches)", "Conv-stem ViT",
                                               "CoAtNet-style hybrid"]
    cnn, vit, stem, _ = frame.summary
    assert stem.x == () and stem.y == ()
    assert cnn.x == pytest.approx((math.log10(250), math.log10(4000)))
    assert cnn.y == pytest.approx((0.7, 0.96)) and vit.y == pytest.approx((0.25, 0.75))
    assert frame.bands[0].low == pytest.approx((0.6, 0.95)) and frame.bands[0].high == pytest.approx((0.8, 0.97))
    assert (math.log10(16000), "16,000") in frame.ticks  # the full grid's sizes label the axis
    assert len(frame.runs) == 8 and all(len(c.x) == 2 for c in frame.runs) and frame.steps == LabRunSpec.steps
    assert "ConvNeXt-style CNN, N=250: 70.0% [60.0, 80.0] over 2 seeds" in frame.table
    assert s.controls().start and not s.controls().pause and s.controls().export
    s.set_curve_size(250)
    assert len(s.render().runs) == 4
    assert s.render() is not frame and s.render().runs[0] is s.render().runs[0]  # an unchanged run keeps its Curve


def test_runs_of_another_budget_are_not_mixed_in():
    s = HungerSession()
    s.add_records(GRID + [record("coatnet", 250, 0, (0.9,), steps=PRESETS["quick"].steps + 1)])
    def with_data():
        return {c.name for c in s.render().summary if c.y}

    assert with_data() == {"ConvNeXt-style CNN", "Plain ViT (linear patches)"}
    s.set_plan(tuple(replace(x, steps=PRESETS["quick"].steps + 1) for x in PRESETS["quick"].specs()))
    assert with_data() == {"CoAtNet-style hybrid"}


def _tiny_session(parallel=2, sizes=(64,)):
    s = HungerSession(parallel=parallel)
    preset = tiny_preset()
    specs = tuple(LabRunSpec(a, n, 0, preset.steps, preset.batch, preset.eval_every, preset.eval_size)
                  for n in sizes for a in ("convnext", "vit-plain", "coatnet"))
    s.set_plan(specs)
    return s, specs


def _live(spec, accs, finished=False):
    points = tuple(CurvePoint(2 * (i + 1), a, 1.0, 0.1) for i, a in enumerate(accs))
    return RunRecord(spec, points, finished)


def test_live_records_and_the_queue():
    s, specs = _tiny_session(parallel=2)
    launched = s.start()
    assert launched == list(specs[:2]) and s.state == HungerState.RUNNING and len(s.queue) == 1
    assert s.trainer_ready(specs[0], "trainer-0") and s.trainer_ready(specs[1], "trainer-1")
    assert s.update(_live(specs[0], (0.3,)))
    assert not s.update(_live(specs[2], (0.3,)))  # not active: ignored
    assert s.progress(specs[0], 0.25) and not s.progress(specs[2], 0.5)
    assert "Runs: ConvNeXt-style CNN N=64 seed 0: 25%; Plain ViT (linear patches) N=64 seed 0: 0%" in s.controls().status
    live = [c for c in s.render().runs if "(live)" in c.name]
    assert len(live) == 1 and live[0].y == (0.3,) and live[0].width == 2.5
    nxt = s.run_ended(_live(specs[0], (0.3, 0.5), finished=True), specs[0])
    assert nxt == [specs[2]] and s.is_done(specs[0])
    assert s.run_ended(_live(specs[1], (0.4, 0.6), finished=True), specs[1]) == []
    s.trainer_ready(specs[2], "trainer-2")
    s.run_ended(_live(specs[2], (0.4, 0.6), finished=True), specs[2])
    assert s.state == HungerState.IDLE and not s.missing() and not s.controls().start
    assert "finished" in s.controls().status


def test_pause_resume_cancel_state_machine():
    s, specs = _tiny_session(parallel=3)
    s.start()
    s.trainer_ready(specs[0], "t0")
    s.trainer_ready(specs[1], "t1")  # specs[2] is still being built
    keys = s.pause()
    assert sorted(keys) == sorted([specs[0].key, specs[1].key]) and s.state == HungerState.PAUSING
    assert s.controls().pause_text == "Pause" and not s.controls().start
    s.run_ended(_live(specs[0], (0.2,)), specs[0])  # the job ended on the pause request: not finished
    assert s.state == HungerState.PAUSING
    s.run_ended(_live(specs[1], (0.2,)), specs[1])
    assert s.state == HungerState.PAUSED and s.controls().pause_text == "Resume" and s.controls().pause
    assert not s.trainer_ready(specs[2], "t2")  # built while paused: it waits for Resume
    resumed = s.resume()
    assert {x.spec.key for x in resumed} == {x.key for x in specs} and {x.trainer for x in resumed} == {"t0", "t1", "t2"}
    assert s.state == HungerState.RUNNING and s.resume() == []
    assert s.records[specs[0].key].points  # the curve so far is kept
    cancelled = s.cancel()
    assert sorted(cancelled) == sorted(x.key for x in specs) and s.state == HungerState.IDLE
    assert not any(k in s.records for k in cancelled)  # unfinished curves are forgotten


def test_a_failed_run_is_dropped_and_the_next_starts():
    s, specs = _tiny_session(parallel=1)
    s.start()
    assert s.run_failed(specs[0], "out of memory") == [specs[1]]
    assert specs[0].key not in s.records and "out of memory" in s.controls().status


def test_export_csv_has_the_summary_and_the_curves():
    s = HungerSession()
    s.add_records(GRID)
    text = s.export_csv()
    assert text.startswith("arch,train_size,mean_accuracy,min_accuracy,max_accuracy,seeds\n")
    assert "convnext,250,0.7000,0.6000,0.8000,2" in text
    assert "arch,train_size,seed,steps,init,finished,step,accuracy,loss,seconds" in text
    assert f"vit-plain,4000,1,{LabRunSpec.steps},scratch,1,{LabRunSpec.steps // 2 * 2},0.8000" in text


# ---- the fine-tune view --------------------------------------------------------------------------------
def race(init, accs, arch="convnext", per_class=10, mode="all", finished=True):
    return record(arch, per_class * 4, 0, accs, steps=300, finished=finished, init=init, per_class=str(per_class),
                  mode=mode)


def test_shipped_comparison_shows_and_a_live_one_replaces_it():
    s = FinetuneSession()
    s.add_shipped([race("pretrained", (0.6, 0.9)), race("scratch", (0.3, 0.4)),
                   race("pretrained", (0.95,), per_class=100), race("scratch", (0.9,), per_class=100)])
    frame = s.render_race()
    assert frame.source == "shipped" and frame.curves[0].y == (0.6, 0.9) and frame.curves[1].y == (0.3, 0.4)
    assert "from the bundled weights: 90.0%" in frame.result and "from scratch: 40.0%" in frame.result
    s.choose(per_class=100)
    assert s.render_race().curves[0].y == (0.95,)
    s.choose(mode="head")  # no shipped head-only run; the scratch run is the same whatever the mode
    frame = s.render_race()
    assert frame.curves[0].y == () and frame.curves[1].y == (0.9,) and "bundled weights: waiting" in frame.result
    s.choose(arch="coatnet")
    assert s.render_race().source == "none" and "Press Start" in s.render_race().result
    s.choose(arch="convnext")
    assert s.start() == ("convnext", 100, "head", 300) and s.start() is None  # the shipped runs' budget
    assert FinetuneSession().budget() == COMPARE_STEPS
    assert s.race_update(race("pretrained", (0.5,), per_class=100, mode="head", finished=False))
    assert not s.race_update("progress")
    frame = s.render_race()
    assert frame.source == "live" and frame.curves[0].y == (0.5,) and frame.curves[1].y == ()
    assert "Training" in frame.result and "step 300" in frame.result
    comparison = type("FineTuneComparison", (), {"pretrained": race("pretrained", (0.5, 0.8), per_class=100, mode="head"),
                                                  "scratch": race("scratch", (0.2, 0.3), per_class=100)})()
    s.race_done(comparison)
    assert s.phase == Phase.IDLE and "80.0%" in s.render_race().result and "30.0%" in s.render_race().result
    s.race_failed("boom")
    assert "failed: boom" in s.render_race().result


@dataclass(frozen=True)
class FakeIndex:
    classes: tuple = ("cat", "dog")
    notes: tuple = ("Class 'empty' has no images and was dropped.",)
    skipped_non_images: int = 3

    def describe(self) -> str:
        return "pets: 10 images in 2 classes (cat 5, dog 5)"


@dataclass(frozen=True)
class FakeUpdate:
    step: int
    loss: float
    held_out_accuracy: float | None
    skipped_unreadable: int = 0


@dataclass(frozen=True)
class FakeResult:
    classes: tuple
    confusion: np.ndarray
    held_out_accuracy: float
    most_confused: tuple
    saved_path: str
    card_path: str
    skipped_unreadable: int


def test_folder_states_updates_and_result():
    s = FinetuneSession()
    assert not s.folder_controls().start and s.folder_controls().choose
    assert s.folder_chosen("/data/pets") and s.folder_phase == FolderPhase.INDEXING
    assert not s.folder_chosen("/data/other") and "Wait" in s.folder_controls().status
    s.folder_error = ""
    s.index_progress_text(type("P", (), {"message": "2,000 files"})())
    assert "2,000 files" in s.folder_controls().status and s.folder_controls().cancel
    s.indexed(FakeIndex())
    c = s.folder_controls()
    assert c.start and "10 images" in c.status and "3 other files skipped" in c.status and "dropped" in c.status
    assert s.train_started() and not s.train_started()
    assert s.train_update(FakeUpdate(5, 1.2, None)) == ((5, 1.2), None)
    assert s.train_update(FakeUpdate(10, 0.8, 0.75)) == ((10, 0.8), (10, 0.75))
    assert s.train_update(FakeUpdate(11, float("nan"), None)) == (None, None)
    img = np.zeros((20, 30, 3), np.uint8)
    view = s.train_done(FakeResult(("cat", "dog"), np.array([[4, 1], [0, 5]]), 0.9, ((img, 0, 1, 0.8),),
                                   "/m/pets.safetensors", "/m/pets.md", 2))
    assert view.confusion.tolist() == [[4, 1], [0, 5]] and view.captions == ("cat -> dog (80%)",)
    assert view.gallery[0].shape == (20, 30, 3)
    assert "90.0%" in view.summary and "/m/pets.safetensors" in view.summary and "2 unreadable" in view.summary
    assert s.folder_controls().start and s.folder_controls().status == view.summary


def test_a_bad_folder_shows_its_message_and_keeps_the_good_one():
    s = FinetuneSession()
    s.folder_chosen("/empty")
    s.folder_failed("The folder /empty holds no images.")
    c = s.folder_controls()
    assert c.status == "The folder /empty holds no images." and not c.start and c.choose
    s.folder_chosen("/good")
    s.indexed(FakeIndex())
    s.folder_chosen("/one-class")
    s.folder_failed("Only one class.")
    c = s.folder_controls()
    assert s.folder_phase == FolderPhase.READY and c.status == "Only one class." and c.start  # the good index stays
    assert s.index == FakeIndex()


def test_a_run_that_ends_unfinished_without_a_pause_is_a_failure_not_a_stuck_slot():
    s, specs = _tiny_session(parallel=1)
    s.start()
    s.trainer_ready(specs[0], "t0")
    stopped = RunRecord(specs[0], (CurvePoint(2, 0.2, 1.0, 0.1),), False, "cpu", {"error": "the loss became NaN"})
    assert s.run_ended(stopped, specs[0]) == [specs[1]]
    assert specs[0].key not in s.slots and "NaN" in s.controls().status


def test_the_full_grid_follows_the_shipped_budget():
    s = HungerSession()
    shipped = [record(a, n, 0, (0.5,), steps=1000) for a in ("convnext", "coatnet") for n in (250, 16000)]
    s.add_records(shipped, shipped=True)
    assert s.preset == "full" and {x.steps for x in s.plan} == {1000} and "1,000 steps" in s.presets["full"].title
    assert len(s.plan) == 32 and sum(s.is_done(x) for x in s.plan) == 4
    assert {c.name for c in s.render().summary if c.y} == {"ConvNeXt-style CNN", "CoAtNet-style hybrid"}


def test_a_live_point_keeps_the_summary_objects():
    """The summary is rebuilt only when the finished runs change: a live point redraws its own curve only."""
    s, specs = _tiny_session(parallel=1)
    s.add_records([record("convnext", 64, 1, (0.5,), steps=specs[0].steps)])
    s.start()
    s.trainer_ready(specs[0], "t0")
    first = s.render()
    s.update(_live(specs[0], (0.3,)))
    second = s.render()
    assert second.summary is first.summary and second.bands is first.bands and second.runs != first.runs
    s.run_ended(_live(specs[0], (0.3, 0.4), finished=True), specs[0])
    assert s.render().summary is not first.summary


def test_the_status_line_reads_as_one_sentence_per_state():
    from app.lab_hunger_session import HungerSession, HungerState

    s = HungerSession()
    for state, words in ((HungerState.RUNNING, "active"), (HungerState.PAUSED, "paused")):
        s.state = state
        text = s.controls().status
        assert ".:" not in text and ".(" not in text and f"0 {words}" in text, text

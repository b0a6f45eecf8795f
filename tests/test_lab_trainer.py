"""The data lab's trainer and data: determinism, step budget, NaN stop, seed-dependent subsets, cache files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.lab.data import LabData, cached_arrays, subset_indices, train_subset
from models.lab.records import LabRunSpec
from models.lab.trainer import LabTrainer, LabTrainingError, train_to_end, warmup_steps
from models.shapes_wide import wide_arrays

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster, and fair to a shared CPU


def tiny_data(n: int = 48, n_eval: int = 24) -> LabData:
    x, y, _ = wide_arrays(n, 5)
    ex, ey, _ = wide_arrays(n_eval, 6)
    return LabData(x, y, ex, ey, ("circle", "square", "triangle", "hexagon", "star", "cross"))


SPEC = LabRunSpec("vit-plain", train_size=32, seed=0, steps=4, batch=8, eval_every=2, eval_size=16)


def test_same_spec_gives_identical_curves_and_other_seed_differs():
    data = tiny_data()
    a, b = LabTrainer(SPEC, data), LabTrainer(SPEC, data)
    for t in (a, b):
        t.evaluate()
        t.train(2)
    pa, pb = a.evaluate(), b.evaluate()
    assert (pa.step, pa.accuracy, pa.loss) == (pb.step, pb.accuracy, pb.loss) == (2, pa.accuracy, pa.loss)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    c = LabTrainer(LabRunSpec(**{**SPEC.__dict__, "seed": 1}), data)
    c.train(2)
    assert not all(torch.equal(p, q) for p, q in zip(a.model.parameters(), c.model.parameters()))


def test_train_stops_at_the_budget_and_points_follow_the_grid():
    t = LabTrainer(SPEC, tiny_data())
    record = train_to_end(t)
    assert [p.step for p in record.points] == [0, 2, 4]  # a point at step 0 too
    assert record.finished and t.done and record.final_accuracy == record.points[-1].accuracy
    t.train(10)
    assert t.step == SPEC.steps
    assert all(0 <= p.accuracy <= 1 and p.loss > 0 for p in record.points)
    assert warmup_steps(300) == 37 and warmup_steps(8000) == 300 and warmup_steps(4) == 1


def test_nan_loss_stops_the_run_and_keeps_its_curve():
    t = LabTrainer(SPEC, tiny_data())
    t.evaluate()
    t.train(1)
    with torch.no_grad():
        t.model.head.bias.fill_(float("nan"))
    with pytest.raises(LabTrainingError, match="nan"):
        t.train(3)
    assert t.step == 1 and t.done
    record = t.record
    assert not record.finished and [p.step for p in record.points] == [0] and "nan" in record.extra["error"]
    with pytest.raises(LabTrainingError):
        t.train(1)


def test_unknown_architecture_and_too_many_held_out_images_are_user_errors():
    from models.errors import UserFacingError
    with pytest.raises(UserFacingError, match="Unknown architecture"):
        LabTrainer(LabRunSpec("resnet", 8, 0), tiny_data())
    with pytest.raises(UserFacingError, match="held-out"):
        LabTrainer(LabRunSpec("vit-plain", 8, 0, eval_size=1000), tiny_data())


def test_subsets_depend_on_the_seed_and_are_distinct():
    a, b = subset_indices(1000, 100, 0), subset_indices(1000, 100, 1)
    assert len(set(a)) == 100 and not np.array_equal(a, b)
    assert np.array_equal(a, subset_indices(1000, 100, 0))
    assert np.array_equal(subset_indices(50, 80, 3), np.arange(50))
    x, y = train_subset(tiny_data(), 10, 2)
    assert x.shape == (10, 64, 64, 3) and y.shape == (10,)


def test_cached_arrays_regenerate_crafted_or_broken_files(tmp_path):
    calls = []

    def make():
        calls.append(1)
        return np.full((3, 64, 64, 3), 7, np.uint8), np.array([0, 1, 2], np.int64)

    path = tmp_path / "set.npz"
    cached_arrays(path, 3, 6, make)
    images, _ = cached_arrays(path, 3, 6, make)  # read back, not made again
    assert len(calls) == 1 and images[0, 0, 0, 0] == 7
    for bad in (lambda f: np.savez(f, images=np.zeros((3, 64, 64, 3), np.float32), labels=np.zeros(3, np.int64)),
                lambda f: np.savez(f, images=np.zeros((3, 64, 64, 3), np.uint8), labels=np.array([0, 1, 9])),
                lambda f: np.savez(f, images=np.array([object()], dtype=object), labels=np.zeros(3, np.int64)),
                lambda f: f.write(b"not a zip file")):
        with open(path, "wb") as f:
            bad(f)
        images, labels = cached_arrays(path, 3, 6, make)
        assert images.dtype == np.uint8 and labels.tolist() == [0, 1, 2]
    assert len(calls) == 5

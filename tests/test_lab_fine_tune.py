"""The new shapes and the pretrained-versus-scratch comparison: new head, head-only freezing, the job, the CLI."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.compare.architectures import ARCHITECTURES
from models.jobs import JobContext, Load, run_to_completion
from models.lab import fine_tune as ft
from models.lab.new_shapes import _POLYGONS, NEW_SHAPE_CLASSES, new_shape_arrays
from models.lab.records import RunRecord

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster, and fair to a shared CPU


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def test_four_new_classes_of_distinct_shapes_in_the_widened_style():
    rng = np.random.default_rng(0)
    areas = [_area(make(rng)) for make in _POLYGONS]
    assert len(NEW_SHAPE_CLASSES) == 4 and min(np.diff(sorted(areas))) > 0.2  # pentagon, ellipse, arrow, crescent differ
    assert all(np.abs(make(rng)).max() <= 1.0 + 1e-9 for make in _POLYGONS)  # circumradius ~1, like models.shapes
    images, labels = new_shape_arrays(3, 7)
    assert images.shape == (12, 64, 64, 3) and images.dtype == np.uint8 and labels.tolist() == [0, 1, 2, 3] * 3
    small, _ = new_shape_arrays(1, 7)
    assert np.array_equal(small, images[:4])  # nested: a smaller set is the start of a bigger one
    assert all(images[i].std() > 5 for i in range(12))  # a shape on a background, not a blank image


@pytest.fixture(scope="module")
def start():
    return ft.bundled_start(ARCHITECTURES["convnext"])


def test_pretrained_start_has_a_new_four_class_head_and_head_only_freezes_the_rest(tmp_path, start):
    data = ft.fine_tune_data(tmp_path, 2)
    assert data.num_classes == 4 and len(data.pool_images) == 8 and len(data.eval_images) == 400
    spec = ft.fine_tune_spec("convnext", 2, steps=2)
    state, _ = start
    head = ft.make_trainer(spec, data, "pretrained", "head", start)
    assert head.model.head.weight.shape[0] == 4
    body_before = {k: v.clone() for k, v in head.model.state_dict().items() if not k.startswith("head.")}  # BN stats too
    assert all(torch.equal(body_before[k], state[k]) for k in body_before)  # the body is the bundled model's
    head_before = head.model.head.weight.detach().clone()
    head.train(2)
    after = head.model.state_dict()
    assert all(torch.equal(body_before[k], after[k]) for k in body_before)  # frozen
    assert not torch.equal(head_before, head.model.head.weight)  # the head learned
    assert {n for n, p in head.model.named_parameters() if p.requires_grad} == {"head.weight", "head.bias"}
    scratch = ft.make_trainer(spec, data, "scratch", "head", start)
    assert all(p.requires_grad for p in scratch.model.parameters()) and scratch.extra["init"] == "scratch"
    first = next(iter(state))
    assert not torch.equal(scratch.model.state_dict()[first], state[first])  # scratch: a fresh initialisation


def test_the_compare_job_yields_both_runs_and_caches_them(tmp_path):
    final, partials = run_to_completion(ft.fine_tune_compare_job, "vit-plain", 1, "all", 2, tmp_path, held_out=40)
    assert isinstance(final, ft.FineTuneComparison) and final.pretrained.finished and final.scratch.finished
    inits = [r.extra["init"] for r in partials if isinstance(r, RunRecord)]
    assert inits[0] == "pretrained" and inits[-1] == "scratch" and set(inits) == {"pretrained", "scratch"}
    assert final.pretrained.extra["mode"] == "all" and final.pretrained.spec == final.scratch.spec
    gen = ft.fine_tune_compare_job(JobContext(), "vit-plain", 1, "all", 2, tmp_path, held_out=40)
    again, partials = run_to_completion(ft.fine_tune_compare_job, "vit-plain", 1, "all", 2, tmp_path, held_out=40)
    assert again == final and len(partials) == 2  # from the cache at once
    assert isinstance(next(gen), Load)


def test_cli_prints_both_accuracies_and_ships_a_valid_file(tmp_path, capsys):
    out = tmp_path / "ft.json"
    assert ft.main(["--arch", "vit-plain", "--per-class", "1", "--steps", "1", "--cache-dir", str(tmp_path), "--held-out", "20",
                    "--write-shipped", "--shipped-path", str(out)]) == 0
    text = capsys.readouterr().out
    assert "pretrained (all)" in text and "scratch" in text
    records = ft.load_shipped_fine_tune(out)
    assert sorted(r.extra["init"] for r in records) == ["pretrained", "scratch"]

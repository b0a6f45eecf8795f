"""Finished-run cache, the shipped grid files, JSON validation, and the accuracy-against-N summary maths."""
from __future__ import annotations

import json

import pytest

from models.lab.cache import RunCache, load_shipped_grid, write_grid
from models.lab.records import CurvePoint, LabRecordError, LabRunSpec, RunRecord
from models.lab.summary import SummaryRow, curves_csv, format_table, summarise, summary_csv


def rec(arch: str, n: int, seed: int, acc: float, finished: bool = True) -> RunRecord:
    spec = LabRunSpec(arch, n, seed, steps=10, eval_every=5)
    points = (CurvePoint(0, 0.2, 1.8, 0.0), CurvePoint(5, acc / 2, 1.0, 1.5), CurvePoint(10, acc, 0.5, 3.0))
    return RunRecord(spec, points if finished else points[:2], finished, extra={"init": "scratch"})


def test_cache_round_trip_and_unfinished_runs_are_not_served(tmp_path):
    cache = RunCache(tmp_path)
    done, partial = rec("convnext", 250, 0, 0.6), rec("convnext", 250, 1, 0.6, finished=False)
    cache.put(done)
    cache.put(partial)
    assert cache.get(done.spec) == done and cache.get(done.spec).extra == {"init": "scratch"}
    assert cache.get(partial.spec) is None and cache.get(LabRunSpec("coatnet", 9, 0)) is None
    assert cache.finished() == (done,) and not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("content", [
    "{not json", "[]", '{"spec": 3}',
    json.dumps(rec("convnext", 250, 0, 0.6).to_json() | {"finished": "yes"}),
])
def test_a_malformed_cache_file_is_ignored_with_a_message(tmp_path, content):
    cache = RunCache(tmp_path)
    spec = rec("convnext", 250, 0, 0.6).spec
    cache.path(spec).write_text(content)
    assert cache.get(spec) is None
    assert len(cache.problems) == 1 and cache.path(spec).name in cache.problems[0]


def test_a_crafted_cache_file_with_impossible_values_or_another_spec_is_ignored(tmp_path):
    cache = RunCache(tmp_path)
    good = rec("convnext", 250, 0, 0.6)
    for tamper in (lambda d: d["points"][-1].update(accuracy=1.5), lambda d: d["points"][-1].update(loss=float("nan")),
                   lambda d: d["points"].reverse(), lambda d: d["spec"].update(seed=1),
                   lambda d: d["points"][-1].update(step=True)):
        data = good.to_json()
        tamper(data)
        cache.path(good.spec).write_text(json.dumps(data))
        assert cache.get(good.spec) is None
    assert len(cache.problems) == 5


def test_shipped_grid_round_trip_and_validation(tmp_path):
    records = (rec("convnext", 250, 0, 0.6), rec("vit-plain", 250, 0, 0.4))
    path = write_grid(records, tmp_path / "grid.json", note="test")
    assert load_shipped_grid(path) == records
    assert load_shipped_grid(tmp_path / "absent.json") == ()
    data = json.loads(path.read_text())
    data["records"][1]["points"][0]["accuracy"] = -0.1
    path.write_text(json.dumps(data))
    with pytest.raises(LabRecordError, match="accuracy"):
        load_shipped_grid(path)
    path.write_text('{"records": 5}')
    with pytest.raises(LabRecordError, match="records"):
        load_shipped_grid(path)


def test_the_shipped_grid_in_assets_is_valid():
    for r in load_shipped_grid():
        assert r.finished and r.points[0].step == 0 and r.points[-1].step == r.spec.steps


def test_summary_against_a_hand_computed_example():
    records = [rec("vit-plain", 250, 0, 0.40), rec("convnext", 1000, 0, 0.80), rec("convnext", 250, 0, 0.50),
               rec("convnext", 250, 1, 0.70), rec("convnext", 250, 2, 0.9, finished=False)]
    rows = summarise(records)
    assert rows == (SummaryRow("convnext", 250, pytest.approx(0.6), 0.5, 0.7, 2),
                    SummaryRow("convnext", 1000, 0.8, 0.8, 0.8, 1), SummaryRow("vit-plain", 250, 0.4, 0.4, 0.4, 1))
    assert summary_csv(records) == ("arch,train_size,mean_accuracy,min_accuracy,max_accuracy,seeds\n"
                                    "convnext,250,0.6000,0.5000,0.7000,2\n"
                                    "convnext,1000,0.8000,0.8000,0.8000,1\n"
                                    "vit-plain,250,0.4000,0.4000,0.4000,1\n")
    lines = curves_csv(records).splitlines()
    assert len(lines) == 1 + 4 * 3 + 2 and lines[1] == "vit-plain,250,0,10,scratch,1,0,0.2000,1.8000,0.00"
    table = format_table(rows)
    assert "60.0% (50.0-70.0, 2)" in table and "N=1000" in table


def test_summary_counts_a_spec_once():
    assert summarise([rec("convnext", 250, 0, 0.5), rec("convnext", 250, 0, 0.7)])[0].seeds == 1

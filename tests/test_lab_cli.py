"""`python -m models.lab.data_hunger` through main([...]) with tiny settings: table, cache resume, CSV, shipped file."""
from __future__ import annotations

import pytest

from models.lab import data_hunger
from models.lab.cache import load_shipped_grid
from models.lab.data import LabData
from models.shapes_wide import wide_arrays

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster, and fair to a shared CPU


def test_tiny_grid_prints_the_table_resumes_from_the_cache_and_exports(tmp_path, monkeypatch, capsys):
    x, y, _ = wide_arrays(40, 5)
    ex, ey, _ = wide_arrays(16, 6)
    calls = []
    monkeypatch.setattr(data_hunger, "load_lab_data", lambda folder: calls.append(folder) or LabData(
        x, y, ex, ey, ("circle", "square", "triangle", "hexagon", "star", "cross")))
    shipped, csv = tmp_path / "grid.json", tmp_path / "out" / "summary.csv"
    argv = ["--sizes", "8", "16", "--seeds", "2", "--archs", "vit-plain", "--steps", "2", "--eval-every", "1",
            "--eval-size", "16", "--batch", "4", "--threads", "1", "--cache-dir", str(tmp_path / "cache"), "--csv", str(csv),
            "--write-shipped", "--shipped-path", str(shipped)]
    assert data_hunger.main(argv) == 0
    out = capsys.readouterr().out
    assert "N=8" in out and "N=16" in out and "vit-plain" in out and "(1 seed)" not in out
    records = load_shipped_grid(shipped)
    assert len(records) == 4 and all(r.finished and r.spec.steps == 2 for r in records)
    assert csv.read_text().count("\n") == 3 and (tmp_path / "out" / "summary_curves.csv").is_file()
    assert data_hunger.main(argv) == 0  # every run now comes from the cache: no data, no training
    out = capsys.readouterr().out
    assert out.count("cached  ") == 4 and len(calls) == 1


def test_quick_settings_are_printed_and_shared_by_every_run():
    args = data_hunger.parse(["--quick"])
    assert (args.sizes, args.seeds, args.steps, args.batch, args.eval_size) == ([250, 4000], 1, 500, 16, 500)
    assert data_hunger.parse(["--quick", "--steps", "10"]).steps == 10
    specs = data_hunger.grid_specs(["convnext", "coatnet"], [250, 4000], 2, data_hunger.LabRunSpec("convnext", 1, 0))
    assert len(specs) == 8 and [s.seed for s in specs[:4]] == [0] * 4  # seed by seed

"""The data lab's pages in the Compare tab, through the real worker service: the view switch, the cached grid at
once, a tiny run started through the page (curve points, pause, resume, cancel, cached when finished), exports,
a broken folder's message, and closing mid-run without a hang."""
from __future__ import annotations

import json
from functools import partial

import numpy as np
import pytest

from app import lab_jobs
from app.lab_hunger_session import HungerState
from app.tabs.compare_tab import CompareTab
from app.tabs.lab_finetune_page import LabFinetunePage
from app.tabs.lab_hunger_page import LabHungerPage
from models.compare.results import ModelRef
from models.lab.records import CurvePoint, LabRunSpec, RunRecord

pytestmark = pytest.mark.usefixtures("one_thread")
TIMEOUT_MS = 120_000
TINY = dict(batch=8, eval_every=2, eval_size=32)


@pytest.fixture
def small_data(monkeypatch):
    """96 pool and 32 held-out images instead of the 18,000 the lab generates (seconds -> milliseconds)."""
    from models.lab.data import LabData
    from models.shapes import SHAPE_CLASSES
    from models.shapes_wide import wide_arrays

    pool, held = wide_arrays(96, 1)[:2], wide_arrays(32, 2)[:2]
    data = LabData(*pool, *held, tuple(SHAPE_CLASSES))
    monkeypatch.setattr(lab_jobs, "shared_lab_data", lambda _folder: data)
    return data


def _grid_file(path, records):
    path.write_text(json.dumps({"note": "test", "records": [r.to_json() for r in records]}), encoding="utf-8")
    return path


def _finished(arch, n, seed, acc):
    spec = LabRunSpec(arch, n, seed)  # the full grid's budget
    return RunRecord(spec, (CurvePoint(0, 0.17, 1.8, 0.0), CurvePoint(spec.steps, acc, 0.5, 60.0)), True)


def _page(open_tab, tmp_path, shipped=(), **kw):
    grid = _grid_file(tmp_path / "grid.json", shipped)
    return open_tab(partial(LabHungerPage, shipped=grid, cache_dir=tmp_path / "runs", data_dir=tmp_path / "img", **kw),
                    size=(1200, 700))


def test_view_switch_shows_the_lab_pages_instead_of_the_columns(open_tab, qtbot):
    tab = open_tab(partial(CompareTab, models=(ModelRef("compare/convnext", "random"),
                                               ModelRef("compare/coatnet", "random"))))
    tab.show_view("data-hunger")
    hunger = tab.lab_pages["data-hunger"]
    assert tab.stack.currentWidget() is hunger and hunger.isVisible() and not tab.column_area.isVisible()
    assert not tab.column_controls.isVisible() and tab.current_view() == "data-hunger" and not tab.is_busy()
    tab.show_view("fine-tune")
    assert tab.stack.currentWidget() is tab.lab_pages["fine-tune"] and tab.current_view() == "fine-tune"
    tab.show_view("hierarchy")
    assert tab.stack.currentWidget() is tab.column_area and tab.column_controls.isVisible()
    assert tab.current_view() == "hierarchy" and tab.session.view == "hierarchy"
    qtbot.waitUntil(lambda: tab.lab_pages["fine-tune"].picker.has_models(), timeout=TIMEOUT_MS)  # the Compare list


def test_the_cached_grid_shows_at_once(open_tab, tmp_path):
    shipped = [_finished(a, n, s, acc) for a, acc in (("convnext", 0.9), ("vit-plain", 0.4))
               for n in (250, 1000, 4000, 16000) for s in (0, 1)]
    cached = _finished("coatnet", 250, 0, 0.8)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / f"{cached.spec.key}.json").write_text(json.dumps(cached.to_json()))
    (tmp_path / "runs" / "broken.json").write_text("{not json")  # skipped, never fatal
    page = _page(open_tab, tmp_path, shipped)
    assert not page.ctx.torch_loaded or True  # drawn in the constructor, before any job ran
    curves = {c.name: c for c in page.frame.summary}
    assert curves["ConvNeXt-style CNN"].y == pytest.approx((0.9,) * 4)
    assert curves["CoAtNet-style hybrid"].y == pytest.approx((0.8,))
    assert page.summary.bar_count() == 4 and page.runs.curve_count() == 17
    assert page.csv_btn.isEnabled() and page.start_btn.isEnabled()  # the full grid lacks the other runs
    out = tmp_path / "out.csv"
    page.ask_save_path = lambda name, filters: str(out)
    page.export_csv()
    assert out.read_text().startswith("arch,train_size,mean_accuracy") and "coatnet,250,0.8000" in out.read_text()
    png = tmp_path / "out.png"
    page.ask_save_path = lambda name, filters: str(png)
    page.export_png()
    assert png.stat().st_size > 1000


def test_a_tiny_run_moves_pauses_resumes_cancels_and_is_cached(open_tab, qtbot, tmp_path, small_data):
    page = _page(open_tab, tmp_path)
    specs = (LabRunSpec("convnext", 64, 0, 4, **TINY),)
    page.session.set_plan(specs)
    page.start()
    qtbot.waitUntil(lambda: page.session.state == HungerState.IDLE, timeout=TIMEOUT_MS)
    assert page.session.is_done(specs[0]) and (tmp_path / "runs" / f"{specs[0].key}.json").is_file()
    assert page.runs.curve_count() == 1 and page.frame.summary[0].y  # a finished run is in the summary
    # a longer run: pause while it trains, resume, then cancel
    long = LabRunSpec("vit-plain", 64, 1, 5000, **TINY)
    page.session.set_plan((long,))
    page.start()
    qtbot.waitUntil(lambda: len(page.session.records[long.key].points) >= 2, timeout=TIMEOUT_MS)
    assert any("(live)" in c.name for c in page.frame.runs) or page.draw() is None
    page.pause_or_resume()
    qtbot.waitUntil(lambda: page.session.state == HungerState.PAUSED, timeout=TIMEOUT_MS)
    assert page.pause_btn.text() == "Resume" and not page.start_btn.isEnabled()
    paused_at = page.session.records[long.key].last_step
    page.pause_or_resume()
    qtbot.waitUntil(lambda: page.session.records[long.key].last_step > paused_at, timeout=TIMEOUT_MS)
    assert page.session.state == HungerState.RUNNING and page.pause_btn.text() == "Pause"
    page.cancel()
    assert page.session.state == HungerState.IDLE and long.key not in page.session.records
    qtbot.waitUntil(lambda: not page.ctx.worker.is_busy(), timeout=TIMEOUT_MS)
    assert not (tmp_path / "runs" / f"{long.key}.json").exists()


def test_closing_mid_run_never_hangs_and_keeps_the_run(open_tab, qtbot, tmp_path, small_data):
    page = _page(open_tab, tmp_path)
    long = LabRunSpec("convnext", 64, 2, 5000, **TINY)
    page.session.set_plan((long,))
    page.start()
    qtbot.waitUntil(lambda: len(page.session.records[long.key].points) >= 2, timeout=TIMEOUT_MS)
    page.shutdown()
    assert page.ctx.worker.shutdown(timeout=10.0)  # the worker thread ended
    kept = tmp_path / "runs" / "unfinished"  # ... after keeping the run: Start continues it (models.lab.unfinished)
    assert sorted(p.suffix for p in kept.iterdir()) == [".json", ".pt"]


def test_a_broken_folder_shows_a_message_and_nothing_is_lost(open_tab, qtbot, tmp_path):
    page = open_tab(partial(LabFinetunePage, shipped=tmp_path / "none.json", out_dir=tmp_path / "models"))
    empty = tmp_path / "empty"
    empty.mkdir()
    page.choose_folder(str(empty))
    qtbot.waitUntil(lambda: bool(page.session.folder_error), timeout=TIMEOUT_MS)
    assert "empty" in page.folder_label.text().lower() and page.folder_btn.isEnabled()
    assert not page.folder_start.isEnabled()
    good = tmp_path / "good"
    for cls in ("a", "b"):
        (good / cls).mkdir(parents=True)
        for i in range(3):
            from PIL import Image

            Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(good / cls / f"{i}.png")
    page.choose_folder(str(good))
    qtbot.waitUntil(lambda: page.session.index is not None, timeout=TIMEOUT_MS)
    assert "6 images in 2 classes" in page.folder_label.text() and page.folder_start.isEnabled()
    one = tmp_path / "one"
    (one / "only").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(one / "only" / "x.png")
    page.choose_folder(str(one))
    qtbot.waitUntil(lambda: bool(page.session.folder_error), timeout=TIMEOUT_MS)
    assert "class" in page.folder_label.text().lower()
    assert page.session.index.root == str(good) and page.folder_start.isEnabled()  # the good folder stays


def _image_folder(root, classes=("a", "b"), per_class=6):
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            img = np.zeros((24 + i, 20, 3), np.uint8)
            img[..., k] = 200  # class a red, class b green; sizes differ
            img += rng.integers(0, 40, img.shape, dtype=np.uint8)
            Image.fromarray(img).save(root / cls / f"{i}.png")
    (root / "a" / "broken.png").write_bytes(b"not a png")  # skipped and counted
    return root


def test_pretrained_vs_scratch_through_the_page(open_tab, qtbot, tmp_path, monkeypatch):
    import app.lab_finetune_session as fs

    monkeypatch.setattr(fs, "COMPARE_STEPS", 4)
    monkeypatch.setattr("app.tabs.lab_finetune_page.lab_dir", lambda: tmp_path / "lab")
    page = open_tab(partial(LabFinetunePage, shipped=tmp_path / "none.json", out_dir=tmp_path / "models"))
    assert page.race_frame.source == "none"
    page.start_race()
    assert not page.race_start.isEnabled() and page.race_cancel.isEnabled()
    qtbot.waitUntil(lambda: page.session.phase.value == "idle", timeout=TIMEOUT_MS)
    frame = page.race_frame
    assert frame.source == "live" and all(len(c.x) >= 2 for c in frame.curves), frame.result
    assert "from the bundled weights:" in frame.result and "%" in frame.result and page.race_start.isEnabled()


def test_a_folder_fine_tunes_end_to_end_and_joins_the_pickers(open_tab, qtbot, tmp_path):
    from models.compare import catalog
    from models.registry import specs_for
    from widgets.model_picker import PickedModel

    assert catalog  # imported: it registers the Compare models

    page = open_tab(partial(LabFinetunePage, shipped=tmp_path / "none.json", out_dir=tmp_path / "models"))
    page.set_models(specs_for("compare"))
    page.picker.set_choice(PickedModel("compare/convnext", "random", "", None))
    changed = []
    page.models_changed.connect(lambda: changed.append(True))
    page.choose_folder(str(_image_folder(tmp_path / "pets")))
    qtbot.waitUntil(lambda: page.session.index is not None, timeout=TIMEOUT_MS)
    page.steps_spin.setValue(10)
    page.start_folder()
    assert page.folder_cancel.isEnabled() and not page.folder_btn.isEnabled()
    qtbot.waitUntil(lambda: page.session.folder_phase.value in ("done", "ready"), timeout=TIMEOUT_MS)
    assert page.session.result is not None, page.session.folder_error
    assert page.curves.data("loss")[0].size >= 1 and page.curves.data("accuracy")[0].size >= 1
    assert page.confusion.rowCount() == 3 and page.confusion.isRowHidden(2) and page.confusion.count(0, 0) >= 0
    assert sum(page.confusion.count(r, c) for r in range(2) for c in range(2)) == page.session.result.confusion.sum()
    assert "Saved to" in page.folder_label.text() and changed == [True]
    assert (tmp_path / "models").is_dir() and any((tmp_path / "models").rglob("*.safetensors"))


def test_dropping_a_file_or_a_folder(open_tab, qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    page = open_tab(partial(LabFinetunePage, shipped=tmp_path / "none.json", out_dir=tmp_path / "models"))

    def drop(path) -> None:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        page.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                                  Qt.KeyboardModifier.NoModifier))

    note = tmp_path / "note.txt"
    note.write_text("hi")
    drop(note)
    assert "note.txt is a file" in page.folder_label.text() and page.folder_btn.isEnabled()
    drop(_image_folder(tmp_path / "pets"))
    qtbot.waitUntil(lambda: page.session.index is not None, timeout=TIMEOUT_MS)
    assert "pets" in page.folder_label.text() and page.folder_start.isEnabled()

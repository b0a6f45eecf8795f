"""The Detection tab's evaluation view driven like a user: evaluate the bundled DETR on generated scenes in
the worker, move the threshold (slider and PR curve), hide TPs, click matrix cells and worst images,
export; a broken COCO file gives a message and keeps the results; cancel."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt


@pytest.fixture
def tab(open_tab):
    from app.tabs.detection_tab import DetectionTab

    t = open_tab(DetectionTab, size=(1300, 860))
    t.show_view("evaluation")
    return t


def evaluate(tab, qtbot, n=30):
    page = tab.eval_page
    page.n_spin.setValue(n)
    page.evaluate()
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=240_000)
    assert page.session.run is not None
    return page


def test_evaluation_view_end_to_end(tab, qtbot, tmp_path):
    assert tab.current_view() == "evaluation" and "evaluation" in tab.views
    page = evaluate(tab, qtbot)
    run = page.session.run
    k = len(run.dataset.class_names)
    assert len(run.dataset) == 30 and page.pr_plot.curve_count() == k
    assert page.ap_table.rowCount() == k + 1 and page.ap_table.text(k, 0) == "all"
    assert float(page.ap_table.text(k, 2)) == pytest.approx(run.summary.stats[1], abs=1e-3)  # AP50 = COCOeval

    # one threshold for both views; the matrix follows it without running anything
    rid = tab.ctx.worker.latest_id("detection-eval")
    page.threshold.setValue(0.9)
    assert tab.threshold.value() == pytest.approx(0.9)
    high = page.session.stats.confusion.sum()
    page.threshold.setValue(0.05)
    assert page.session.stats.confusion.sum() > high and tab.ctx.worker.latest_id("detection-eval") == rid
    total = sum(page.confusion.count(r, c) for r in range(k + 1) for c in range(k + 1))
    assert total == page.session.stats.confusion.sum()

    # hide TPs: the diagonal is blanked
    page.hide_tp.setChecked(True)
    assert page.confusion.item(0, 0).text() == "·"
    page.hide_tp.setChecked(False)
    assert page.confusion.item(0, 0).text() == str(page.session.stats.confusion[0, 0])

    # a press on the PR plot at a curve point sets the threshold to that point's score
    from models.detection.eval_metrics import pr_curve

    precision, scores = pr_curve(run.summary, 0)
    i = 40
    scene = page.pr_plot.plotItem.vb.mapViewToScene(QPointF(i / 100, precision[i]))
    pos = page.pr_plot.mapFromScene(scene)
    qtbot.mouseClick(page.pr_plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))
    expected = page.session.threshold_at(i / 100, float(precision[i]))
    assert expected is not None and page.threshold.value() == pytest.approx(round(expected, 2), abs=0.011)

    # a cell lists its detections; a line opens that image in the image view with its ground truth
    page.threshold.setValue(0.3)
    r, c = np.argwhere(page.session.stats.confusion > 0)[0]
    page.confusion.cellClicked.emit(int(r), int(c))
    assert page.cell_list.count() == page.session.stats.confusion[r, c]
    page.cell_list.itemClicked.emit(page.cell_list.item(0))
    assert tab.current_view() == "image"
    qtbot.waitUntil(lambda: tab.result is not None and not tab.is_busy(), timeout=120_000)
    assert tab.gt_check.isEnabled() and tab.boxes_item.ground_truth_count() > 0

    # the worst image opens too
    tab.show_view("evaluation")
    assert page.worst.rowCount() > 0
    page.worst.cellClicked.emit(0, 0)
    assert tab.current_view() == "image"

    # exports
    page.export_json(tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["ap"]["all classes"]["AP50"] == pytest.approx(run.summary.stats[1], abs=1e-3)
    assert len(doc["confusion_matrix"]["counts"]) == k + 1
    paths = page.export_png(tmp_path / "plots.png")
    assert all(p.stat().st_size > 1000 for p in paths)

    # the same model and data set again: the cached run, no new job
    page.evaluate()
    assert not page.is_busy() and tab.ctx.worker.latest_id("detection-eval") == rid


def test_a_broken_coco_file_gives_a_message_and_keeps_the_results(tab, qtbot, tmp_path):
    page = evaluate(tab, qtbot, n=10)
    before = page.session.run
    messages = []
    tab.ctx.error.connect(messages.append)
    (tmp_path / "bad.json").write_text("{\"images\": [")
    page.set_coco(str(tmp_path / "bad.json"), str(tmp_path))
    page.evaluate()
    qtbot.waitUntil(lambda: not page.is_busy() and bool(messages), timeout=120_000)
    assert "not valid JSON" in messages[0] and "Nothing was changed" in messages[0]
    assert page.session.run is before and page.pr_plot.curve_count() == len(before.dataset.class_names)


def test_cancel_stops_the_evaluation(tab, qtbot):
    page = tab.eval_page
    page.n_spin.setValue(5000)
    page.evaluate()
    assert page.is_busy() and tab.is_busy()
    page.cancel()
    assert not page.is_busy() and page.cancel_button.isEnabled() is False
    qtbot.waitUntil(lambda: not tab.ctx.worker.is_busy("detection-eval"), timeout=120_000)
    assert page.session.run is None

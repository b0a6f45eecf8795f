"""The Detection tab's session without a display: filtering, selection, hover line, attention values,
warm-up label, and TP / FP / FN verdicts against ground truth."""
from __future__ import annotations

import numpy as np
import pytest

from app.detection_session import HOVER_HINT, DetectionSession, timing_text
from models.detection.ground_truth import GroundTruth
from models.detection.result import DetectionResult


def _result(**kw) -> DetectionResult:
    rng = np.random.default_rng(0)
    boxes = np.array([[10, 10, 50, 50], [60, 60, 90, 90], [5, 70, 30, 95], [52, 5, 95, 40]], np.float32)
    base = dict(model_key="t", model_title="test", image=np.zeros((100, 100, 3), np.uint8), boxes=boxes,
                scores=np.array([0.9, 0.8, 0.3, 0.6], np.float32), labels=np.array([0, 1, 0, 2]),
                class_names=("a", "b", "c"), needs_nms=False, query_index=np.array([3, 1, 0, 2]),
                cross_attention=rng.random((4, 2, 5, 5)).astype(np.float32),
                encoder_attention=rng.random((25, 25)).astype(np.float32), attention_grid=(5, 5), forward_ms=1033.0)
    base.update(kw)
    return DetectionResult(**base)


def test_threshold_and_classes_filter_without_the_model():
    s = DetectionSession()
    v = s.set_result(_result())
    assert v.shown.tolist() == [0, 1, 3]  # score >= 0.5, best first
    assert v.texts[0] == "a 0.90" and v.class_counts == {0: ("a", 1), 1: ("b", 1), 2: ("c", 1)}
    assert s.set_threshold(0.0).shown.tolist() == [0, 1, 3, 2]
    s.class_enabled = lambda name: name != "a"
    assert s.refilter().shown.tolist() == [1, 3]
    assert s.view.class_counts[0] == ("a", 2)  # counts are before the class filter


def test_selection_follows_its_detection_across_refilters():
    s = DetectionSession()
    s.set_result(_result())
    s.select(2)  # candidate 3 (score 0.6)
    assert s.query_of_row(2) == 2
    s.set_threshold(0.85)  # candidate 3 hidden: nothing selected
    assert s.selected == -1
    s.set_threshold(0.0)
    s.select(3)
    s.set_threshold(0.2)
    assert s.view.shown[s.selected] == 2


def test_hover_line_after_clicking_the_background_does_not_describe_the_old_box():
    s = DetectionSession()
    s.set_result(_result())
    s.select(0)
    assert "score 0.900" in s.hover_text()
    s.click_background(80.0, 20.0)
    text = s.hover_text()
    assert "0.900" not in text and "(80, 20)" in text and "Encoder" in text
    s.clear()
    assert s.hover_text() == HOVER_HINT


def test_attention_values_for_a_box_a_head_and_a_clicked_point():
    s = DetectionSession()
    r = _result()
    s.set_result(r)
    assert s.attention().kind == "none"
    s.select(1)  # candidate 1, query 1
    np.testing.assert_allclose(s.attention().values, r.cross_attention[1].mean(0))
    s.head = 1
    np.testing.assert_allclose(s.attention().values, r.cross_attention[1][1])
    s.click_background(99.0, 0.0)  # top-right cell of the 5x5 grid
    a = s.attention()
    np.testing.assert_allclose(a.values, r.encoder_attention[4].reshape(5, 5))
    assert a.marker == (99.0, 0.0)


def test_first_forward_after_loading_is_labelled_warm_up():
    assert timing_text(_result(warm_up=True)) == "forward 1033 ms (first run: warm-up)"
    assert timing_text(_result()) == "forward 1033 ms"
    s = DetectionSession()
    assert "warm-up" in s.set_result(_result(warm_up=True)).timing
    assert "warm-up" not in s.set_result(_result(forward_ms=20.0)).timing


def test_verdicts_against_ground_truth():
    # GT: an "a" where candidate 0 is, a "c" (index 2) where candidate 1 ("b") is, and a missed "b"
    gt = GroundTruth(np.array([[10, 10, 50, 50], [60, 60, 90, 90], [0, 0, 8, 8]], np.float32),
                     np.array([0, 1, 2]), ("a", "c", "b"))  # other name order: relabelled by name
    s = DetectionSession()
    s.set_ground_truth(gt)
    v = s.set_result(_result())
    assert v.verdicts == ("TP", "FP wrong class (is c)", "FP background")
    assert v.gt_missed.tolist() == [False, True, True] and "1 TP, 2 FP, 2 FN" in v.summary
    s.show_ground_truth = False
    assert len(s.refilter().gt_boxes) == 0
    assert s.set_threshold(0.95).gt_missed.size == 0


def test_no_ground_truth_no_verdicts():
    s = DetectionSession()
    v = s.set_result(_result())
    assert v.verdicts is None and "TP" not in v.summary and len(v.gt_boxes) == 0


@pytest.mark.parametrize("iou", [0.5, 0.9, 0.92])
def test_match_iou_moves_a_box_between_tp_and_poor_localisation(iou):
    gt = GroundTruth(np.array([[10, 10, 46, 50]], np.float32), np.array([0]), ("a", "b", "c"))  # IoU 0.9 with box 0
    s = DetectionSession()
    s.set_ground_truth(gt)
    s.set_result(_result())
    v = s.set_match_iou(iou)
    assert v.verdicts[0] == ("TP" if iou <= 0.9 else "FP localisation (IoU 0.90)")


def test_the_session_imports_no_qt():
    import subprocess
    import sys

    code = ("import sys, app.detection_session; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

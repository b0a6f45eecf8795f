"""Evaluation metrics without a display: AP tables equal pycocotools COCOeval, PR curves come from its
precision array, the matching-based confusion matrix / FP reasons / FN are consistent, and bad COCO files
get clear messages."""
from __future__ import annotations

import json

import numpy as np
import pytest

from models.detection.eval_data import DatasetError, bundled_scenes, load_coco_dataset
from models.detection.eval_job import evaluate_predictions
from models.detection.eval_metrics import (IOU_THRESHOLDS, RECALL_GRID, at_threshold, cell_members, coco_detections,
                                           coco_ground_truth, match_dataset, pr_curve, run_cocoeval)
from models.detection.matching import BACKGROUND, DUPLICATE, LOCALISATION, TP, WRONG_CLASS, match_image


def noisy_predictions(dataset, seed=0):
    """Predictions made from the ground truth: jittered boxes, some wrong classes, duplicates, false alarms."""
    rng = np.random.default_rng(seed)
    k = len(dataset.class_names)
    raw = []
    for gb, gl, (w, h) in zip(dataset.gt_boxes, dataset.gt_labels, dataset.sizes):
        boxes = gb + rng.normal(0, 3, gb.shape).astype(np.float32)
        labels = np.where(rng.random(len(gl)) < 0.15, rng.integers(0, k, len(gl)), gl)
        scores = rng.uniform(0.3, 1.0, len(gl))
        extra = rng.uniform(0, min(w, h) - 20, (3, 2))
        boxes = np.concatenate([boxes, gb[:1] + 1, np.concatenate([extra, extra + 18], 1)]).astype(np.float32)
        labels = np.concatenate([labels, gl[:1], rng.integers(0, k, 3)])
        scores = np.concatenate([scores, rng.uniform(0, 0.6, 1 + 3)]).astype(np.float32)
        raw.append((boxes, scores, labels))
    return raw


@pytest.fixture(scope="module")
def evaluated():
    ds = bundled_scenes(60, seed=7)
    preds, left_out, summary, match = evaluate_predictions(ds, noisy_predictions(ds), ds.class_names)
    return ds, preds, summary, match


def test_ap_table_equals_cocoeval_overall_and_per_class(evaluated):
    ds, preds, summary, _ = evaluated
    gt_doc = coco_ground_truth(list(ds.gt_boxes), list(ds.gt_labels), list(ds.sizes), ds.class_names)
    dets = coco_detections(list(preds))
    ev = run_cocoeval(gt_doc, dets)
    np.testing.assert_allclose(summary.overall, np.where(ev.stats[:6] < 0, np.nan, ev.stats[:6]), atol=1e-3,
                               equal_nan=True)
    for k in range(len(ds.class_names)):
        ref = run_cocoeval(gt_doc, dets, cat_ids=[k]).stats[:6]
        ref = np.where(ref < 0, np.nan, ref)
        np.testing.assert_allclose(summary.per_class[k], ref, atol=1e-3, equal_nan=True)
    assert 0.2 < summary.overall[1] < 1.0  # a non-trivial case: noise and mistakes cost AP


def test_pr_curve_is_cocoeval_precision_at_that_iou(evaluated):
    ds, preds, summary, _ = evaluated
    gt_doc = coco_ground_truth(list(ds.gt_boxes), list(ds.gt_labels), list(ds.sizes), ds.class_names)
    ev = run_cocoeval(gt_doc, coco_detections(list(preds)))
    precision, scores = pr_curve(summary, 2, iou_index=5)
    np.testing.assert_array_equal(precision, ev.eval["precision"][5, :, 2, 0, 2])
    assert precision.shape == RECALL_GRID.shape and np.all(np.diff(precision) <= 1e-12)  # interpolated: monotone
    assert IOU_THRESHOLDS[5] == pytest.approx(0.75) and scores.shape == (101,)


def test_matching_verdicts_and_reasons():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]], np.float32)
    gl = np.array([0, 1, 0])
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 11], [20, 20, 30, 30], [50, 50, 58, 53], [80, 80, 90, 90]],
                     np.float32)
    m = match_image(boxes, np.array([0.9, 0.8, 0.7, 0.6, 0.5]), np.array([0, 0, 0, 0, 1]), gt, gl, 0.5)
    assert m.verdict.tolist() == [TP, DUPLICATE, WRONG_CLASS, LOCALISATION, BACKGROUND]
    assert m.gt_index.tolist() == [0, 0, 1, 2, -1]
    assert m.missed(0.0).tolist() == [False, True, True] and m.missed(0.95).tolist() == [True, True, True]


def test_confusion_matrix_counts_every_prediction_and_ground_truth(evaluated):
    ds, preds, _, match = evaluated
    k = len(ds.class_names)
    for thr in (0.0, 0.4, 0.8):
        s = at_threshold(match, thr)
        n_pred = sum(int((p.scores >= thr).sum()) for p in preds)
        assert s.confusion[:, :k].sum() == n_pred  # every kept prediction is in one predicted-class column
        assert s.confusion[k, k] == 0
        assert (s.tp == np.diag(s.confusion)[:k]).all()
        assert s.tp.sum() + s.fn.sum() == sum(len(g) for g in ds.gt_labels)  # every ground truth: TP or FN
        assert s.fp.sum() == s.fp_reasons.sum() == n_pred - s.tp.sum()
        assert s.image_fp.sum() == s.fp.sum() and s.image_fn.sum() == s.fn.sum()
        # the background column lists the missed ground truths nobody confused
        preds_idx, gts = cell_members(match, thr, 0, k)
        assert len(preds_idx) == 0 and len(gts) == s.confusion[0, k]
        rows, _ = cell_members(match, thr, k, 1)
        assert len(rows) == s.confusion[k, 1]


def test_raising_the_threshold_only_removes_predictions(evaluated):
    ds, preds, _, match = evaluated
    again = match_dataset([p for p in preds], list(ds.gt_boxes), list(ds.gt_labels), len(ds.class_names), 0.5)
    np.testing.assert_array_equal(match.verdict, again.verdict)
    hi, lo = at_threshold(match, 0.7), at_threshold(match, 0.3)
    assert (hi.tp <= lo.tp).all() and (hi.fn >= lo.fn).all()


def _coco(tmp_path, doc, images=(("a.png", 40, 30),)):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir(exist_ok=True)
    for name, w, h in images:
        Image.new("RGB", (w, h)).save(folder / name)
    path = tmp_path / "ann.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path, folder


GOOD = {"images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [2, 3, 10, 12], "iscrowd": 0}],
        "categories": [{"id": 7, "name": "circle"}]}


def test_a_good_coco_file_loads(tmp_path):
    ds = load_coco_dataset(*_coco(tmp_path, GOOD))
    assert ds.class_names == ("circle",) and ds.gt_boxes[0].tolist() == [[2, 3, 12, 15]]
    assert ds.image(0).shape == (30, 40, 3)


@pytest.mark.parametrize("change,message", [
    (lambda d: "{not json", "not valid JSON"),
    (lambda d: {"images": []}, "needs the lists"),
    (lambda d: {**d, "images": [{"id": 1, "file_name": "missing.png", "width": 40, "height": 30}]},
     "1 of 1 images are not in"),
    (lambda d: {**d, "annotations": [{**d["annotations"][0], "category_id": 99}]}, "category ids that are not listed (99)"),
    (lambda d: {**d, "annotations": [{**d["annotations"][0], "image_id": 5}]}, "image ids that are not listed (5)"),
    (lambda d: {**d, "annotations": [{**d["annotations"][0], "bbox": [30, 20, 30, 30]}]}, "outside their image"),
    (lambda d: {**d, "annotations": [{**d["annotations"][0], "bbox": [1, 2, -3]}]}, "positive size"),
    (lambda d: {**d, "images": [{"id": 1, "file_name": "a.png", "width": 41, "height": 30}]}, "differ in size"),
])
def test_bad_coco_files_get_a_clear_message(tmp_path, change, message):
    doc = change(json.loads(json.dumps(GOOD)))
    with pytest.raises(DatasetError, match="Nothing was changed") as info:
        load_coco_dataset(*_coco(tmp_path, doc))
    assert message in str(info.value)


def test_a_too_large_annotation_file_is_refused_before_reading(tmp_path):
    path, folder = _coco(tmp_path, GOOD)
    with pytest.raises(DatasetError, match="annotation files up to"):
        load_coco_dataset(path, folder, max_bytes=100)


def _session(evaluated):
    from app.detection_eval_session import EvalSession
    from models.detection.eval_job import EvalRun

    ds, preds, summary, match = evaluated
    session = EvalSession()
    session.set_run(EvalRun("m", "", "model", ds, preds, summary, match, 0, 1.0, 2.0), "ds")
    return session


def test_eval_session_values_follow_threshold_iou_and_hide_tp(evaluated):
    s = _session(evaluated)
    assert s.cached("m", "", "ds") is s.run and s.cached("m", "", "other") is None
    first = s.run
    for i in range(5):  # the oldest runs are dropped beyond KEEP_RUNS
        s.set_run(first, f"ds{i}")
    assert s.cached("m", "", "ds") is None and s.cached("m", "", "ds4") is first and len(s.runs) == 4
    v = s.set_threshold(0.5)
    k = len(s.run.dataset.class_names)
    assert v.confusion.shape == (k + 1, k + 1) and v.labels[-1] == "background"
    np.testing.assert_allclose(v.points[:, 0], s.stats.recall)
    worst = [fp + fn for _, _, fp, fn in v.worst]
    assert worst == sorted(worst, reverse=True) and worst[0] == (s.stats.image_fp + s.stats.image_fn).max()
    s.hide_tp = True
    assert (np.diag(s.view().confusion)[:k] == 0).all()
    s.set_iou(0.76)  # the nearest COCO threshold
    assert s.iou == pytest.approx(0.75) and s.curves().iou == pytest.approx(0.75)
    assert s.view().confusion[np.arange(k), np.arange(k)].sum() == 0
    s.hide_tp = False
    assert s.stats.tp.sum() <= at_threshold(evaluated[3], 0.5).tp.sum()  # stricter IoU: fewer TPs


def test_threshold_at_picks_the_score_of_the_nearest_curve_point(evaluated):
    s = _session(evaluated)
    precision, scores = pr_curve(s.run.summary, 1)
    i = int(np.flatnonzero(np.isfinite(precision) & (scores > 0))[len(precision) // 3])
    assert s.threshold_at(RECALL_GRID[i], precision[i], k=1) == pytest.approx(scores[i])


def test_cell_lines_and_export(evaluated, tmp_path):
    s = _session(evaluated)
    s.set_threshold(0.3)
    k = len(s.run.dataset.class_names)
    for r, c in [(0, 0), (k, 2), (1, k)]:
        assert len(s.cell_lines(r, c)) == s.stats.confusion[r, c]
    assert all("missed" in text for _, text in s.cell_lines(1, k))
    s.export_json(tmp_path / "e.json")
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["confusion_matrix"]["counts"] == s.stats.confusion.tolist() and doc["score_threshold"] == 0.3


def test_the_sample_scenes_coco_file_evaluates_in_the_job():
    from models.detection.eval_job import DatasetRequest, evaluate_job
    from models.detection.ground_truth import SAMPLE_ANNOTATIONS, SAMPLES_DIR
    from models.jobs import run_to_completion

    request = DatasetRequest("coco", json_path=str(SAMPLE_ANNOTATIONS), folder=str(SAMPLES_DIR))
    run, progress = run_to_completion(evaluate_job, "detection/bundled-shapes-detr", "", request)
    assert len(run.dataset) == 4 and run.dataset.sizes[0] == (384, 384) and run.left_out == 0
    assert all(len(p.scores) == 15 for p in run.predictions)  # every query of the set predictor is scored
    ev = run_cocoeval(coco_ground_truth(list(run.dataset.gt_boxes), list(run.dataset.gt_labels),
                                        list(run.dataset.sizes), run.dataset.class_names),
                      coco_detections(list(run.predictions)))
    np.testing.assert_allclose(run.summary.overall, np.where(ev.stats[:6] < 0, np.nan, ev.stats[:6]), atol=1e-3,
                               equal_nan=True)

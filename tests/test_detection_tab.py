"""The Detection tab driven like a user: a random-init Hugging Face DETR from a saved folder runs through
every view; thresholds, classes and NMS re-filter without running the model again; exports."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402

from models.detection.result import DetectionResult  # noqa: E402


@pytest.fixture(scope="module")
def tiny_detr_folder(tmp_path_factory):
    import torch
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("tiny-detr-tab")
    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 8, 16, 16], depths=[1, 1, 1, 1], out_features=["stage4"])
    config = DetrConfig(use_timm_backbone=False, use_pretrained_backbone=False, backbone_config=backbone, d_model=32,
                        encoder_layers=1, decoder_layers=1, encoder_ffn_dim=64, decoder_ffn_dim=64,
                        encoder_attention_heads=2, decoder_attention_heads=2, num_queries=12,
                        id2label={0: "cat", 1: "dog", 2: "bird"}, label2id={"cat": 0, "dog": 1, "bird": 2})
    model = DetrForObjectDetection(config)
    with torch.no_grad():  # spread the class logits so the random model's scores differ
        model.class_labels_classifier.weight.normal_(0, 3)
    model.save_pretrained(folder)
    DetrImageProcessor(size={"shortest_edge": 128, "longest_edge": 200}).save_pretrained(folder)
    return folder


@pytest.fixture
def tab(open_tab):
    from app.tabs.detection_tab import DetectionTab

    return open_tab(DetectionTab)


def click_image(qtbot, tab, x, y):
    """A real mouse click on the canvas at image pixel (x, y)."""
    scene = tab.canvas.view.mapViewToScene(QPointF(x, y))
    pos = tab.canvas.mapFromScene(scene)
    qtbot.mouseClick(tab.canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))


def run_hf_detr(tab, qtbot, folder):
    qtbot.waitUntil(lambda: tab.model_box.count() > 1, timeout=120_000)
    keys = [i.key for i in tab.infos]
    tab.model_box.setCurrentIndex(keys.index("detection/hf-detr"))
    assert tab.ref_edit.isVisible()
    tab.ref_edit.setText(str(folder))
    image = np.random.default_rng(0).integers(0, 255, (120, 180, 3), dtype=np.uint8)
    tab.set_image(image)
    qtbot.waitUntil(lambda: tab.result is not None and not tab.is_busy(), timeout=120_000)
    return tab.result


def test_random_hf_detr_runs_through_every_view(tab, qtbot, tiny_detr_folder, tmp_path):
    r = run_hf_detr(tab, qtbot, tiny_detr_folder)
    assert r.cross_attention is not None and r.encoder_attention is not None
    rid = tab.ctx.worker.latest_id("detection")

    # threshold re-filters instantly, without a new request
    tab.threshold.setValue(0.0)
    assert len(tab.shown) == 12 and tab.table.model().rowCount() == 12
    cut = float(np.median(r.scores))
    tab.threshold.setValue(cut)
    assert 0 < len(tab.shown) < 12
    assert len(tab.shown) == int((r.scores >= tab.threshold.value()).sum())
    assert tab.ctx.worker.latest_id("detection") == rid and tab.result is r
    assert not tab.nms.isEnabled()  # DETR: no NMS

    # class list: counts, and unticking hides that class
    tab.threshold.setValue(0.0)
    counts = {tab.classes.item(i).data(Qt.ItemDataRole.UserRole): tab.classes.item(i).text()
              for i in range(tab.classes.count())}
    for cls, text in counts.items():
        assert text.endswith(f"({int((r.labels == cls).sum())})")
    first = tab.classes.item(0)
    hidden = first.data(Qt.ItemDataRole.UserRole)
    first.setCheckState(Qt.CheckState.Unchecked)
    assert hidden not in r.labels[tab.shown] and len(tab.shown) == int((r.labels != hidden).sum())
    tab.classes.item(0).setCheckState(Qt.CheckState.Checked)
    assert len(tab.shown) == 12

    # table row -> the box is selected and its query's cross-attention is shown (mean, then one head)
    tab.table.selectRow(0)
    row = tab.table.selected_source_row()
    assert tab.selected == row and tab.boxes_item.selected == row
    q = int(r.query_index[tab.shown[row]])
    np.testing.assert_allclose(tab.canvas.overlay_item.image, r.cross_attention[q].mean(0), rtol=1e-6)
    tab.head_box.setCurrentIndex(2)
    np.testing.assert_allclose(tab.canvas.overlay_item.image, r.cross_attention[q][1], rtol=1e-6)

    # sorting the table keeps the link: the selected row follows its detection
    tab.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)
    assert tab.table.selected_source_row() == row
    top = tab.table.model().index(0, 2).data()
    assert float(top) == pytest.approx(float(r.scores[tab.shown].min()), abs=1e-3)

    # click a box on the image -> it becomes the selected row in the table
    target = len(tab.shown) - 1
    x0, y0, x1, y1 = r.boxes[tab.shown[target]]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    expected = tab.boxes_item.box_at(cx, cy)
    click_image(qtbot, tab, cx, cy)
    qtbot.waitUntil(lambda: tab.selected == expected)
    assert tab.table.selected_source_row() == expected

    # hide every box, click a point: encoder self-attention from there
    tab.threshold.setValue(1.0)
    assert len(tab.shown) == 0
    gh, gw = r.attention_grid
    click_image(qtbot, tab, 179.0 * 0.5, 119.0 * 0.25)
    qtbot.waitUntil(lambda: tab.clicked_point is not None)
    x, y = tab.clicked_point
    cell = min(int(y / 120 * gh), gh - 1) * gw + min(int(x / 180 * gw), gw - 1)
    np.testing.assert_allclose(tab.canvas.overlay_item.image, r.encoder_attention[cell].reshape(gh, gw), rtol=1e-6)
    assert "encoder" in tab.explain.text()

    # exports: annotated PNG and COCO JSON of what is shown
    tab.threshold.setValue(0.0)
    tab.export_png(tmp_path / "det.png")
    tab.export_coco(tmp_path / "det.json")
    assert (tmp_path / "det.png").stat().st_size > 1000
    from pycocotools.coco import COCO

    doc = json.loads((tmp_path / "det.json").read_text())
    assert len(doc["annotations"]) == 12 and doc["images"][0]["width"] == 180
    coco = COCO()
    coco.dataset = doc
    coco.createIndex()
    assert len(coco.getAnnIds(imgIds=[1])) == 12


def test_nms_slider_only_for_detectors_that_need_it(tab, qtbot):
    boxes = np.array([[10, 10, 50, 50], [12, 12, 52, 52], [14, 10, 54, 50], [80, 80, 120, 120]], np.float32)
    result = DetectionResult("t", "test", np.zeros((128, 128, 3), np.uint8), boxes,
                             np.array([0.9, 0.85, 0.8, 0.7], np.float32), np.array([0, 0, 0, 1]), ("a", "b"), True)
    tab.show_result(result)
    assert tab.nms.isEnabled() and "IoU" in tab.nms_note.text()
    tab.nms.setValue(0.5)
    assert sorted(tab.shown.tolist()) == [0, 3]  # the overlapping boxes of class a collapse to the best
    tab.nms.setValue(1.0)
    assert sorted(tab.shown.tolist()) == [0, 1, 2, 3]
    # hovering a box highlights it and shows its details
    tab.hover_at(100.0, 100.0)
    assert tab.boxes_item.hovered == tab.shown.tolist().index(3) and "b" in tab.hover_label.text()


def test_a_model_that_cannot_load_gives_a_message_and_keeps_the_tab(tab, qtbot, tmp_path):
    messages = []
    tab.ctx.error.connect(messages.append)
    qtbot.waitUntil(lambda: tab.model_box.count() > 1, timeout=120_000)
    tab.model_box.setCurrentIndex([i.key for i in tab.infos].index("detection/hf-detr"))
    tab.ref_edit.setText(str(tmp_path / "missing"))
    tab.set_image(np.zeros((64, 64, 3), np.uint8))
    qtbot.waitUntil(lambda: not tab.is_busy() and bool(messages), timeout=120_000)
    assert "does not exist" in messages[0] and tab.isVisible()


def _two_box_result() -> DetectionResult:
    boxes = np.array([[10, 10, 50, 50], [70, 70, 120, 120]], np.float32)
    return DetectionResult("t", "test", np.zeros((128, 128, 3), np.uint8), boxes, np.array([0.9, 0.7], np.float32),
                           np.array([0, 1]), ("a", "b"), True, forward_ms=1033.0, warm_up=True)


@pytest.mark.parametrize("name", ["threshold", "nms"])
def test_decimal_sliders_step_with_arrow_keys_and_page_keys(tab, qtbot, name):
    tab.show_result(_two_box_result())
    slider = getattr(tab, name)
    slider.setValue(0.5)
    slider.setFocus()
    qtbot.waitUntil(slider.slider.hasFocus)
    qtbot.keyClick(slider.slider, Qt.Key.Key_Right)
    assert slider.value() == pytest.approx(0.51)
    qtbot.keyClick(slider.slider, Qt.Key.Key_PageUp)
    assert slider.value() == pytest.approx(0.61)
    qtbot.keyClick(slider.slider, Qt.Key.Key_Left)
    qtbot.keyClick(slider.slider, Qt.Key.Key_PageDown)
    assert slider.value() == pytest.approx(0.5)
    if name == "threshold":  # the key press re-filters: 0.7 hidden at 0.71
        slider.setValue(0.70)
        qtbot.keyClick(slider.slider, Qt.Key.Key_Right)
        assert tab.shown.tolist() == [0]


def test_clicking_the_background_clears_the_hover_line_of_the_selected_box(tab, qtbot):
    tab.show_result(_two_box_result())
    click_image(qtbot, tab, 30.0, 30.0)
    qtbot.waitUntil(lambda: tab.selected == 0)
    assert "0.900" in tab.hover_label.text()
    click_image(qtbot, tab, 100.0, 20.0)  # the background
    qtbot.waitUntil(lambda: tab.selected == -1)
    assert "0.900" not in tab.hover_label.text() and "a</b>" not in tab.hover_label.text()


def test_first_forward_is_labelled_warm_up(tab):
    tab.show_result(_two_box_result())
    assert tab.timing.text() == "forward 1033 ms (first run: warm-up)"


def test_sample_scene_shows_its_ground_truth_and_verdicts(tab, qtbot):
    from app.image_io import load_image_file
    from models.detection.ground_truth import SAMPLES_DIR

    image = load_image_file(SAMPLES_DIR / "shapes_scene_2.png").pixels
    tab.set_image(image)
    qtbot.waitUntil(lambda: tab.result is not None and not tab.is_busy(), timeout=120_000)
    assert tab.gt_check.isEnabled() and tab.boxes_item.ground_truth_count() == 5
    assert not tab.table.isColumnHidden(5)
    verdicts = [tab.table.model().index(i, 5).data() for i in range(tab.table.model().rowCount())]
    assert all(v == "TP" or v.startswith("FP") for v in verdicts) and verdicts
    tab.gt_check.setChecked(False)
    assert tab.boxes_item.ground_truth_count() == 0
    tab.set_image(np.zeros((64, 64, 3), np.uint8))  # no annotations: no column, no dashed boxes
    assert not tab.gt_check.isEnabled()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=120_000)
    assert tab.table.isColumnHidden(5)


def test_views_and_add_view(tab):
    from PySide6.QtWidgets import QLabel

    assert tab.views[0] == "image" and tab.current_view() == "image"
    extra = QLabel("extra")
    seen = []
    tab.view_changed.connect(seen.append)
    tab.add_view("extra", "Extra", extra)
    tab.show_view("extra")
    assert tab.current_view() == "extra" and tab.stack.currentWidget() is extra and seen == ["extra"]
    with pytest.raises(ValueError):
        tab.show_view("nope")
    with pytest.raises(ValueError):
        tab.add_view("extra", "Again", QLabel())

    class Busy(QLabel):  # an added view's is_busy / prepare_screenshot / shutdown are the tab's too
        busy, prepared, closed = True, False, False

        def is_busy(self):
            return self.busy

        def prepare_screenshot(self):
            self.prepared = True

        def shutdown(self):
            self.closed = True

    busy = Busy()
    tab.add_view("busy", "Busy", busy)
    assert tab.is_busy()
    tab.show_view("busy")
    tab.prepare_screenshot()
    tab.shutdown()
    assert busy.prepared and busy.closed

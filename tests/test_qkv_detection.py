"""DETR cross-attention Q/K/V (--tab detection --view qkv): the step-through equals the model's own capture."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from app.detection_qkv_session import DetrQKVSession, query_at
from models.errors import UserFacingError
from models.qkv_math import head_step, multi_head_step

pytestmark = pytest.mark.usefixtures("one_thread")  # torch on one thread: faster on 2 shared cores


def _image(h=96, w=120, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _bundled():
    from models.detection.bundled import BundledDetector
    from models.detection.config import DetrConfig
    from models.detection.detr_model import ShapesDETR

    torch.manual_seed(0)
    model = ShapesDETR(DetrConfig(backbone_channels=(16, 32, 32, 32, 32), d_model=32, heads=4, ffn=64,
                                  encoder_layers=1, decoder_layers=2)).eval()
    return BundledDetector(model).to("cpu")


def _hf_detr():
    """A random-init Hugging Face DETR with the default architecture (ResNet-50 backbone, 6 + 6 layers)."""
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor

    from models.detection.hf_detectors import FAMILIES, HFDetector

    torch.manual_seed(0)
    config = DetrConfig(use_timm_backbone=False, use_pretrained_backbone=False, attn_implementation="eager")
    processor = DetrImageProcessor(size={"shortest_edge": 96, "longest_edge": 128})
    return HFDetector(FAMILIES[0], DetrForObjectDetection(config).eval(), processor, "test/hf-detr", "HF DETR").to("cpu")


@pytest.fixture(scope="module", params=["bundled", "hf-detr"])
def captured(request):
    from models.detection.qkv import capture_detr_qkv

    detector = {"bundled": _bundled, "hf-detr": _hf_detr}[request.param]()
    return detector, capture_detr_qkv(detector, _image())


def test_cross_and_self_attention_weights_equal_the_models_capture(captured):
    _det, cap = captured
    gh, gw = cap.grid
    for layer in range(cap.num_layers):
        cross, selfa = cap.cross[layer], cap.self_attn[layer]
        assert cross.k.shape[1] == gh * gw and cross.q.shape[1] == cap.num_queries == selfa.k.shape[1]
        for qi in range(0, cap.num_queries, max(1, cap.num_queries // 7)):
            for rec in (cross, selfa):
                for h in range(rec.heads):
                    step = head_step(rec.q[h, qi], rec.k[h], rec.v[h], rec.scale)
                    np.testing.assert_allclose(step.weights, rec.weights[h, qi], atol=1e-5, rtol=0)
                multi = multi_head_step(rec.q[:, qi], rec.k, rec.v, rec.scale, rec.w_o, rec.b_o)
                np.testing.assert_allclose(multi.projected, rec.out[qi], atol=1e-5 * max(1.0, np.abs(rec.out).max()))


def test_k_and_v_come_from_the_encoder_memory_and_q_from_the_queries(captured):
    _det, cap = captured
    cross = cap.cross[-1]
    # V is W_v applied to the memory itself; K to memory + position: same cells, different inputs
    assert cross.k_in.shape == cross.v_in.shape and not np.allclose(cross.k_in, cross.v_in)
    assert cross.q_in.shape[0] == cap.num_queries
    # every decoder layer reads the same encoder memory
    np.testing.assert_allclose(cap.cross[0].v_in, cross.v_in)
    assert cap.boxes.shape == (cap.num_queries, 4) and cap.scores.shape == (cap.num_queries,)


def test_a_detector_without_dense_cross_attention_is_refused():
    from models.detection.qkv import detr_parts

    class Other:
        title = "torchvision Faster R-CNN"

    with pytest.raises(UserFacingError):
        detr_parts(Other())


def test_query_at_prefers_the_best_box_under_the_point():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 20, 20], [30, 30, 40, 40]], np.float32)
    scores = np.array([0.2, 0.9, 0.5], np.float32)
    assert query_at(boxes, scores, 7, 7) == 1
    assert query_at(boxes, scores, 2, 2) == 0
    assert query_at(boxes, scores, 25, 2) is None


def test_session_frame_labels_and_values(captured):
    _det, cap = captured
    s = DetrQKVSession()
    s.set_capture(cap)
    assert s.selection.layer == cap.num_layers - 1 and s.selection.query == int(np.argmax(cap.scores))
    f = s.select(layer=0, head=1, query=3)
    gh, gw = cap.grid
    assert "encoder" in f.k.title and "decoder" in f.q.title
    assert f.weights_map.shape == (gh, gw) and f.heads_maps.shape == (1, cap.cross[0].heads, gh, gw)
    np.testing.assert_allclose(f.weights.values, cap.cross[0].weights[1, 3], atol=1e-5)
    np.testing.assert_allclose(f.self_weights.values, cap.self_attn[0].weights[1, 3], atol=1e-5)
    assert f.self_weights.highlight == 3 and len(f.self_weights.labels) == cap.num_queries
    concat, projected, hooked = f.projection.values
    np.testing.assert_allclose(projected, hooked, atol=1e-4)
    off = s.select(use_scale=False)
    assert off.projection.values.shape[0] == 2 and "what-if" in off.checks


def test_page_click_on_a_box_selects_its_query(qtbot, captured):
    from app.context import AppContext
    from app.tabs.detection_qkv_page import DetectionQKVPage

    _det, cap = captured
    page = DetectionQKVPage(AppContext(start_worker=False), lambda: ("k", "", "t"))
    qtbot.addWidget(page)
    page.show_capture(cap)
    q = int(np.argsort(-cap.scores)[1])
    x0, y0, x1, y1 = cap.boxes[q]
    expected = query_at(cap.boxes, cap.scores, (x0 + x1) / 2, (y0 + y1) / 2)
    page._on_image_clicked(float(x0 + x1) / 2, float(y0 + y1) / 2)
    assert page.session.selection.query == expected == page.query_spin.value()
    np.testing.assert_allclose(page.weights_bars.values, cap.cross[-1].weights[0, expected], atol=1e-5)
    page.select_query(-1)  # no box selected in the tab: the query stays
    assert page.session.selection.query == expected
    page.select_query(0)
    assert page.query_spin.value() == 0
    page.select_query(expected)
    page.head_slider.setValue(2)
    np.testing.assert_allclose(page.self_bars.values, cap.self_attn[-1].weights[1, expected], atol=1e-5)
    page.ctx.worker.shutdown()

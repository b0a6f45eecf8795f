"""The Q/K/V pages through the real worker service: the hooked forward runs off the GUI thread when the
view is shown, and follows the model and image of its tab."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE = np.random.default_rng(3).integers(0, 256, (80, 100, 3), dtype=np.uint8)


def test_vit_qkv_page_captures_the_shared_sessions_model_and_image(qtbot, open_tab):
    from app.tabs.qkv_page import QKVPage

    page = open_tab(QKVPage, (1000, 760))
    page.vit.set_model("vit/bundled-shapes", "random")
    page.vit.request(IMAGE)
    qtbot.waitUntil(lambda: page.session.capture is not None, timeout=120_000)
    assert not page.is_busy()
    cap = page.session.capture
    assert cap.image.shape == (64, 64, 3) and cap.grid == (8, 8) and cap.prefix_tokens == ("CLS",)
    qtbot.waitUntil(lambda: page.vit.result is not None, timeout=60_000)
    # the same forward as the Attention tab's capture: identical attention weights
    np.testing.assert_allclose(cap.attentions, page.vit.result.attentions, atol=1e-6)
    page.select_patch(2, 5)
    np.testing.assert_allclose(page.weights_bars.values, cap.attentions[-1, 0, 1 + 2 * 8 + 5], atol=1e-5)


def test_vit_qkv_page_waits_until_it_is_shown(qtbot, open_tab):
    from app.tabs.qkv_page import QKVPage

    page = open_tab(QKVPage)
    page.hide()
    page.vit.set_model("vit/bundled-shapes", "random")
    with qtbot.waitSignal(page.vit.result_ready, timeout=120_000):
        page.vit.request(IMAGE)
    assert page.session.capture is None and not page.is_busy()  # hidden: no hooked forward yet
    page.show()
    assert page.is_busy()
    qtbot.waitUntil(lambda: page.session.capture is not None, timeout=120_000)


@dataclass
class _Result:  # what the Detection tab's result_changed signal carries, as far as the page reads it
    image: np.ndarray


def test_detection_qkv_page_runs_the_tabs_detector(qtbot, tmp_path, monkeypatch):
    from app.context import AppContext
    from app.tabs.detection_qkv_page import DetectionQKVPage

    monkeypatch.setenv("VISION_EXPLORER_SETTINGS", str(tmp_path / "s.ini"))
    ctx = AppContext()
    page = DetectionQKVPage(ctx, lambda: ("detection/bundled-shapes-detr", "", "Shapes DETR"))
    qtbot.addWidget(page)
    page.resize(1300, 760)
    page.show()
    try:
        page.on_result(_Result(IMAGE))
        assert page.is_busy()
        qtbot.waitUntil(lambda: page.session.capture is not None, timeout=120_000)
        cap = page.session.capture
        assert cap.image.shape == IMAGE.shape and cap.num_queries == 15 and cap.grid == (12, 12)
        assert page.frame is not None and "decoder layer 3" in page.frame.caption
    finally:
        page.shutdown()
        ctx.worker.shutdown()


def test_a_failing_capture_is_reported_once_and_not_retried(qtbot, open_tab, monkeypatch):
    from app.tabs import qkv_page

    def failing_job(ctx, choice, image):
        raise RuntimeError("no Q/K/V adapter")
        yield  # noqa: unreachable (a generator job)

    monkeypatch.setattr(qkv_page, "qkv_vit_job", failing_job)
    page = open_tab(qkv_page.QKVPage)
    page.vit.set_model("vit/bundled-shapes", "random")
    page.vit.request(IMAGE)
    qtbot.waitUntil(lambda: "failed" in page.caption.text(), timeout=120_000)
    assert not page.is_busy() and page.session.capture is None
    page.refresh()  # same model and image: no second try
    assert not page.is_busy()

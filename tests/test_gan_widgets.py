"""Live curves and the sample-grid history: what the GAN (and Diffusion) views rely on."""
import numpy as np
import pytest
from PySide6.QtCore import Qt

from widgets.live_curves import LiveCurves, PeakPyramid, debiased_ema
from widgets.sample_grid_history import SampleGridHistory


def test_debiased_ema_keeps_a_constant_series_constant_and_continues_in_chunks():
    y = np.full(50, 3.0)
    sm, _, _ = debiased_ema(y, 0.9)
    np.testing.assert_allclose(sm, 3.0)
    z = np.random.default_rng(0).normal(size=200)
    whole, _, _ = debiased_ema(z, 0.6)
    a, state, n = debiased_ema(z[:70], 0.6)
    b, _, _ = debiased_ema(z[70:], 0.6, state, n)
    np.testing.assert_allclose(np.concatenate([a, b]), whole)
    held, _, _ = debiased_ema(np.array([1.0, np.nan, 1.0]), 0.5)
    assert np.isfinite(held).all()


def test_peak_pyramid_keeps_every_extreme():
    rng = np.random.default_rng(1)
    y = rng.normal(size=100_003)
    y[54_321] = 50.0  # one spike must survive any zoom level
    x = np.arange(len(y), dtype=float)
    pyr = PeakPyramid()
    for chunk in np.array_split(np.arange(len(y)), 7):  # built incrementally
        pyr.update(y[: chunk[-1] + 1])
    bx, lo, hi = pyr.query(x, y, 0, len(y), 400)
    assert len(bx) <= 2 * 400 and hi.max() == 50.0 and lo.min() == y.min()
    bx, lo, hi = pyr.query(x, y, 50_000, 60_000, 300)
    assert hi.max() == 50.0 and bx[0] <= 50_000


@pytest.fixture
def curves(qtbot):
    w = LiveCurves()
    qtbot.addWidget(w)
    w.add_series("G loss", plot="Losses")
    w.add_series("D loss", plot="Losses")
    w.add_series("diversity", plot="Diversity")
    w.resize(700, 500)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_curves_keep_every_point_and_draw_a_million_steps_per_pixel(qtbot, curves):
    n = 1_000_000
    steps = np.arange(1, n + 1)
    rng = np.random.default_rng(0)
    curves.append(steps, rng.normal(1, 0.2, n), rng.normal(2, 0.2, n))
    curves.append_series("diversity", steps[::100], np.linspace(0, 1, n // 100))
    assert curves.point_count() == 2 * n + n // 100
    for i in range(30):
        curves.append(n + i + 1, 1.0, 2.0)
        curves.redraw_now()
        qtbot.wait(1)  # let the paint happen
    x, _ = curves._series["G loss"].raw_item.getData()
    assert len(x) < 5000  # what pyqtgraph draws is per pixel, not per point
    assert x.max() == n + 30  # ... and reaches the newest step
    assert len(curves.data("G loss")[0]) == n + 30


def test_curves_survive_thousands_of_repaints(qtbot):
    """PySide6 6.12 + Python 3.11 crashed pyqtgraph after ~1-2k repaints ('deallocating None')."""
    from PySide6.QtWidgets import QApplication

    w = LiveCurves(show_controls=False)
    qtbot.addWidget(w)
    w.add_series("loss")
    w.resize(240, 160)
    w.show()
    qtbot.waitExposed(w)
    for i in range(2000):
        w.append(i, np.sin(i / 10))
        w.redraw_now()
        w.graphics.viewport().repaint()
        QApplication.processEvents()
    assert w.redraw_count >= 2000


def test_zooming_stops_following_and_the_checkbox_brings_it_back(qtbot, curves):
    curves.append(np.arange(1, 1001), np.ones(1000), np.ones(1000))
    curves.redraw_now()
    assert curves.following
    vb = curves._plots["Losses"].getViewBox()
    vb.sigRangeChangedManually.emit([True, True])  # what a mouse zoom emits
    assert not curves.following and not curves.follow_box.isChecked()
    curves.follow_box.setChecked(True)
    assert curves.following


def test_smoothing_log_envelope_and_truncate(qtbot, curves):
    y = np.abs(np.random.default_rng(2).normal(1, 0.5, 500)) + 0.01
    curves.append(np.arange(1, 501), y, -y)
    curves.set_smoothing(0.0)
    np.testing.assert_allclose(curves.data("G loss")[2], y)  # 0 = raw
    curves.set_smoothing(0.95)
    assert curves.data("G loss")[2].std() < y.std() / 2
    curves.set_log(True)
    curves.set_envelope(True)
    curves.redraw_now()
    _, dy = curves._series["D loss"].raw_item.getData()
    assert np.isnan(dy).all()  # negative values have no logarithm: hidden, not drawn wrongly
    lo, hi = curves._plots["Losses"].getViewBox().viewRange()[1]
    assert lo <= np.log10(y.min()) and np.log10(y.max()) <= hi  # the view follows in log units
    curves.truncate(200)
    assert len(curves.data("G loss")[0]) == 200 and len(curves.data("D loss")[2]) == 200


def test_sample_history_is_bounded_and_walks_with_arrow_keys(qtbot):
    w = SampleGridHistory("samples", capacity=8)
    qtbot.addWidget(w)
    w.show()
    for step in range(0, 1000, 10):
        w.add(step, np.full((9, 9, 3), step % 256, np.uint8))
    assert len(w.items) <= 8
    kept = [s for s, _ in w.items]
    assert kept[0] == 0 and np.all(np.diff(np.diff(kept)) == 0)  # evenly spread over the run
    assert "step 990" in w.caption.text()  # the newest is shown while following
    w.slider.setFocus()
    qtbot.keyClick(w.slider, Qt.Key.Key_Home)
    assert w.current_step() == 0
    qtbot.keyClick(w.slider, Qt.Key.Key_Right)
    assert w.current_step() == kept[1]
    w.add(1000, np.zeros((9, 9, 3), np.uint8))
    assert w.current_step() == kept[1]  # looking back is not interrupted by new samples


def test_smoothing_slider_steps_with_arrow_and_page_keys(qtbot, curves):
    slider = curves.smoothing_slider.slider
    slider.setFocus()
    start = curves.smoothing_slider.value()
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    assert curves.smoothing_slider.value() == pytest.approx(start + 0.01)
    qtbot.keyClick(slider, Qt.Key.Key_PageDown)  # PgDn lowers a horizontal slider by a page
    assert curves.smoothing_slider.value() == pytest.approx(start + 0.01 - 0.1)
    y = np.random.default_rng(3).normal(size=50)
    curves.append(np.arange(1, 51), y, y)
    qtbot.keyClick(slider, Qt.Key.Key_Home)
    np.testing.assert_allclose(curves.data("G loss")[2], y)  # smoothing 0 = raw: the keys reach the curves


@pytest.mark.parametrize("width", [380, 520, 900])
def test_curve_controls_wrap_instead_of_overlapping(qtbot, curves, width):
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QApplication

    curves.resize(width, 400)
    QApplication.processEvents()
    assert curves.width() == width  # the controls do not force a wider widget
    parts = [curves.smoothing_slider.slider, curves.smoothing_slider.spin, curves.envelope_box, curves.log_box,
             curves.follow_box]
    rects = [QRect(w.mapTo(curves, w.rect().topLeft()), w.size()) for w in parts]
    inside = QRect(0, 0, curves.width(), curves.height())
    for w, r in zip(parts, rects):
        assert inside.contains(r), f"{type(w).__name__} leaves the widget"
        assert w.width() >= w.sizeHint().width() or w is curves.smoothing_slider.slider
    for i in range(len(rects)):
        for j in range(i + 1, len(rects)):
            assert not rects[i].intersects(rects[j]), f"{parts[i]} overlaps {parts[j]}"
    one_row = rects[2].top() < rects[1].bottom()  # the check boxes beside the value
    assert one_row == (width >= 900)


def test_marker_line_on_every_plot(qtbot, curves):
    curves.append(np.arange(1, 101), np.ones(100), np.ones(100))
    lines = curves.marker_lines()
    assert set(lines) == {"Losses", "Diversity"} and not any(ln.isVisible() for ln in lines.values())
    curves.set_marker(40)
    assert all(ln.isVisible() and ln.value() == 40 for ln in lines.values())
    curves.redraw_now()
    lo, hi = curves._plots["Losses"].getViewBox().viewRange()[0]
    assert lo <= 40 <= hi
    curves.clear()
    assert curves.marker() is None and not any(ln.isVisible() for ln in lines.values())


def test_a_constant_series_gets_a_readable_y_range(qtbot, curves):
    """A held-out accuracy that stays at 0.583 for every point: the axis spans a few hundredths around it, not 1e-9
    (where pyqtgraph draws no tick labels at all)."""
    curves.append_series("diversity", [20, 40, 60], [0.583, 0.583, 0.583])
    curves.redraw_now()
    lo, hi = curves.add_plot("Diversity").getViewBox().viewRange()[1]  # add_plot returns the existing plot
    assert lo < 0.583 < hi and 0.005 < hi - lo < 0.2

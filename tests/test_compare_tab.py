"""The Compare tab with random-weight models through the real worker service: every view draws something real,
the depth slider and view changes re-use results, a stage click shows its features; the CLI names the file."""
from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.samples import SAMPLES_DIR
from app.screenshot import screenshot_path
from app.tabs import TAB_KEYS
from app.tabs.compare_tab import CompareTab
from models.compare.results import ModelRef

pytestmark = pytest.mark.usefixtures("one_thread")

RANDOM = (ModelRef("compare/convnext", "random"), ModelRef("compare/vit-convstem", "random"),
          ModelRef("compare/coatnet", "random"))
TIMEOUT_MS = 240_000


def _settled(qtbot, tab: CompareTab) -> None:
    qtbot.waitUntil(lambda: tab.ctx.torch_loaded and not tab.is_busy(), timeout=TIMEOUT_MS)


@pytest.fixture
def tab(open_tab, qtbot):
    page = open_tab(partial(CompareTab, models=RANDOM), size=(1360, 820))
    qtbot.waitUntil(lambda: page.ctx.torch_loaded, timeout=TIMEOUT_MS)
    page.set_image(np.asarray(Image.open(SAMPLES_DIR / "shapes_triangle.png").convert("RGB")))
    _settled(qtbot, page)
    return page


def test_compare_is_the_sixth_tab():
    assert TAB_KEYS[5] == "compare" and CompareTab.key == "compare"
    assert CompareTab.views == ("attribution", "receptive-field", "equivariance", "hierarchy", "data-hunger",
                                "fine-tune")  # the data lab's pages last (issue 13)


def test_every_view_draws_real_content(tab, qtbot):
    # attribution: a heat map over each column's image, a caption with the class and the box ratio
    for col in tab.columns:
        assert col.body.showing_content()
        assert col.attr_view.overlay_item.isVisible() and col.attr_view.overlay_item.image.shape == (64, 64)
        assert col.attr_view.outline_item.isVisible()  # the triangle's known box
        assert "%" in col.attr_caption.text() and "object's box" in col.attr_caption.text()
        assert col.method_combo.count() >= 4 and col.class_combo.count() == 7  # top class + 6 shapes
    assert tab.columns[1].method_combo.count() == 6  # the ViT adds both rollouts
    # receptive field: an ERF per column and the shared radius-vs-depth plot
    tab.show_view("receptive-field")
    _settled(qtbot, tab)
    assert tab.erf_plot.isVisible()
    for col in tab.columns:
        assert col.erf_view.overlay_item.isVisible() and "radius" in col.erf_caption.text()
    ys = [item.yData for item in tab.erf_plot.getPlotItem().listDataItems()]
    assert len(ys) >= 3 and all(np.isfinite(y).any() for y in ys)
    # equivariance: curves per stage, shuffled tiles with verdicts, an occlusion map
    tab.show_view("equivariance")
    _settled(qtbot, tab)
    assert not tab.erf_plot.isVisible()
    for col in tab.columns:
        curves = col.error_plot.getPlotItem().listDataItems()
        assert len(curves) == len(col.frame.equivariance.error_curves) >= 3
        assert col.tiles.has_tiles() and "2x2" in col.tiles.captions[0].text()
        assert col.occlusion_view.overlay_item.isVisible()
    # hierarchy: boxes to scale, a click shows that stage's features
    tab.show_view("hierarchy")
    _settled(qtbot, tab)
    cnn = tab.columns[0]
    assert len(cnn.stage_stack.stage_rects()) == 4
    widths = [r.width() for r in cnn.stage_stack.stage_rects()]
    assert widths == sorted(widths)  # 32 -> 192 channels: wider and wider
    tab.select_stage(0, 0)
    _settled(qtbot, tab)
    assert cnn.frame.hierarchy.selected == 0 and "Stage 1" in cnn.features_caption.text()
    assert cnn.feature_mosaic.image.image is not None
    vit = tab.columns[1]
    assert vit.features.currentWidget() is vit.feature_rgb


def test_slider_and_view_changes_reuse_results(tab, qtbot):
    submitted = []
    real = tab.ctx.worker.submit
    tab.ctx.worker.submit = lambda *a, **k: (submitted.append(k["channel"]), real(*a, **k))[1]
    tab.depth_slider.setValue(0.0)
    # the CNN's and the hybrid's CAMs follow the slider; the ViT's rollout spans every block, already computed
    assert sorted(submitted) == ["compare-0-attribution", "compare-2-attribution"]
    _settled(qtbot, tab)
    submitted.clear()
    tab.depth_slider.setValue(1.0)  # back: cached
    tab.show_view("hierarchy")
    _settled(qtbot, tab)
    n = len(submitted)
    tab.show_view("attribution")
    tab.show_view("hierarchy")
    assert len(submitted) == n  # nothing recomputed when only the drawing changes
    assert "compare-0-attribution" not in submitted


def test_redraws_skip_what_did_not_change(tab, qtbot, monkeypatch):
    """A depth move re-sends no plot data that did not change (the equivariance curves only get a wider pen),
    and a redraw of an unchanged hierarchy touches neither the features image nor the stage boxes."""
    tab.show_view("equivariance")
    _settled(qtbot, tab)
    sent = []
    for col in tab.columns:
        for plot in (col.error_plot, col.prob_plot):
            for item in plot.getPlotItem().listDataItems():
                monkeypatch.setattr(item, "setData", lambda *a, **k: sent.append(a))
    tab.depth_slider.setValue(0.0)
    tab.depth_slider.setValue(1.0)
    assert sent == []
    tab.show_view("hierarchy")
    _settled(qtbot, tab)
    redrawn = []
    for col in tab.columns:
        monkeypatch.setattr(col.feature_rgb, "set_image", lambda *a: redrawn.append("rgb"))
        monkeypatch.setattr(col.feature_mosaic, "set_maps", lambda *a: redrawn.append("maps"))
        monkeypatch.setattr(col.stage_stack, "update", lambda *a: redrawn.append("boxes"))
    tab.draw()
    assert redrawn == []
    tab.select_stage(0, 0)  # only column 0 changes
    _settled(qtbot, tab)
    assert redrawn and set(redrawn) <= {"maps", "rgb", "boxes"}
    n = len(redrawn)
    tab.draw()
    assert len(redrawn) == n
    tab.show_view("attribution")


def test_text_changes_do_not_relayout_the_views(tab, qtbot):
    """Captions and the lesson keep their height whatever their text: a depth move or a view change swaps text
    without resizing (and so re-laying out and repainting) the plots and images of the columns."""
    sizes = {id(col.attr_view): col.attr_view.size() for col in tab.columns}
    lesson = tab.lesson.height()
    for view in ("equivariance", "hierarchy", "attribution"):
        tab.show_view(view)
        _settled(qtbot, tab)
        assert tab.lesson.height() == lesson
    for depth in (0.0, 0.5, 1.0):
        tab.depth_slider.setValue(depth)
        _settled(qtbot, tab)
    qtbot.wait(50)  # posted layout requests run
    assert {id(col.attr_view): col.attr_view.size() for col in tab.columns} == sizes
    for col in tab.columns:
        for label in (col.top5, col.stage_label, col.attr_caption, col.eq_caption, col.features_caption):
            assert not label.sizePolicy().hasHeightForWidth() and label.minimumHeight() == label.maximumHeight()


def test_two_columns(tab):
    tab.count_spin.setValue(2)
    assert not tab.columns[2].isVisible() and len(tab.frame.columns) == 2


def test_cli_screenshot_is_named_after_tab_and_view(tmp_path):
    assert screenshot_path(tmp_path, "compare", "hierarchy") == tmp_path / "compare-hierarchy.png"
    image = SAMPLES_DIR / "shapes_triangle.png"
    proc = subprocess.run([sys.executable, "-m", "app", str(image), "--tab", "compare", "--view", "hierarchy",
                           "--screenshot", str(tmp_path)], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=400,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    shot = tmp_path / "compare-hierarchy.png"
    assert shot.is_file() and Image.open(shot).size[0] > 800


def test_a_hidden_tab_starts_no_work_until_shown(open_tab, qtbot):
    page = open_tab(partial(CompareTab, models=RANDOM), size=(1360, 820))
    page.hide()
    page.set_image(np.asarray(Image.open(SAMPLES_DIR / "shapes_square.png").convert("RGB")))
    assert not page.is_busy() and not page.ctx.worker.is_busy("compare-0-column")
    page.show()
    assert page.is_busy()
    _settled(qtbot, page)
    assert all(c.frame.attribution is not None for c in page.columns)


def test_a_curve_added_by_a_partial_result_keeps_the_other_items(qtbot):
    """The ERF plot gains a theoretical curve when a stage's field arrives: the other curves' items stay (no
    re-created items, no re-sent data); a curve whose name went away is removed with its legend entry."""
    from app.compare_frames import Curve
    from widgets.compare_plots import CurvePlot

    plot = CurvePlot("t", "x", "y")
    qtbot.addWidget(plot)
    x = np.arange(3, dtype=np.float32)
    a, b = Curve("Net: ERF radius", x, x, "#fff"), Curve("Net: theoretical", x, x * 2, "#fff", dashed=True)
    plot.set_curves([a])
    first = plot.getPlotItem().listDataItems()[0]
    sent = []
    first.setData = lambda *args, **kw: sent.append(args)
    plot.set_curves([a, b])
    items = plot.getPlotItem().listDataItems()
    assert len(items) == 2 and items[0] is first and sent == []
    assert len(plot.legend.items) == 2
    plot.set_curves([b])
    assert plot.getPlotItem().listDataItems() == [items[1]] and len(plot.legend.items) == 1
    twins = [Curve("Net", x, x, "#fff"), Curve("Net", x, x + 1, "#0ff")]  # two columns with the same model
    plot.set_curves(twins)
    assert len(plot.getPlotItem().listDataItems()) == 2


def test_curve_plots_draw_grid_lines_only_at_labelled_ticks(qtbot):
    """The faint minor-tick grid lines across the wide ERF-radius plot were most of its first paint (24 ms of a
    ~50 ms pause when the receptive-field view opened): along the wide axis every tick (and grid line) has its label."""
    from PySide6.QtGui import QPainter, QPixmap

    from app.compare_frames import Curve
    from widgets.compare_plots import CurvePlot

    plot = CurvePlot("t", "x", "y")
    qtbot.addWidget(plot)
    plot.resize(1338, 170)
    x = np.linspace(0, 1, 4, dtype=np.float32)
    plot.set_curves([Curve("Net", x, x, "#fff")], y_range=(0.0, 1.0))
    plot.show()
    qtbot.waitExposed(plot)
    pixmap = QPixmap(1338, 170)
    painter = QPainter(pixmap)
    try:
        _, ticks, texts = plot.getPlotItem().getAxis("bottom").generateDrawSpecs(painter)  # 0, 0.1, ..., 1
        assert len(texts) >= 3 and len(ticks) == len(texts)  # with the minor levels: 55 lines for 11 labels
    finally:
        painter.end()


def test_the_app_freezes_its_startup_objects_out_of_the_collector():
    """A full collection over torch's half a million objects stalled the window 0.3-0.4 s; the app freezes
    them once torch is loaded (app/__main__.py). In a subprocess: tests must keep collecting everything."""
    code = ("import gc, torch\nfrom app.gc_guard import freeze_startup_objects\n"
            "assert gc.get_freeze_count() == 0\nfreeze_startup_objects()\n"
            "assert gc.get_freeze_count() > 100_000, gc.get_freeze_count()\nprint('ok')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
    main = (Path(__file__).resolve().parent.parent / "app" / "__main__.py").read_text()
    assert "torch_ready.connect(lambda _device: freeze_startup_objects())" in main


def test_a_view_change_keeps_the_columns_size_and_switches_one_column_per_turn(tab, qtbot):
    """The footer (the ERF-radius plot, or the view's guide) has one height in every column view, so a view
    change never re-lays the columns out (which repainted every plot in them at once); the columns switch
    one per event-loop turn; a screenshot shows every column switched."""
    from app.tabs.compare_column_view import VIEW_INDEX

    sizes = set()
    for view in ("attribution", "receptive-field", "equivariance", "hierarchy", "attribution"):
        tab.show_view(view)
        assert tab.columns[0].stack.currentIndex() == VIEW_INDEX[view]  # the first column at once
        if view != "attribution":
            assert tab.columns[2].stack.currentIndex() != VIEW_INDEX[view]  # the last one a few turns later
        _settled(qtbot, tab)
        assert all(col.stack.currentIndex() == VIEW_INDEX[view] for col in tab.columns)
        sizes.add(tuple((col.stack.width(), col.stack.height()) for col in tab.columns))
        assert tab.erf_plot.isVisible() == (view == "receptive-field")
        assert tab.guide.isVisible() == (view != "receptive-field") and "What to look for" in tab.guide.text() \
            or view == "receptive-field"
    assert len(sizes) == 1
    tab.show_view("equivariance")
    tab.prepare_screenshot()
    assert all(col.stack.currentIndex() == VIEW_INDEX["equivariance"] for col in tab.columns)
    assert tab.columns_drawn()

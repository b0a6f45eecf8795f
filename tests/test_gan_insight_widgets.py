"""The coverage histogram, picking grid cells, and the latent-space panel (plain values in, signals out)."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from widgets.coverage_histogram import BAR, REJECT, WARN, CoverageHistogram
from widgets.latent_strip import MAX_STEPS, MIN_STEPS, LatentPanel
from widgets.sample_grid_history import SampleGridHistory, cell_at

NAMES = ("circle", "square", "triangle", "star", "hexagon", "cross", "not a shape")


def test_histogram_colours_a_dominant_class_and_keeps_the_reject_bar_grey(qtbot):
    h = CoverageHistogram(NAMES)
    qtbot.addWidget(h)
    assert h.bar_colours() == [] and "none yet" in h.caption()
    h.set_shares(220, [0.6, 0.1, 0.1, 0.1, 0.1, 0.0, 0.0])
    colours = h.bar_colours()
    assert colours[0] == WARN and colours[1] == BAR and colours[-1] == REJECT
    assert "220" in h.caption()
    h.set_shares(240, [0, 0, 0, 0, 0, 0, 1.0])  # all blobs: the reject bar is never "a shape taking over"
    assert h.bar_colours()[-1] == REJECT and WARN not in h.bar_colours()
    h.resize(300, 140)
    h.grab()  # paints without error
    with pytest.raises(ValueError):
        h.set_shares(1, [0.5, 0.5])


def test_histogram_takes_its_class_names_with_the_shares(qtbot):
    h = CoverageHistogram()
    qtbot.addWidget(h)
    h.set_shares(5, np.full(7, 1 / 7), names=NAMES)
    assert h.names == NAMES and len(h.bar_colours()) == 7


def test_cell_at_maps_fractions_to_row_major_cells():
    assert cell_at(0.0, 0.0, 6, 6) == 0
    assert cell_at(0.99, 0.0, 6, 6) == 5
    assert cell_at(0.0, 0.2, 6, 6) == 6
    assert cell_at(0.99, 0.99, 6, 6) == 35
    assert cell_at(1.0, 0.5, 6, 6) is None and cell_at(-0.1, 0.5, 6, 6) is None


def test_clicking_the_grid_emits_the_cell_under_the_mouse(qtbot):
    g = SampleGridHistory("samples")
    qtbot.addWidget(g)
    g.resize(300, 330)
    g.show()
    qtbot.waitExposed(g)
    g.set_cells(36)
    g.add(0, np.zeros((199, 199, 3), np.uint8))
    r = g.image.image_rect()
    assert r is not None
    got = []
    g.cell_clicked.connect(got.append)
    cell = r.width() / 6
    for col, row in ((0, 0), (5, 0), (2, 3)):
        pos = QPoint(int(r.x() + (col + 0.5) * cell), int(r.y() + (row + 0.5) * cell))
        qtbot.mouseClick(g.image, Qt.MouseButton.LeftButton, pos=pos)
    assert got == [0, 5, 20]
    g.mark_cells([0, 5], ["A", "B"])
    assert len(g.image._marks) == 2  # noqa: SLF001  (the widget's own test)


def test_latent_panel_asks_for_an_interpolation_after_two_picks(qtbot):
    p = LatentPanel()
    qtbot.addWidget(p)
    asked = []
    p.interpolate_requested.connect(lambda a, b, n, m: asked.append((a, b, n, m)))
    p.pick(3)
    assert asked == [] and "picked" in p.hint.text()
    p.pick(3)  # the same cell again: still one pick
    assert p.picks == (3,)
    p.pick(10)
    assert asked == [(3, 10, 10, "spherical")]
    p.mode.setCurrentIndex(p.mode.findData("linear"))
    assert asked[-1] == (3, 10, 10, "linear")
    p.steps.setValue(99)
    assert asked[-1][2] == MAX_STEPS
    p.steps.setValue(1)
    assert asked[-1][2] == MIN_STEPS
    p.pick(20)  # the newest two picks
    assert asked[-1][:2] == (10, 20)


def test_latent_panel_walks_from_the_first_pick_and_shows_a_strip(qtbot):
    p = LatentPanel()
    qtbot.addWidget(p)
    walks = []
    p.walk_requested.connect(lambda a, d, s: walks.append((a, d, s)))
    p.walk.setValue(2.0)
    assert walks == []  # nothing picked yet
    p.pick(7)
    p.walk.setValue(-1.5)
    assert walks[-1] == (7, -1.5, 0)
    p.new_dir.click()
    assert walks[-1] == (7, -1.5, 1)
    p.set_strip(np.full((34, 331, 3), 200, np.uint8), "walk")
    assert p.strip.pixmap() is not None and not p.strip.pixmap().isNull() and p.caption.text() == "walk"
    p.clear()
    assert p.picks == () and p.caption.text() == ""

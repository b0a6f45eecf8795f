"""PySide6 6.12.0 on Python 3.11 crashed pyqtgraph after 1-2k repaints ("deallocating None"); we pin around
it. This repaints a plot a few thousand times so a bad combination fails here, not in a user's hands."""
import numpy as np
import pyqtgraph as pg


def test_a_plot_survives_thousands_of_repaints(qtbot):
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.resize(300, 200)
    plot.show()
    curve = plot.plot(pen="y")
    x = np.arange(200, dtype=float)
    for i in range(3000):
        curve.setData(x, np.sin(x / 10 + i / 50))
        plot.viewport().repaint()
    assert curve.getData()[1].shape == (200,)

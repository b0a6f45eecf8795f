"""PySide6 6.12.0 on Python 3.11 crashed pyqtgraph after 1-2k repaints ("Fatal Python error: deallocating
None": QPainter methods returning nothing dropped a reference to None each call). We pin around it.

This repaints a plot a few thousand times in a child process and checks three things that a bad
combination breaks: the process survives (a fatal error would otherwise kill the whole test run), every
repaint really painted (paint events counted, the curve's pixels move), and the reference count of None
does not drain (the bug's mechanism: it fails long before the crash on an affected build)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPAINTS = 3000

SCRIPT = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

app = QApplication([])
plot = pg.PlotWidget()
plot.resize(300, 200)
plot.show()
app.processEvents()


class Count(QObject):
    paints = 0

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            Count.paints += 1
        return False


counter = Count()
plot.viewport().installEventFilter(counter)
curve = plot.plot(pen="y")
plot.setYRange(-1, 1)
x = np.arange(200, dtype=float)
first = last = None
nones = sys.getrefcount(None)
for i in range(REPAINTS):
    curve.setData(x, np.sin(x / 10 + i / 50))
    plot.viewport().repaint()
    if i in (0, REPAINTS - 1):
        img = plot.grab().toImage()
        frame = bytes(img.constBits())
        first, last = (frame, last) if i == 0 else (first, frame)
drained = nones - sys.getrefcount(None)
print(f"PAINTS {Count.paints} DRAINED {drained} CHANGED {int(first != last)}")
""".replace("REPAINTS", str(REPAINTS))


def test_a_plot_survives_thousands_of_repaints(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, env=env)
    assert out.returncode == 0, f"the plot process died (exit {out.returncode}): {out.stderr[-1500:]}"
    line = next(l for l in out.stdout.splitlines() if l.startswith("PAINTS"))
    _, paints, _, drained, _, changed = line.split()
    assert int(paints) >= REPAINTS, f"only {paints} of {REPAINTS} repaints painted"
    assert changed == "1", "the curve did not move on screen"
    # On an affected build every repaint drops references to None; a healthy one stays within noise.
    assert int(drained) < REPAINTS // 10, f"{drained} references to None were lost in {REPAINTS} repaints"

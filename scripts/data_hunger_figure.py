"""Draw the README's data-hunger figure from the shipped grid: ``python scripts/data_hunger_figure.py [OUT.png]``.

Opens the Compare tab's data-hunger page offscreen on assets/lab/data_hunger_grid.json (the grid made by
``python -m models.lab.data_hunger --threads 1 --write-shipped``) and saves its two plots, as Export PNG does.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(out: str = "docs/data_hunger.png") -> int:
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from app.context import AppContext
    from app.tabs.lab_hunger_page import LabHungerPage

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(imageAxisOrder="row-major")
    ctx = AppContext("cpu", start_worker=False)
    with tempfile.TemporaryDirectory() as empty:  # an empty run cache: only the shipped grid is drawn
        page = LabHungerPage(ctx, cache_dir=Path(empty) / "runs", data_dir=Path(empty) / "images")
        page.resize(1300, 560)
        page.show()
        for _ in range(20):
            app.processEvents()
        ok = page.plots.grab().save(out, "PNG")
        page.shutdown()
    ctx.worker.shutdown()
    print(f"wrote {out}" if ok else f"could not write {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:2]))

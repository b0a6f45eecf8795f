"""The layer rules that import-linter cannot see: what is really loaded at run time.

The static rules (models/ no Qt, widgets/ no torch and no models/, tab pages independent, image intake
Qt-free) are import-linter contracts in pyproject.toml, run by tests/test_import_contracts.py. Here:
importing every widget for real must not load torch (a dynamic import would slip past the linter), and
image intake must not load Qt. That the window paints before torch loads is tests/test_startup_imports.py.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

QT = {"PySide6", "PySide2", "PyQt5", "PyQt6", "qtpy", "shiboken6", "pyqtgraph", "superqt"}
TORCH = {"torch", "torchvision", "transformers", "diffusers", "timm"}


def test_importing_every_widget_does_not_load_torch():
    code = (
        "import importlib, pkgutil, sys, widgets\n"
        "for m in pkgutil.walk_packages(widgets.__path__, 'widgets.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = sorted(k for k in sys.modules if k.split('.')[0] in {sorted(TORCH)!r})\n"
        "print(','.join(bad))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "", f"widgets pulled in: {res.stdout.strip()}"


def test_image_intake_imports_without_qt():
    code = (
        "import sys, app.image_io, app.samples\n"
        f"bad = sorted(k for k in sys.modules if k.split('.')[0] in {sorted(QT)!r})\n"
        "print(','.join(bad))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "", f"app.image_io pulled in: {res.stdout.strip()}"

"""The layer rule, checked on every file as the project grows.

models/ never imports Qt, pyqtgraph or superqt (it runs and is tested headless); widgets/ never imports
torch (a widget draws numpy arrays); app/image_io.py and app/samples.py stay Qt-free. Imports are read
with ast (including relative ones and imports inside functions), and widgets are also imported for real
to catch torch arriving indirectly.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

QT = {"PySide6", "PySide2", "PyQt5", "PyQt6", "qtpy", "shiboken6", "pyqtgraph", "superqt"}
TORCH = {"torch", "torchvision", "transformers", "diffusers", "timm"}
RULES = {  # folder or file -> top-level modules it must not import
    "models": QT | {"app", "widgets"},
    "widgets": TORCH,
    "app/image_io.py": QT,
    "app/samples.py": QT,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of every module imported anywhere in source (relative imports resolved)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: max(len(package.split(".")) - node.level + 1, 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name:
                found.add(name)
            found.update(".".join(filter(None, (name, alias.name))) for alias in node.names if alias.name != "*")
    return found


def violations(target: str, forbidden: set[str]) -> list[str]:
    base = ROOT / target
    files = [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))
    out = []
    for path in files:
        mod = _module_name(path)
        names = imported_modules(path.read_text(encoding="utf-8"), mod, path.name == "__init__.py")
        bad = sorted({n for n in names if n.split(".")[0] in forbidden})
        out += [f"{path.relative_to(ROOT)} imports {n}" for n in bad]
    return out


@pytest.mark.parametrize("target", sorted(RULES))
def test_layer_imports(target):
    assert (ROOT / target).exists()
    assert violations(target, RULES[target]) == []


def test_models_and_widgets_have_files_to_check():
    assert len(list((ROOT / "models").rglob("*.py"))) >= 5
    assert len(list((ROOT / "widgets").rglob("*.py"))) >= 1


def test_the_scanner_sees_every_kind_of_import():
    src = (
        "import torch.nn as nn\n"
        "def f():\n    from PySide6.QtCore import Qt\n"
        "from .. import widgets\n"
        "from ..app.context import AppContext\n"
        "from .shapes import generate\n"
    )
    names = imported_modules(src, "models.vit.rollout")
    assert {"torch.nn", "PySide6.QtCore", "models.widgets", "models.app.context", "models.vit.shapes"} <= names
    names = imported_modules(src, "models.rollout")  # one level up: '..' reaches the top level
    assert "widgets" in names and "app.context" in names
    assert "models.shapes" in names


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

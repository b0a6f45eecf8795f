"""The layer contracts in pyproject.toml hold (import-linter), and a broken one fails the suite."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(cwd: Path, config: Path | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] + (["--config", str(config)] if config else [])
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_every_layer_contract_is_kept():
    res = _lint_imports(ROOT)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def test_a_widget_importing_models_breaks_the_contract(tmp_path):
    """The contract is real: a copy of the tree with one offending import fails lint-imports."""
    for name in ("app", "widgets", "models", "bench"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "widgets" / "zz_offender.py").write_text("from models import shapes\n")
    res = _lint_imports(tmp_path)
    assert res.returncode != 0
    assert "widgets.zz_offender -> models.shapes" in res.stdout

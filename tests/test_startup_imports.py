"""The window appears before torch is loaded: building the main window must not import torch."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.main_window import MainWindow
window = MainWindow(requested_device="cpu", load_default_image=False)
heavy = sorted(m for m in ("torch", "torchvision", "transformers", "diffusers", "timm") if m in sys.modules)
print("HEAVY:" + ",".join(heavy))
"""


def test_building_the_window_imports_no_torch(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VISION_EXPLORER_SETTINGS": str(tmp_path / "s.ini")}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=env)
    line = next(l for l in out.stdout.splitlines() if l.startswith("HEAVY:"))
    assert line == "HEAVY:", f"imported before the window was shown: {line[6:]} (import them inside jobs)"

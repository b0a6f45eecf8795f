"""The Help > About text: versions of everything that matters, and the device."""
from __future__ import annotations

import platform
import sys
from importlib import metadata


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def about_html(device_label: str) -> str:
    import PySide6
    from PySide6.QtCore import qVersion

    rows = [
        ("Vision Explorer", _version("vision-explorer")),
        ("Python", platform.python_version()),
        ("PySide6 / Qt", f"{PySide6.__version__} / {qVersion()}"),
        ("PyTorch", _version("torch")),
        ("torchvision", _version("torchvision")),
        ("pyqtgraph", _version("pyqtgraph")),
        ("NumPy", _version("numpy")),
        ("transformers", _version("transformers")),
        ("diffusers", _version("diffusers")),
        ("timm", _version("timm")),
        ("Device", device_label),
        ("Platform", f"{platform.system()} {platform.machine()}"),
    ]
    table = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;{v}</td></tr>" for k, v in rows)
    return ("<h3>Vision Explorer</h3><p>See how modern vision models work: attention, patch embeddings, "
            f"detection transformers, GAN training and diffusion.</p><table>{table}</table>"
            f"<p><small>{sys.executable}</small></p>")

"""Suite-wide set-up: headless Qt, settings in a temp file, no network."""
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("VISION_EXPLORER_SETTINGS", os.path.join(tempfile.mkdtemp(prefix="ve-settings-"), "s.ini"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

"""Suite-wide set-up: headless Qt, settings in a temp file, no network."""
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("VISION_EXPLORER_SETTINGS", os.path.join(tempfile.mkdtemp(prefix="ve-settings-"), "s.ini"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


import gc  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _collect_garbage_on_the_main_thread_only():
    """As the app does (app/gc_guard.py): no automatic collection, which could run on a worker or loader
    thread and destroy a leftover Qt object there (a deadlock seen in this suite); collect after each test."""
    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def _collect_after_each_test():
    yield
    gc.collect()


@pytest.fixture
def open_tab(qtbot, tmp_path, monkeypatch):
    """open_tab(PageClass, size, device) shows a tab page on a fresh AppContext (settings in a temp file);
    the pages and their worker threads are shut down after the test."""
    monkeypatch.setenv("VISION_EXPLORER_SETTINGS", str(tmp_path / "settings.ini"))
    opened = []

    def _open(page_class, size=(1200, 760), device="auto"):
        from app.context import AppContext

        page = page_class(AppContext(device))
        qtbot.addWidget(page)
        page.resize(*size)
        page.show()
        qtbot.waitExposed(page)
        opened.append(page)
        return page

    yield _open
    for page in opened:
        page.shutdown()
        page.ctx.worker.shutdown()


@pytest.fixture(scope="module")
def one_thread():
    """torch on one thread for a module: two OpenMP threads on a busy 2-core machine wait on each other
    (measured 25x slower here). Use it with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

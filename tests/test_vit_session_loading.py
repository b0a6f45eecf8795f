"""The shared ViT session while its model loads slowly (issue 11, item 2): cancel and a new model choice act at once."""
from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

IMAGE = (np.arange(64 * 64 * 3) % 251).astype(np.uint8).reshape(64, 64, 3)


@pytest.fixture
def gate():
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def session(qtbot, tmp_path, monkeypatch, gate):
    """A ViTSession whose model loads wait for the gate when the model's ref starts with 'slow'."""
    import models.registry as registry
    from app.context import AppContext
    from app.vit_session import ViTSession
    from models.vit import specs  # noqa: F401

    monkeypatch.setenv("VISION_EXPLORER_SETTINGS", str(tmp_path / "settings.ini"))
    real_get = registry.get

    def get(key):
        spec = real_get(key)

        def loader(source, device, progress=None):
            if source.ref.startswith("slow"):
                gate.wait()
            return spec.loader(dataclasses.replace(source, ref=""), device, progress)
        return dataclasses.replace(spec, loader=loader)

    monkeypatch.setattr(registry, "get", get)
    ctx = AppContext("cpu")
    qtbot.waitUntil(lambda: ctx.torch_loaded, timeout=120_000)
    s = ViTSession(ctx)
    yield s
    ctx.worker.shutdown()


def _loading() -> bool:
    return any(t.name.startswith("vision-explorer-loader") and t.is_alive() for t in threading.enumerate())


def test_cancelling_a_slow_load_frees_the_session_at_once(qtbot, session, gate):
    results = []
    session.result_ready.connect(results.append)
    session.set_model("vit/bundled-shapes", "random", f"slow-{time.time_ns()}")
    session.request(IMAGE)
    qtbot.waitUntil(_loading, timeout=60_000)
    assert session.is_busy()
    with qtbot.waitSignal(session.busy_changed, timeout=5_000) as busy:
        session.ctx.worker.cancel("vit")  # what the status bar's Cancel and Model > Cancel do
    assert busy.args == [False] and not session.is_busy()
    assert not gate.is_set()  # the load is still blocked: the cancel did not wait for it
    gate.set()
    qtbot.wait(500)
    assert results == []  # the abandoned load's forward never arrives


def test_choosing_another_model_during_a_slow_load_shows_the_new_one(qtbot, session, gate):
    results = []
    session.result_ready.connect(results.append)
    session.set_model("vit/bundled-shapes", "random", f"slow-{time.time_ns()}")
    session.request(IMAGE)
    qtbot.waitUntil(_loading, timeout=60_000)
    with qtbot.waitSignal(session.result_ready, timeout=120_000):
        session.set_model("vit/bundled-shapes", "random", f"fast-{time.time_ns()}")
    assert not gate.is_set() and len(results) == 1 and not session.is_busy()
    gate.set()
    qtbot.wait(500)
    assert len(results) == 1

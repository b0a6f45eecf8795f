"""Hub look-ups fail fast without a network (issue 11, item 2): a clear message instead of the hub client's retries."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from models.errors import WeightsUnavailableError
from models.hub_access import hub_reachable, hub_usable, require_hub


@pytest.fixture
def online(monkeypatch):
    """The hub is not switched off by a setting (conftest switches it off for the suite)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)


@pytest.fixture
def closed_port():
    """A local port nobody listens on: connections are refused, as when there is no route out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_server():
    """Accepts connections and never answers: a network that swallows requests."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    srv.close()


@pytest.fixture
def answering_server():
    class NotFound(BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802 (http.server name)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_the_offline_setting_refuses_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="not in the local Hugging Face cache.*HF_HUB_OFFLINE"):
        require_hub("google/vit-base-patch16-224")
    assert not hub_usable()


def test_a_refused_connection_means_offline(online, monkeypatch, closed_port):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    with pytest.raises(WeightsUnavailableError, match="cannot be reached.*offline"):
        require_hub("org/model")
    with pytest.raises(WeightsUnavailableError, match="a moment ago"):  # remembered: no second wait
        require_hub("org/other")


def test_a_silent_network_times_out(online, monkeypatch, silent_server):
    assert not hub_reachable(silent_server, timeout=0.5)
    monkeypatch.setenv("HF_ENDPOINT", silent_server)
    with pytest.raises(WeightsUnavailableError, match="cannot be reached"):
        require_hub("org/model", timeout=0.5)


def test_any_http_answer_means_online(online, monkeypatch, answering_server):
    assert hub_reachable(answering_server, timeout=10)
    monkeypatch.setenv("HF_ENDPOINT", answering_server)
    require_hub("org/model", timeout=10)  # no error
    assert hub_usable(timeout=10)


def test_an_uncached_hugging_face_vit_fails_fast_offline(online, monkeypatch, closed_port, tmp_path):
    """Without the check the hub client retried for ~23 s and then said something else."""
    pytest.importorskip("transformers")
    from models.vit.capture_hf import load_hf_vit

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    with pytest.raises(WeightsUnavailableError, match="cannot be downloaded now"):
        load_hf_vit("someone/not-cached-vit", "vit/huggingface")


def test_an_uncached_diffusers_model_fails_fast_offline(online, monkeypatch, closed_port, tmp_path):
    pytest.importorskip("diffusers")
    from models.diffusion.hf import load_diffusers_unet

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(WeightsUnavailableError, match="cannot be downloaded now"):
        load_diffusers_unet("someone/not-cached-ddpm")


def test_an_uncached_hugging_face_detector_fails_fast_offline(online, monkeypatch, closed_port, tmp_path):
    """Detection ids went straight to the hub client, which retried for ~23 s before saying anything."""
    pytest.importorskip("transformers")
    from models.detection.hf_detectors import FAMILIES, load_hf_detector

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(WeightsUnavailableError, match="cannot be downloaded now"):
        load_hf_detector(FAMILIES[0], "someone/not-cached-detr")

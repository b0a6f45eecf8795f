"""Fail fast when the Hugging Face hub cannot be reached, instead of letting a look-up wait on the network.

Loaders try the local cache first (``local_files_only=True``); only when that misses do they go to the hub,
and they call ``require_hub(ref)`` first. Without a network (``HF_HUB_OFFLINE`` set, or the endpoint not
answering within ``PROBE_TIMEOUT_S``, DNS included) it raises ``WeightsUnavailableError`` with one clear
sentence, where the hub client would otherwise retry for tens of seconds. A failed probe is remembered
for ``REMEMBER_FAILURE_S``, so a series of look-ups costs one time-out at most.
"""
from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from .errors import WeightsUnavailableError

PROBE_TIMEOUT_S = 3.0
REMEMBER_FAILURE_S = 30.0
_TRUE = {"1", "on", "yes", "true"}

_last_failure: dict[str, float] = {}  # endpoint -> time.monotonic() of its last failed probe
_lock = threading.Lock()


def endpoint() -> str:
    """The hub the client talks to (HF_ENDPOINT, e.g. a mirror, else huggingface.co)."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def offline_by_setting() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) says there is no network."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_reachable(url: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True if the endpoint answers an HTTP request (any status) within timeout seconds.

    The request runs on a daemon thread joined with the timeout: name resolution, which ignores socket
    time-outs, cannot hold the caller either."""
    url = url or endpoint()
    done = threading.Event()
    answered: list[bool] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
            answered.append(True)
        except urllib.error.HTTPError:  # it answered, with an error status: the network works
            answered.append(True)
        except (OSError, ValueError):
            pass
        finally:
            done.set()

    threading.Thread(target=probe, name="vision-explorer-hub-probe", daemon=True).start()
    done.wait(timeout)
    return bool(answered)


def hub_usable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """False when require_hub would refuse (offline): callers then read the local cache only."""
    try:
        require_hub("", timeout)
    except WeightsUnavailableError:
        return False
    return True


def require_hub(ref: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise WeightsUnavailableError at once when `ref` is not cached and the hub is out of reach."""
    url = endpoint()
    host = urlsplit(url).netloc or url
    why = None
    if offline_by_setting():
        why = "HF_HUB_OFFLINE is set"
    else:
        with _lock:
            failed_at = _last_failure.get(url)
        if failed_at is not None and time.monotonic() - failed_at < REMEMBER_FAILURE_S:
            why = f"{host} could not be reached a moment ago"
        elif not hub_reachable(url, timeout):
            with _lock:
                _last_failure[url] = time.monotonic()
            why = f"{host} cannot be reached"
        else:
            with _lock:
                _last_failure.pop(url, None)
    if why is not None:
        raise WeightsUnavailableError(
            f"'{ref}' is not in the local Hugging Face cache and cannot be downloaded now ({why}: offline?). "
            "Connect to the internet, or pick a local model folder.")


def load_cache_first(load, src: str, ref: str, is_local: bool, **kwargs):
    """load(src, ...) from a local folder or the local cache; only on a cache miss of a hub id from the hub, after
    require_hub has checked it can be reached (offline fails at once, not after the hub client's retries, ~23 s).
    Remote code is never trusted."""
    try:
        return load(src, local_files_only=True, trust_remote_code=False, **kwargs)
    except OSError:
        if is_local:
            raise
    require_hub(ref)
    return load(src, trust_remote_code=False, **kwargs)

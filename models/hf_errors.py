"""What a failed Hugging Face (transformers / diffusers) load means for the user, in one clear sentence.

transformers and diffusers raise many kinds of exceptions for a bad folder: a pickled ``pytorch_model.bin``
(refused by torch's weights-only loader: ``UnpicklingError``), a damaged safetensors file, weights whose
shapes do not fit ``config.json`` (``RuntimeError``), a config with wrong types or impossible values
(``TypeError``, ``ValueError``, ``ZeroDivisionError``, ``KeyError``...). Each becomes a ``CheckpointError``;
nothing of the library's own text is shown beyond one cleaned line (no colour codes, no advice to turn
safety checks off).
"""
from __future__ import annotations

import pickle
import re

from .errors import CheckpointError, UserFacingError

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ADVICE = re.compile(r"(weights_only|trust_remote_code|arbitrary code)", re.IGNORECASE)

# Exceptions a bad model folder raises inside from_pretrained or while the model is wrapped.
_LOAD_ERRORS = (pickle.UnpicklingError, RuntimeError, ValueError, TypeError, KeyError, IndexError,
                AttributeError, ZeroDivisionError, AssertionError, ImportError, EOFError)


def load_errors() -> tuple[type[BaseException], ...]:
    """The exception types to map with load_failure: the built-in ones, and huggingface_hub's config
    validation errors when it is installed (imported only here, after a load has started)."""
    extra: tuple[type[BaseException], ...] = ()
    try:
        from safetensors import SafetensorError

        extra += (SafetensorError,)
        from huggingface_hub.errors import StrictDataclassError

        extra += (StrictDataclassError,)
    except ImportError:
        pass
    return _LOAD_ERRORS + extra


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first non-empty line of an exception's text, without colour codes; '' if it gives advice."""
    for line in _ANSI.sub("", str(exc)).splitlines():
        line = line.strip()
        if line:
            return "" if _ADVICE.search(line) else line[:limit]
    return ""


def refused_pickle(exc: BaseException) -> bool:
    """True if torch's weights-only loader refused a pickle somewhere in this exception's chain
    (diffusers wraps the UnpicklingError in an OSError)."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        if isinstance(node, pickle.UnpicklingError):
            return True
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return False


def load_failure(exc: BaseException, ref: str, what: str = "model") -> UserFacingError:
    """A clear CheckpointError for an exception raised while loading the Hugging Face `what` at `ref`."""
    if isinstance(exc, UserFacingError):
        return exc
    if refused_pickle(exc):
        return CheckpointError(
            f"'{ref}' was refused for safety: its weights are a pickled file (e.g. pytorch_model.bin) that would "
            "run code stored in it. Use a folder saved as safetensors (model.safetensors).")
    if type(exc).__name__ == "SafetensorError":
        return CheckpointError(f"The weights file in '{ref}' is damaged or not a safetensors file.")
    text = first_line(exc)
    if isinstance(exc, RuntimeError) and ("size" in str(exc).lower() or "shape" in str(exc).lower()):
        return CheckpointError(f"The weights in '{ref}' do not fit its config.json: some tensors have other shapes.")
    if isinstance(exc, KeyError):
        return CheckpointError(f"'{ref}' is not a {what} this app can load: its config lacks the entry {text}.")
    if isinstance(exc, ImportError):
        return CheckpointError(f"'{ref}' needs a library that is not installed ({text or type(exc).__name__}).")
    detail = f" ({text})" if text else f" ({type(exc).__name__})"
    return CheckpointError(f"'{ref}' is not a {what} this app can load: its config or weights are invalid{detail}.")

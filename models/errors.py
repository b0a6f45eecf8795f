"""Errors whose message is meant for the user, shown as-is in the window and on the command line."""
from __future__ import annotations


class UserFacingError(Exception):
    """An error with a clear one-line message for the user (no traceback needed)."""


class ImageLoadError(UserFacingError):
    """The file or data is not an image we can use; nothing was changed."""


class CheckpointError(UserFacingError):
    """A checkpoint could not be read, or does not fit the architecture."""


class WeightsUnavailableError(UserFacingError):
    """Pretrained weights are neither cached nor downloadable (offline?)."""


class JobCancelled(Exception):
    """Raised inside a job when the user (or a newer request) cancelled it."""

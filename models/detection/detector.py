"""The common face of every detector the app shows.

A loaded detector (what a registry loader returns) turns an (H, W, 3) uint8 RGB image into a
DetectionResult. Family-specific code (bundled, Hugging Face, torchvision) lives in its own module.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import numpy as np

from models.errors import ImageLoadError

from .result import DetectionResult


class Detector(ABC):
    key: str
    title: str
    class_names: tuple[str, ...]
    needs_nms: bool
    device: str = "cpu"

    @abstractmethod
    def predict(self, image: np.ndarray, check_cancelled: Callable[[], None] = lambda: None) -> DetectionResult:
        """Run the model on one image (H, W, 3) uint8 RGB."""

    def to(self, device: str) -> "Detector":
        self.device = device
        return self


def check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageLoadError("The detector needs an RGB image (height x width x 3, 8 bits per channel).")
    if min(image.shape[:2]) < 8:
        raise ImageLoadError(f"The image is too small to detect anything ({image.shape[1]}x{image.shape[0]} pixels).")
    return image

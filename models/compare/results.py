"""What the Compare tab's jobs send to the GUI: frozen dataclasses of CPU numpy arrays and plain values.

No torch here (the window imports this before torch is loaded). `StageInfo` and `StageCost` values travel
inside them; they are frozen dataclasses of plain values defined in models.compare.stages / hierarchy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .hierarchy import StageCost
    from .stages import StageInfo


@dataclass(frozen=True)
class ModelRef:
    """Which model a column shows: registry key, weights source kind (SourceKind value) and its reference."""

    key: str
    kind: str
    ref: str = ""


@dataclass(frozen=True)
class ColumnBase:
    """A column's model run once on the image: its stages, the image as the model saw it, its prediction."""

    model: ModelRef
    title: str
    family: str  # "cnn" | "vit" | "hybrid"
    image: np.ndarray  # (S, S, 3) uint8, the image resized to the model's input
    stages: tuple["StageInfo", ...]
    class_names: tuple[str, ...]
    probabilities: np.ndarray  # (classes,) float32 softmax
    has_cls_attention: bool  # attention blocks with a CLS token: rollout methods apply
    boxes: np.ndarray  # (K, 4) float32 [x, y, w, h] of known objects, in model-input pixels (shapes samples)
    box_names: tuple[str, ...]  # (K,) their class names
    seconds: float = 0.0
    ood_warning: str = ""  # models trained on shapes only: why this image is unlike their data ("" if it is not)
    rollout_note: str = ""  # why attention rollout is not offered for this model's attention ("" when it is)


@dataclass(frozen=True)
class ColumnUnavailable:
    """The column's model cannot run (e.g. bundled weights not trained yet): the sentence to show."""

    model: ModelRef
    title: str
    message: str


@dataclass(frozen=True)
class AttributionResult:
    model: ModelRef
    stage: int  # target stage index (CAM methods) or -1 (rollout over every block)
    method: str
    class_index: int
    heatmap: np.ndarray  # (S, S) float32 in [0, 1]
    probability: float  # of class_index
    box_ratio: float | None  # in-box / out-of-box density, None without a known box of the class
    seconds: float = 0.0


@dataclass(frozen=True)
class StageField:
    """The effective receptive field of one stage (Luo et al. 2016), averaged over the probe images."""

    model: ModelRef
    stage: int
    erf: np.ndarray  # (S, S) float32 normalised to max 1
    radius_px: float  # holds 50% of the gradient mass
    theoretical_px: float | None  # None: attention makes it the whole image
    images: int  # how many probe images


@dataclass(frozen=True)
class EquivarianceResult:
    model: ModelRef
    shifts: np.ndarray  # (T,) int pixels
    errors: np.ndarray  # (T, stages) float32 relative error (NaN: the shift moved the whole map out)
    class_index: int  # the top class of the unshifted image
    shift_probability: np.ndarray  # (T,) float32 probability of that class for each shift
    grids: tuple[int, ...]  # patch-shuffle grids, e.g. (2, 4, 8)
    shuffled: np.ndarray  # (G, S, S, 3) uint8 shuffled images
    shuffled_top: np.ndarray  # (G,) int64 predicted class of each shuffled image
    shuffled_probability: np.ndarray  # (G,) float32 probability of the original class
    occlusion: np.ndarray  # (S, S) float32 drop of the class probability where a grey square covers
    occluder_px: int


@dataclass(frozen=True)
class HierarchyResult:
    model: ModelRef
    costs: tuple["StageCost", ...]
    device: str


@dataclass(frozen=True)
class FeaturesResult:
    model: ModelRef
    stage: int
    kind: str  # "conv": `maps` (K, h, w) in [0, 1] with `channels`; "tokens": `rgb` (h, w, 3) PCA
    maps: np.ndarray | None
    channels: np.ndarray  # (K,) int64, empty for tokens
    rgb: np.ndarray | None

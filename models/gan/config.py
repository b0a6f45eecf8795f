"""The configs of a GAN run: the architecture (GanConfig) and the training settings (TrainConfig)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..errors import UserFacingError
from .catalog import AUGMENT_INFO

IMAGE_SIZES = (32, 64)
CODE_MODES = ("info", "clusters")


@dataclass(frozen=True)
class GanConfig:
    """A DCGAN: a latent vector -> (channels, image_size, image_size) image in [-1, 1]."""

    image_size: int = 32  # 32 or 64
    latent_size: int = 64
    channels: int = 3  # 1 for MNIST / Fashion-MNIST, 3 for colour data
    width: int = 32  # G's feature maps at the widest-resolution layer; deeper layers use 2x, 4x, ...
    d_width: int = 0  # the same for D; 0: as wide as G
    spectral_norm: bool = False  # spectral normalisation of every D layer
    num_classes: int = 0  # > 0: class-conditional (conditional BatchNorm in G, projection D)
    # > 0: InfoGAN-style discrete code, no labels: the argmax of the first K noise dimensions picks one of K
    # codes; G switches per code (conditional BatchNorm), D's Q head must tell the code from the image
    latent_codes: int = 0
    # what teaches G the codes: "info" a Q head in D (InfoGAN); "clusters" a projection D that is told each real
    # image's k-means cluster of outlines (models.gan.shape_clusters) and each fake's code
    code_mode: str = "info"

    def __post_init__(self) -> None:
        if not 4 <= self.width <= 256 or not (self.d_width == 0 or 4 <= self.d_width <= 256):
            raise UserFacingError(f"Widths must be between 4 and 256, not {self.width} / {self.d_width}.")
        if not 0 <= self.num_classes <= 100:
            raise UserFacingError(f"A conditional GAN needs 1 to 100 classes, not {self.num_classes}.")
        if not 0 <= self.latent_codes <= min(32, self.latent_size) or (self.latent_codes == 1):
            raise UserFacingError(f"A discrete code needs 2 to {min(32, self.latent_size)} values, not {self.latent_codes}.")
        if self.code_mode not in CODE_MODES:
            raise UserFacingError(f"Unknown code mode '{self.code_mode}' (known: {', '.join(CODE_MODES)}).")
        if self.latent_codes and self.num_classes:
            raise UserFacingError("A run is either class-conditional or has a discrete latent code, not both.")
        if self.image_size not in IMAGE_SIZES:
            raise UserFacingError(f"Image size must be one of {IMAGE_SIZES}, not {self.image_size}.")
        if not 1 <= self.latent_size <= 1024:
            raise UserFacingError(f"Latent size must be between 1 and 1024, not {self.latent_size}.")
        if self.channels not in (1, 3):
            raise UserFacingError(f"Images must have 1 or 3 channels, not {self.channels}.")

    @property
    def clustered(self) -> bool:
        """G's discrete code is matched to clusters of the real images (a projection D over the codes)."""
        return bool(self.latent_codes) and self.code_mode == "clusters"

    @property
    def info_coded(self) -> bool:
        """G's discrete code is taught by InfoGAN's term (a Q head in D must tell the code from the image)."""
        return bool(self.latent_codes) and self.code_mode == "info"

    @property
    def num_levels(self) -> int:
        """Upsampling stages from 4x4 to the image size."""
        return {32: 3, 64: 4}[self.image_size]


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run is started with. Learning rates and betas may change while it runs."""

    gan: GanConfig = GanConfig()
    dataset: str = "shapes"  # a key of models.gan.data.DATASETS
    data_ref: str = ""  # folder for "folder" and the torchvision datasets; empty: default place
    loss: str = "bce"  # a key of models.gan.losses.LOSSES
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1_g: float = 0.5
    beta2_g: float = 0.999
    beta1_d: float = 0.5
    beta2_d: float = 0.999
    batch_size: int = 64
    d_steps: int = 1  # discriminator updates per generator update
    seed: int = 0
    sample_every: int = 25  # steps between fixed-noise sample grids
    grid_samples: int = 36  # images in the fixed-noise grid (a square number)
    num_train_images: int = 4096  # size of the generated shapes set
    diffaugment: str = ""  # DiffAugment policy applied to real and fake before D, e.g. "color,translation"
    g_ema: float = 0.0  # > 0: samples come from an exponential moving average of G's weights with this decay
    code_weight: float = 1.0  # weight of the InfoGAN term (Q must tell G's discrete code), when gan.latent_codes > 0

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise UserFacingError("Batch size must be at least 2.")
        if self.sample_every < 1:
            raise UserFacingError("Samples every N steps needs N >= 1.")
        if not 0 <= self.g_ema < 1:
            raise UserFacingError(f"The EMA decay of G must be in [0, 1), not {self.g_ema}.")
        if not 0 <= self.code_weight <= 100:
            raise UserFacingError(f"The code term's weight must be in [0, 100], not {self.code_weight}.")
        if self.d_steps < 1:
            raise UserFacingError("D steps per G step must be at least 1.")
        for name in ("lr_g", "lr_d"):
            if not 0 < getattr(self, name) < 1:
                raise UserFacingError(f"Learning rate {name} must be between 0 and 1.")
        unknown = [op for op in self.diffaugment.split(",") if op.strip() and op.strip() not in AUGMENT_INFO]
        if unknown:
            raise UserFacingError(f"Unknown DiffAugment op '{unknown[0].strip()}' (known: {', '.join(AUGMENT_INFO)}).")
        for name in ("beta1_g", "beta2_g", "beta1_d", "beta2_d"):
            if not 0 <= getattr(self, name) < 1:
                raise UserFacingError(f"Adam {name} must be in [0, 1).")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        gan = GanConfig(**data.get("gan", {}))
        return cls(**{k: v for k, v in data.items() if k in known and k != "gan"}, gan=gan)

    def with_(self, **changes: Any) -> "TrainConfig":
        return replace(self, **changes)

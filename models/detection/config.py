"""The bundled shapes detector's architecture, as one frozen dataclass passed whole."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from models.shapes import SHAPE_CLASSES


@dataclass(frozen=True)
class DetrConfig:
    image_size: int = 96
    num_classes: int = len(SHAPE_CLASSES)  # real classes; index num_classes is "no object"
    class_names: tuple[str, ...] = SHAPE_CLASSES
    backbone_channels: tuple[int, ...] = (32, 64, 128, 128, 128)  # 3x3 convs; the first three have stride 2
    d_model: int = 128
    heads: int = 8
    ffn: int = 512
    encoder_layers: int = 2
    decoder_layers: int = 3
    queries: int = 15
    dropout: float = 0.0

    @property
    def stride(self) -> int:
        return 8

    def to_metadata(self) -> dict[str, str]:
        return {k: str(v) if not isinstance(v, tuple) else ",".join(map(str, v)) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> "DetrConfig":
        kwargs = {}
        for name, default in asdict(cls()).items():
            if name not in meta:
                continue
            raw = meta[name]
            if isinstance(default, tuple):
                items = raw.split(",") if raw else []
                kwargs[name] = tuple(int(x) for x in items) if default and isinstance(default[0], int) else tuple(items)
            else:
                kwargs[name] = type(default)(raw)
        return cls(**kwargs)

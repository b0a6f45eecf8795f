"""What a sampler needs from any diffusion model: a noise predictor, its schedule, its image format.

Bundled UNets and diffusers UNet2DModel checkpoints are both wrapped in a ``DiffusionModel``, so one
sampler loop (with trajectory capture) serves all of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from .schedule import NoiseSchedule

# net(x (B, C, H, W), t (B,) long, labels (B,) long or None) -> raw model output (B, C, H, W)
NetFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def _eps_from_epsilon(out, x_t, ab):
    return out


def _eps_from_sample(out, x_t, ab):  # the network predicts x0
    return (x_t - ab.sqrt() * out) / (1 - ab).sqrt()


def _eps_from_v(out, x_t, ab):  # v = sqrt(ab) eps - sqrt(1 - ab) x0
    return ab.sqrt() * out + (1 - ab).sqrt() * x_t


PREDICTION_TYPES: dict[str, Callable] = {
    "epsilon": _eps_from_epsilon,
    "sample": _eps_from_sample,
    "v_prediction": _eps_from_v,
}


@dataclass
class DiffusionModel:
    key: str
    title: str
    net: NetFn
    schedule: NoiseSchedule
    image_size: int
    channels: int = 3
    class_names: tuple[str, ...] = ()  # empty: unconditional
    prediction_type: str = "epsilon"
    clip_sample: bool = True  # clamp x0_hat to [-1, 1] while sampling
    device: str = "cpu"
    module: torch.nn.Module | None = None  # the torch module behind net (for training / moving)
    notes: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"Unsupported prediction type '{self.prediction_type}' "
                             f"(supported: {', '.join(PREDICTION_TYPES)}).")

    @property
    def conditional(self) -> bool:
        return len(self.class_names) > 0

    @property
    def null_label(self) -> int:
        return len(self.class_names)

    def eps(self, x_t: torch.Tensor, t: int, labels: torch.Tensor | None, guidance: float,
            alpha_bar_t: torch.Tensor) -> torch.Tensor:
        """Noise prediction at timestep t with classifier-free guidance:
        eps = eps_uncond + guidance * (eps_cond - eps_uncond); guidance 1 is the plain conditional model."""
        b = x_t.shape[0]
        tt = torch.full((b,), t, device=x_t.device, dtype=torch.long)
        to_eps = PREDICTION_TYPES[self.prediction_type]
        if not self.conditional or labels is None:
            return to_eps(self.net(x_t, tt, None), x_t, alpha_bar_t)
        if guidance == 1.0:
            return to_eps(self.net(x_t, tt, labels), x_t, alpha_bar_t)
        null = torch.full_like(labels, self.null_label)
        out = self.net(torch.cat([x_t, x_t]), torch.cat([tt, tt]), torch.cat([labels, null]))  # (2B, C, H, W)
        cond, uncond = out.chunk(2)
        out = uncond + guidance * (cond - uncond)
        return to_eps(out, x_t, alpha_bar_t)

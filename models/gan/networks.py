"""DCGAN generator and discriminator (Radford et al. 2016) for 32x32 or 64x64 images."""
from __future__ import annotations

import torch
from torch import nn

from .config import GanConfig


class Generator(nn.Module):
    """z (B, latent) -> image (B, C, S, S) in [-1, 1]: transposed convolutions from 4x4 up, BatchNorm, ReLU."""

    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        top = config.width * 2 ** (config.num_levels - 1)  # channels at 4x4
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(config.latent_size, top, 4, 1, 0, bias=False),  # (B, top, 4, 4)
            nn.BatchNorm2d(top), nn.ReLU(True),
        ]
        ch = top
        for _ in range(config.num_levels - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2  # resolution doubles, channels halve
        layers += [nn.ConvTranspose2d(ch, config.channels, 4, 2, 1), nn.Tanh()]  # (B, C, S, S)
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])  # (B, latent, 1, 1) -> (B, C, S, S)


class Discriminator(nn.Module):
    """image (B, C, S, S) -> one logit per image: strided convolutions, LeakyReLU, no BatchNorm on the input.

    No BatchNorm anywhere in D: WGAN-GP needs per-sample gradients, and without it real and fake
    batches can be scored together or apart with the same result.
    """

    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        ch = config.width
        layers: list[nn.Module] = [nn.Conv2d(config.channels, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]  # (B, w, S/2, S/2)
        for _ in range(config.num_levels - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch *= 2  # resolution halves, channels double
        layers += [nn.Conv2d(ch, 1, 4, 1, 0)]  # (B, 1, 1, 1)
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()  # (B,)


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

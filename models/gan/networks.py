"""DCGAN generator and discriminator (Radford et al. 2016) for 32x32 or 64x64 images, with options:

- spectral normalisation in D (Miyato et al. 2018): every D weight divided by its largest singular value,
  so D is 1-Lipschitz per layer and cannot become arbitrarily sharp;
- a separate D width (a larger or smaller D than G);
- class conditioning (config.num_classes > 0): conditional BatchNorm in G (a per-class scale and shift after
  each normalisation) and a projection discriminator (Miyato & Koyama 2018): D's logit plus the inner
  product of a class embedding with D's features;
- a discrete latent code without labels (config.latent_codes > 0, InfoGAN, Chen et al. 2016): the argmax of
  the first K noise dimensions picks a code; G switches its BatchNorm scale and shift per code, and a Q head on
  D's features must tell which code drew an image. A continuous G maps the one connected Gaussian onto one
  connected set of images, so it cannot draw six separate shapes without morphs between them; a discrete code
  lets it jump.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .config import GanConfig


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine, then a scale and shift looked up per class: (B, C, H, W), (B,) -> same."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.embed = nn.Embedding(num_classes, 2 * channels)  # [scale | shift] per class
        nn.init.ones_(self.embed.weight[:, :channels].data)
        nn.init.zeros_(self.embed.weight[:, channels:].data)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.embed(y).chunk(2, dim=1)  # (B, C), (B, C)
        return self.bn(x) * gamma[:, :, None, None] + beta[:, :, None, None]


class Generator(nn.Module):
    """z (B, latent) [, y (B,)] -> image (B, C, S, S) in [-1, 1]: transposed convolutions from 4x4 up,
    BatchNorm (conditional BatchNorm when class-conditional), ReLU."""

    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        k = config.num_classes or config.latent_codes

        def norm(c: int) -> nn.Module:
            return ConditionalBatchNorm2d(c, k) if k else nn.BatchNorm2d(c)

        top = config.width * 2 ** (config.num_levels - 1)  # channels at 4x4
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(config.latent_size, top, 4, 1, 0, bias=False),  # (B, top, 4, 4)
            norm(top), nn.ReLU(True),
        ]
        ch = top
        for _ in range(config.num_levels - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), norm(ch // 2), nn.ReLU(True)]
            ch //= 2  # resolution doubles, channels halve
        layers += [nn.ConvTranspose2d(ch, config.channels, 4, 2, 1), nn.Tanh()]  # (B, C, S, S)
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = z[:, :, None, None]  # (B, latent, 1, 1)
        if self.config.latent_codes:
            y = latent_code(z, self.config.latent_codes)  # (B,) the code is part of the noise
        elif not self.config.num_classes:
            return self.net(x)  # (B, C, S, S)
        if y is None:
            raise ValueError("a class-conditional generator needs a class per noise vector")
        for layer in self.net:
            x = layer(x, y) if isinstance(layer, ConditionalBatchNorm2d) else layer(x)
        return x


class Discriminator(nn.Module):
    """image (B, C, S, S) [, y (B,)] -> one logit per image: strided convolutions, LeakyReLU, no BatchNorm.

    No BatchNorm anywhere in D: WGAN-GP needs per-sample gradients, and without it real and fake
    batches can be scored together or apart with the same result.
    """

    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        sn = spectral_norm if config.spectral_norm else (lambda m: m)
        ch = config.d_width or config.width
        layers: list[nn.Module] = [sn(nn.Conv2d(config.channels, ch, 4, 2, 1)), nn.LeakyReLU(0.2, True)]  # (B, w, S/2, S/2)
        for _ in range(config.num_levels - 1):
            layers += [sn(nn.Conv2d(ch, ch * 2, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            ch *= 2  # resolution halves, channels double
        layers += [sn(nn.Conv2d(ch, 1, 4, 1, 0))]  # (B, 1, 1, 1)
        self.net = nn.Sequential(*layers)
        self.projected = bool(config.num_classes) or config.clustered
        if self.projected:  # projection: one embedding per class (or cluster code), dotted with the 4x4 features
            self.embed = sn(nn.Embedding(config.num_classes or config.latent_codes, ch * 16))
        if config.info_coded:  # Q head: which code drew this image, from the same 4x4 features
            self.q_head = nn.Sequential(nn.Linear(ch * 16, 128), nn.LeakyReLU(0.2, True),
                                        nn.Linear(128, config.latent_codes))
        init_weights(self)
        if self.projected and not config.spectral_norm:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if not self.projected:
            return self.net(x).flatten()  # (B,)
        if y is None:
            raise ValueError("a class-conditional discriminator needs the class (or cluster) of each image")
        h = self.net[:-1](x)  # (B, ch, 4, 4) features
        return self.net[-1](h).flatten() + (self.embed(y) * h.flatten(1)).sum(1)  # (B,)

    def code_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The Q head's logits (B, latent_codes): which discrete code G drew x with."""
        return self.q_head(self.net[:-1](x).flatten(1))


def latent_code(z: torch.Tensor, codes: int) -> torch.Tensor:
    """The discrete code of each noise vector (B,): the argmax of its first `codes` dimensions (uniform over
    the codes for Gaussian noise)."""
    return z[:, :codes].argmax(1)


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02). Spectrally normalised layers
    keep PyTorch's default initialisation (their scale is normalised away, and the power iteration that
    estimates the norm was started on those weights)."""
    for m in module.modules():
        if hasattr(m, "parametrizations"):
            continue
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

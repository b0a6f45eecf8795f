"""GAN losses as a registry: each says how D and G are trained from D's raw scores (logits).

Every loss returns a scalar tensor; `penalty` is for losses that need more than the scores (WGAN-GP).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import UserFacingError
from .catalog import LOSS_INFO

ScoreLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (real scores (B,), fake scores (B,)) -> ()
GenLoss = Callable[[torch.Tensor], torch.Tensor]  # fake scores (B,) -> ()


@dataclass(frozen=True)
class GanLoss:
    key: str
    title: str
    description: str  # 2-3 plain sentences for a student
    d_loss: ScoreLoss
    g_loss: GenLoss
    gradient_penalty: float = 0.0  # weight of the WGAN-GP penalty on D (0: none)
    probability_scores: bool = True  # True: sigmoid(score) is a probability "real" (D(x), D(G(z)) in [0, 1])


def _bce_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
        F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))


def _bce_g(fake: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))  # non-saturating: -log D(G(z))


def _hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def _mean_neg(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def _lsgan_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake ** 2).mean()


def _lsgan_g(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((fake - 1.0) ** 2).mean()


def _wgan_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return fake.mean() - real.mean()


LOSSES: dict[str, GanLoss] = {}


def register_loss(loss: GanLoss) -> GanLoss:
    LOSSES[loss.key] = loss
    return loss


_IMPL: dict[str, tuple] = {  # key -> (d_loss, g_loss, gradient penalty weight, probability scores)
    "bce": (_bce_d, _bce_g, 0.0, True),
    "hinge": (_hinge_d, _mean_neg, 0.0, False),
    "lsgan": (_lsgan_d, _lsgan_g, 0.0, False),
    "wgan-gp": (_wgan_d, _mean_neg, 10.0, False),
}
for _key, (_d, _g, _gp, _prob) in _IMPL.items():
    register_loss(GanLoss(_key, LOSS_INFO[_key][0], LOSS_INFO[_key][1], _d, _g, _gp, _prob))


def get_loss(key: str) -> GanLoss:
    try:
        return LOSSES[key]
    except KeyError:
        raise UserFacingError(f"Unknown GAN loss '{key}' (known: {', '.join(LOSSES)}).") from None


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): mean (||grad D(x_hat)|| - 1)^2 on random interpolates x_hat."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, device=real.device, generator=generator)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()

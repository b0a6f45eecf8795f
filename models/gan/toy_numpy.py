"""Small MLPs with hand-written backprop and Adam in numpy: the 2-D GAN needs thousands of tiny steps
per second, where torch's per-operation overhead (~10 us) would dominate."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import UserFacingError

SLOPE = 0.2  # LeakyReLU
CHUNK = 256  # rows per matrix product in inference (see MLP.__call__)


class MLP:
    """Linear -> LeakyReLU ... -> Linear, float64, He-style init."""

    def __init__(self, sizes: list[int], rng: np.random.Generator):
        shapes = [s for a, b in zip(sizes[:-1], sizes[1:]) for s in ((a, b), (b,))]
        self.flat = np.zeros(sum(int(np.prod(s)) for s in shapes))  # all parameters, one buffer (fast Adam)
        self.params: list[np.ndarray] = []  # views into self.flat
        at = 0
        for shape in shapes:
            n = int(np.prod(shape))
            self.params.append(self.flat[at:at + n].reshape(shape))
            at += n
        for i in range(0, len(self.params), 2):
            self.params[i][...] = rng.normal(0, np.sqrt(2.0 / shapes[i][0]), shapes[i])

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list]:
        cache = []
        n = len(self.params) // 2
        for i in range(n):
            w, b = self.params[2 * i], self.params[2 * i + 1]
            cache.append(x)
            x = x @ w + b
            if i < n - 1:
                cache.append(x)
                x = np.where(x > 0, x, SLOPE * x)
        return x, cache

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Inference in chunks of CHUNK rows: larger matrix products make OpenBLAS start its threads, which
        costs 10x more CPU (measured: 8 ms vs 0.8 ms for the 48x48 heatmap on a busy 2-core machine)."""
        if len(x) <= CHUNK:
            return self.forward(x)[0]
        return np.concatenate([self.forward(x[i:i + CHUNK])[0] for i in range(0, len(x), CHUNK)])

    def backward(self, dout: np.ndarray, cache: list, want_params: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
        """Gradient of the parameters as one flat array like self.flat (None when not wanted), and of the input."""
        n = len(self.params) // 2
        grads: list = [None] * len(self.params)
        d = dout
        c = len(cache) - 1
        for i in reversed(range(n)):
            if i < n - 1:
                pre = cache[c]; c -= 1  # noqa: E702
                d = np.where(pre > 0, d, SLOPE * d)
            inp = cache[c]; c -= 1  # noqa: E702
            if want_params:
                grads[2 * i] = inp.T @ d
                grads[2 * i + 1] = d.sum(0)
            d = d @ self.params[2 * i].T
        return (np.concatenate([g.ravel() for g in grads]) if want_params else None), d


class Adam:
    """Adam on one flat parameter buffer (updated in place)."""

    def __init__(self, flat: np.ndarray, lr: float, betas=(0.5, 0.999), eps: float = 1e-8):
        self.flat, self.lr, self.b1, self.b2, self.eps = flat, lr, betas[0], betas[1], eps
        self.m = np.zeros_like(flat)
        self.v = np.zeros_like(flat)
        self.t = 0

    def step(self, grad: np.ndarray) -> None:
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        self.m *= self.b1
        self.m += (1 - self.b1) * grad
        self.v *= self.b2
        self.v += (1 - self.b2) * grad * grad
        self.flat -= (self.lr / c1) * self.m / (np.sqrt(self.v / c2) + self.eps)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * x))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


@dataclass(frozen=True)
class ToyLoss:
    """d: (real scores, fake scores) -> (loss, dL/dreal, dL/dfake); g: fake scores -> (loss, dL/dfake)."""

    d: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray, np.ndarray]]
    g: Callable[[np.ndarray], tuple[float, np.ndarray]]


def _bce_d(r, f):
    n = len(r)
    return float(_softplus(-r).mean() + _softplus(f).mean()), -_sigmoid(-r) / n, _sigmoid(f) / n


def _bce_g(f):
    return float(_softplus(-f).mean()), -_sigmoid(-f) / len(f)


def _hinge_d(r, f):
    n = len(r)
    return (float(np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean()),
            -(r < 1).astype(r.dtype) / n, (f > -1).astype(f.dtype) / n)


def _neg_mean_g(f):
    return float(-f.mean()), np.full_like(f, -1.0 / len(f))


def _ls_d(r, f):
    n = len(r)
    return float(0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean()), (r - 1) / n, f / n


def _ls_g(f):
    return float(0.5 * ((f - 1) ** 2).mean()), (f - 1) / len(f)


# the same keys as models.gan.losses.LOSSES; WGAN-GP needs second derivatives, so it is image-mode only
TOY_LOSSES: dict[str, ToyLoss] = {"bce": ToyLoss(_bce_d, _bce_g), "hinge": ToyLoss(_hinge_d, _neg_mean_g),
                                  "lsgan": ToyLoss(_ls_d, _ls_g)}


def get_toy_loss(key: str) -> ToyLoss:
    try:
        return TOY_LOSSES[key]
    except KeyError:
        raise UserFacingError(f"The 2-D mode supports the losses {', '.join(TOY_LOSSES)}, not '{key}'.") from None

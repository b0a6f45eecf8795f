"""The DCGAN trainer: pure torch, one `train_step()` at a time, everything a resume needs in one object.

One step = `d_steps` discriminator updates, then one generator update. Each step records the metrics
in `history.METRICS`. A step whose losses or gradients are not finite is never applied: the trainer
rolls back to its last good snapshot and raises NonFiniteError, and the job pauses.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UserFacingError
from ..imaging import mosaic
from .augment import code_view, diff_augment
from .config import TrainConfig
from .data import to_model_range, to_uint8_hwc
from .health import diversity_ratio
from .history import GRID_CAPACITY, METRICS, GrowableArray, ThinnedHistory
from .live_judge import COVERAGE_WIDTH
from .losses import get_loss, gradient_penalty
from .networks import Discriminator, Generator, latent_code

HPARAMS = ("lr_g", "lr_d", "beta1_g", "beta2_g", "beta1_d", "beta2_d", "d_steps", "sample_every")


class NonFiniteError(UserFacingError):
    """A loss or gradient became NaN or Inf; the trainer went back to its last good state."""


@dataclass
class Snapshot:
    step: int
    state: dict  # deep copies of G, D, both optimisers, the RNG state and history lengths


def grad_norm(params) -> torch.Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def make_grid(images: np.ndarray, pad: int = 1) -> np.ndarray:
    """(B, S, S, 3) uint8 with B a square number -> one (n*(S+pad)+pad, ...) image on a grey background."""
    return mosaic(images, gap=pad, fill=60, border=pad)


class GanTrainer:
    def __init__(self, config: TrainConfig, images: torch.Tensor, device: str = "cpu",
                 snapshot_every: int = 25, grid_capacity: int = GRID_CAPACITY, labels: torch.Tensor | None = None):
        """images: (N, C, S, S) uint8 training set, C and S as in config.gan; labels: (N,) int64 classes,
        needed to train a class-conditional GAN (config.gan.num_classes > 0)."""
        g = config.gan
        if images.dim() != 4 or images.shape[1] != g.channels or images.shape[-1] != g.image_size:
            raise UserFacingError(f"Training images {tuple(images.shape)} do not fit the model "
                                  f"({g.channels} channels, {g.image_size}x{g.image_size}).")
        self.config = config
        self.loss = get_loss(config.loss)
        self.device = torch.device(device)
        self.images = images  # stays on the CPU; batches are moved
        if g.num_classes and labels is not None and (labels.shape != (len(images),) or int(labels.max()) >= g.num_classes):
            raise UserFacingError(f"Labels {tuple(labels.shape)} do not fit {len(images)} images of "
                                  f"{g.num_classes} classes.")
        self.labels = labels if g.num_classes else None  # (N,) int64
        self._clusters: torch.Tensor | None = None  # (N,) int64 outline cluster of each image (clustered codes)
        torch.manual_seed(config.seed)
        self.G = Generator(g).to(self.device)
        self.D = Discriminator(g).to(self.device)
        # the weights samples are drawn with: a slow average of G's (config.g_ema > 0), else G itself
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if config.g_ema else None
        self.opt_g = torch.optim.Adam(self.G.parameters(), config.lr_g, betas=(config.beta1_g, config.beta2_g))
        self.opt_d = torch.optim.Adam(self.D.parameters(), config.lr_d, betas=(config.beta1_d, config.beta2_d))
        self.rng = torch.Generator().manual_seed(config.seed + 1)  # batches, noise and GP mixing (CPU)
        fixed = torch.Generator().manual_seed(config.seed + 2)
        self.fixed_z = torch.randn(config.grid_samples, g.latent_size, generator=fixed)  # (K, latent)
        side = max(int(round(config.grid_samples ** 0.5)), 1)
        # (K,) class of each grid cell: one class per row of the grid (None: unconditional)
        self.fixed_y = (torch.arange(config.grid_samples) // side) % g.num_classes if g.num_classes else None
        idx = torch.randperm(len(images), generator=fixed)[: config.grid_samples]
        self.real_batch = images[idx]  # (K, C, S, S) uint8: shown beside the samples, basis of diversity
        self.step = 0
        self.d_steps = config.d_steps
        self.metrics = GrowableArray(len(METRICS))  # (steps, len(METRICS))
        self.diversity = GrowableArray(2)  # (points, [step, ratio])
        self.grids = ThinnedHistory(grid_capacity)  # (step, (H, W, 3) uint8)
        self.coverage = GrowableArray(COVERAGE_WIDTH)  # (grids judged, [step, judge FD, class shares...])
        self.last_samples: np.ndarray | None = None  # (K, S, S, 3) uint8 of the newest grid, for the judge
        self.snapshot_every = snapshot_every
        self.elapsed_s = 0.0  # training time so far, paused time not counted
        self.last_code_loss = float("nan")  # the Q head's cross-entropy on the last G batch (discrete-code runs)
        self._snapshot: Snapshot | None = None
        self.take_snapshot()

    # ---- hyper-parameters that may change while training
    def set_hparams(self, **changes) -> None:
        for key, value in changes.items():
            if key not in HPARAMS:
                raise UserFacingError(f"'{key}' can't be changed while training.")
        self.config = self.config.with_(**changes)  # validates
        c = self.config
        for group in self.opt_g.param_groups:
            group["lr"], group["betas"] = c.lr_g, (c.beta1_g, c.beta2_g)
        for group in self.opt_d.param_groups:
            group["lr"], group["betas"] = c.lr_d, (c.beta1_d, c.beta2_d)
        self.d_steps = c.d_steps

    # ---- one training step
    @property
    def conditional(self) -> bool:
        return self.config.gan.num_classes > 0

    def real_clusters(self) -> torch.Tensor:
        """(N,) the k-means cluster of each training image's outline (a run with clustered codes); computed
        from the images on first use (deterministic: a resumed run finds the same clusters)."""
        if self._clusters is None:
            from .shape_clusters import outline_clusters

            k = self.config.gan.latent_codes
            if len(self.images) < 10 * k:
                raise UserFacingError(f"{len(self.images)} training images are too few to find {k} clusters.")
            self._clusters = torch.from_numpy(outline_clusters(self.images, k, self.config.seed).labels)
        return self._clusters

    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, C, S, S) real images in [-1, 1] and their classes or clusters (B,) (None: unconditional)."""
        idx = torch.randint(len(self.images), (self.config.batch_size,), generator=self.rng)
        if self.config.gan.clustered:
            return to_model_range(self.images[idx]).to(self.device), self.real_clusters()[idx].to(self.device)
        if not self.conditional:
            return to_model_range(self.images[idx]).to(self.device), None
        if self.labels is None:
            raise UserFacingError("This class-conditional run has no class labels for its training images "
                                  "(only the generated shape sprites have them).")
        return to_model_range(self.images[idx]).to(self.device), self.labels[idx].to(self.device)

    def _noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.gan.latent_size, generator=self.rng).to(self.device)  # (B, latent)

    def _fake_codes(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor | None:
        """What D is told about fakes made from z (B, latent): the classes asked for (conditional), the
        noise's own codes (clustered codes), else nothing."""
        return latent_code(z, self.config.gan.latent_codes) if self.config.gan.clustered else y

    def _classes(self, n: int) -> torch.Tensor | None:
        if not self.conditional:
            return None
        return torch.randint(self.config.gan.num_classes, (n,), generator=self.rng).to(self.device)  # (B,)

    def _critic(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """D's scores (B,) of x after the run's DiffAugment (the same random ops for real and fake)."""
        if self.config.diffaugment:
            x = diff_augment(x, self.config.diffaugment, self.rng if self.device.type == "cpu" else None)
        return self.D(x) if y is None else self.D(x, y)

    def _generate(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.G(z) if y is None else self.G(z, y)

    def _code_loss(self, fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """InfoGAN's term (runs with config.gan.info_coded): cross-entropy of the Q head's guess of the code
        behind each fake."""
        logits = self.D.code_logits(code_view(fake, self.rng if self.device.type == "cpu" else None))  # (B, K)
        return torch.nn.functional.cross_entropy(logits, latent_code(z, self.config.gan.latent_codes))

    def train_step(self) -> np.ndarray:
        """One G update after d_steps D updates. Returns the step's metrics (len(METRICS),)."""
        self.G.train()
        b = self.config.batch_size
        for _ in range(self.d_steps):
            real, y = self._real_batch()
            z_d = self._noise(b)
            with torch.no_grad():
                fake = self._generate(z_d, None if self.config.gan.clustered else y)  # same classes as the reals
            s_real, s_fake = self._critic(real, y), self._critic(fake, self._fake_codes(z_d, y))  # (B,), (B,)
            d_loss = self.loss.d_loss(s_real, s_fake)
            if self.config.gan.info_coded:  # Q learns to tell the codes apart
                d_loss = d_loss + self.config.code_weight * self._code_loss(fake, z_d)
            if self.loss.gradient_penalty:
                alpha_gen = self.rng if self.device.type == "cpu" else None
                d_loss = d_loss + self.loss.gradient_penalty * gradient_penalty(
                    lambda x: self._critic(x, y), real, fake, alpha_gen)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            gn_d = grad_norm(self.D.parameters())
            self._ensure_finite(d_loss, gn_d, "D")
            self.opt_d.step()
        z, y = self._noise(b), self._classes(b)
        gen = self._generate(z, y)
        s_gen = self._critic(gen, self._fake_codes(z, y))
        g_loss = self.loss.g_loss(s_gen)
        if self.config.gan.info_coded:  # G draws each code so that Q can tell it
            code_loss = self._code_loss(gen, z)
            self.last_code_loss = float(code_loss.detach())
            g_loss = g_loss + self.config.code_weight * code_loss
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        gn_g = grad_norm(self.G.parameters())
        self._ensure_finite(g_loss, gn_g, "G")
        self.opt_g.step()
        self._update_ema()
        self.D.zero_grad(set_to_none=True)  # D's grads from the G step are not D's own
        with torch.no_grad():
            sr, sf = s_real.detach(), s_fake.detach()
            if self.loss.probability_scores:
                d_real, d_fake = torch.sigmoid(sr).mean(), torch.sigmoid(sf).mean()
            else:
                d_real, d_fake = sr.mean(), sf.mean()
            threshold = 0.5 * (sr.mean() + sf.mean())
            d_acc = 0.5 * ((sr > threshold).float().mean() + (sf < threshold).float().mean())
            row = torch.stack([g_loss.detach(), d_loss.detach(), d_real, d_fake, gn_g, gn_d, d_acc]).cpu().numpy()
        self.step += 1
        self.metrics.extend(row[None])
        if self.step % self.snapshot_every == 0:
            self.take_snapshot()
        return row

    @torch.no_grad()
    def _update_ema(self) -> None:
        """G_ema <- decay * G_ema + (1 - decay) * G (decay ramps up over the first steps); BatchNorm statistics copied."""
        if self.G_ema is None:
            return
        decay = min(self.config.g_ema, (1 + self.step) / (10 + self.step))
        for e, p in zip(self.G_ema.parameters(), self.G.parameters()):
            e.lerp_(p, 1.0 - decay)
        for e, b in zip(self.G_ema.buffers(), self.G.buffers()):
            e.copy_(b)

    def _ensure_finite(self, loss: torch.Tensor, norm: torch.Tensor, who: str) -> None:
        if bool(torch.isfinite(loss)) and bool(torch.isfinite(norm)):
            return
        bad = self.step + 1
        self.restore_snapshot()
        raise NonFiniteError(
            f"{who}'s loss or gradient became NaN/Inf at step {bad}: training paused and went back to the last "
            f"good state (step {self.step}). Lower the learning rates, then resume.")

    # ---- samples and diversity
    @torch.no_grad()
    def sample(self, z: torch.Tensor | None = None, y: torch.Tensor | None = None) -> torch.Tensor:
        """Generator output in eval mode (BatchNorm running statistics): (B, C, S, S) in [-1, 1].
        z None: the fixed noise (and fixed classes); y: (B,) classes, needed by a conditional run."""
        if z is None:
            z, y = self.fixed_z, self.fixed_y
        if self.conditional and y is None:
            raise UserFacingError("A class-conditional generator needs a class for each noise vector.")
        g = self.G_ema if self.G_ema is not None else self.G
        training = g.training
        g.eval()
        y = None if y is None else y.to(self.device)
        out = (g(z.to(self.device)) if y is None else g(z.to(self.device), y)).cpu()
        g.train(training)
        return out

    def make_samples(self) -> tuple[np.ndarray, float]:
        """The fixed-noise grid (H, W, 3) uint8 and the diversity ratio; both recorded in the history."""
        samples = self.sample()
        ratio = diversity_ratio(samples, to_model_range(self.real_batch))
        self.last_samples = to_uint8_hwc(samples)  # (K, S, S, 3)
        grid = make_grid(self.last_samples)
        self.grids.add(self.step, grid)
        self.diversity.extend(np.array([[self.step, ratio]], np.float32))
        return grid, ratio

    def real_grid(self) -> np.ndarray:
        return make_grid(to_uint8_hwc(to_model_range(self.real_batch)))

    # ---- last good state
    def _state(self) -> dict:
        return {
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "G_ema": None if self.G_ema is None else self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "rng": self.rng.get_state(), "n_metrics": len(self.metrics), "n_div": len(self.diversity),
        }

    def take_snapshot(self) -> None:
        if self._snapshot is not None and not self.all_finite():
            return  # the last good state must be finite: keep the older one (else rollbacks would loop)
        self._snapshot = Snapshot(self.step, copy.deepcopy(self._state()))

    def restore_snapshot(self) -> None:
        snap = self._snapshot
        assert snap is not None
        st = copy.deepcopy(snap.state)
        self.G.load_state_dict(st["G"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(st["G_ema"])
        self.D.load_state_dict(st["D"])
        self.opt_g.load_state_dict(st["opt_g"])
        self.opt_d.load_state_dict(st["opt_d"])
        self.rng.set_state(st["rng"])
        self.metrics.truncate(st["n_metrics"])
        self.diversity.truncate(st["n_div"])
        self.grids.truncate(snap.step)
        self.coverage.truncate(int((self.coverage.view()[:, 0] <= snap.step).sum()))
        self.step = snap.step

    def all_finite(self) -> bool:
        tensors = list(self.G.state_dict().values()) + list(self.D.state_dict().values())
        if self.G_ema is not None:
            tensors += list(self.G_ema.state_dict().values())
        return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


class StepTimer:
    """Steps per second over a sliding window, and elapsed training time (paused time not counted)."""

    def __init__(self, elapsed: float = 0.0):
        self.elapsed = elapsed
        self._marks: list[tuple[float, int]] = []
        self._last = None

    def tick(self, step: int) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.elapsed += now - self._last
        self._last = now
        self._marks.append((now, step))
        while len(self._marks) > 2 and now - self._marks[0][0] > 2.0:
            self._marks.pop(0)

    def steps_per_s(self) -> float:
        if len(self._marks) < 2:
            return 0.0
        (t0, s0), (t1, s1) = self._marks[0], self._marks[-1]
        return (s1 - s0) / max(t1 - t0, 1e-9)

"""Training the small DDPM: one optimisation step, EMA, checkpoints, and the live-training job.

Used both by the command-line script (``python -m models.diffusion.train``) and by the Diffusion
tab's live training (``train_job``, run on the app's worker thread).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..jobs import JobContext, Progress
from ..shapes import SHAPE_CLASSES, sprite_arrays
from .model import DiffusionModel
from .schedule import make_schedule, q_sample
from .unet import UNet, UNetConfig


@dataclass(frozen=True)
class TrainConfig:
    # measured on the shared 2-core CPU: (16, 48, 96) trains 2x faster per step than (32, 64, 128)
    unet: UNetConfig = field(default_factory=lambda: UNetConfig(channels=(16, 48, 96), time_dim=96))
    schedule: str = "linear"
    timesteps: int = 500
    lr: float = 1e-3
    warmup_steps: int = 200
    decay_start: int = 2000  # cosine decay of the learning rate from this step ...
    decay_steps: int = 2000  # ... over this many steps, down to min_lr_ratio * lr (0: constant lr)
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.0
    batch: int = 32
    ema_decay: float = 0.999
    label_dropout: float = 0.1  # share of labels replaced by "no class": what guidance needs
    min_snr_gamma: float = 5.0  # loss weight min(SNR, gamma) / SNR (Hang et al. 2023); 0 disables
    grad_clip: float = 1.0
    dataset_size: int = 60000
    data_seed: int = 7

    def to_dict(self) -> dict:
        d = asdict(self)
        d["unet"] = self.unet.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        d["unet"] = UNetConfig.from_dict(d["unet"])
        return cls(**d)


def sprites_to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [-1, 1]."""
    return torch.as_tensor(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flips and transposes: a flipped or rotated shape is still the same class."""
    b = x.shape[0]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    tr = torch.rand(b, generator=gen) < 0.5
    return torch.where(tr[:, None, None, None], x.transpose(2, 3), x)


class Trainer:
    """Model + EMA + optimiser of the sprite DDPM, with a resumable state dict."""

    def __init__(self, config: TrainConfig, device: str = "cpu", seed: int = 0):
        self.config = config
        self.device = torch.device(device)
        torch.manual_seed(seed)
        self.model = UNet(config.unet).to(self.device)
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.schedule = make_schedule(config.schedule, config.timesteps)
        self.st = self.schedule.tensors(self.device)
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.step = 0
        self.train_seconds = 0.0

    def train_step(self, x0: torch.Tensor, labels: torch.Tensor) -> tuple[float, np.ndarray, np.ndarray]:
        """One optimisation step on a batch of clean images (B, C, H, W) in [-1, 1].
        Returns (weighted loss, per-sample unweighted MSE (B,), timesteps (B,))."""
        cfg, t0 = self.config, time.perf_counter()
        self.model.train()
        b = x0.shape[0]
        x0 = augment(x0, self.gen).to(self.device)
        t = torch.randint(0, cfg.timesteps, (b,), generator=self.gen).to(self.device)
        noise = torch.randn(x0.shape, generator=self.gen).to(self.device)
        drop = torch.rand(b, generator=self.gen) < cfg.label_dropout
        labels = torch.where(drop, torch.full_like(labels, cfg.unet.num_classes), labels).to(self.device)
        x_t = q_sample(x0, t, noise, self.st.alpha_bar)
        eps_hat = self.model(x_t, t, labels)
        mse = ((eps_hat - noise) ** 2).mean(dim=(1, 2, 3))  # (B,)
        if cfg.min_snr_gamma > 0:
            ab = self.st.alpha_bar[t]
            snr = ab / (1 - ab)
            weight = snr.clamp(max=cfg.min_snr_gamma) / snr
        else:
            weight = torch.ones_like(mse)
        loss = (weight * mse).mean()
        lr = self.learning_rate(self.step)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        self._update_ema()
        self.step += 1
        self.train_seconds += time.perf_counter() - t0
        return float(loss.detach()), mse.detach().cpu().numpy(), t.cpu().numpy()

    def learning_rate(self, step: int) -> float:
        """Linear warm-up, constant, then a cosine decay to min_lr_ratio * lr."""
        cfg = self.config
        lr = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))
        if cfg.decay_steps > 0 and step >= cfg.decay_start:
            u = min(1.0, (step - cfg.decay_start) / cfg.decay_steps)
            lr *= cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * u))
        return lr

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))  # warm-up
        for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
            pe.lerp_(pm, 1 - decay)
        for be, bm in zip(self.ema.buffers(), self.model.buffers()):
            be.copy_(bm)

    def diffusion_model(self, use_ema: bool = True) -> DiffusionModel:
        net = self.ema if use_ema else self.model
        net.eval()
        return DiffusionModel(key="diffusion/training", title="DDPM being trained", net=net,
                              schedule=self.schedule, image_size=self.config.unet.image_size,
                              channels=self.config.unet.in_channels, class_names=SHAPE_CLASSES,
                              device=str(self.device), module=net)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "ema": self.ema.state_dict(), "opt": self.opt.state_dict(),
                "step": self.step, "train_seconds": self.train_seconds, "gen": self.gen.get_state(),
                "config": self.config.to_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.step = int(state["step"])
        self.train_seconds = float(state["train_seconds"])
        self.gen.set_state(state["gen"])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(self.state_dict(), tmp)
        tmp.replace(path)

    def load(self, path: Path) -> None:
        self.load_state_dict(torch.load(path, map_location=self.device, weights_only=True))


def loss_by_quarter(mse: np.ndarray, t: np.ndarray, num_timesteps: int) -> np.ndarray:
    """Mean per-sample loss in each quarter of the timestep range (NaN where a quarter is empty). (4,)"""
    q = np.minimum(t * 4 // num_timesteps, 3)
    return np.array([mse[q == i].mean() if np.any(q == i) else np.nan for i in range(4)], np.float32)

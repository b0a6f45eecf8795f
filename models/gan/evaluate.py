"""Measuring a sprite generator: a small CNN trained on real sprites judges the generated ones.

`recognisable`: share of samples the judge gives one class probability >= 0.5 (real sprites: ~0.99).
`coverage`: the rarest predicted class's share of the samples x 6 (1.0: all six shapes equally often;
0: a shape never appears). `frechet`: Fréchet distance between judge features of samples and real
sprites (an FID computed with the judge instead of Inception; lower is better, real vs real ~ noise).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from scipy import linalg
from torch import nn

from ..shapes import NUM_CLASSES, sprite_arrays
from .data import to_model_range


CONFIDENT = 0.5
EVAL_SEED = 1234  # the fixed noise of the 1,000 judged samples (the bundled runs' training stops on them too)


class SpriteJudge(nn.Module):
    def __init__(self, channels: int = 3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, S/2, S/2)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 64, S/4, S/4)
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (B, 128)
        )
        self.head = nn.Linear(128, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return self.head(f), f


def train_judge(size: int = 32, steps: int = 1500, seed: int = 7, cache: str | Path | None = None) -> SpriteJudge:
    """The judge, trained on 6000 real sprites (one-cycle Adam); cached to `cache` when given."""
    judge = SpriteJudge()
    if cache is not None and Path(cache).is_file():
        judge.load_state_dict(load_file(str(cache)))
        return judge.eval()
    images, labels = sprite_arrays(6000, seed, size=size)
    x = to_model_range(torch.from_numpy(images).permute(0, 3, 1, 2))
    y = torch.from_numpy(labels)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(judge.parameters(), 1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    for _ in range(steps):
        idx = torch.randint(len(x), (64,))
        logits, _ = judge(x[idx])
        loss = nn.functional.cross_entropy(logits, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    judge.eval()
    if cache is not None:
        save_file(judge.state_dict(), str(cache))
    return judge


@dataclass(frozen=True)
class SpriteScores:
    recognisable: float
    coverage: float
    frechet: float
    real_recognisable: float
    real_frechet: float  # real vs other real sprites: the floor
    class_counts: tuple[int, ...] = ()  # samples per predicted class, in SHAPE_CLASSES order


def _frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    eye = 1e-6 * np.eye(a.shape[1])  # dead ReLU features make the covariances singular
    s1, s2 = np.cov(a, rowvar=False) + eye, np.cov(b, rowvar=False) + eye
    covmean = np.real(linalg.sqrtm(s1 @ s2))
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@torch.no_grad()
def score_samples(judge: SpriteJudge, samples: torch.Tensor, size: int = 32, n_real: int = 1000) -> SpriteScores:
    """samples: (N, 3, S, S) in [-1, 1]."""
    real_imgs, _ = sprite_arrays(2 * n_real, 99, size=size)
    real = to_model_range(torch.from_numpy(real_imgs).permute(0, 3, 1, 2))
    lg, fg = judge(samples)
    lr, fr = judge(real)
    pg, pr = lg.softmax(1), lr.softmax(1)
    conf = pg.max(1).values >= CONFIDENT
    counts = np.bincount(pg.argmax(1).numpy(), minlength=NUM_CLASSES)
    coverage = float(counts.min() / max(counts.sum(), 1) * NUM_CLASSES)
    return SpriteScores(
        recognisable=float(conf.float().mean()), coverage=coverage,
        frechet=_frechet(fg.numpy().astype(np.float64), fr[:n_real].numpy().astype(np.float64)),
        real_recognisable=float((pr.max(1).values >= CONFIDENT).float().mean()),
        real_frechet=_frechet(fr[n_real:].numpy().astype(np.float64), fr[:n_real].numpy().astype(np.float64)),
        class_counts=tuple(int(c) for c in counts))


def eval_inputs(trainer: GanTrainer, n: int = 1000) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The fixed noise (n, latent) of the judged samples and, for a conditional run, the classes asked
    for (n,): each class n / num_classes times."""
    z = torch.randn(n, trainer.config.gan.latent_size, generator=torch.Generator().manual_seed(EVAL_SEED))
    k = trainer.config.gan.num_classes
    return z, (torch.arange(n) % k if k else None)


def judge_run(trainer: GanTrainer, judge, n: int = 1000) -> dict:
    """The judge's figures of n samples from fixed noise: per-class shares, accepted share, judge FD, and for
    a conditional run the share of samples judged as the class asked for (overall and per class)."""
    from ..judge.model import JUDGE_CLASSES, judge_images, model_range_to_uint8
    from .coverage import coverage_report

    z, y = eval_inputs(trainer, n)
    images = model_range_to_uint8(trainer.sample(z, y))  # (n, S, S, 3)
    out = coverage_report(judge, images)
    codes = trainer.config.gan.latent_codes
    if codes:  # what each discrete code draws: the judge's class shares per code (a code may mean a shape)
        from .coverage import class_shares
        from .networks import latent_code

        verdict, code = judge_images(judge, images), latent_code(z, codes).numpy()
        out["per_code"] = {str(c): {JUDGE_CLASSES[k]: round(float(v), 3)
                                    for k, v in enumerate(class_shares(verdict.classes[code == c])) if v >= 0.005}
                           for c in range(codes)}
    if y is not None:
        verdict = judge_images(judge, images)
        hit = verdict.classes == y.numpy()
        out["as_asked"] = round(float(hit.mean()), 4)
        out["as_asked_accepted"] = round(float((hit & verdict.accepted).mean()), 4)
        out["as_asked_per_class"] = {JUDGE_CLASSES[c]: round(float(hit[y.numpy() == c].mean()), 4)
                                     for c in range(trainer.config.gan.num_classes)}
    return out


def main() -> None:
    """python -m models.gan.evaluate RUN.safetensors: the judge's scores of 1000 samples, as JSON."""
    import argparse
    import json
    from dataclasses import asdict

    from .checkpoint import load_run

    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--judge", default="runs/gan_bundled/judge.safetensors", help="cached judge (trained if missing)")
    p.add_argument("--samples", type=int, default=1000)
    args = p.parse_args()
    torch.set_num_threads(1)
    Path(args.judge).parent.mkdir(parents=True, exist_ok=True)
    judge = train_judge(cache=args.judge)
    trainer = load_run(args.run, images=torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    z, y = eval_inputs(trainer, args.samples)
    samples = trainer.sample(z, y)
    s = score_samples(judge, samples)
    out = {"run": args.run, "step": trainer.step, **asdict(s),
           "recognisable_vs_real": s.recognisable / max(s.real_recognisable, 1e-9)}
    from ..judge.model import load_judge
    # the 7-class calibrated sprite judge: per-class shares, accepted share (a shape, confidence >= 0.9), judge FD
    # (and for a conditional run the share judged as the class asked for)
    out["sprite_judge"] = judge_run(trainer, load_judge(), args.samples)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

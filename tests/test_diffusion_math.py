"""The diffusion formulas (Ho et al. 2020, Song et al. 2021) against independent computations."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.diffusion.schedule import (cosine_schedule, linear_schedule, predict_x0, q_sample,
                                       schedule_from_alpha_bar)
from models.diffusion.samplers import ddim_step, ddpm_step
from models.diffusion.training import sprites_to_tensor
from models.shapes import sprite_arrays


def _np_alpha_bar(betas):
    out, prod = [], 1.0
    for b in betas:  # a plain loop, not cumprod
        prod *= 1.0 - b
        out.append(prod)
    return np.array(out)


@pytest.mark.parametrize("make", [linear_schedule, cosine_schedule])
def test_schedule_alpha_bar_is_product_of_one_minus_beta(make):
    s = make(200)
    assert np.allclose(s.alpha_bar, _np_alpha_bar(s.betas), rtol=1e-12)
    assert np.all(np.diff(s.alpha_bar) < 0) and 0 < s.alpha_bar[-1] < 1e-2
    again = schedule_from_alpha_bar("x", s.alpha_bar)
    assert np.allclose(again.betas, s.betas, atol=1e-12)


def test_noising_matches_formula():
    s = linear_schedule(500)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(5, 3, 8, 8, generator=g) * 2 - 1
    eps = torch.randn(5, 3, 8, 8, generator=g)
    t = torch.tensor([0, 10, 100, 250, 499])
    got = q_sample(x0, t, eps, s.tensors().alpha_bar).numpy()
    for i, ti in enumerate(t.tolist()):
        ab = _np_alpha_bar(s.betas)[ti]
        want = math.sqrt(ab) * x0[i].numpy() + math.sqrt(1 - ab) * eps[i].numpy()
        assert np.allclose(got[i], want, atol=1e-5)


def test_x0_hat_inverts_noising_with_the_true_noise():
    s = cosine_schedule(300)
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1
    eps = torch.randn(4, 3, 8, 8, generator=g)
    for t in (0, 50, 200, 299):
        ab = float(s.alpha_bar[t])
        x_t = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * eps
        assert torch.allclose(predict_x0(x_t, eps, ab), x0, atol=1e-3 if t == 299 else 1e-5)


@pytest.mark.parametrize("make", [linear_schedule, cosine_schedule])
def test_fully_noised_sprites_are_standard_normal(make):
    s = make(500)
    x0 = sprites_to_tensor(sprite_arrays(256, seed=3)[0])  # (256, 3, 32, 32), far from zero mean
    t = torch.full((x0.shape[0],), s.num_steps - 1)
    x_t = q_sample(x0, t, torch.randn(x0.shape, generator=torch.Generator().manual_seed(2)), s.tensors().alpha_bar)
    assert abs(float(x0.mean())) > 0.5
    assert abs(float(x_t.mean())) < 0.01
    assert abs(float(x_t.var()) - 1.0) < 0.01


def _posterior_reference(x_t, eps, betas, t, z):
    """Ho et al. eq. 6-7 written out from the betas with numpy, independently of the code under test."""
    ab = _np_alpha_bar(betas)
    ab_t, ab_prev, beta = ab[t], (ab[t - 1] if t > 0 else 1.0), betas[t]
    x0 = (x_t - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)
    mean = beta * math.sqrt(ab_prev) / (1 - ab_t) * x0 + (1 - ab_prev) * math.sqrt(1 - beta) / (1 - ab_t) * x_t
    var = beta * (1 - ab_prev) / (1 - ab_t)
    return mean + (math.sqrt(var) * z if t > 0 else 0.0), x0


@pytest.mark.parametrize("t", [0, 1, 37, 499])
def test_ddpm_posterior_step(t):
    s = linear_schedule(500)
    g = torch.Generator().manual_seed(t)
    x_t, eps, z = (torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64) for _ in range(3))
    got, x0 = ddpm_step(x_t, eps, float(s.alpha_bar[t]), s.alpha_bar_prev(t), z if t > 0 else None, clip=False)
    want, want_x0 = _posterior_reference(x_t.numpy(), eps.numpy(), s.betas, t, z.numpy())
    assert np.allclose(got.numpy(), want, atol=1e-8)
    assert np.allclose(x0.numpy(), want_x0, atol=1e-8)


def test_ddpm_step_matches_diffusers_scheduler():
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.DDPMScheduler(num_train_timesteps=100, beta_schedule="linear", beta_start=1e-3, beta_end=0.2,
                                    clip_sample=False, variance_type="fixed_small")
    sched.set_timesteps(100)
    s = schedule_from_alpha_bar("hf", sched.alphas_cumprod.double().numpy())
    x_t, eps = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    for t in (99, 40, 1, 0):
        ref = sched.step(eps, t, x_t, generator=torch.Generator().manual_seed(5))
        z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(5))
        got, x0 = ddpm_step(x_t, eps, float(s.alpha_bar[t]), s.alpha_bar_prev(t), z if t > 0 else None, clip=False)
        assert torch.allclose(got, ref.prev_sample, atol=1e-4)
        assert torch.allclose(x0, ref.pred_original_sample, atol=1e-4)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step(eta):
    s = cosine_schedule(400)
    t, sidx = 300, 220
    ab_t, ab_s = float(s.alpha_bar[t]), float(s.alpha_bar[sidx])
    g = torch.Generator().manual_seed(9)
    x_t, eps, z = (torch.randn(3, 3, 4, 4, generator=g, dtype=torch.float64) for _ in range(3))
    got, _ = ddim_step(x_t, eps, ab_t, ab_s, eta, z, clip=False)
    x0 = (x_t - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)
    sigma = eta * math.sqrt((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s))
    want = math.sqrt(ab_s) * x0 + math.sqrt(1 - ab_s - sigma**2) * eps + sigma * z
    assert torch.allclose(got, want, atol=1e-10)


def test_ddim_eta_one_over_one_step_is_the_ddpm_step():
    s = linear_schedule(500)
    g = torch.Generator().manual_seed(4)
    x_t, eps, z = (torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64) for _ in range(3))
    for t in (1, 100, 499):
        a = ddim_step(x_t, eps, float(s.alpha_bar[t]), s.alpha_bar_prev(t), 1.0, z, clip=True)[0]
        b = ddpm_step(x_t, eps, float(s.alpha_bar[t]), s.alpha_bar_prev(t), z, clip=True)[0]
        assert torch.allclose(a, b, atol=1e-9)


def test_ddim_step_matches_diffusers_scheduler():
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False,
                                    set_alpha_to_one=True)
    sched.set_timesteps(20)
    ac = sched.alphas_cumprod.double().numpy()
    x_t, eps, noise = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    for t in sched.timesteps[:-1].tolist():
        prev = t - 1000 // 20
        for eta in (0.0, 0.7):
            ref = sched.step(eps, t, x_t, eta=eta, variance_noise=noise).prev_sample
            got, _ = ddim_step(x_t, eps, float(ac[t]), float(ac[prev]), eta, noise, clip=False)
            assert torch.allclose(got, ref, atol=1e-4)

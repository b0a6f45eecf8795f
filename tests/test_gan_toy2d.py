"""The 2-D GAN Lab mode: hand-written backprop is right, train-D-only / G-only do what they say."""
import numpy as np
import pytest

from models.errors import UserFacingError
from models.gan.control import TrainingControl
from models.gan.toy2d import ToyConfig, ToyGan, toy_job
from models.gan.toy_numpy import MLP, TOY_LOSSES
from models.jobs import JobContext, run_to_completion


def test_mlp_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    net = MLP([2, 5, 5, 1], rng)
    x = rng.normal(size=(4, 2))
    w = rng.normal(size=(4, 1))
    out, cache = net.forward(x)
    grad, dx = net.backward(w, cache)
    eps = 1e-6
    for i in rng.choice(len(net.flat), 6, replace=False):
        old = net.flat[i]
        net.flat[i] = old + eps
        up = float((net(x) * w).sum())
        net.flat[i] = old - eps
        down = float((net(x) * w).sum())
        net.flat[i] = old
        assert grad[i] == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-7)
    x2 = x.copy()
    x2[1, 0] += eps
    assert dx[1, 0] == pytest.approx(float(((net(x2) - out) * w).sum()) / eps, rel=1e-3, abs=1e-5)


@pytest.mark.parametrize("loss", sorted(TOY_LOSSES))
def test_loss_gradients_match_finite_differences(loss):
    rng = np.random.default_rng(1)
    r, f = rng.normal(size=(6, 1)), rng.normal(size=(6, 1))
    value, dr, df = TOY_LOSSES[loss].d(r, f)
    eps = 1e-6
    r2 = r.copy()
    r2[2] += eps
    assert dr[2, 0] == pytest.approx((TOY_LOSSES[loss].d(r2, f)[0] - value) / eps, rel=1e-3, abs=1e-5)
    g_value, dg = TOY_LOSSES[loss].g(f)
    f2 = f.copy()
    f2[3] += eps
    assert dg[3, 0] == pytest.approx((TOY_LOSSES[loss].g(f2)[0] - g_value) / eps, rel=1e-3, abs=1e-5)


def test_train_d_only_leaves_g_alone_and_vice_versa():
    toy = ToyGan(ToyConfig())
    g0, d0 = toy.G.flat.copy(), toy.D.flat.copy()
    for _ in range(5):
        toy.step(train_d=True, train_g=False)
    assert np.array_equal(toy.G.flat, g0) and not np.array_equal(toy.D.flat, d0)
    d1 = toy.D.flat.copy()
    for _ in range(5):
        toy.step(train_d=False, train_g=True)
    assert np.array_equal(toy.D.flat, d1) and not np.array_equal(toy.G.flat, g0)


def test_training_pulls_generated_points_toward_the_ring():
    toy = ToyGan(ToyConfig(data="ring", seed=3))
    radius = lambda pts: np.abs(np.linalg.norm(pts, axis=1) - 1.6).mean()  # noqa: E731
    before = radius(toy.frame().fake)
    for _ in range(1500):
        toy.step()
    assert radius(toy.frame().fake) < 0.6 * before


def test_frame_has_what_the_view_draws():
    toy = ToyGan(ToyConfig(data="moons", heat_res=20, n_fake=50))
    f = toy.frame()
    assert f.real.shape == (1024, 2) and f.fake.shape == (50, 2) and f.arrows.shape == (50, 2)
    assert f.heatmap.shape == (20, 20) and 0 <= f.heatmap.min() and f.heatmap.max() <= 1


def test_drawn_points_need_at_least_three():
    with pytest.raises(UserFacingError, match="at least 3"):
        ToyGan(ToyConfig(data="drawn", drawn=((0.0, 0.0),)))
    toy = ToyGan(ToyConfig(data="drawn", drawn=((0.0, 0.0), (1.0, 1.0), (-1.0, 1.0))))
    assert np.abs(toy.real).max() < 1.5


def test_toy_job_runs_until_paused_or_the_iteration_budget():
    toy = ToyGan(ToyConfig())
    end, frames = run_to_completion(toy_job, toy, TrainingControl(), "both", 0.0, 25)
    assert end == 25 and frames[-1].iteration == 25
    control = TrainingControl()
    gen = toy_job(JobContext(), toy, control, frame_interval_s=0.0)
    next(gen)
    next(gen)
    control.request_pause()
    with pytest.raises(StopIteration):
        for _ in range(5):
            next(gen)
    frozen = toy.iteration
    assert frozen > 25 and len(toy.losses) == frozen

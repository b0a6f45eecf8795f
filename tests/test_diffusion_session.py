"""The Diffusion tab's session without a display: the forward view's x_t and schedules, and how a streamed
sampling run becomes scrubber positions, labels and grids."""
from __future__ import annotations

import math

import numpy as np
import pytest

from app.diffusion_session import (FORWARD_T_RANGE, ForwardSession, ForwardSettings, ReverseSession, ReverseSettings,
                                   fit_grid)
from models.diffusion.results import ModelInfo, SamplingPartial, SamplingResult, Trajectory, step_text
from models.diffusion.schedule import SCHEDULES, forward_noising, make_schedule


# ---- forward process -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_every_T_the_control_allows_gives_a_valid_schedule_and_x_t(name):
    """Linear betas scaled by 1000 / T passed 1 for T <= 19 (alpha_bar negative: 'math domain error')
    and T = 20 gave alpha_bar exactly 0."""
    x0 = np.linspace(-1, 1, 12, dtype=np.float32).reshape(2, 2, 3)
    noise = np.random.default_rng(0).standard_normal(x0.shape).astype(np.float32)
    lo, hi = FORWARD_T_RANGE
    for T in range(lo, hi + 1):
        s = make_schedule(name, T)
        assert s.num_steps == T
        assert np.all(s.betas > 0) and np.all(s.betas < 1), T
        ab = s.alpha_bar
        assert np.all(ab > 0) and np.all(np.diff(ab) < 0), T
        assert np.all(np.isfinite(s.snr)), T
        for t in (0, 1, T // 2, T):
            assert np.all(np.isfinite(forward_noising(x0, noise, s, t))), (T, t)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_forward_view_at_the_smallest_and_largest_T(name):
    image = np.random.default_rng(0).integers(0, 256, (6, 5, 3), np.uint8)
    fwd = ForwardSession()
    fwd.configure(ForwardSettings(name, FORWARD_T_RANGE[0]), image)
    for T in (*range(FORWARD_T_RANGE[0], 41), FORWARD_T_RANGE[1]):
        view = fwd.configure(ForwardSettings(name, T))
        assert len(view.labels) == T + 1 and np.all(view.snr > 0)
        for pos in range(T + 1) if T < 100 else (1, T // 2, T):
            frame = fwd.frame(pos)
            assert frame.x_t.shape == (6, 5, 3) and "nan" not in frame.readout
    with pytest.raises(ValueError):
        fwd.configure(ForwardSettings(name, FORWARD_T_RANGE[0] - 1))


def _expected_x_t(image: np.ndarray, seed: int, betas: np.ndarray, t: int) -> np.ndarray:
    """Ho et al. eq. 4 written out independently: alpha_bar by a plain loop, x_t in float64."""
    ab = 1.0
    for b in betas[:t]:
        ab *= 1.0 - b
    x0 = image.astype(np.float64) / 127.5 - 1.0
    eps = np.random.default_rng(seed).standard_normal(image.shape).astype(np.float32).astype(np.float64)
    x_t = math.sqrt(ab) * x0 + math.sqrt(1.0 - ab) * eps
    return np.clip((x_t + 1.0) * 127.5, 0, 255), ab


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_forward_x_t_is_the_closed_form_to_one_grey_level(name):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (40, 60, 3), np.uint8)  # no resize below 256 px: x_0 is the image itself
    fwd = ForwardSession()
    fwd.configure(ForwardSettings(name, 200, 256, seed=7), image)
    for t in (0, 1, 30, 100, 150, 200):
        want, ab = _expected_x_t(image, 7, fwd.schedule.betas, t)
        got = fwd.frame(t).x_t.astype(np.float64)
        assert np.abs(got - want).max() <= 1.0, (t, np.abs(got - want).max())
    # the tolerance separates the formula from a wrong square root (alpha_bar instead of its root)
    want, ab = _expected_x_t(image, 7, fwd.schedule.betas, 100)
    eps = np.random.default_rng(7).standard_normal(image.shape)
    wrong = np.clip((ab * (image / 127.5 - 1) + math.sqrt(1 - ab) * eps + 1) * 127.5, 0, 255)
    assert np.abs(wrong - want).max() > 20


# ---- reverse process -------------------------------------------------------------------------------
S, B = 6, 12
CLASSES = ("a", "b", "c")


def _trajectory(labels=True) -> Trajectory:
    """Preallocated like the sampler's (zeros = not computed yet)."""
    shape = (B, 4, 4, 3)
    return Trajectory(timesteps=np.array([450, 360, 270, 180, 90, 0]), x_t=np.zeros((S + 1, *shape), np.uint8),
                      eps_hat=np.zeros((S, *shape), np.uint8), x0_hat=np.zeros((S, *shape), np.uint8),
                      labels=np.arange(B) % 3 if labels else None, class_names=CLASSES, sampler="ddim", guidance=2.5)


def _fill(tr: Trajectory, steps_done: int) -> None:
    """What the sampler has written after steps_done steps: x_t[0..steps_done], predictions [0..steps_done-1]."""
    for p in range(steps_done + 1):
        tr.x_t[p] = 10 + p
    for k in range(steps_done):
        tr.eps_hat[k] = 100 + k
        tr.x0_hat[k] = 200 + k


def _tiles(grid: np.ndarray, n: int = B) -> np.ndarray:
    """The (n,) first pixel of each 4 x 4 tile (gap 1) of a grid."""
    rows, cols = (grid.shape[0] + 1) // 5, (grid.shape[1] + 1) // 5
    return np.array([grid[r * 5, c * 5, 0] for r in range(rows) for c in range(cols)])


def test_every_shown_position_has_all_three_images_computed():
    """The newest step of a running sampler showed black x0_hat and eps_hat (not computed yet)."""
    rev = ReverseSession()
    tr = _trajectory()
    for done in range(1, S + 1):
        _fill(tr, done)
        view = rev.on_partial(SamplingPartial(tr, done))
        assert view.new_run == (done == 1)
        assert view.available == (done if done < S else S + 1)
        for p in range(view.available):
            f = rev.frame(p)
            assert f.position == p
            k = min(p, S - 1)
            assert set(_tiles(f.x_t)) == {10 + p}
            assert set(_tiles(f.x0_hat)) == {200 + k} and set(_tiles(f.eps_hat)) == {100 + k}, (done, p)
    result = rev.on_result(SamplingResult(tr, tr.x_t[-1], 1.5))
    assert result.finished and result.available == S + 1 and not result.new_run
    last = rev.frame(S)
    assert set(_tiles(last.x0_hat)) == {200 + S - 1} and set(_tiles(last.eps_hat)) == {100 + S - 1}


def test_labels_name_steps_as_the_status_bar_does():
    rev = ReverseSession()
    tr = _trajectory()
    _fill(tr, 2)
    view = rev.on_partial(SamplingPartial(tr, 2))
    assert view.labels[view.available - 1] == step_text(2, S, 360) == "step 2/6 (t = 360)"
    assert view.labels[0] == "step 1/6 (t = 450)" and len(view.labels) == S + 1
    assert "finished" in view.labels[S]


def test_request_from_plain_settings():
    rev = ReverseSession()
    rev.set_model(ModelInfo("m", CLASSES, 500, 32, "linear"))
    req = rev.request(ReverseSettings(sampler="ddpm", steps=9, eta=0.3, seed=4, batch=5, class_index=None,
                                      guidance=3.14159))
    assert (req.sampler, req.steps, req.eta, req.seed, req.batch) == ("ddpm", 9, 0.3, 4, 5)
    assert req.class_ids == (0, 1, 2) and req.guidance == 3.14
    assert rev.request(ReverseSettings(class_index=2)).class_ids == (2,)
    rev.set_model(ModelInfo("u", (), 1000, 32, "linear"))
    assert rev.request(ReverseSettings(class_index=None)).class_ids is None


@pytest.mark.parametrize("aspect", [0.6, 3.0])
def test_classes_in_turn_get_a_row_or_a_column_each_whichever_fills_the_panel(aspect):
    rev = ReverseSession()
    rev.set_panel_aspect(aspect)
    tr = _trajectory()
    for i in range(B):  # tile i drawn in the grey level of its class
        tr.x_t[0, i] = 50 * (1 + tr.labels[i])
    rev.on_partial(SamplingPartial(tr, 1))
    grid = rev.frame(0).x_t
    rows, cols = (grid.shape[0] + 1) // 5, (grid.shape[1] + 1) // 5
    levels = np.array([[grid[r * 5, c * 5, 0] for c in range(cols)] for r in range(rows)])
    if aspect < 1:  # tall panel: one column per class (4 rows of 3)
        assert levels.shape == (4, 3) and all(len(set(col)) == 1 for col in levels.T)
        assert "Columns, left to right: a, b, c" in rev.on_result(SamplingResult(tr, tr.x_t[-1], 1)).info
    else:  # wide panel: one row per class (3 rows of 4)
        assert levels.shape == (3, 4) and all(len(set(row)) == 1 for row in levels)
        assert "Rows, top to bottom: a, b, c" in rev.on_result(SamplingResult(tr, tr.x_t[-1], 1)).info


def test_fit_grid_fills_the_panel():
    def fill(batch, groups, aspect):
        n, by_rows = fit_grid(batch, groups, aspect)
        rows, cols = (n, -(-batch // n)) if by_rows else (-(-batch // n), n)
        tile = min(aspect / cols, 1 / rows)
        return batch * tile * tile / aspect

    assert fill(18, 6, 436 / 510) > 0.55  # the screenshot's panels; one column per class filled 0.43
    assert fill(16, 1, 1.0) == 1.0
    assert fill(16, 1, 4.0) >= 0.5

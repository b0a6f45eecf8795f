"""Latent-space paths (issue 15 item 4): linear and spherical interpolation, random-direction walk."""
import pytest
import torch

from models.gan.latent import class_sweep, interpolate, random_direction, walk


def _pair(dim=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(dim, generator=g), torch.randn(dim, generator=g)


@pytest.mark.parametrize("mode", ["linear", "spherical"])
def test_interpolation_starts_and_ends_at_the_chosen_vectors(mode):
    z0, z1 = _pair()
    path = interpolate(z0, z1, 10, mode)
    assert path.shape == (10, 128)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)


def test_linear_midpoint_is_the_average():
    z0, z1 = _pair()
    path = interpolate(z0, z1, 3, "linear")
    assert torch.allclose(path[1], (z0 + z1) / 2, atol=1e-6)


def test_spherical_keeps_the_length_of_typical_noise_where_linear_shrinks_it():
    z0, z1 = _pair(dim=512)
    lin = interpolate(z0, z1, 9, "linear").norm(dim=1)
    sph = interpolate(z0, z1, 9, "spherical").norm(dim=1)
    ends = torch.linspace(float(z0.norm()), float(z1.norm()), 9)
    assert torch.allclose(sph, ends, rtol=1e-4)  # length moves linearly between the ends' lengths
    assert float(lin[4]) < 0.8 * float(ends[4])  # two independent vectors: the chord's middle is ~0.71 x as long


def test_spherical_steps_are_evenly_spaced_in_angle():
    z0, z1 = _pair(dim=64, seed=3)
    path = interpolate(z0, z1, 6, "spherical").double()
    u = path / path.norm(dim=1, keepdim=True)
    angles = torch.arccos((u[:-1] * u[1:]).sum(1).clamp(-1, 1))
    assert torch.allclose(angles, angles.mean().expand_as(angles), rtol=1e-4)


def test_spherical_of_parallel_vectors_falls_back_to_linear():
    z0, _ = _pair()
    path = interpolate(z0, 2 * z0, 5, "spherical")
    assert torch.allclose(path, interpolate(z0, 2 * z0, 5, "linear"), atol=1e-5)
    assert torch.isfinite(interpolate(torch.zeros(8), torch.ones(8), 4, "spherical")).all()


def test_interpolation_accepts_generator_shaped_noise_and_refuses_bad_requests():
    z0, z1 = torch.randn(1, 16, 1, 1), torch.randn(1, 16, 1, 1)
    assert interpolate(z0, z1, 8).shape == (8, 16)
    with pytest.raises(ValueError):
        interpolate(z0, z1, 8, "cubic")
    with pytest.raises(ValueError):
        interpolate(z0, z1, 1)
    with pytest.raises(ValueError):
        interpolate(torch.randn(16), torch.randn(17), 8)


def test_random_direction_is_a_seeded_unit_vector():
    d = random_direction(100, seed=5)
    assert d.shape == (100,) and abs(float(d.norm()) - 1) < 1e-5
    assert torch.equal(d, random_direction(100, seed=5))
    assert not torch.equal(d, random_direction(100, seed=6))


def test_walk_moves_along_the_direction_by_the_given_distance():
    z = torch.randn(32)
    d = random_direction(32, seed=1)
    out = walk(z, d, [-2.0, 0.0, 1.5])
    assert out.shape == (3, 32)
    assert torch.allclose(out[1], z)
    assert torch.allclose((out - z).norm(dim=1), torch.tensor([2.0, 0.0, 1.5]), atol=1e-5)
    assert torch.allclose((out[2] - z) @ d, torch.tensor(1.5), atol=1e-5)


def test_class_sweep_pairs_one_noise_vector_with_every_class():
    z = torch.randn(16)
    zs, labels = class_sweep(z, 6)
    assert zs.shape == (6, 16) and labels.tolist() == list(range(6))
    assert all(torch.equal(row, z) for row in zs)

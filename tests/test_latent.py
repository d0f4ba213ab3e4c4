import pytest
import torch

from gan_core.models.latent import (arithmetic, generate, interpolation_path, label_path, lerp, same_z_other_tags,
                             sample_z, slerp)


def test_sample_z_is_seeded():
    assert torch.equal(sample_z(4, 8, seed=3), sample_z(4, 8, seed=3))
    assert not torch.equal(sample_z(4, 8, seed=3), sample_z(4, 8, seed=4))
    g = torch.Generator().manual_seed(3)
    assert torch.equal(sample_z(4, 8, generator=g), sample_z(4, 8, seed=3))


def test_lerp_slerp_endpoints_and_norm():
    z1, z2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(lerp(z1, z2, 0.5), torch.tensor([0.5, 0.5]))
    mid = slerp(z1, z2, 0.5)
    assert torch.allclose(mid, torch.tensor([2 ** -0.5, 2 ** -0.5]), atol=1e-6)  # stays on the unit circle
    assert torch.allclose(slerp(z1, z2, 0.0), z1, atol=1e-6) and torch.allclose(slerp(z1, z2, 1.0), z2, atol=1e-6)
    assert torch.allclose(slerp(z1, 2 * z1, 0.5), 1.5 * z1)  # parallel -> lerp


def test_paths_and_arithmetic():
    z1, z2 = sample_z(2, 16, seed=0)
    p = interpolation_path(z1, z2, 8, "slerp")
    assert p.shape == (8, 16) and torch.allclose(p[0], z1, atol=1e-5) and torch.allclose(p[-1], z2, atol=1e-5)
    with pytest.raises(ValueError):
        interpolation_path(z1, z2, 1)
    assert torch.allclose(arithmetic(z1, z2, z1), 2 * z1 - z2)
    lp = label_path(torch.tensor([1, 2]), torch.tensor([3, 4]), 4)
    assert lp.tolist() == [[1, 2], [1, 2], [3, 4], [3, 4]]


def test_same_z_other_tags_and_generate():
    z = sample_z(2, 3, seed=0)
    zz, y = same_z_other_tags(z, base=[5, 7], group=0, num_classes=4)
    assert zz.shape == (8, 3) and torch.equal(zz[0], zz[3]) and torch.equal(zz[4], z[1])
    assert y[:, 0].tolist() == [0, 1, 2, 3, 0, 1, 2, 3] and set(y[:, 1].tolist()) == {7}
    G = torch.nn.Sequential(torch.nn.Linear(3, 2))
    G.forward = lambda z, y=None, _f=G.forward: _f(z)
    out = generate(G, torch.randn(5, 3), batch_size=2)
    assert out.shape == (5, 2)

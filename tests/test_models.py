import pytest
import torch

from gan_core.config import ModelConfig
from gan_core.models import ARCHITECTURES, DataSpec, build_models


def _labels(n, spec):
    return torch.stack([torch.randint(0, c, (n,)) for c in spec.num_classes], 1) if spec.num_classes else None


# z-to-image archs (pix2pix maps images to images: tests/test_pix2pix.py)
@pytest.mark.parametrize("arch", [a for a in ARCHITECTURES if a != "mlp" and not ARCHITECTURES[a].paired])
@pytest.mark.parametrize("size,channels", [(16, 1), (32, 3), (64, 3)])
def test_image_archs_shapes(arch, size, channels):
    spec = DataSpec("image", channels, size, (12, 11), ("hair", "eye"))
    cfg = ModelConfig(arch=arch, z_dim=8, g_width=8, d_width=8, res_blocks=1)
    G, D = build_models(cfg, spec)
    y = _labels(3, spec)
    x = G(torch.randn(3, 8), y)
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    adv, aux = D(x, y)
    assert adv.shape == (3,)
    if ARCHITECTURES[arch].conditioning == "acgan":
        assert [a.shape for a in aux] == [(3, 12), (3, 11)]
    elif ARCHITECTURES[arch].conditioning == "tacgan":  # real-tag heads, then twin (fake-tag) heads
        assert [a.shape for a in aux] == [(3, 12), (3, 11), (3, 12), (3, 11)]
    else:
        assert aux == []


def test_mlp_and_conditional_needs_labels():
    spec = DataSpec("points", 0, 0)
    G, D = build_models(ModelConfig(arch="mlp", z_dim=4, mlp_hidden=16), spec)
    assert G(torch.randn(5, 4)).shape == (5, 2) and D(torch.randn(5, 2))[0].shape == (5,)
    with pytest.raises(ValueError, match="conditional but the dataset has no labels"):
        build_models(ModelConfig(arch="acgan"), DataSpec("image", 3, 32))


def test_dcgan_structure_and_init():
    spec = DataSpec("image", 3, 64)
    G, D = build_models(ModelConfig(arch="dcgan"), spec)
    kinds = [type(m).__name__ for m in G.net]
    assert kinds[:3] == ["ConvTranspose2d", "BatchNorm2d", "ReLU"] and kinds[-1] == "Tanh"
    assert [type(m).__name__ for m in D.features][:2] == ["Conv2d", "LeakyReLU"]
    assert D.features[1].negative_slope == 0.2
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.001


def test_gradient_penalty_loss_drops_batchnorm_and_spectral_norm_applies():
    spec = DataSpec("image", 3, 32)
    _, D = build_models(ModelConfig(arch="dcgan"), spec, gradient_penalty=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    _, D = build_models(ModelConfig(arch="dcgan", spectral_norm=True), spec)
    assert any(hasattr(m, "parametrizations") for m in D.modules())


def test_g_dropout_at_test_time():
    spec = DataSpec("image", 1, 16)
    z = torch.randn(2, 8)
    G, _ = build_models(ModelConfig(arch="dcgan", z_dim=8, g_width=8, g_dropout=0.5, dropout_at_test=True), spec)
    G.eval()
    assert not torch.equal(G(z), G(z))  # dropout still active -> stochastic samples
    G2, _ = build_models(ModelConfig(arch="dcgan", z_dim=8, g_width=8, g_dropout=0.5), spec)
    G2.eval()
    assert torch.equal(G2(z), G2(z))


@pytest.mark.parametrize("g_cond", ["cbn", "both"])
def test_conditional_batchnorm_generator_uses_tags_and_z(g_cond):
    spec = DataSpec("image", 3, 32, (12, 11), ("hair", "eye"))
    G, _ = build_models(ModelConfig(arch="cgan", z_dim=8, g_width=8, g_cond=g_cond), spec)
    assert any(type(m).__name__ == "ConditionalBatchNorm2d" for m in G.modules())
    G.eval()
    z = torch.randn(4, 8)
    y = torch.tensor([[0, 0], [1, 1], [0, 0], [1, 1]])
    with torch.no_grad():
        # train a little so the tag-dependent gains move away from their init
        for m in G.modules():
            if type(m).__name__ == "ConditionalBatchNorm2d":
                torch.nn.init.normal_(m.gain.weight, 0, 0.5)
        a, b = G(z, y), G(z, y.flip(0))
    assert a.shape == (4, 3, 32, 32)
    assert not torch.allclose(a, b)                       # other tags, same z: another image
    assert not torch.allclose(a[0], a[2])                 # same tags, other z: another image
    with pytest.raises(ValueError, match="pass labels"):
        G(z)


def test_g_cond_other_than_concat_needs_the_dcgan_generator():
    spec = DataSpec("image", 3, 32, (12, 11), ("hair", "eye"))
    with pytest.raises(ValueError, match="only built for the DCGAN generator"):
        build_models(ModelConfig(arch="srresnet-acgan", g_cond="cbn", res_blocks=1), spec)

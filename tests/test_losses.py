"""Loss formulas against values worked out by hand for fixed logits."""
import math

import pytest
import torch

from gan_core.config import LossConfig
from gan_core.losses import (LOSSES, aux_loss, d_bce, d_hinge, d_lsgan, d_wasserstein, dragan_penalty, g_lsgan,
                             g_minimax, g_nonsaturating, g_wasserstein, get_loss, gradient_penalty, make_targets)

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -1.5])
ONES, ZEROS = torch.ones(2), torch.zeros(2)


def close(t, v):
    return math.isclose(float(t.detach()), v, rel_tol=1e-6, abs_tol=1e-6)


def test_hand_computed_values():
    # softplus(-2)=0.126928, softplus(1)=1.313262 -> mean 0.720095; softplus(0.5)=0.974077, softplus(-1.5)=0.201413
    assert close(d_bce(REAL, FAKE, ONES, ZEROS), 1.307839980362027)
    assert close(g_minimax(FAKE), -0.5877451310814296)
    assert close(g_nonsaturating(FAKE), 1.0877451310814297)
    # 0.5 * mean((2-1)^2, (-1-1)^2) + 0.5 * mean(0.5^2, 1.5^2) = 1.25 + 0.625
    assert close(d_lsgan(REAL, FAKE, ONES, ZEROS), 1.875)
    assert close(g_lsgan(FAKE, 1.0), 1.625)
    assert close(d_wasserstein(REAL, FAKE), -1.0)
    assert close(g_wasserstein(FAKE), 0.5)
    # mean(relu(1-2), relu(1+1)) + mean(relu(1.5), relu(-0.5)) = 1 + 0.75
    assert close(d_hinge(REAL, FAKE), 1.75)


def test_registry_forms_match_functions():
    cfg = LossConfig()
    rt, ft = ONES, ZEROS
    assert close(LOSSES["minimax"].g_loss(FAKE, cfg), -0.5877451310814296)
    assert close(LOSSES["ns"].g_loss(FAKE, cfg), 1.0877451310814297)
    assert close(LOSSES["lsgan"].d_loss(REAL, FAKE, rt, ft), 1.875)
    assert close(LOSSES["wgan-clip"].d_loss(REAL, FAKE, rt, ft), -1.0)
    assert close(LOSSES["wgan-gp"].g_loss(FAKE, cfg), 0.5)
    assert close(LOSSES["hinge"].d_loss(REAL, FAKE, rt, ft), 1.75)
    # behaviour, not flags: the penalty is a callable, the constraint clamps D's weights
    steep = lambda x, y: (3.0 * x.sum(1), [])  # noqa: E731  |grad| = 3 * sqrt(D) = 3 for D = 1
    real, fake = torch.randn(4, 1), torch.randn(4, 1)
    assert close(LOSSES["wgan-gp"].penalty(steep, real, fake, None, cfg), 4.0)   # (3 - 1)^2
    assert close(LOSSES["dragan"].penalty(steep, real, fake, None, cfg), 4.0)
    assert LOSSES["ns"].penalty is None and LOSSES["wgan-gp"].penalty_weight(cfg) == cfg.gp_lambda
    lin = torch.nn.Linear(3, 1)
    with torch.no_grad():
        lin.weight.fill_(5.0)
    LOSSES["wgan-clip"].d_constraint(lin, cfg)
    assert close(lin.weight.abs().max(), cfg.clip_value)
    assert [n for n, s in LOSSES.items() if s.d_outputs_probs] == ["minimax", "ns", "dragan"]
    assert "clip_value" in LOSSES["wgan-clip"].fields and "dragan_c" in LOSSES["dragan"].fields
    assert "real_label" not in LOSSES["hinge"].fields and "lsgan_c" in LOSSES["lsgan"].fields
    assert close(LOSSES["ns"].output_summary(torch.zeros(3)), 0.5)
    assert close(LOSSES["hinge"].output_summary(torch.full((3,), 2.0)), 2.0)
    assert LOSSES["wgan-clip"].recommended == {"optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "n_critic": 5}
    assert set(LOSSES) == {"minimax", "ns", "lsgan", "wgan-clip", "wgan-gp", "dragan", "hinge"}
    for spec in LOSSES.values():
        assert spec.title and len(spec.curve_help) > 40


def test_soft_labels_and_lsgan_targets():
    cfg = LossConfig(real_label=0.9)
    rt, ft = make_targets(get_loss("ns"), cfg, 2, torch.device("cpu"))
    assert torch.allclose(rt, torch.full((2,), 0.9)) and torch.allclose(ft, ZEROS)
    # BCE with target 0.9: 0.9*softplus(-x) + 0.1*softplus(x) on real
    assert close(d_bce(REAL, FAKE, rt, ft), 1.3578399803620274)
    # LSGAN: soft label 0.9 maps onto [a, b] = [-1, 1] -> 0.8
    rt, ft = make_targets(get_loss("lsgan"), LossConfig(real_label=0.9, lsgan_a=-1.0, lsgan_b=1.0), 2,
                          torch.device("cpu"))
    assert torch.allclose(rt, torch.full((2,), 0.8)) and torch.allclose(ft, torch.full((2,), -1.0))


def test_label_noise_swaps_targets_with_probability():
    g = torch.Generator().manual_seed(0)
    rt, ft = make_targets(get_loss("ns"), LossConfig(label_noise=0.25), 20000, torch.device("cpu"), g)
    flipped = (rt == 0.0)
    assert torch.equal(flipped, ft == 1.0)  # swapped pairs
    assert 0.23 < flipped.float().mean().item() < 0.27


def test_gradient_penalty_is_zero_for_unit_gradient_and_positive_otherwise():
    w = torch.zeros(1, 4)
    w[0, 0] = 1.0  # D(x) = x0 has gradient norm exactly 1 everywhere
    lin = lambda x, y=None: ((x.flatten(1) * w).sum(1), [])
    real, fake = torch.randn(8, 4), torch.randn(8, 4)
    assert float(gradient_penalty(lin, real, fake)) < 1e-10
    steep = lambda x, y=None: ((x.flatten(1) * 3 * w).sum(1), [])
    assert close(gradient_penalty(steep, real, fake), 4.0)  # (3 - 1)^2
    assert close(dragan_penalty(steep, real, c=0.5, generator=torch.Generator().manual_seed(0)), 4.0)


def test_gradient_penalty_backpropagates_to_d():
    D = torch.nn.Linear(4, 1)
    f = lambda x, y=None: (D(x).squeeze(1) ** 2, [])
    pen = gradient_penalty(f, torch.randn(8, 4), torch.randn(8, 4), generator=torch.Generator().manual_seed(1))
    pen.backward()
    assert D.weight.grad is not None and D.weight.grad.abs().sum() > 0


def test_aux_loss_sums_cross_entropy_per_group():
    logits = [torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 0.0, 0.0]])]
    labels = torch.tensor([[0, 1]])
    expected = math.log(1 + math.exp(-2.0)) + math.log(3.0)
    assert close(aux_loss(logits, labels), expected)


def test_unknown_loss_name():
    with pytest.raises(ValueError, match="unknown loss 'nope'"):
        get_loss("nope")


def test_penalty_with_a_loss_scale_scales_the_grad_outputs_and_unscales_the_gradients(monkeypatch):
    # AMP recipe: autograd.grad gets the output times the scale; the penalty is formed from grads / scale
    w = torch.zeros(1, 4)
    w[0, 0] = 1.0
    steep = lambda x, y=None: ((x.flatten(1) * 3 * w).sum(1), [])
    real, fake = torch.randn(8, 4), torch.randn(8, 4)
    seen = []
    grad = torch.autograd.grad

    def spy(outputs, inputs, **kw):
        seen.append(float(outputs.detach()))
        return grad(outputs, inputs, **kw)

    monkeypatch.setattr(torch.autograd, "grad", spy)
    gen = lambda: torch.Generator().manual_seed(0)
    eps = torch.rand(8, 1, generator=gen())
    out_sum = float(steep(eps * real + (1 - eps) * fake)[0].sum())
    assert close(gradient_penalty(steep, real, fake, generator=gen(), scale=1024.0), 4.0)   # (3 - 1)^2, unscaled
    assert math.isclose(seen[-1], 1024.0 * out_sum, rel_tol=1e-5)
    cfg = LossConfig()
    assert close(LOSSES["wgan-gp"].penalty(steep, real, fake, None, cfg, gen(), scale=2.0 ** 12), 4.0)
    assert close(LOSSES["dragan"].penalty(steep, real, fake, None, cfg, gen(), scale=2.0 ** 12), 4.0)
    assert close(dragan_penalty(steep, real, c=0.5, generator=gen(), scale=8.0), 4.0)


def test_penalty_overflow_under_a_loss_scale_reports_zero_but_makes_d_grads_nonfinite():
    # fp16 cannot hold 3 * 2**16: the scaled gradients overflow; the scaler must see it (non-finite grads)
    wd = torch.nn.Parameter(torch.tensor([3.0, 0.0, 0.0, 0.0]))
    d16 = lambda x, y=None: ((x.half() * wd.half()).sum(1), [])
    pen = gradient_penalty(d16, torch.randn(8, 4), torch.randn(8, 4), scale=2.0 ** 16)
    assert float(pen.detach()) == 0.0
    pen.backward()
    assert not torch.isfinite(wd.grad).all()
    wd.grad = None
    ok = gradient_penalty(d16, torch.randn(8, 4), torch.randn(8, 4), scale=2.0 ** 8)   # no overflow
    assert close(ok, 4.0)
    ok.backward()
    assert torch.isfinite(wd.grad).all() and wd.grad.abs().sum() > 0

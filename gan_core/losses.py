"""GAN losses as pure functions, and a registry keyed by name.

D outputs raw logits / critic values. Each loss is a one-liner; :data:`LOSSES` maps a name to a
:class:`LossSpec` that says how D and G losses are formed, which penalty or weight clipping goes with
it, what its curves mean, and which optimiser settings the paper recommends. UIs list ``LOSSES``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import LossConfig

# ---- one-line losses ---------------------------------------------------------------------------


def d_bce(real: Tensor, fake: Tensor, real_t: Tensor, fake_t: Tensor) -> Tensor:
    """-[t log D(x) + (1-t) log(1-D(x))] on real and fake (Goodfellow et al. 2014)."""
    return F.binary_cross_entropy_with_logits(real, real_t) + F.binary_cross_entropy_with_logits(fake, fake_t)


def g_minimax(fake: Tensor) -> Tensor:
    """Saturating: minimise E log(1 - D(G(z))) = E[-softplus(logit)]."""
    return -F.softplus(fake).mean()


def g_nonsaturating(fake: Tensor) -> Tensor:
    """Non-saturating: minimise -E log D(G(z)) = E softplus(-logit)."""
    return F.softplus(-fake).mean()


def d_lsgan(real: Tensor, fake: Tensor, real_t: Tensor, fake_t: Tensor) -> Tensor:
    """LSGAN (Mao et al. 2017): 1/2 E(D(x)-b)^2 + 1/2 E(D(G(z))-a)^2."""
    return 0.5 * (real - real_t).pow(2).mean() + 0.5 * (fake - fake_t).pow(2).mean()


def g_lsgan(fake: Tensor, c: float) -> Tensor:
    """LSGAN generator: 1/2 E(D(G(z))-c)^2."""
    return 0.5 * (fake - c).pow(2).mean()


def d_wasserstein(real: Tensor, fake: Tensor) -> Tensor:
    """Critic: E D(G(z)) - E D(x) (its negative estimates the Wasserstein-1 distance)."""
    return fake.mean() - real.mean()


def g_wasserstein(fake: Tensor) -> Tensor:
    """-E D(G(z)); also the hinge-loss generator."""
    return -fake.mean()


def d_hinge(real: Tensor, fake: Tensor) -> Tensor:
    """E relu(1 - D(x)) + E relu(1 + D(G(z)))."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


# ---- penalties -----------------------------------------------------------------------------------

DFn = Callable[[Tensor, Optional[Tensor]], tuple[Tensor, list[Tensor]]]


def _grad_norm_penalty(D: DFn, x: Tensor, labels: Optional[Tensor]) -> Tensor:
    """E (||grad_x D(x)||_2 - 1)^2 at the points x."""
    x = x.detach().requires_grad_(True)
    out = D(x, labels)[0]
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1.0).pow(2).mean()


def _batch_uniform(x: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    """U[0,1) of shape (B, 1, ..., 1) broadcastable against x."""
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    return torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype)


def gradient_penalty(D: DFn, real: Tensor, fake: Tensor, labels: Optional[Tensor] = None,
                     generator: Optional[torch.Generator] = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): penalty on random interpolates of real and fake."""
    eps = _batch_uniform(real, generator)
    return _grad_norm_penalty(D, eps * real + (1 - eps) * fake.detach(), labels)


def dragan_penalty(D: DFn, real: Tensor, labels: Optional[Tensor] = None, c: float = 0.5,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """DRAGAN (Kodali et al. 2017): penalty around real data, x + alpha * c * std(x) * U[0,1)."""
    noise = torch.rand(real.shape, generator=generator, device=real.device, dtype=real.dtype)
    perturbed = real + c * real.std() * noise
    alpha = _batch_uniform(real, generator)
    return _grad_norm_penalty(D, real + alpha * (perturbed - real), labels)


# ---- registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossSpec:
    name: str
    title: str
    d_loss: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]   # (real, fake, real_t, fake_t)
    g_loss: Callable[[Tensor, LossConfig], Tensor]                # (fake, cfg)
    explanation: str                                              # what the curves mean
    uses_targets: bool = True              # soft / noisy labels apply
    target_range: str = "bce"              # "bce" (0..1) or "lsgan" (a..b)
    penalty: Optional[str] = None          # None | "gp" | "dragan"
    clip_weights: bool = False
    recommended: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides from the paper


LOSSES: dict[str, LossSpec] = {
    "minimax": LossSpec(
        "minimax", "Minimax GAN (saturating)", d_bce, lambda f, c: g_minimax(f),
        "D loss is the BCE of telling real from fake (log 4 = 1.386 at equilibrium). The G loss is "
        "log(1 - D(G(z))): it is near 0 and its gradient vanishes while D wins, which is why G often stalls.",
    ),
    "ns": LossSpec(
        "ns", "Non-saturating GAN", d_bce, lambda f, c: g_nonsaturating(f),
        "D loss as in minimax (1.386 = D at chance). G minimises -log D(G(z)): high when D spots fakes, "
        "about 0.69 when D is fooled half the time. A D loss near 0 means D has won.",
    ),
    "lsgan": LossSpec(
        "lsgan", "Least-squares GAN", d_lsgan, lambda f, c: g_lsgan(f, c.lsgan_c),
        "Squared distance of D's output to its targets (a for fake, b for real, c for G). Lower D "
        "loss = D separates better; at the optimum with a=0, b=c=1 both settle near 0.25.",
        target_range="lsgan",
    ),
    "wgan-clip": LossSpec(
        "wgan-clip", "WGAN (weight clipping)", lambda r, f, rt, ft: d_wasserstein(r, f),
        lambda f, c: g_wasserstein(f),
        "-D loss estimates the Wasserstein distance between real and generated data (up to a scale set "
        "by the clipping): it should fall as samples improve, so this curve tracks quality.",
        uses_targets=False, clip_weights=True,
        recommended={"optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "n_critic": 5},
    ),
    "wgan-gp": LossSpec(
        "wgan-gp", "WGAN-GP (gradient penalty)", lambda r, f, rt, ft: d_wasserstein(r, f),
        lambda f, c: g_wasserstein(f),
        "-D loss (without the penalty) estimates the Wasserstein distance and should shrink as G "
        "improves; the gradient penalty keeps the critic 1-Lipschitz (lambda = 10).",
        uses_targets=False, penalty="gp",
        recommended={"optimizer": "adam", "lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.9, "n_critic": 5},
    ),
    "dragan": LossSpec(
        "dragan", "DRAGAN", d_bce, lambda f, c: g_nonsaturating(f),
        "Non-saturating GAN plus a gradient penalty around real data that prevents sharp D gradients "
        "(mode collapse); read D and G curves as for the non-saturating GAN.",
        penalty="dragan",
    ),
    "hinge": LossSpec(
        "hinge", "Hinge loss", lambda r, f, rt, ft: d_hinge(r, f), lambda f, c: g_wasserstein(f),
        "D is penalised only for real scores below +1 and fake scores above -1 (D loss 2 = no "
        "separation, 0 = perfect margin). G raises D's score on fakes.",
        uses_targets=False,
        recommended={"lr_g": 1e-4, "lr_d": 4e-4, "beta1": 0.0, "beta2": 0.9},
    ),
}


def get_loss(name: str) -> LossSpec:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}") from None


def make_targets(spec: LossSpec, cfg: LossConfig, batch: int, device: torch.device,
                 generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
    """D targets for real and fake, with soft labels and label noise applied.

    Soft labels map real_label/fake_label in [0, 1] onto the loss's target range ([0, 1] for BCE,
    [a, b] for LSGAN). Label noise swaps the real and fake target of each sample with probability
    ``label_noise``.
    """
    lo, hi = (cfg.lsgan_a, cfg.lsgan_b) if spec.target_range == "lsgan" else (0.0, 1.0)
    real_t = torch.full((batch,), lo + cfg.real_label * (hi - lo), device=device)
    fake_t = torch.full((batch,), lo + cfg.fake_label * (hi - lo), device=device)
    if cfg.label_noise > 0:
        flip = torch.rand(batch, generator=generator, device=device) < cfg.label_noise
        real_t, fake_t = torch.where(flip, fake_t, real_t), torch.where(flip, real_t, fake_t)
    return real_t, fake_t


def aux_loss(aux_logits: list[Tensor], labels: Tensor) -> Tensor:
    """ACGAN auxiliary loss: sum over label groups of the cross-entropy of each head."""
    return sum(F.cross_entropy(logits.float(), labels[:, i]) for i, logits in enumerate(aux_logits))

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
from torch import Tensor, nn

from gan_core.config import ConfigError, LossConfig

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


def mode_seeking_ratio(fake: Tensor, z: Tensor) -> Tensor:
    """MSGAN (Mao et al. 2019): mean_i |G(z_i) - G(z_i')| / |z_i - z_i'| over the pairs (i, i + B/2);
    G's loss adds ``ms_weight / (ratio + 1e-5)``."""
    h = fake.shape[0] // 2
    dx = (fake[:h].float() - fake[h:2 * h].float()).abs().flatten(1).mean(1)
    return (dx / (z[:h] - z[h:2 * h]).abs().mean(1)).mean()


# ---- penalties -----------------------------------------------------------------------------------

DFn = Callable[[Tensor, Optional[Tensor]], tuple[Tensor, list[Tensor]]]


def loss_scale(scaler: Optional[torch.amp.GradScaler]) -> Optional[float]:
    """The grad scaler's current loss scale (fp16 mixed precision), or None without a scaler."""
    return scaler.get_scale() if scaler is not None and scaler.is_enabled() else None


def _grad_norm_penalty(D: DFn, x: Tensor, labels: Optional[Tensor], scale: Optional[float] = None) -> Tensor:
    """E (||grad_x D(x)||_2 - 1)^2 at the points x.

    ``scale``: the loss scale of fp16 training with a GradScaler. As in PyTorch's AMP examples ("gradient
    penalty"), the output passed to ``autograd.grad`` is multiplied by it, so that small fp16 gradients do
    not flush to zero, and the gradients are divided by it again before the penalty is formed. When they
    overflowed, the backward pass still carries the inf into D's gradients, so the scaler skips that step
    and lowers its scale, as in the recipe; only the value reported for that step is 0 instead of inf
    (a logged inf would read as divergence)."""
    x = x.detach().requires_grad_(True)
    out = D(x, labels)[0]
    total = out.sum() if scale is None else out.float().sum() * scale
    (grad,) = torch.autograd.grad(total, x, create_graph=True)
    if scale is not None:
        grad = grad.float() * (1.0 / scale)
    pen = (grad.flatten(1).norm(2, dim=1) - 1.0).pow(2).mean()
    return pen if scale is None else _FiniteValue.apply(pen)


class _FiniteValue(torch.autograd.Function):
    """Forward: NaN/inf -> 0 (the reported value); backward: the identity (the inf reaches the scaler)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        return g


def _batch_uniform(x: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    """U[0,1) of shape (B, 1, ..., 1) broadcastable against x."""
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    return torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype)


def gradient_penalty(D: DFn, real: Tensor, fake: Tensor, labels: Optional[Tensor] = None,
                     generator: Optional[torch.Generator] = None, scale: Optional[float] = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): penalty on random interpolates of real and fake."""
    eps = _batch_uniform(real, generator)
    return _grad_norm_penalty(D, eps * real + (1 - eps) * fake.detach(), labels, scale)


def dragan_penalty(D: DFn, real: Tensor, labels: Optional[Tensor] = None, c: float = 0.5,
                   generator: Optional[torch.Generator] = None, scale: Optional[float] = None) -> Tensor:
    """DRAGAN (Kodali et al. 2017): penalty around real data, x + alpha * c * std(x) * U[0,1)."""
    noise = torch.rand(real.shape, generator=generator, device=real.device, dtype=real.dtype)
    perturbed = real + c * real.std() * noise
    alpha = _batch_uniform(real, generator)
    return _grad_norm_penalty(D, real + alpha * (perturbed - real), labels, scale)


# ---- registry ------------------------------------------------------------------------------------

# (D, real, fake, labels, cfg, generator, scale=None): ``scale`` is fp16's loss scale (see _grad_norm_penalty)
PenaltyFn = Callable[..., Tensor]


def gp_term(D: DFn, real: Tensor, fake: Tensor, labels: Optional[Tensor], cfg: LossConfig,
            generator: Optional[torch.Generator] = None, scale: Optional[float] = None) -> Tensor:
    """WGAN-GP's penalty (interpolates carry the real tags); weighted by ``cfg.gp_lambda``."""
    return gradient_penalty(D, real, fake, labels, generator, scale)


def dragan_term(D: DFn, real: Tensor, fake: Tensor, labels: Optional[Tensor], cfg: LossConfig,
                generator: Optional[torch.Generator] = None, scale: Optional[float] = None) -> Tensor:
    """DRAGAN's penalty around real data with perturbation scale ``cfg.dragan_c``."""
    return dragan_penalty(D, real, labels, cfg.dragan_c, generator, scale)


@torch.no_grad()
def clip_weights(D: nn.Module, cfg: LossConfig) -> None:
    """WGAN's constraint after each D step: every weight clamped to [-c, c]."""
    for p in D.parameters():
        p.clamp_(-cfg.clip_value, cfg.clip_value)


@dataclass(frozen=True)
class LossSpec:
    """What a loss is: its D and G terms, the penalty and constraint that go with it, how to read its
    curves, which ``loss.*`` settings it reads and the optimiser settings its paper recommends."""
    name: str
    title: str
    d_loss: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]   # (real, fake, real_t, fake_t)
    g_loss: Callable[[Tensor, LossConfig], Tensor]                # (fake, cfg)
    curve_help: str                                               # what its D and G curves mean
    uses_targets: bool = True              # D is trained towards targets: soft / noisy labels apply
    target_range: str = "bce"              # "bce" (0..1) or "lsgan" (a..b)
    penalty: Optional[PenaltyFn] = None    # (D, real, fake, labels, cfg, generator, scale=None) -> unweighted
    d_constraint: Optional[Callable[[nn.Module, LossConfig], None]] = None   # after each D step
    recommended: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides from the paper

    @property
    def d_outputs_probs(self) -> bool:
        """D's outputs are logits of "real": show them as probabilities (sigmoid)."""
        return self.uses_targets and self.target_range == "bce"

    def penalty_weight(self, cfg: LossConfig) -> float:
        return cfg.gp_lambda if self.penalty is not None else 0.0

    @property
    def fields(self) -> tuple[str, ...]:
        """The ``loss.*`` settings this loss reads (a form hides the others)."""
        f: list[str] = []
        if self.uses_targets:
            f += ["real_label", "fake_label", "label_noise"]
        if self.target_range == "lsgan":
            f += ["lsgan_a", "lsgan_b", "lsgan_c"]
        if self.penalty is not None:
            f.append("gp_lambda")
        if self.penalty is dragan_term:
            f.append("dragan_c")
        if self.d_constraint is clip_weights:
            f.append("clip_value")
        return tuple(f)

    def output_summary(self, out: Tensor) -> Tensor:
        """Mean of D's outputs as shown in the curves: probability for BCE losses, raw score otherwise."""
        return (torch.sigmoid(out) if self.d_outputs_probs else out).mean()


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
        uses_targets=False, d_constraint=clip_weights,
        recommended={"optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "n_critic": 5},
    ),
    "wgan-gp": LossSpec(
        "wgan-gp", "WGAN-GP (gradient penalty)", lambda r, f, rt, ft: d_wasserstein(r, f),
        lambda f, c: g_wasserstein(f),
        "-D loss (without the penalty) estimates the Wasserstein distance and should shrink as G "
        "improves; the gradient penalty keeps the critic 1-Lipschitz (lambda = 10).",
        uses_targets=False, penalty=gp_term,
        recommended={"optimizer": "adam", "lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.9, "n_critic": 5},
    ),
    "dragan": LossSpec(
        "dragan", "DRAGAN", d_bce, lambda f, c: g_nonsaturating(f),
        "Non-saturating GAN plus a gradient penalty around real data that prevents sharp D gradients "
        "(mode collapse); read D and G curves as for the non-saturating GAN.",
        penalty=dragan_term,
    ),
    "hinge": LossSpec(
        "hinge", "Hinge loss", lambda r, f, rt, ft: d_hinge(r, f), lambda f, c: g_wasserstein(f),
        "D is penalised only for real scores below +1 and fake scores above -1 (D loss 2 = no "
        "separation, 0 = perfect margin). G raises D's score on fakes.",
        uses_targets=False,
        recommended={"lr_g": 1e-4, "lr_d": 4e-4, "beta1": 0.0, "beta2": 0.9},
    ),
}


def check_loss_config(cfg: LossConfig) -> None:
    """The loss is a registered one (ConfigError naming ``loss.name`` otherwise)."""
    if cfg.name not in LOSSES:
        raise ConfigError("loss.name", f"must be one of {', '.join(LOSSES)}; got {cfg.name!r}")


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
    """ACGAN auxiliary loss: sum over label groups of the cross-entropy of each head, averaged over the samples
    whose tag is known: an unknown tag (-1, pix2pix-acgan's dropped tags) counts for nothing, and a group with
    none known adds 0 (no host sync: the count is a tensor)."""
    total = aux_logits[0].new_zeros((), dtype=torch.float32)
    for i, logits in enumerate(aux_logits):
        y = labels[:, i]
        known = (y >= 0).sum().clamp(min=1)
        total = total + F.cross_entropy(logits.float(), y, ignore_index=-1, reduction="sum") / known
    return total

"""The 2D lab's training loop: :class:`Lab2D` (n_critic D steps + one G step on 2D points, live
changes between steps) and the :class:`LabFrame` of arrays it hands to a view."""
from __future__ import annotations

import copy
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from gan_core.data.toy2d import sample_around, sample_toy2d
from gan_core.losses import get_loss, make_targets
from gan_core.models import apply_spectral_norm, build_models
from gan_core.models.common import GDropout
from gan_core.lab2d.fields import ModeCoverage, d_surface, g_gradient_field, mode_coverage, shape_modes, surface_scale
from gan_core.lab2d.settings import DRAWN, LIVE_FIELDS, POINTS_SPEC, LabConfig, ConfigError

class LeanAdam(torch.optim.Adam):
    """``torch.optim.Adam(fused=True)`` stepped with explicit gradients (:meth:`step_with`): the same
    fused kernel and the same state (``step``, ``exp_avg``, ``exp_avg_sq``), without the ``.grad``
    round trip (accumulate, zero_grad) and the per-call Python machinery of ``step`` (hooks, profiler
    ranges, re-scanning the groups) that cost several times the kernel itself on a tiny MLP. The first
    step, and anything unusual (amsgrad, weight decay), go through Adam's own ``step``."""

    def __init__(self, params, lr: float, betas: tuple[float, float]):
        super().__init__(params, lr=lr, betas=betas, fused=True)
        self._lists: Optional[list[tuple[int, list, list, list, dict]]] = None

    @torch.no_grad()
    def step_with(self, grads: list[Tensor]) -> None:
        """One step with ``grads`` (in the order of the parameters given to the constructor)."""
        if self._lists is None:
            params = [p for g in self.param_groups for p in g["params"]]
            for p, g in zip(params, grads):
                p.grad = g
            super().step()
            for p in params:
                p.grad = None
            self._cache()
            return
        for start, params, m, v, steps, group in self._lists:
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(params, list(grads[start:start + len(params)]), m, v, [], steps, amsgrad=False,
                               lr=group["lr"], beta1=group["betas"][0], beta2=group["betas"][1], weight_decay=0.0,
                               eps=group["eps"], maximize=False)

    def _cache(self) -> None:
        lists, start = [], 0
        for group in self.param_groups:
            params = list(group["params"])
            if group["amsgrad"] or group["weight_decay"] or group["maximize"] or not all(p in self.state for p in params):
                self._lists = None
                return
            st = [self.state[p] for p in params]
            lists.append((start, params, [s["exp_avg"] for s in st], [s["exp_avg_sq"] for s in st],
                          [s["step"] for s in st], group))
            start += len(params)
        self._lists = lists


def step_with(opt: torch.optim.Optimizer, params: list[Tensor], grads: tuple[Tensor, ...]) -> None:
    """One optimiser step with explicit ``grads`` for ``params``."""
    if isinstance(opt, LeanAdam):
        opt.step_with(list(grads))
        return
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()
    for p in params:
        p.grad = None


def plain_forward(net: nn.Module, is_d: bool) -> Optional[Callable[..., Any]]:
    """The ``mlp`` G or D as a chain of functional calls on its own weights (the Module call machinery
    is ~10 % of a step on the tiny MLP), with the same signature as ``net``; None when ``net`` is not
    the plain MLP (spectral norm, active dropout, a conditional head, another layout). The chain is
    checked against ``net`` on a random batch before it is used."""
    if is_d:
        head = getattr(net, "head", None)
        if head is None or getattr(head, "proj", None) is not None or getattr(head, "aux", None) is not None:
            return None
        layers = [*getattr(net, "features", ()), head.adv]
    else:
        layers = list(getattr(net, "net", ()))
    calls: list[tuple[Callable[..., Tensor], tuple]] = []
    for m in layers:
        if parametrize.is_parametrized(m):
            return None
        if type(m) is nn.Linear:
            calls.append((F.linear, (m.weight, m.bias)))
        elif type(m) is nn.LeakyReLU:
            calls.append((F.leaky_relu, (m.negative_slope, m.inplace)))
        elif type(m) is nn.ReLU:
            calls.append((F.relu, (m.inplace,)))
        elif not (type(m) is GDropout and m.p == 0):
            return None
    if not calls or type(layers[0]) is not nn.Linear:
        return None

    def chain(x: Tensor) -> Tensor:
        for f, args in calls:
            x = f(x, *args)
        return x

    if is_d:
        def fn(x: Tensor, labels: Optional[Tensor] = None) -> tuple[Tensor, list]:
            return chain(x).view(-1), []
    else:
        def fn(z: Tensor, labels: Optional[Tensor] = None) -> Tensor:
            return chain(z)
    with torch.no_grad():
        x = torch.randn(7, layers[0].in_features)
        a, b = net(x), fn(x)
        if is_d:
            a, b = a[0], b[0]
        if a.shape != b.shape or not torch.allclose(a, b, atol=1e-6):
            return None
    return fn


@dataclass
class LabFrame:
    """What the view draws; plain arrays, no figure."""
    step: int
    status: str
    steps_per_s: float
    loss: str
    scale: str                   # surface_scale of the loss
    shape: str
    real: np.ndarray             # (n, 2) float32 real points
    fake: np.ndarray             # (n, 2) float32 generated points
    xs: np.ndarray               # (grid,) x of the surface columns
    ys: np.ndarray               # (grid,) y of the surface rows
    surface: np.ndarray          # (grid, grid) float32: surface[i, j] = D at (xs[j], ys[i]) in ``scale``
    arrows_at: np.ndarray        # (m, 2) fakes that carry an arrow
    arrows: np.ndarray           # (m, 2) -dL_G/dx at those fakes
    grad_norm: float             # mean |dL_G/dx| over the arrows (0 = vanishing gradient)
    coverage: Optional[ModeCoverage]
    settings: dict[str, Any]     # live settings (loss, lrs, n_critic, batch size, shape)
    history: list[dict[str, Any]]  # logged rows: step, d_loss, g_loss, d_real, d_fake, grad_norm_g, ...
    error: Optional[str] = None
    strip: list[dict[str, Any]] = field(default_factory=list)  # earlier frames: step, fake, modes_covered


class Lab2D:
    """A tiny MLP GAN on 2D points; one :meth:`train_step` = n_critic D steps + one G step."""

    def __init__(self, cfg: LabConfig):
        self.cfg = copy.deepcopy(cfg).validate()
        tc = self.cfg.train
        self.gen = torch.Generator().manual_seed(tc.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(tc.seed)
            self.G, self.D = build_models(self.cfg.model, POINTS_SPEC)
        if self.cfg.model.spectral_norm:
            apply_spectral_norm(self.D)
        # what the training steps call: the same networks without the Module call machinery
        self._G = plain_forward(self.G, False) or self.G
        self._D = plain_forward(self.D, True) or self.D
        self.step = 0
        self.history: deque[dict[str, Any]] = deque(maxlen=self.cfg.history)
        self.strip: list[dict[str, Any]] = []   # earlier frames (every cfg.strip_every steps)
        self._window: list[tuple[Tensor, Tensor, Tensor, Optional[Tensor]]] = []   # steps since the last row
        self._tkey: Any = None
        self._tval: tuple[Tensor, Tensor] = (torch.zeros(0), torch.zeros(0))
        self._data_version = 0
        self._make_optimizers()
        self._load_data()
        self._apply_loss()
        # fixed noise for the view: the same z every frame, so points move instead of re-sampling
        self.z_view = torch.randn(self.cfg.view_points, self.cfg.model.z_dim, generator=self.gen)

    # -- set-up pieces that updates redo -----------------------------------------------------------
    def _load_data(self) -> None:
        c = self.cfg
        seed = c.train.seed + self._data_version
        if c.shape == DRAWN:
            pts = sample_around(np.asarray(c.drawn), c.pool, seed, c.drawn_std)
        else:
            pts = sample_toy2d(c.shape, c.pool, seed)
        self.data = torch.from_numpy(pts)                              # (pool, 2)
        self.real_view = self.data[: c.view_points].numpy().copy()     # (view_points, 2)
        self.modes = shape_modes(c)

    def _make_optimizers(self) -> None:
        tc = self.cfg.train
        # fused Adam (LeanAdam) / foreach RMSprop: a few kernels per step instead of ~10 small ops per tensor
        if tc.optimizer == "adam":
            mk = lambda ps, lr: LeanAdam(ps, lr=lr, betas=(tc.beta1, tc.beta2))  # noqa: E731
        else:
            mk = lambda ps, lr: torch.optim.RMSprop(ps, lr=lr, foreach=True)  # noqa: E731
        self.g_params = list(self.G.parameters())
        self.d_params = list(self.D.parameters())
        self.opt_g = mk(self.g_params, tc.lr_g)
        self.opt_d = mk(self.D.parameters(), tc.lr_d)

    def _apply_loss(self) -> None:
        self.spec = get_loss(self.cfg.loss.name)
        self.scale = surface_scale(self.spec)

    def update(self, **changes: Any) -> dict[str, Any]:
        """Change live settings (dotted names from :data:`LIVE_FIELDS`); they apply from the next step.

        Returns the changes applied. Raises ConfigError (naming the field) and changes nothing when one
        is invalid. A new optimizer type or betas rebuild the optimizers (their moments restart); a new
        shape or new drawn points re-sample the real data; the networks keep their weights."""
        bad = [k for k in changes if k not in LIVE_FIELDS]
        if bad:
            raise ConfigError(bad[0], "cannot be changed while the lab runs")
        old = self.cfg
        new = old.replace(**changes)
        self._log()   # the steps so far are logged with the settings they ran under
        self.cfg = new
        if any(k in changes for k in ("train.optimizer", "train.beta1", "train.beta2")) and (
                (new.train.optimizer, new.train.beta1, new.train.beta2) != (old.train.optimizer, old.train.beta1, old.train.beta2)):
            self._make_optimizers()
        else:
            for opt, lr in ((self.opt_g, new.train.lr_g), (self.opt_d, new.train.lr_d)):
                for g in opt.param_groups:
                    g["lr"] = lr
        if (new.shape, new.drawn, new.drawn_std) != (old.shape, old.drawn, old.drawn_std):
            self._data_version += 1
            self._load_data()
        self._apply_loss()
        return dict(changes)

    # -- one step ---------------------------------------------------------------------------------
    def _batch(self, n: int) -> Tensor:
        return self.data[torch.randint(len(self.data), (n,), generator=self.gen)]

    def _z(self, n: int) -> Tensor:
        return torch.randn(n, self.cfg.model.z_dim, generator=self.gen)

    def _targets(self, B: int) -> tuple[Tensor, Tensor]:
        """D's targets; without label noise they are constant, so they are built once per setting."""
        lc, spec = self.cfg.loss, self.spec
        if lc.label_noise > 0:
            return make_targets(spec, lc, B, torch.device("cpu"), self.gen)
        key = (B, spec.name, lc.real_label, lc.fake_label, lc.lsgan_a, lc.lsgan_b)
        if self._tkey != key:
            self._tkey, self._tval = key, make_targets(spec, lc, B, torch.device("cpu"), self.gen)
        return self._tval

    def _d_step(self, fake: Tensor) -> tuple[Tensor, Tensor, Optional[Tensor]]:
        """One D update on the (detached) ``fake`` batch: (D's outputs on real then fake (2B,), loss,
        penalty or None), detached."""
        lc, spec = self.cfg.loss, self.spec
        B = len(fake)
        x = self._batch(B)
        out = self._D(torch.cat([x, fake]))[0]          # one pass (the MLP D has no batch norm)
        real_out, fake_out = out.split(B)
        real_t, fake_t = self._targets(B)
        loss = spec.d_loss(real_out, fake_out, real_t, fake_t)
        pen = None
        if spec.penalty is not None:
            pen = spec.penalty(self._D, x, fake, None, lc, self.gen)
            loss = loss + lc.gp_lambda * pen
        step_with(self.opt_d, self.d_params, torch.autograd.grad(loss, self.d_params))
        if spec.d_constraint is not None:
            spec.d_constraint(self.D, lc)
        return out.detach(), loss.detach(), None if pen is None else pen.detach()

    def _g_step(self, fake: Tensor) -> Tensor:
        loss = self.spec.g_loss(self._D(fake)[0], self.cfg.loss)
        # gradients for G's weights only: D's weight gradients are never computed
        step_with(self.opt_g, self.g_params, torch.autograd.grad(loss, self.g_params))
        return loss.detach()

    def train_step(self) -> None:
        """n_critic D updates, then one G update; logs a history row every train.log_every steps.

        The last D update and the G update share one batch of fakes (as in PyTorch's DCGAN example):
        D learns on it detached, then G's loss backpropagates through D's new weights into the same
        forward pass of G. Per step only the detached outputs are kept; they are reduced once per
        logged row (no Python float, no sync, no extra small ops in between)."""
        tc = self.cfg.train
        B = tc.batch_size
        for _ in range(tc.n_critic - 1):
            with torch.no_grad():
                fake = self._G(self._z(B))
            self._d_step(fake)
        fake = self._G(self._z(B))
        out, d_loss, pen = self._d_step(fake.detach())
        g_loss = self._g_step(fake)
        self._window.append((d_loss, g_loss, out, pen))
        self.step += 1
        if self.step % tc.log_every == 0:
            self._log()
        if self.cfg.strip_every and self.step % self.cfg.strip_every == 0:
            self._keep_strip_frame()

    def _keep_strip_frame(self) -> None:
        """The fakes now (and the modes they cover), for the strip of earlier frames: a run whose point is
        made mid-run (NS collapsing onto a mode or two, then hopping) still shows it at the end."""
        fake = self.fakes()
        cov = mode_coverage(fake.numpy(), *self.modes) if self.modes is not None else None
        self.strip.append({"step": self.step, "fake": fake[: self.cfg.draw_points].numpy(),
                           "modes_covered": None if cov is None else cov.modes_covered})
        del self.strip[: -self.cfg.strip_frames]

    _LOGGED = ("d_loss", "g_loss", "d_real", "d_fake")

    def _log(self) -> None:
        """Write one history row: the means over the steps since the last row (one loss, batch size
        and set of settings: :meth:`update` writes the row before it changes anything)."""
        w, self._window = self._window, []
        if not w:
            return
        n = len(w)
        losses = torch.stack([torch.stack((d, g)) for d, g, _, _ in w]).mean(0)
        outs = torch.stack([o for _, _, o, _ in w]).view(n, 2, -1)
        if self.scale == "probability":
            outs = outs.sigmoid()
        vals = torch.cat([losses, outs.mean((0, 2))]).tolist()
        row: dict[str, Any] = {"step": self.step, **dict(zip(self._LOGGED, vals))}
        if w[-1][3] is not None:
            row["extra"] = {"penalty": float(torch.stack([p for _, _, _, p in w]).mean())}
        tc = self.cfg.train
        row.update(lr_g=tc.lr_g, lr_d=tc.lr_d, n_critic=tc.n_critic, loss=self.cfg.loss.name)
        self.history.append(row)

    # -- what the view shows ------------------------------------------------------------------------
    def fakes(self, n: Optional[int] = None) -> Tensor:
        """G at the fixed view noise (n, 2), in eval mode (no dropout unless dropout_at_test)."""
        z = self.z_view if n is None else self.z_view[:n]
        was = self.G.training
        self.G.eval()
        try:
            with torch.no_grad():
                return self.G(z)
        finally:
            self.G.train(was)

    def coverage(self, n: Optional[int] = None) -> Optional[ModeCoverage]:
        if self.modes is None:
            return None
        return mode_coverage(self.fakes(n).numpy(), self.modes[0], self.modes[1])

    def settings(self) -> dict[str, Any]:
        c = self.cfg
        return {"shape": c.shape, "loss": c.loss.name, "lr_g": c.train.lr_g, "lr_d": c.train.lr_d,
                "n_critic": c.train.n_critic, "batch_size": c.train.batch_size, "optimizer": c.train.optimizer}

    def frame(self, status: str = "running", steps_per_s: float = 0.0, history: bool = True) -> LabFrame:
        c = self.cfg
        fake = self.fakes()
        xs, ys, surf = d_surface(self.D, c.extent, c.grid, self.scale)
        at = fake[: c.arrows]
        arrows = g_gradient_field(self.D, at, self.spec, c.loss) if len(at) else torch.zeros(0, 2)
        gn = float(arrows.norm(dim=1).mean()) if len(arrows) else 0.0
        cov = mode_coverage(fake.numpy(), *self.modes) if self.modes is not None else None
        return LabFrame(
            step=self.step, status=status, steps_per_s=steps_per_s, loss=c.loss.name, scale=self.scale,
            shape=c.shape, real=self.real_view[: c.draw_points], fake=fake[: c.draw_points].numpy(), xs=xs, ys=ys,
            surface=surf,
            arrows_at=at.numpy(), arrows=arrows.numpy(), grad_norm=gn, coverage=cov, settings=self.settings(),
            history=self._thin_history() if history else [], strip=list(self.strip),
        )

    def _thin_history(self) -> list[dict[str, Any]]:
        rows, n = list(self.history), self.cfg.frame_history
        if len(rows) <= n:
            return rows
        k = math.ceil(len(rows) / n)
        return rows[-1::-k][::-1]


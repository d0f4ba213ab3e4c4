"""The 2D lab: a lean GAN loop on 2D toy data that exposes what image runs cannot show.

GAN Lab (Kahng et al. 2018) style: real and generated points in the plane, D's output over the plane
(a small ``grid x grid`` array, in the loss's own scale) and G's gradient field (``-dL_G/dx`` at the
current fakes). Everything here is plain PyTorch / NumPy; the UI only draws the arrays.

* :func:`d_surface`, :func:`g_gradient_field`, :func:`surface_scale`: pure functions on any D with the
  project's signature ``D(x (B, 2), labels) -> (adv (B,), aux)``.
* :func:`mode_coverage`: modes covered (within ``n_sigma`` std of a centre) and the share of
  high-quality samples, as in the unrolled-GAN (Metz et al. 2017) and VEEGAN (Srivastava et al. 2017)
  papers.
* :class:`Lab2D`: the training loop (single thread; losses, penalties, clipping and targets from
  :mod:`gan_core.losses`, the ``mlp`` models, ``toy2d`` data); :meth:`Lab2D.update` changes loss,
  learning rates, n_critic, batch size or the data shape between two steps.
* :class:`LabRunner`: runs a :class:`Lab2D` in a background thread and publishes a :class:`LabFrame`
  a few times a second; :func:`get_lab_manager` keeps one runner per owner (browser) per process.
* :data:`LAB_PRESETS` with :func:`run_preset`: classic pictures, each with what it should show and a
  metric check.
"""
from __future__ import annotations

import copy
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import numpy as np
import torch
from torch import Tensor

from .config import TOY2D_SHAPES, ConfigError, LossConfig, ModelConfig, TrainConfig
from .data.toy2d import sample_around, sample_toy2d, toy2d_modes
from .losses import LOSSES, LossSpec, dragan_penalty, get_loss, gradient_penalty, make_targets
from .models import DataSpec, apply_spectral_norm, build_models

DRAWN = "drawn"                                   # data shape: Gaussians around user-drawn points
LAB_SHAPES: tuple[str, ...] = TOY2D_SHAPES + (DRAWN,)
POINTS_SPEC = DataSpec(kind="points", channels=0, image_size=0)
MAX_DRAWN = 200

# fields that :meth:`Lab2D.update` accepts while training (dotted names, as in the config)
LIVE_FIELDS: tuple[str, ...] = (
    "shape", "drawn", "drawn_std",
    *(f"loss.{f}" for f in ("name", "real_label", "fake_label", "label_noise", "lsgan_a", "lsgan_b",
                           "lsgan_c", "clip_value", "gp_lambda", "dragan_c")),
    *(f"train.{f}" for f in ("optimizer", "lr_g", "lr_d", "beta1", "beta2", "n_critic", "batch_size")),
)


# ---- configuration ------------------------------------------------------------------------------
def _default_model() -> ModelConfig:
    return ModelConfig(arch="mlp", z_dim=2, mlp_hidden=64)   # width 64: the same pictures as 128, ~3x faster


def _default_train() -> TrainConfig:
    return TrainConfig(batch_size=128, steps=1_000_000, lr_g=1e-3, lr_d=1e-3, beta1=0.5, beta2=0.9,
                       log_every=20, device="cpu")


@dataclass
class LabConfig:
    shape: str = "8gaussians"                       # one of LAB_SHAPES
    drawn: tuple[tuple[float, float], ...] = ()     # user-drawn centres (x, y) for shape="drawn"
    drawn_std: float = 0.05                         # std of the Gaussian around each drawn point
    model: ModelConfig = field(default_factory=_default_model)   # arch "mlp"; z_dim, mlp_hidden, g_dropout, spectral_norm
    loss: LossConfig = field(default_factory=LossConfig)         # every loss of LOSSES and its tricks
    train: TrainConfig = field(default_factory=_default_train)   # optimizer, lrs, n_critic, batch, steps / seconds, seed
    pool: int = 20_000              # real points drawn once per shape; batches index into them
    grid: int = 64                  # D surface resolution (grid x grid values)
    extent: float = 3.0             # the plane shown and sampled: [-extent, extent]^2
    view_points: int = 2500         # real / fake points in each frame (and for the coverage metric)
    arrows: int = 64                # fakes that carry a gradient arrow
    draw_points: int = 600          # real / fake points sent to the view per frame (the metric uses view_points)
    frame_history: int = 300        # logged rows sent per frame (evenly thinned; the last one always)
    view_every_s: float = 0.25      # seconds between frames published by LabRunner
    history: int = 5000             # logged rows kept (one every train.log_every steps)

    def validate(self) -> "LabConfig":
        if self.shape not in LAB_SHAPES:
            raise ConfigError("lab.shape", f"must be one of {', '.join(LAB_SHAPES)}; got {self.shape!r}")
        if self.shape == DRAWN and not self.drawn:
            raise ConfigError("lab.drawn", "is empty: draw at least one point (or pick another shape)")
        if len(self.drawn) > MAX_DRAWN:
            raise ConfigError("lab.drawn", f"has {len(self.drawn)} points; at most {MAX_DRAWN}")
        for p in self.drawn:
            if len(p) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) and abs(v) <= self.extent
                                      for v in p):
                raise ConfigError("lab.drawn", f"points must be (x, y) inside [-{self.extent:g}, {self.extent:g}]; got {p!r}")
        if not 0.005 <= self.drawn_std <= 1.0:
            raise ConfigError("lab.drawn_std", f"must be between 0.005 and 1, got {self.drawn_std!r}")
        self.model.validate()
        if self.model.arch != "mlp":
            raise ConfigError("model.arch", f"must be 'mlp' in the 2D lab, got {self.model.arch!r}")
        self.loss.validate()
        self.train.validate()
        for name, v, lo, hi in (("lab.pool", self.pool, 64, 10**7), ("lab.grid", self.grid, 4, 512),
                                ("lab.view_points", self.view_points, 8, 100_000),
                                ("lab.arrows", self.arrows, 0, 100_000), ("lab.history", self.history, 10, 10**7),
                                ("lab.draw_points", self.draw_points, 1, 100_000),
                                ("lab.frame_history", self.frame_history, 2, 10**7)):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ConfigError(name, f"must be an integer between {lo} and {hi}, got {v!r}")
        if not 0.5 <= self.extent <= 100:
            raise ConfigError("lab.extent", f"must be between 0.5 and 100, got {self.extent!r}")
        if not 0.01 <= self.view_every_s <= 60:
            raise ConfigError("lab.view_every_s", f"must be between 0.01 and 60, got {self.view_every_s!r}")
        return self

    def replace(self, **changes: Any) -> "LabConfig":
        """A validated copy with dotted fields changed: ``cfg.replace(**{"loss.name": "lsgan"})``."""
        new = copy.deepcopy(self)
        for k, v in changes.items():
            _set_field(new, k, v)
        return new.validate()


def _set_field(cfg: LabConfig, key: str, value: Any) -> None:
    sec, _, name = key.rpartition(".")
    target = getattr(cfg, sec) if sec else cfg
    if sec not in ("", "model", "loss", "train") or not hasattr(target, name):
        raise ConfigError(key, "is not a 2D lab setting")
    if key == "drawn":
        value = tuple((float(x), float(y)) for x, y in value)
    setattr(target, name, value)


# ---- surface, gradient field, metric (pure functions) -------------------------------------------
DFn = Callable[..., tuple[Tensor, list]]


def surface_scale(spec: LossSpec) -> str:
    """How D's raw output is shown: "probability" (sigmoid, BCE losses), "score" (LSGAN's raw
    least-squares output) or "critic" (WGAN, hinge: an unbounded critic value)."""
    if spec.uses_targets and spec.target_range == "bce":
        return "probability"
    return "score" if spec.target_range == "lsgan" else "critic"


def plane_grid(extent: float, res: int) -> tuple[Tensor, Tensor, Tensor]:
    """xs (res,), ys (res,) and the points (res * res, 2) in row-major order: row i is y = ys[i]."""
    xs = torch.linspace(-extent, extent, res)
    ys = torch.linspace(-extent, extent, res)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return xs, ys, torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)


@torch.no_grad()
def d_surface(D: DFn, extent: float, res: int, scale: str = "critic") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """D over the plane: (xs (res,), ys (res,), values (res, res) float32) with
    ``values[i, j] = D((xs[j], ys[i]))``, sigmoid-squashed when ``scale == "probability"``."""
    xs, ys, pts = plane_grid(extent, res)
    out = D(pts, None)[0].float()
    if scale == "probability":
        out = torch.sigmoid(out)
    return xs.numpy(), ys.numpy(), out.reshape(res, res).numpy().astype(np.float32)


def g_gradient_field(D: DFn, points: Tensor, spec: LossSpec, loss_cfg: LossConfig) -> Tensor:
    """-dL_G/dx (n, 2) at each point: the direction G's loss pushes a generated sample at x.

    Per sample: L_G is a mean over the batch, so the gradient of the mean is scaled back by n. D's
    weights get no gradients."""
    x = points.detach().float().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = spec.g_loss(D(x, None)[0].float(), loss_cfg)
        (grad,) = torch.autograd.grad(loss, x)
    return -grad * x.shape[0]


@dataclass(frozen=True)
class ModeCoverage:
    modes_covered: int          # modes holding at least ``min_count`` high-quality samples
    n_modes: int
    high_quality: float         # share of samples within n_sigma * std of their nearest mode
    counts: tuple[int, ...]     # high-quality samples per mode
    n_samples: int
    n_sigma: float
    min_count: int

    def to_dict(self) -> dict[str, Any]:
        return {"modes_covered": self.modes_covered, "n_modes": self.n_modes, "high_quality": self.high_quality,
                "n_samples": self.n_samples, "n_sigma": self.n_sigma, "min_count": self.min_count}


def mode_coverage(samples: Any, centers: Any, std: float, n_sigma: float = 3.0,
                  min_fraction: float = 0.01) -> ModeCoverage:
    """Mode coverage of 2D ``samples`` (N, 2) against mixture ``centers`` (K, 2) of common ``std``.

    A sample is high quality when it lies within ``n_sigma * std`` of its nearest centre; a mode is
    covered when at least ``min_count = max(1, ceil(min_fraction * N))`` high-quality samples are
    nearest to it (1 % of the samples by default, so a few stray points do not count as a mode)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1, 2)
    c = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    n, k = len(x), len(c)
    min_count = max(1, math.ceil(min_fraction * n))
    if n == 0:
        return ModeCoverage(0, k, 0.0, (0,) * k, 0, n_sigma, min_count)
    d = np.sqrt(((x[:, None, :] - c[None, :, :]) ** 2).sum(-1))   # (N, K)
    nearest = d.argmin(1)
    good = np.isfinite(d.min(1)) & (d.min(1) <= n_sigma * std)
    counts = np.bincount(nearest[good], minlength=k)
    return ModeCoverage(int((counts >= min_count).sum()), k, float(good.mean()), tuple(int(v) for v in counts),
                        n, float(n_sigma), min_count)


def shape_modes(cfg: LabConfig) -> Optional[tuple[np.ndarray, float]]:
    """(centres, std) of the lab's data when it is a Gaussian mixture (8 / 25 Gaussians, drawn points)."""
    if cfg.shape == DRAWN:
        return np.asarray(cfg.drawn, dtype=np.float64).reshape(-1, 2), cfg.drawn_std
    return toy2d_modes(cfg.shape)


# ---- the training loop --------------------------------------------------------------------------
class LeanAdam(torch.optim.Adam):
    """``torch.optim.Adam(fused=True)`` with a lean :meth:`step`: the same fused kernel and the same
    state (``step``, ``exp_avg``, ``exp_avg_sq``), without the per-call Python machinery (hooks,
    profiler ranges, re-scanning the groups) that costs several times the kernel itself on a tiny MLP.
    Falls back to Adam's own step for anything unusual (missing grads, amsgrad, weight decay)."""

    def __init__(self, params, lr: float, betas: tuple[float, float]):
        super().__init__(params, lr=lr, betas=betas, fused=True)
        self._lists: Optional[list[tuple[list, list, list, list, dict]]] = None

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        if closure is not None or self._lists is None:
            out = super().step(closure)
            self._cache()
            return out
        for params, grads, m, v, steps, group in self._lists:
            g = [p.grad for p in params]
            if any(t is None for t in g):
                return super().step()
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(params, g, m, v, [], steps, amsgrad=False, lr=group["lr"], beta1=group["betas"][0],
                               beta2=group["betas"][1], weight_decay=0.0, eps=group["eps"], maximize=False)
        return None

    def _cache(self) -> None:
        lists = []
        for group in self.param_groups:
            params = list(group["params"])
            if group["amsgrad"] or group["weight_decay"] or group["maximize"] or not all(p in self.state for p in params):
                self._lists = None
                return
            st = [self.state[p] for p in params]
            lists.append((params, None, [s["exp_avg"] for s in st], [s["exp_avg_sq"] for s in st],
                          [s["step"] for s in st], group))
        self._lists = lists


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
        self.step = 0
        self.history: deque[dict[str, Any]] = deque(maxlen=self.cfg.history)
        self._acc: Optional[Tensor] = None   # running sums of the logged values (see train_step)
        self._acc_n = 0
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

    def _d_step(self, fake: Optional[Tensor] = None) -> tuple[Tensor, Tensor, Tensor, Optional[Tensor]]:
        """One D update on ``fake`` (new samples when None): (loss, D(real), D(fake), penalty or None)."""
        lc, spec, B = self.cfg.loss, self.spec, self.cfg.train.batch_size
        x = self._batch(B)
        if fake is None:
            with torch.no_grad():
                fake = self.G(self._z(B))
        else:
            fake = fake.detach()
        real_out, fake_out = self.D(torch.cat([x, fake]))[0].split(B)   # one pass (the MLP D has no batch norm)
        real_t, fake_t = self._targets(B)
        loss = spec.d_loss(real_out, fake_out, real_t, fake_t)
        pen = None
        if spec.penalty is not None:
            pen = (gradient_penalty(self.D, x, fake, None, self.gen) if spec.penalty == "gp"
                   else dragan_penalty(self.D, x, None, lc.dragan_c, self.gen))
            loss = loss + lc.gp_lambda * pen
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        if spec.clip_weights:
            with torch.no_grad():
                torch._foreach_clamp_min_(self.d_params, -lc.clip_value)
                torch._foreach_clamp_max_(self.d_params, lc.clip_value)
        return loss.detach(), real_out.detach(), fake_out.detach(), None if pen is None else pen.detach()

    def _g_step(self, fake: Tensor) -> Tensor:
        loss = self.spec.g_loss(self.D(fake)[0], self.cfg.loss)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward(inputs=self.g_params)   # G's weights only: D's weight gradients are never computed
        self.opt_g.step()
        return loss.detach()

    def train_step(self) -> None:
        """n_critic D updates, then one G update; logs a history row every train.log_every steps.

        The logged values (of the last D update and the G update) are summed into one small tensor:
        no Python float (no sync) until a row is written."""
        for _ in range(self.cfg.train.n_critic):
            d_loss, real_out, fake_out, pen = self._d_step()
        g_loss = self._g_step(self.G(self._z(self.cfg.train.batch_size)))
        with torch.no_grad():
            if self.scale == "probability":
                real_out, fake_out = real_out.sigmoid(), fake_out.sigmoid()
            vals = [d_loss, g_loss, real_out.mean(), fake_out.mean()]
            if pen is not None:
                vals.append(pen)
            v = torch.stack(vals)
            if self._acc is None or self._acc.shape != v.shape:
                self._log()
                self._acc, self._acc_n = v, 1
            else:
                self._acc.add_(v)
                self._acc_n += 1
        self.step += 1
        if self.step % self.cfg.train.log_every == 0:
            self._log()

    _LOGGED = ("d_loss", "g_loss", "d_real", "d_fake")

    def _log(self) -> None:
        if not self._acc_n or self._acc is None:
            return
        vals = (self._acc / self._acc_n).tolist()
        row: dict[str, Any] = {"step": self.step, **dict(zip(self._LOGGED, vals))}
        if len(vals) > len(self._LOGGED):
            row["extra"] = {"penalty": vals[len(self._LOGGED)]}
        tc = self.cfg.train
        row.update(lr_g=tc.lr_g, lr_d=tc.lr_d, n_critic=tc.n_critic, loss=self.cfg.loss.name)
        self.history.append(row)
        self._acc, self._acc_n = None, 0

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
            history=self._thin_history() if history else [],
        )

    def _thin_history(self) -> list[dict[str, Any]]:
        rows, n = list(self.history), self.cfg.frame_history
        if len(rows) <= n:
            return rows
        k = math.ceil(len(rows) / n)
        return rows[-1::-k][::-1]


# ---- background runner --------------------------------------------------------------------------
class LabRunner:
    """Trains a :class:`Lab2D` in a daemon thread. Only that thread touches the networks: updates are
    queued and applied between two steps, and the latest :class:`LabFrame` is published every
    ``view_every_s`` seconds (the view reads it without waiting on training)."""

    def __init__(self, cfg: LabConfig, owner: str = ""):
        self.lab = Lab2D(cfg)
        self.owner = owner
        self.status = "created"          # created | running | paused | stopped | done | failed
        self.error: Optional[str] = None
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._frame: Optional[LabFrame] = None
        self._frames = 0
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._rate = 0.0
        self._thread = threading.Thread(target=self._run, name="gan-lab2d", daemon=True)

    # -- commands (any thread) -----------------------------------------------------------------------
    def start(self) -> "LabRunner":
        self.status = "running"
        self._publish()
        self._thread.start()
        return self

    def update(self, **changes: Any) -> None:
        """Queue live changes; validated now (ConfigError names the field), applied before the next step."""
        bad = [k for k in changes if k not in LIVE_FIELDS]
        if bad:
            raise ConfigError(bad[0], "cannot be changed while the lab runs")
        with self._lock:
            pending = {k: v for d in self._pending for k, v in d.items()}
        self.lab.cfg.replace(**{**pending, **changes})  # validation only
        with self._lock:
            self._pending.append(dict(changes))
        if not self.active:  # nothing will apply it: do it here (the thread is not running)
            self._apply_pending()
            self._publish()

    def pause(self) -> None:
        if self.status == "running":
            self._pause.set()
            self.status = "paused"

    def resume(self) -> None:
        if self.status == "paused":
            self._pause.clear()
            self.status = "running"

    def stop(self, wait: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(wait)

    @property
    def active(self) -> bool:
        return self._thread.is_alive() and self.status in ("running", "paused")

    def frame(self) -> Optional[LabFrame]:
        return self._frame

    @property
    def frames_published(self) -> int:
        return self._frames

    # -- the thread --------------------------------------------------------------------------------
    def _apply_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for ch in pending:
            self.lab.update(**ch)

    def _publish(self) -> None:
        self._frame = self.lab.frame(self.status, self._rate)
        self._frame.error = self.error
        self._frames += 1

    def _run(self) -> None:
        lab, tc = self.lab, self.lab.cfg.train
        t_start = last_view = time.perf_counter()
        rate_t, rate_step = t_start, lab.step
        try:
            while not self._stop.is_set():
                if self._pending:
                    self._apply_pending()
                    self._publish()
                if self._pause.is_set():
                    time.sleep(0.05)
                    continue
                lab.train_step()
                now = time.perf_counter()
                if now - last_view >= lab.cfg.view_every_s:
                    if now > rate_t:
                        self._rate = (lab.step - rate_step) / (now - rate_t)
                    self._publish()
                    last_view = now = time.perf_counter()  # the frame's own time does not count as training
                    rate_t, rate_step = now, lab.step
                tc = lab.cfg.train
                if (tc.steps and lab.step >= tc.steps) or (tc.seconds and now - t_start >= tc.seconds):
                    self.status = "done"
                    break
            else:
                self.status = "stopped"
        except Exception as e:  # surfaced in the view instead of killing the server thread silently
            self.status = "failed"
            self.error = f"{type(e).__name__}: {e}"
        try:
            lab._log()
            self._publish()
        except Exception as e:  # pragma: no cover - the networks are broken beyond drawing
            self.error = self.error or f"{type(e).__name__}: {e}"


class LabBusyError(RuntimeError):
    """Too many labs train in this process."""


class LabManager:
    """One lab per owner (browser); at most ``max_active`` labs train at once in the process."""

    def __init__(self, max_active: int = 4):
        self.max_active = max_active
        self._labs: dict[str, LabRunner] = {}
        self._lock = threading.Lock()

    def get(self, owner: str) -> Optional[LabRunner]:
        return self._labs.get(owner)

    def start(self, owner: str, cfg: LabConfig) -> LabRunner:
        with self._lock:
            old = self._labs.get(owner)
            others = sum(1 for o, r in self._labs.items() if o != owner and r.active)
            if others >= self.max_active:
                raise LabBusyError(f"{others} 2D labs are already training on this server; try again when one stops")
            runner = LabRunner(cfg, owner)  # builds (and validates) before the old one is stopped
            if old is not None:
                old.stop()
            self._labs[owner] = runner
        return runner.start()

    def stop_all(self) -> None:
        with self._lock:
            for r in self._labs.values():
                r.stop()


_MANAGER: Optional[LabManager] = None
_MANAGER_LOCK = threading.Lock()


def get_lab_manager() -> LabManager:
    global _MANAGER
    with _MANAGER_LOCK:
        if _MANAGER is None:
            _MANAGER = LabManager()
        return _MANAGER


# ---- teaching notes and presets ------------------------------------------------------------------
SCALE_NOTES: dict[str, str] = {
    "probability": "The background is D(x) as a probability (sigmoid of D's logit): red = D says real, "
                   "blue = D says fake, white (0.5) = D cannot tell.",
    "score": "The background is D's raw least-squares score; D is trained to give real points b and fakes a.",
    "critic": "The background is the critic value (unbounded). Only its slope matters: fakes are pushed uphill.",
}

TEACHING_NOTES: dict[str, str] = {
    "minimax": "Watch the arrows on fakes sitting in the blue (D(x) near 0) region: the saturating loss "
               "log(1 - D(G(z))) has gradient D(x) * dD/dx there, so the arrows shrink to nothing exactly "
               "where G is worst: vanishing gradients. G only moves once D is unsure.",
    "ns": "Non-saturating: arrows are largest where D is surest a point is fake, so G escapes the blue "
          "region fast. But all fakes follow the same steep slope towards the nearest red patch: watch "
          "them bunch on one or two modes of the ring and hop between them (mode collapse).",
    "lsgan": "The score surface is a smooth bowl-like landscape; arrows are proportional to the distance of "
             "D(x) from the target c, so fakes far on the 'real' side of the boundary are still pulled towards "
             "the data instead of stopping (no saturation).",
    "wgan-clip": "A critic, not a classifier: its surface has no 0-1 plateaus. Weight clipping keeps it "
                 "almost linear (look for tilted planes and gentle ridges); arrows all have similar length.",
    "wgan-gp": "The gradient penalty keeps the critic's slope near 1 between real and fake points: arrows "
               "have nearly unit length everywhere, and the surface rises smoothly towards every mode, so "
               "fakes spread over all of them.",
    "dragan": "Non-saturating loss with a gradient penalty around real points only: the surface near the data "
              "stays gentle (no cliffs), which spreads the arrows over more modes than plain NS.",
    "hinge": "D stops improving once real scores pass +1 and fake scores fall below -1: look for flat "
             "terraces at +-1 on the surface. G climbs the critic like in WGAN (arrows = slope of D).",
}


def teaching_note(loss: str) -> str:
    """What to look for on the surface and arrows for a loss (any LOSSES key; generic otherwise)."""
    spec = LOSSES[loss]
    note = TEACHING_NOTES.get(loss) or (
        "Compare the arrows' length where D is sure with where it is unsure: that is how strongly G learns there.")
    return f"{note} {SCALE_NOTES[surface_scale(spec)]}"


@dataclass(frozen=True)
class LabPreset:
    name: str
    title: str
    shows: str                                   # what the picture should show
    changes: Mapping[str, Any]                   # dotted LabConfig fields over LabConfig()
    steps: int                                   # G steps the preset trains
    expect: Mapping[str, tuple[float, float]]    # metric -> (min, max) inclusive, checked by run_preset

    def config(self) -> LabConfig:
        return LabConfig().replace(**{**self.changes, "train.steps": self.steps})


LAB_PRESETS: dict[str, LabPreset] = {
    "ns-collapse": LabPreset(
        "ns-collapse", "NS-GAN collapses on the 8-Gaussian ring",
        "The non-saturating GAN puts its samples on a few of the 8 modes (and hops between them) instead of "
        "covering the ring.",
        {"shape": "8gaussians", "loss.name": "ns", "model.z_dim": 64, "model.mlp_hidden": 128,
         "train.batch_size": 256, "train.lr_g": 1e-3, "train.lr_d": 1e-3, "train.n_critic": 1},
        steps=3000, expect={"modes_covered": (0, 4)},
    ),
    "wgan-gp-covers": LabPreset(
        "wgan-gp-covers", "WGAN-GP covers all 8 modes",
        "With the gradient penalty the critic rises smoothly towards every mode, so the samples spread over "
        "all 8 Gaussians of the ring.",
        # the WGAN-GP paper's toy set-up (Adam betas (0.5, 0.9), 5 critic steps per G step, batch 256),
        # with lr 5e-4 and lambda 1 instead of 1e-4 / 0.1 so that it converges within 30 s on one core;
        # 8 / 8 modes with seeds 0-4 (bench/RESULTS_lab2d.md)
        {"shape": "8gaussians", "loss.name": "wgan-gp", "train.lr_g": 5e-4, "train.lr_d": 5e-4,
         "train.beta1": 0.5, "train.beta2": 0.9, "train.n_critic": 5, "loss.gp_lambda": 1.0,
         "train.batch_size": 256, "model.mlp_hidden": 64},
        steps=2000, expect={"modes_covered": (8, 8), "high_quality": (0.4, 1.0)},
    ),
    "minimax-saturates": LabPreset(
        "minimax-saturates", "Minimax vs LSGAN (1/2): the saturating loss gives G no gradient",
        "G is held still (lr G 1e-8) while D trains 5 steps per G step: D soon calls every fake fake "
        "(logit far below 0), and log(1 - D(G(z))) saturates: the arrows on the fakes vanish (mean |dL_G/dx| "
        "below 1e-6). Raise lr G afterwards: G stays stuck. Compare with the LSGAN preset.",
        {"shape": "8gaussians", "loss.name": "minimax", "train.lr_g": 1e-8, "train.lr_d": 1e-3, "train.n_critic": 5},
        steps=300, expect={"modes_covered": (0, 0), "grad_norm": (0.0, 1e-6)},
    ),
    "lsgan-does-not": LabPreset(
        "lsgan-does-not", "Minimax vs LSGAN (2/2): the least-squares loss keeps its gradient",
        "The same set-up with the LSGAN loss: D's score on the fakes settles at its target a, and G's loss "
        "1/2 (D(x) - c)^2 still has a clear slope there: the arrows stay visible (mean |dL_G/dx| above 1e-3, "
        "orders of magnitude above minimax). Raise lr G afterwards and the fakes travel to the ring.",
        {"shape": "8gaussians", "loss.name": "lsgan", "train.lr_g": 1e-8, "train.lr_d": 1e-3, "train.n_critic": 5},
        steps=300, expect={"modes_covered": (0, 0), "grad_norm": (1e-3, 1e6)},
    ),
}


@dataclass
class PresetResult:
    name: str
    steps: int
    seconds: float
    coverage: Optional[ModeCoverage]
    grad_norm: float
    values: dict[str, float]
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def check_expectations(values: Mapping[str, float], expect: Mapping[str, tuple[float, float]]) -> list[str]:
    """Messages for each metric outside its (min, max) range (empty list = all good)."""
    out = []
    for k, (lo, hi) in expect.items():
        v = values.get(k)
        if v is None or not lo <= v <= hi:
            out.append(f"{k} = {v} is outside [{lo:g}, {hi:g}]")
    return out


def run_preset(name: str, steps: Optional[int] = None, seed: Optional[int] = None,
               coverage_samples: int = 2500) -> PresetResult:
    """Train a preset headless (in the calling thread) and check its expectations."""
    p = LAB_PRESETS[name]
    cfg = p.config()
    if steps is not None or seed is not None:
        cfg = cfg.replace(**{k: v for k, v in (("train.steps", steps), ("train.seed", seed)) if v is not None})
    cfg.view_points = max(cfg.view_points, coverage_samples)
    lab = Lab2D(cfg)
    t0 = time.perf_counter()
    while lab.step < cfg.train.steps:
        lab.train_step()
    secs = time.perf_counter() - t0
    cov = lab.coverage()
    fr = lab.frame(history=False)
    values = {"grad_norm": fr.grad_norm}
    if cov is not None:
        values.update(modes_covered=float(cov.modes_covered), high_quality=cov.high_quality)
    return PresetResult(name, lab.step, secs, cov, fr.grad_norm, values, check_expectations(values, p.expect))

"""D's surface over the plane, G's gradient field and the mode-coverage metric: pure functions on any
D with the project's signature ``D(x (B, 2), labels) -> (adv (B,), aux)``."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import Tensor

from gan_core.config import LossConfig
from gan_core.data.toy2d import toy2d_modes
from gan_core.losses import LossSpec
from gan_core.lab2d.settings import DRAWN, LabConfig

DFn = Callable[..., tuple[Tensor, list]]


def surface_scale(spec: LossSpec) -> str:
    """How D's raw output is shown: "probability" (sigmoid, BCE losses), "score" (LSGAN's raw
    least-squares output) or "critic" (WGAN, hinge: an unbounded critic value)."""
    if spec.d_outputs_probs:
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


# G's arrows are drawn with a length that shows the absolute gradient |dL_G/dx| on one log scale, the same for
# every frame, loss and preset: a vanishing gradient (the saturating minimax loss: ~1e-10) draws no arrow, and
# two panels can be compared by eye. (Lengths relative within a frame drew 1e-10 as long as 1.)
ARROW_LOG_RANGE = (-6.0, 1.0)   # log10 |dL_G/dx|: no arrow at 1e-6 or less, the full length at 10 or more
ARROW_SCALE_NOTE = ("arrow length = |dL_G/dx| on one log scale for every frame and loss: "
                    "none at 1e-6 or less, full at 10")


def arrow_ends(at: Any, vec: Any, max_len: float) -> np.ndarray:
    """End points (m, 2) of the arrows from ``at`` (m, 2) along ``vec`` (m, 2) = -dL_G/dx, each drawn
    ``max_len * (log10|vec| - lo) / (hi - lo)`` long (clipped to [0, max_len]) for ARROW_LOG_RANGE (lo, hi):
    the length depends on that arrow's gradient alone."""
    at, vec = np.asarray(at, dtype=np.float64), np.asarray(vec, dtype=np.float64)
    norms = np.linalg.norm(vec, axis=1) if vec.size else np.zeros(len(vec))
    lo, hi = ARROW_LOG_RANGE
    frac = np.clip((np.log10(np.maximum(norms, 1e-300)) - lo) / (hi - lo), 0.0, 1.0)
    unit = vec / np.maximum(norms, 1e-300)[:, None]
    return at + unit * (frac * max_len)[:, None]


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


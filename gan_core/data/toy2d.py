"""2D point clouds for watching a GAN learn (and mode-collapse) in the plane."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from gan_core.config import DataConfig
from gan_core.data.base import DataError, ImageDataset, ProgressFn
from gan_core.data.images import report


def _gaussians(rng: np.random.Generator, n: int, centers: np.ndarray, std: float) -> np.ndarray:
    """``n`` points from an equal mixture of isotropic Gaussians at ``centers`` (K, 2)."""
    return centers[rng.integers(len(centers), size=n)] + rng.normal(0.0, std, size=(n, 2))


def _eight_gaussians(rng: np.random.Generator, n: int) -> np.ndarray:
    angles = np.arange(8) * (np.pi / 4)
    return _gaussians(rng, n, 2.0 * np.stack([np.cos(angles), np.sin(angles)], 1), 0.02 * 2.0)


def _twenty_five_gaussians(rng: np.random.Generator, n: int) -> np.ndarray:
    g = np.arange(-2.0, 2.5, 1.0)
    return _gaussians(rng, n, np.stack(np.meshgrid(g, g), -1).reshape(-1, 2), 0.05)


def _ring(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.uniform(0.0, 2 * np.pi, n)
    r = 2.0 + rng.normal(0.0, 0.05, n)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


def _spiral(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.sqrt(rng.uniform(0.0, 1.0, n)) * 3 * np.pi + 0.5 * np.pi  # denser sampling further out
    r = 2.0 * t / (3.5 * np.pi)
    return np.stack([r * np.cos(t), r * np.sin(t)], 1) + rng.normal(0.0, 0.04, (n, 2))


def _two_moons(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two interleaved half circles (as scikit-learn's make_moons), centred and scaled to about [-2.3, 2.3]."""
    upper = rng.random(n) < 0.5
    t = rng.uniform(0.0, np.pi, n)
    x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    return 1.5 * (np.stack([x - 0.5, y - 0.25], 1) + rng.normal(0.0, 0.05, (n, 2)))


TOY2D_SAMPLERS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "8gaussians": _eight_gaussians,
    "25gaussians": _twenty_five_gaussians,
    "moons": _two_moons,
    "ring": _ring,
    "spiral": _spiral,
}


def toy2d_modes(shape: str) -> Optional[tuple[np.ndarray, float]]:
    """(centres (K, 2), std) of a Gaussian-mixture shape, for mode-coverage metrics; None for the others."""
    if shape == "8gaussians":
        angles = np.arange(8) * (np.pi / 4)
        return 2.0 * np.stack([np.cos(angles), np.sin(angles)], 1), 0.02 * 2.0
    if shape == "25gaussians":
        g = np.arange(-2.0, 2.5, 1.0)
        return np.stack(np.meshgrid(g, g), -1).reshape(-1, 2), 0.05
    return None


def sample_around(centers: np.ndarray, n: int, seed: int, std: float = 0.05) -> np.ndarray:
    """``n`` float32 points (n, 2) from Gaussians of ``std`` around user-drawn ``centers`` (K, 2), K >= 1."""
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    if len(centers) == 0:
        raise DataError("no points drawn: add at least one point")
    return _gaussians(np.random.default_rng(seed), n, centers, std).astype(np.float32)


def sample_toy2d(shape: str, n: int, seed: int) -> np.ndarray:
    """``n`` float32 points (n, 2) of ``shape``, roughly inside [-2, 2]^2; deterministic in ``seed``."""
    if shape not in TOY2D_SAMPLERS:
        raise DataError(f"unknown toy shape {shape!r}; choose from {', '.join(TOY2D_SAMPLERS)}")
    return TOY2D_SAMPLERS[shape](np.random.default_rng(seed), n).astype(np.float32)


def load_toy2d(cfg: DataConfig, progress: Optional[ProgressFn] = None) -> ImageDataset:
    """cfg.num_samples points of cfg.toy_shape as a float32 (N, 2) "images" tensor; no labels."""
    points = torch.from_numpy(sample_toy2d(cfg.toy_shape, cfg.num_samples, cfg.seed))
    report(progress, 1.0, f"sampled {len(points)} points ({cfg.toy_shape})")
    return ImageDataset(f"toy2d:{cfg.toy_shape}", points)

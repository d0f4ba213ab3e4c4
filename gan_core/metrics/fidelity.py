"""Fidelity and diversity of generated samples, from features (pure maths, no models).

* :func:`prdc`: precision / recall (Kynkäänniemi et al. 2019) and density / coverage (Naeem et al.
  2020) from k-nearest-neighbour balls around real and fake feature vectors.
* :func:`within_tag_spread` and :func:`diversity_ratio`: how much samples that share their tags
  differ from each other, relative to real images with the same tags. A conditional generator that
  ignores z draws one image per tag combination: its ratio is ~0 while its tag accuracy, FID on a tag
  classifier's features and even recall can look fine.

Features are (N, F) float tensors; labels (N, G) long tensors (one column per tag group).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

__all__ = ["PRDC", "prdc", "knn_radii", "within_tag_spread", "diversity_ratio"]


@dataclass(frozen=True)
class PRDC:
    precision: float   # share of fakes inside some real k-NN ball (fidelity)
    recall: float      # share of reals inside some fake k-NN ball (diversity)
    density: float     # mean number of real balls around each fake / k (fidelity, can exceed 1)
    coverage: float    # share of reals whose own ball holds a fake (diversity)
    k: int
    n_real: int
    n_fake: int

    def to_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "density": self.density,
                "coverage": self.coverage, "prdc_k": self.k}


def knn_radii(x: Tensor, k: int) -> Tensor:
    """(N,) distance of each row of x (N, F) to its k-th nearest other row."""
    if len(x) <= k:
        raise ValueError(f"need more than k={k} samples, got {len(x)}")
    d = torch.cdist(x, x)                                   # (N, N), zero diagonal
    return d.kthvalue(k + 1, dim=1).values                  # +1: the row itself is at distance 0


def prdc(real: Tensor, fake: Tensor, k: int = 5) -> PRDC:
    """Precision, recall, density and coverage of ``fake`` (M, F) against ``real`` (N, F).

    precision = mean_j [exists i: |f_j - r_i| < rad_r(i)]
    recall    = mean_i [exists j: |r_i - f_j| < rad_f(j)]
    density   = 1/(kM) sum_j #{i: |f_j - r_i| < rad_r(i)}
    coverage  = mean_i [min_j |r_i - f_j| < rad_r(i)]

    The balls are open (``<``), as in the reference ``prdc`` code of Naeem et al.: with fakes equal to
    the reals each fake lies strictly inside its own ball and the balls of its k-1 nearer neighbours,
    so density is exactly 1.0 (closed balls would count the k-th neighbour too: (k+1)/k).
    """
    real, fake = real.double(), fake.double()
    rad_r, rad_f = knn_radii(real, k), knn_radii(fake, k)   # (N,), (M,)
    d = torch.cdist(real, fake)                             # (N, M)
    inside_real = d < rad_r[:, None]                       # fake j inside real ball i
    inside_fake = d < rad_f[None, :]                       # real i inside fake ball j
    return PRDC(
        precision=float(inside_real.any(dim=0).double().mean()),
        recall=float(inside_fake.any(dim=1).double().mean()),
        density=float(inside_real.double().sum() / (k * fake.shape[0])),
        coverage=float((d.min(dim=1).values < rad_r).double().mean()),
        k=k, n_real=int(real.shape[0]), n_fake=int(fake.shape[0]),
    )


def _combo_ids(labels: Tensor) -> Tensor:
    y = labels.reshape(len(labels), -1).cpu()
    return torch.unique(y, dim=0, return_inverse=True)[1]


def within_tag_spread(features: Tensor, labels: Tensor) -> tuple[Optional[float], int]:
    """RMS per-dimension standard deviation among samples with the same tags, pooled over the tag
    combinations that have >= 2 samples: sqrt(sum_c sum_i |x_i - mean_c|^2 / (F * sum_c (n_c - 1))).

    Returns (spread, number of samples in combinations with >= 2 of them); spread is None when no
    combination has 2 samples. Pooling with n_c - 1 keeps it unbiased for small groups."""
    f = features.double().flatten(1)
    ids = _combo_ids(labels)
    ss, dof, used = 0.0, 0, 0
    for c in torch.unique(ids):
        g = f[ids == c]
        if len(g) < 2:
            continue
        ss += float((g - g.mean(0)).pow(2).sum())
        dof += len(g) - 1
        used += len(g)
    if dof == 0:
        return None, 0
    return (ss / (dof * f.shape[1])) ** 0.5, used


def diversity_ratio(fake: Tensor, fake_labels: Tensor, real: Tensor, real_labels: Tensor) -> Optional[float]:
    """Within-tag spread of the generated samples / that of real samples (same features for both):
    ~1 when G varies what the data varies for fixed tags, ~0 when G ignores z."""
    g, _ = within_tag_spread(fake, fake_labels)
    r, _ = within_tag_spread(real, real_labels)
    if g is None or not r:
        return None
    return g / r

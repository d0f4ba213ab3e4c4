"""Latent-space tools: sampling z, lerp/slerp paths, arithmetic, and "same z, other tags".

Randomness is explicit: pass ``generator=`` (a torch.Generator) or a ``seed``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn


def sample_z(n: int, z_dim: int, *, seed: Optional[int] = None, generator: Optional[torch.Generator] = None,
             device: torch.device | str = "cpu") -> Tensor:
    """(n, z_dim) standard normal. Same seed -> same z on every device (drawn on the CPU)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
    return torch.randn(n, z_dim, generator=generator, device=generator.device).to(device)


def lerp(z1: Tensor, z2: Tensor, t: Tensor | float) -> Tensor:
    """(1 - t) z1 + t z2."""
    return torch.lerp(z1, z2, t if isinstance(t, Tensor) else torch.tensor(float(t), dtype=z1.dtype))


def slerp(z1: Tensor, z2: Tensor, t: Tensor | float, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation along the great circle between z1 and z2 (last dim), lerp when parallel.

    z1, z2: (..., D); t: scalar or (..., 1).
    """
    t = t if isinstance(t, Tensor) else torch.tensor(float(t), dtype=z1.dtype)
    n1, n2 = z1.norm(dim=-1, keepdim=True), z2.norm(dim=-1, keepdim=True)
    cos = ((z1 * z2).sum(-1, keepdim=True) / (n1 * n2).clamp_min(eps)).clamp(-1 + eps, 1 - eps)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    out = (torch.sin((1 - t) * omega) / so) * z1 + (torch.sin(t * omega) / so) * z2
    return torch.where(so.abs() < 1e-4, lerp(z1, z2, t), out)


def interpolation_path(z1: Tensor, z2: Tensor, steps: int, method: str = "slerp") -> Tensor:
    """(steps, D) path from z1 (D,) to z2 (D,), endpoints included."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    if method not in ("lerp", "slerp"):
        raise ValueError(f"method must be 'lerp' or 'slerp', got {method!r}")
    t = torch.linspace(0, 1, steps, dtype=z1.dtype)[:, None]  # (steps, 1)
    fn = slerp if method == "slerp" else lerp
    return fn(z1[None].expand(steps, -1), z2[None].expand(steps, -1), t)


def label_path(y1: Tensor, y2: Tensor, steps: int) -> Tensor:
    """(steps, G) labels for a path between two tag sets: the first half keeps y1, the rest y2."""
    return torch.stack([y1 if i < steps / 2 else y2 for i in range(steps)])


def arithmetic(z1: Tensor, z2: Tensor, z3: Tensor) -> Tensor:
    """z1 - z2 + z3 (e.g. "smiling woman" - "woman" + "man")."""
    return z1 - z2 + z3


@torch.no_grad()
def generate(G: nn.Module, z: Tensor, labels: Optional[Tensor] = None, batch_size: int = 256) -> Tensor:
    """G(z, labels) in batches, in eval mode; returns float CPU tensor in [-1, 1]."""
    device = next(G.parameters()).device
    was = G.training
    G.eval()
    out = []
    try:
        for i in range(0, len(z), batch_size):
            y = labels[i:i + batch_size].to(device) if labels is not None else None
            out.append(G(z[i:i + batch_size].to(device), y).float().cpu())
    finally:
        G.train(was)
    return torch.cat(out)


def same_z_other_tags(z: Tensor, base: Sequence[int], group: int, num_classes: int) -> tuple[Tensor, Tensor]:
    """For each z (n, D) and every class of one label group: z repeated and labels varying.

    Returns z (n * num_classes, D) and labels (n * num_classes, G), ordered row-major by z: a grid with
    one row per z and one column per class of ``group``; other groups keep ``base``.
    """
    n = len(z)
    zz = z.repeat_interleave(num_classes, dim=0)
    y = torch.tensor(list(base), dtype=torch.long).repeat(n * num_classes, 1)
    y[:, group] = torch.arange(num_classes).repeat(n)
    return zz, y

"""Batch augmentation on the training device: random horizontal flips and small rotations."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, flip: bool, rotate_deg: float, generator: torch.Generator) -> torch.Tensor:
    """Randomly flip (p = 0.5) and rotate (uniform in [-rotate_deg, rotate_deg]) each image of a float
    batch (B, C, H, W).

    All randomness comes from ``generator`` (drawn on its own device, then moved to ``x``'s), so the
    result is reproducible. Returns ``x`` itself when both augmentations are off.
    """
    if not flip and rotate_deg == 0:
        return x
    b, gdev = x.shape[0], generator.device
    if flip:
        mirror = (torch.rand(b, generator=generator, device=gdev) < 0.5).to(x.device)
    else:
        mirror = torch.zeros(b, dtype=torch.bool, device=x.device)
    if rotate_deg == 0:  # exact flip, no resampling
        return torch.where(mirror.view(b, 1, 1, 1), x.flip(-1), x)
    u = torch.rand(b, generator=generator, device=gdev).to(x.device, torch.float32)
    angle = (u * 2 - 1) * math.radians(rotate_deg)
    cos, sin = angle.cos(), angle.sin()
    sx = 1.0 - 2.0 * mirror.float()  # -1 mirrors x: input coordinates = R(angle) @ diag(sx, 1) @ output
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos * sx, -sin, zero], 1), torch.stack([sin * sx, cos, zero], 1)], 1)
    xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
    grid = F.affine_grid(theta.to(xf.dtype), list(xf.shape), align_corners=False)
    out = F.grid_sample(xf, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.to(x.dtype)

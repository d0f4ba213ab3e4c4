"""Batch augmentation on the training device: random horizontal flips and small rotations, and
DiffAugment of D's inputs."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from gan_core.config import DIFFAUGMENT_OPS, parse_diffaugment


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


# ---- DiffAugment (Zhao et al. 2020): differentiable augmentations of D's inputs, real and fake ----------
def _rand(shape: tuple[int, ...], generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=generator.device).to(like.device, like.dtype)


def _color(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5), per image."""
    b = x.shape[0]
    x = x + (_rand((b, 1, 1, 1), g, x) - 0.5)
    mean_c = x.mean(dim=1, keepdim=True)                              # (B, 1, H, W) grey
    x = (x - mean_c) * (_rand((b, 1, 1, 1), g, x) * 2) + mean_c
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand((b, 1, 1, 1), g, x) + 0.5) + mean


def _translation(x: torch.Tensor, g: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * size pixels in x and y; uncovered pixels become 0."""
    b, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = (_rand((b, 1, 1), g, x) * (2 * max_dy + 1)).floor().long() - max_dy   # (B, 1, 1) in [-m, m]
    dx = (_rand((b, 1, 1), g, x) * (2 * max_dx + 1)).floor().long() - max_dx
    ys = torch.arange(h, device=x.device).view(1, h, 1) + dy                    # source row of each output row
    xs = torch.arange(w, device=x.device).view(1, 1, w) + dx
    valid = ((ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)).unsqueeze(1)          # (B, 1, H, W)
    idx = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).view(b, 1, h * w).expand(-1, x.shape[1], -1)
    out = x.flatten(2).gather(2, idx).view_as(x)
    return out * valid.to(x.dtype)


def _cutout(x: torch.Tensor, g: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of side ratio * size at a random place in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = (_rand((b, 1, 1), g, x) * (h + 1 - ch % 2)).floor().long()           # centre
    cx = (_rand((b, 1, 1), g, x) * (w + 1 - cw % 2)).floor().long()
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= cy - ch // 2) & (ys < cy - ch // 2 + ch) & (xs >= cx - cw // 2) & (xs < cx - cw // 2 + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


DIFFAUGMENT: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "color": _color, "translation": _translation, "cutout": _cutout}
assert tuple(DIFFAUGMENT) == DIFFAUGMENT_OPS
parse_policy = parse_diffaugment   # "color, translation" -> ("color", "translation"); ConfigError if unknown


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """Apply the ops of ``policy`` in order to a float batch (B, C, H, W); differentiable in x, so G
    learns through it. Randomness from ``generator`` only."""
    for op in policy:
        x = DIFFAUGMENT[op](x, generator)
    return x

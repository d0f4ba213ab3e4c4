"""DCGAN (Radford et al. 2015), sized for 16/32/64 px, optionally conditional."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..config import ModelConfig
from .common import ConditionedLatent, DHead, GDropout, norm2d, num_upsamples

__all__ = ["DCGANGenerator", "DCGANDiscriminator"]


class DCGANGenerator(nn.Module):
    """z (B, z_dim) [+ labels] -> (B, C, S, S) in [-1, 1].

    64 px, width w: (z) -> 4x4x8w -> 8x8x4w -> 16x16x2w -> 32x32xw -> 64x64xC
    """

    def __init__(self, cfg: ModelConfig, spec, num_classes: tuple[int, ...] = ()):
        super().__init__()
        n_up = num_upsamples(spec.image_size)
        ch = cfg.g_width * 2 ** (n_up - 1)
        self.cond = ConditionedLatent(cfg.z_dim, num_classes, cfg.embed_dim)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(self.cond.out_dim, ch, 4, 1, 0, bias=False),  # (B, ch, 4, 4)
            nn.BatchNorm2d(ch), nn.ReLU(True), GDropout(cfg.g_dropout, cfg.dropout_at_test),
        ]
        for _ in range(n_up - 1):  # each: (B, ch, s, s) -> (B, ch/2, 2s, 2s)
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch // 2), nn.ReLU(True), GDropout(cfg.g_dropout, cfg.dropout_at_test),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, spec.channels, 4, 2, 1, bias=False), nn.Tanh()]  # (B, C, S, S)
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.cond(z, labels)                       # (B, z_dim [+ G*embed])
        return self.net(h[:, :, None, None])           # (B, C, S, S)


class DCGANDiscriminator(nn.Module):
    """(B, C, S, S) [+ labels] -> (adv (B,), aux list).

    64 px, width w: 64x64xC -> 32x32xw -> 16x16x2w -> 8x8x4w -> 4x4x8w -> head
    (a linear head on the 4x4 map is the classic final 4x4 valid conv).
    """

    def __init__(self, cfg: ModelConfig, spec, num_classes: tuple[int, ...] = (), conditioning: str = "none",
                 norm: str = "batch"):
        super().__init__()
        n_up = num_upsamples(spec.image_size)
        ch = cfg.d_width
        layers: list[nn.Module] = [nn.Conv2d(spec.channels, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for _ in range(n_up - 1):  # each: (B, ch, s, s) -> (B, 2ch, s/2, s/2)
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), norm2d(norm, ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.features = nn.Sequential(*layers)         # (B, ch, 4, 4)
        self.head = DHead(ch * 16, num_classes, conditioning)

    def forward(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None):
        h = self.features(x).flatten(1)                # (B, ch*16)
        return self.head(h, labels)

"""DCGAN (Radford et al. 2015), sized for 16/32/64 px, optionally conditional."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from gan_core.config import ModelConfig
from gan_core.models.common import (ConditionalBatchNorm2d, ConditionedLatent, DHead, GDropout, LabelEmbedding, norm2d,
                     num_upsamples)

__all__ = ["DCGANGenerator", "DCGANDiscriminator"]


class DCGANGenerator(nn.Module):
    """z (B, z_dim) [+ labels] -> (B, C, S, S) in [-1, 1].

    64 px, width w: (z) -> 4x4x8w -> 8x8x4w -> 16x16x2w -> 32x32xw -> 64x64xC

    How tags enter (``cfg.g_cond``, conditional archs only):
    * ``concat``: [z, embed(tags)] is the input vector (the classic cGAN / ACGAN generator);
    * ``cbn``: z alone is the input; every BatchNorm's gain and bias come from embed(tags)
      (class-conditional BN), so the tags steer every layer and z is not crowded out at the input;
    * ``both``: [z, embed(tags)] at the input and conditional BN.
    """

    def __init__(self, cfg: ModelConfig, spec, num_classes: tuple[int, ...] = ()):
        super().__init__()
        n_up = num_upsamples(spec.image_size)
        ch = cfg.g_width * 2 ** (n_up - 1)
        self.z_dim = cfg.z_dim
        self.num_classes = tuple(num_classes)
        mode = cfg.g_cond if num_classes else "concat"
        self.g_cond = mode
        if mode == "concat":  # the original layout (keeps older checkpoints loadable)
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
            return
        self.embed = LabelEmbedding(num_classes, cfg.embed_dim)
        in_dim = cfg.z_dim + (self.embed.out_dim if mode == "both" else 0)
        self.convs = nn.ModuleList([nn.ConvTranspose2d(in_dim, ch, 4, 1, 0, bias=False)])  # (B, ch, 4, 4)
        self.norms = nn.ModuleList([ConditionalBatchNorm2d(ch, self.embed.out_dim)])
        for _ in range(n_up - 1):  # each: (B, ch, s, s) -> (B, ch/2, 2s, 2s)
            self.convs.append(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False))
            self.norms.append(ConditionalBatchNorm2d(ch // 2, self.embed.out_dim))
            ch //= 2
        self.drop = GDropout(cfg.g_dropout, cfg.dropout_at_test)
        self.to_rgb = nn.ConvTranspose2d(ch, spec.channels, 4, 2, 1, bias=False)              # (B, C, S, S)

    def forward(self, z: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.g_cond == "concat":
            h = self.cond(z, labels)                   # (B, z_dim [+ G*embed])
            return self.net(h[:, :, None, None])       # (B, C, S, S)
        if labels is None:
            raise ValueError("this generator is conditional: pass labels (B, groups)")
        c = self.embed(labels)                         # (B, G*embed)
        h = torch.cat([z, c], 1) if self.g_cond == "both" else z
        h = h[:, :, None, None]
        for conv, norm in zip(self.convs, self.norms):
            h = self.drop(torch.relu(norm(conv(h), c)))
        return torch.tanh(self.to_rgb(h))              # (B, C, S, S)


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


def build(cfg: ModelConfig, spec, num_classes: tuple[int, ...], conditioning: str, d_norm: str):
    """(G, D) with the N(0, 0.02) init of the DCGAN paper."""
    from gan_core.models.common import dcgan_init

    g = DCGANGenerator(cfg, spec, num_classes)
    d = DCGANDiscriminator(cfg, spec, num_classes, conditioning, d_norm)
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    return g, d

"""SRResNet-style generator and ResNet discriminator (after Jin et al. 2017, scaled down)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from gan_core.config import ModelConfig
from gan_core.models.common import ConditionedLatent, DHead, GDropout, norm2d, num_upsamples


class _GBlock(nn.Module):
    """conv3-BN-ReLU-conv3-BN + skip, shape preserving."""

    def __init__(self, ch: int, dropout: GDropout):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True), dropout,
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNetGenerator(nn.Module):
    """z [+ labels] -> linear -> (w, S/4, S/4) -> res blocks + long skip -> 2x (conv, PixelShuffle) -> conv -> tanh."""

    def __init__(self, cfg: ModelConfig, spec, num_classes: tuple[int, ...] = ()):
        super().__init__()
        w, s0 = cfg.g_width, spec.image_size // 4
        self.w, self.s0 = w, s0
        self.z_dim, self.num_classes = cfg.z_dim, tuple(num_classes)
        self.cond = ConditionedLatent(cfg.z_dim, num_classes, cfg.embed_dim)
        self.fc = nn.Linear(self.cond.out_dim, w * s0 * s0)
        self.stem = nn.Sequential(nn.BatchNorm2d(w), nn.ReLU(True))
        drop = GDropout(cfg.g_dropout, cfg.dropout_at_test)
        self.blocks = nn.Sequential(*[_GBlock(w, drop) for _ in range(cfg.res_blocks)])
        self.post = nn.Sequential(nn.BatchNorm2d(w), nn.ReLU(True))
        up: list[nn.Module] = []
        for _ in range(2):  # (B, w, s, s) -> (B, w, 2s, 2s)
            up += [nn.Conv2d(w, w * 4, 3, 1, 1), nn.PixelShuffle(2), nn.BatchNorm2d(w), nn.ReLU(True)]
        self.up = nn.Sequential(*up)
        self.out = nn.Sequential(nn.Conv2d(w, spec.channels, 9 if spec.image_size >= 32 else 5, 1, "same"), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.fc(self.cond(z, labels)).view(-1, self.w, self.s0, self.s0)  # (B, w, S/4, S/4)
        h = self.stem(h)
        h = h + self.post(self.blocks(h))                                      # long skip
        return self.out(self.up(h))                                            # (B, C, S, S)


class _DBlock(nn.Module):
    """conv3-LReLU-conv3 + skip, LReLU."""

    def __init__(self, ch: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, 1), norm2d(norm, ch), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ch, ch, 3, 1, 1), norm2d(norm, ch),
        )
        self.act = nn.LeakyReLU(0.2, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class ResNetDiscriminator(nn.Module):
    """(B, C, S, S) -> conv -> [res block, strided conv x2 ch] down to 4x4 -> head."""

    def __init__(self, cfg: ModelConfig, spec, num_classes: tuple[int, ...] = (), conditioning: str = "none",
                 norm: str = "batch"):
        super().__init__()
        ch = cfg.d_width // 2
        layers: list[nn.Module] = [nn.Conv2d(spec.channels, ch, 3, 1, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(num_upsamples(spec.image_size)):  # (B, ch, s, s) -> (B, 2ch, s/2, s/2)
            layers += [_DBlock(ch, norm), nn.Conv2d(ch, ch * 2, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.features = nn.Sequential(*layers)           # (B, ch, 4, 4)
        self.head = DHead(ch * 16, num_classes, conditioning)

    def forward(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None):
        return self.head(self.features(x).flatten(1), labels)


def build(cfg: ModelConfig, spec, num_classes: tuple[int, ...], conditioning: str, d_norm: str):
    return SRResNetGenerator(cfg, spec, num_classes), ResNetDiscriminator(cfg, spec, num_classes, conditioning, d_norm)

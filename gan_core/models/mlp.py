"""Small MLP GAN for 2D toy data."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from gan_core.config import ModelConfig
from gan_core.models.common import DHead, GDropout


class MLPGenerator(nn.Module):
    """z (B, z_dim) -> (B, 2)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        h = cfg.mlp_hidden
        self.z_dim, self.num_classes = cfg.z_dim, ()
        drop = GDropout(cfg.g_dropout, cfg.dropout_at_test)
        self.net = nn.Sequential(
            nn.Linear(cfg.z_dim, h), nn.ReLU(True), drop,
            nn.Linear(h, h), nn.ReLU(True), drop,
            nn.Linear(h, h), nn.ReLU(True),
            nn.Linear(h, 2),
        )

    def forward(self, z: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """(B, 2) -> (adv (B,), [])."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        h = cfg.mlp_hidden
        self.features = nn.Sequential(
            nn.Linear(2, h), nn.LeakyReLU(0.2, True),
            nn.Linear(h, h), nn.LeakyReLU(0.2, True),
            nn.Linear(h, h), nn.LeakyReLU(0.2, True),
        )
        self.head = DHead(h, (), "none")

    def forward(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None):
        return self.head(self.features(x), labels)


def build(cfg: ModelConfig, spec, num_classes: tuple[int, ...], conditioning: str, d_norm: str):
    """(G, D) for 2D points (unconditional; the registry's builder signature)."""
    return MLPGenerator(cfg), MLPDiscriminator(cfg)

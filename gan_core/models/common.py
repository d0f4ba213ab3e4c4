"""Pieces shared by the backbones: label conditioning, D heads, G dropout, norms."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
import torch.nn.functional as F

from gan_core.models.registry import CONDITIONINGS


class LabelEmbedding(nn.Module):
    """Concatenated embeddings of each label group: labels (B, G) long -> (B, G * dim). A label of -1 is
    "unknown": a zero embedding (tag maps of 0, conditional BN as plain BN), for G trained with dropped tags."""

    def __init__(self, num_classes: tuple[int, ...], dim: int):
        super().__init__()
        self.embeds = nn.ModuleList(nn.Embedding(n, dim) for n in num_classes)
        self.out_dim = dim * len(num_classes)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        out = []
        for i, e in enumerate(self.embeds):
            lab = labels[:, i]
            out.append(e(lab.clamp(min=0)) * (lab >= 0)[:, None].to(e.weight.dtype))
        return torch.cat(out, dim=1)


class ConditionedLatent(nn.Module):
    """z (B, z_dim) [+ labels (B, G)] -> (B, z_dim + G * embed_dim); identity when unconditional."""

    def __init__(self, z_dim: int, num_classes: tuple[int, ...], embed_dim: int):
        super().__init__()
        self.embed = LabelEmbedding(num_classes, embed_dim) if num_classes else None
        self.out_dim = z_dim + (self.embed.out_dim if self.embed is not None else 0)

    def forward(self, z: torch.Tensor, labels: Optional[torch.Tensor]) -> torch.Tensor:
        if self.embed is None:
            return z
        if labels is None:
            raise ValueError("this generator is conditional: pass labels (B, groups)")
        return torch.cat([z, self.embed(labels)], dim=1)


class DHead(nn.Module):
    """D output head on flat features h (B, F).

    none:   adv = w.h
    cgan:   adv = w.h + sum_g <embed_g(y_g), h>   (projection discriminator, Miyato & Koyama 2018)
    acgan:  adv = w.h, aux_g = W_g h               (auxiliary classifiers)
    tacgan: adv = w.h, aux = [W_g h ..., V_g h ...] (auxiliary + twin classifiers, Gong et al. 2019:
            the first G heads learn the tags of real images, the last G those of fakes)
    """

    def __init__(self, feat_dim: int, num_classes: tuple[int, ...], conditioning: str):
        super().__init__()
        self.conditioning = conditioning
        self.adv = nn.Linear(feat_dim, 1)
        cond = CONDITIONINGS[conditioning]
        self.proj = nn.ModuleList(nn.Embedding(n, feat_dim) for n in num_classes) if cond.projection else None
        heads = cond.tag_heads
        self.aux = nn.ModuleList(nn.Linear(feat_dim, n) for _ in range(heads) for n in num_classes) if heads else None

    def forward(self, h: torch.Tensor, labels: Optional[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        adv = self.adv(h).squeeze(1)  # (B,)
        if self.proj is not None:
            if labels is None:
                raise ValueError("this discriminator is conditional: pass labels (B, groups)")
            for i, emb in enumerate(self.proj):
                adv = adv + (emb(labels[:, i]) * h).sum(dim=1)
        aux = [head(h) for head in self.aux] if self.aux is not None else []
        return adv, aux


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose per-channel gain and bias come from a condition vector c (B, cond_dim):
    BN(x) * (1 + W_g c) + W_b c  (as in BigGAN's class-conditional BN). Starts as plain BN."""

    def __init__(self, ch: int, cond_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(ch, affine=False)
        self.gain = nn.Linear(cond_dim, ch, bias=False)
        self.bias = nn.Linear(cond_dim, ch, bias=False)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        g = 1.0 + self.gain(c)[:, :, None, None]        # (B, ch, 1, 1)
        return self.bn(x) * g + self.bias(c)[:, :, None, None]


class CondSequential(nn.Sequential):
    """A Sequential that hands the condition c (B, cond_dim) to its ConditionalBatchNorm2d layers (the other
    layers get x alone). Same state-dict keys as a plain Sequential of the same layers."""

    def forward(self, x: torch.Tensor, c: Optional[torch.Tensor] = None) -> torch.Tensor:  # type: ignore[override]
        for m in self:
            x = m(x, c) if isinstance(m, ConditionalBatchNorm2d) else m(x)
        return x


def tag_norm(ch: int, cond_dim: int) -> nn.Module:
    """The BatchNorm of a G layer: conditional on the tags (cond_dim > 0) or plain."""
    return ConditionalBatchNorm2d(ch, cond_dim) if cond_dim else nn.BatchNorm2d(ch)


def tag_maps(c: torch.Tensor, size: int) -> torch.Tensor:
    """Tag embeddings (B, D) as constant feature maps (B, D, size, size), to concatenate onto an image input."""
    return c[:, :, None, None].expand(-1, -1, size, size)


class GDropout(nn.Module):
    """Dropout in G that can stay active at sampling time (noise source, as in pix2pix)."""

    def __init__(self, p: float, at_test: bool):
        super().__init__()
        self.p = p
        self.at_test = at_test

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0:
            return x
        return F.dropout(x, self.p, training=self.training or self.at_test)


def norm2d(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "layer":
        return nn.GroupNorm(1, ch)  # LayerNorm over (C, H, W)
    return nn.Identity()


def dcgan_init(m: nn.Module) -> None:
    """DCGAN init: conv/linear weights ~ N(0, 0.02), BN scale ~ N(1, 0.02), biases 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) and m.affine:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def num_upsamples(image_size: int) -> int:
    """Number of x2 stages between 4x4 and image_size (16 -> 2, 32 -> 3, 64 -> 4)."""
    n = image_size.bit_length() - 3
    if image_size not in (16, 32, 64, 128):
        raise ValueError(f"image_size must be 16, 32, 64 or 128, got {image_size}")
    return n

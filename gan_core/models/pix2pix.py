"""pix2pix networks (Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks",
CVPR 2017), sized for 32 and 64 px (any power of two from 8 to 256 works).

* :class:`UNetGenerator`: an encoder-decoder whose layer i of the encoder is concatenated onto layer
  n - i of the decoder (skip connections), so that low-level structure such as edge positions goes
  straight across. There is no z: as in the paper, the noise is dropout (p = 0.5) in the three innermost
  decoder blocks, kept on at test time. ``skips=False`` gives the paper's plain encoder-decoder baseline.
* :class:`PatchDiscriminator`: a PatchGAN that classifies each overlapping patch of the (input, output)
  pair, concatenated on channels, as real or fake; its output is a map of logits, one per patch.

Layers follow the paper's notation: Ck = Conv-BatchNorm-ReLU with k filters, CDk the same with dropout;
4x4 convolutions with stride 2; LeakyReLU 0.2 in the encoder and D, ReLU in the decoder; no BatchNorm on
the first encoder layer, on the innermost (1x1) layer or on D's first layer; weights ~ N(0, 0.02).
The objective (cGAN loss + lambda * L1 with lambda = 100) lives with the losses; :func:`l1_term` is its L1
part.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
import torch.nn.functional as F

from gan_core.models.common import CondSequential, GDropout, LabelEmbedding, dcgan_init, tag_maps, tag_norm

LAMBDA_L1 = 100.0       # the paper's weight of the L1 term
DROPOUT = 0.5           # the paper's dropout (its only noise source)
DROPOUT_BLOCKS = 3      # innermost decoder blocks with dropout (CD512 x 3 in the paper)


def _check_size(image_size: int) -> int:
    """Number of stride-2 stages that take image_size down to 1x1 (32 -> 5, 64 -> 6)."""
    if image_size < 8 or image_size > 256 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two from 8 to 256, got {image_size}")
    return image_size.bit_length() - 1


def _ch(width: int, i: int) -> int:
    """Channels of encoder stage i: width, 2 width, 4 width, then 8 width (C64-C128-C256-C512-C512...)."""
    return width * min(2 ** i, 8)


class UNetGenerator(nn.Module):
    """edges (B, in_channels, S, S) in [-1, 1] [+ tags (B, G) long] -> image (B, out_channels, S, S) in [-1, 1].

    With ``hint_channels`` (4: gan_core.data.hints), the last channels of the input are colour hints
    (dab colours and their mask) after the edges: in_channels = 1 + 4 for edges with hints.

    With ``num_classes`` (e.g. (12, 11): hair and eye colours) G also takes tags, embedded as in the
    conditional DCGAN (:class:`~gan_core.models.common.LabelEmbedding`) and entering as ``g_cond`` says:
    ``concat``: the embeddings as constant maps concatenated onto the input; ``cbn``: every BatchNorm's
    gain and bias come from them (:class:`~gan_core.models.common.ConditionalBatchNorm2d`); ``both``.
    Without tags the layers (and their state-dict keys) are those of the plain pix2pix G.

    For S = 32, width w: encoder C(w) 16x16 - C(2w) 8x8 - C(4w) 4x4 - C(8w) 2x2 - C(8w) 1x1; decoder
    CD(8w) 2x2 - CD(4w) 4x4 - CD(2w) 8x8 - C(w) 16x16 - out 32x32, each decoder block fed with
    [previous block, encoder block of the same size] (2x the channels). S = 64 adds a C(8w) stage.
    """

    takes_image = True      # an image-to-image G: G(edges[, tags]), no z (gan_core.models.latent.sample refuses it)
    z_dim = 0

    def __init__(self, image_size: int = 32, in_channels: int = 1, out_channels: int = 3, width: int = 64,
                 dropout: float = DROPOUT, dropout_at_test: bool = True, skips: bool = True, hint_channels: int = 0,
                 num_classes: tuple[int, ...] = (), g_cond: str = "concat", embed_dim: int = 32):
        super().__init__()
        n = _check_size(image_size)
        if not 0 <= hint_channels < in_channels:
            raise ValueError(f"hint_channels must be between 0 and in_channels - 1, got {hint_channels}")
        if g_cond not in ("concat", "cbn", "both"):
            raise ValueError(f"g_cond must be 'concat', 'cbn' or 'both', got {g_cond!r}")
        self.image_size, self.in_channels, self.out_channels = image_size, in_channels, out_channels
        self.hint_channels = hint_channels                     # the last ones of in_channels: colour hints
        self.skips = skips
        self.num_classes = tuple(int(k) for k in num_classes)  # () : no tags
        self.g_cond = g_cond if self.num_classes else ""
        self.embed = LabelEmbedding(self.num_classes, embed_dim) if self.num_classes else None
        cond = self.embed.out_dim if self.embed is not None else 0
        cmap = cond if self.g_cond in ("concat", "both") else 0    # tag maps onto the input
        cbn = cond if self.g_cond in ("cbn", "both") else 0        # tag-conditional BatchNorm
        ch = [_ch(width, i) for i in range(n)]                 # encoder output channels, stage 0..n-1
        enc = [nn.Conv2d(in_channels + cmap, ch[0], 4, 2, 1)]  # (B, w, S/2, S/2), no norm
        for i in range(1, n):                                  # stage i: (B, ch[i], S/2^(i+1), ...)
            innermost = i == n - 1                             # 1x1: no BatchNorm (as in the paper's code)
            enc.append(CondSequential(nn.LeakyReLU(0.2), nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=innermost),
                                      nn.Identity() if innermost else tag_norm(ch[i], cbn)))
        self.encoder = nn.ModuleList(enc)
        mult = 2 if skips else 1
        dec = []
        for k in range(n - 1):                                 # block k: (B, ch[n-2-k], S/2^(n-1-k), ...)
            c_in = ch[n - 1] if k == 0 else mult * ch[n - 1 - k]
            dec.append(CondSequential(nn.ReLU(), nn.ConvTranspose2d(c_in, ch[n - 2 - k], 4, 2, 1, bias=False),
                                      tag_norm(ch[n - 2 - k], cbn),
                                      GDropout(dropout if k < DROPOUT_BLOCKS else 0.0, dropout_at_test)))
        dec.append(CondSequential(nn.ReLU(), nn.ConvTranspose2d(mult * ch[0] if n > 1 else ch[0], out_channels, 4, 2, 1),
                                  nn.Tanh()))                  # (B, out_channels, S, S)
        self.decoder = nn.ModuleList(dec)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        if x.shape[1:] != (self.in_channels, self.image_size, self.image_size):
            raise ValueError(f"expected inputs (B, {self.in_channels}, {self.image_size}, {self.image_size}), "
                             f"got {tuple(x.shape)}")
        c = None
        if self.embed is not None:
            if labels is None or labels.shape != (x.shape[0], len(self.num_classes)):
                raise ValueError(f"this generator also takes tags: pass labels ({x.shape[0]}, {len(self.num_classes)})"
                                 f", got {None if labels is None else tuple(labels.shape)}")
            c = self.embed(labels)                             # (B, G * embed_dim)
            if self.g_cond in ("concat", "both"):
                x = torch.cat([x, tag_maps(c, self.image_size).to(x.dtype)], 1)
        elif labels is not None:
            raise ValueError("this generator takes no tags (it was trained on edges without them)")
        feats = []
        h = self.encoder[0](x)
        feats.append(h)
        for e in self.encoder[1:]:
            h = e(h, c)
            feats.append(h)                                    # feats[i]: (B, ch[i], S/2^(i+1), ...)
        h = self.decoder[0](feats[-1], c)
        for k, d in enumerate(self.decoder[1:], start=1):
            skip = feats[len(feats) - 1 - k]                   # the encoder block of h's size
            h = d(torch.cat([h, skip], dim=1) if self.skips else h, c)
        return h


class TagClassifier(nn.Module):
    """D's tag heads for pix2pix (ACGAN-style, arch pix2pix-acgan): picture (B, C, S, S) -> one logit vector
    per tag group. A small conv net of its own that sees the picture alone, not the edges or the colour dabs
    (dabs of the true colours would tell it the tags without looking at the face). Strided 4x4 convs with
    LeakyReLU 0.2, no norm (batch statistics of a fake batch would hide a colour shift), down to 4x4, then
    one linear head per group on the flattened map (eye colour is a few pixels: pooling would dilute it)."""

    def __init__(self, image_size: int, channels: int, width: int, num_classes: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        c, out, size = channels, width, image_size
        while size > 4:                                        # (B, width * 2^i, S / 2^(i+1), ...)
            layers += [nn.Conv2d(c, out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c, out, size = out, 2 * out, size // 2
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleList(nn.Linear(c * size * size, n) for n in num_classes)

    def forward(self, y: torch.Tensor) -> list[torch.Tensor]:
        h = self.body(y).flatten(1)
        return [head(h) for head in self.heads]


class PatchDiscriminator(nn.Module):
    """(input (B, in_channels, S, S), output (B, out_channels, S, S)) -> patch logits (B, 1, P, P).

    With ``num_classes`` (arch pix2pix-acgan) D also has tag heads (:class:`TagClassifier`, on the output
    picture alone) and returns (patch logits, [tag logits (B, n) per group]).

    C(w) [no norm] - C(2w) - ... with stride 2 for ``n_layers`` stages, one stride-1 C, then a stride-1
    conv to one channel; each logit sees a patch of :func:`receptive_field` pixels. With
    n_layers = 2: 34x34 patches, P = 6 for S = 32 and P = 14 for S = 64 (n_layers = 3 is the paper's
    70x70 PatchGAN for 256 px).
    """

    def __init__(self, image_size: int = 32, in_channels: int = 1, out_channels: int = 3, width: int = 64,
                 n_layers: int = 2, norm: bool = True, num_classes: tuple[int, ...] = ()):
        super().__init__()
        bn = nn.BatchNorm2d if norm else (lambda c: nn.Identity())   # no norm for gradient-penalty losses
        _check_size(image_size)
        if not 0 <= n_layers <= image_size.bit_length() - 4:
            raise ValueError(f"n_layers must be between 0 and {image_size.bit_length() - 4} for {image_size} px, "
                             f"got {n_layers}")
        self.image_size, self.in_channels, self.out_channels = image_size, in_channels, out_channels
        self.n_layers = n_layers
        c0 = in_channels + out_channels
        layers: list[nn.Module] = [nn.Conv2d(c0, width, 4, 2 if n_layers else 1, 1), nn.LeakyReLU(0.2)]
        c = width
        for i in range(1, n_layers):                           # (B, ch, S/2^(i+1), ...)
            layers += [nn.Conv2d(c, _ch(width, i), 4, 2, 1, bias=not norm), bn(_ch(width, i)),
                       nn.LeakyReLU(0.2)]
            c = _ch(width, i)
        if n_layers:                                           # stride 1: (B, ch, S/2^n - 1, ...)
            layers += [nn.Conv2d(c, _ch(width, n_layers), 4, 1, 1, bias=not norm), bn(_ch(width, n_layers)),
                       nn.LeakyReLU(0.2)]
            c = _ch(width, n_layers)
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))                # (B, 1, S/2^n - 2, ...)
        self.net = nn.Sequential(*layers)
        self.tags = TagClassifier(image_size, out_channels, 2 * width, tuple(num_classes)) if num_classes else None
        self.apply(dcgan_init)

    def forward(self, inputs: torch.Tensor, outputs: torch.Tensor):
        logits = self.net(torch.cat([inputs, outputs], dim=1))
        return logits if self.tags is None else (logits, self.tags(outputs))

    @property
    def patch_size(self) -> int:
        return receptive_field(self.n_layers)

    def output_size(self) -> int:
        return self.image_size // 2 ** self.n_layers - 2 if self.n_layers else self.image_size - 2


def receptive_field(n_layers: int) -> int:
    """Pixels seen by one logit of a PatchDiscriminator (n_layers = 3: 70, 2: 34, 1: 16)."""
    strides = [2] * n_layers + [1, 1] if n_layers else [1, 1]
    rf = 1
    for s in reversed(strides):
        rf = (rf - 1) * s + 4
    return rf


def l1_term(fake: torch.Tensor, real: torch.Tensor, weight: float = LAMBDA_L1) -> torch.Tensor:
    """lambda * E|y - G(x)|: the L1 part of pix2pix's G objective (fake and real in [-1, 1])."""
    return weight * F.l1_loss(fake, real)


def default_layers(image_size: int) -> int:
    """D's stride-2 stages: 2 (34x34 patches) where the image allows, 1 for 16 px."""
    return max(0, min(2, image_size.bit_length() - 4))


def build_pix2pix(image_size: int = 32, in_channels: int = 1, out_channels: int = 3, g_width: int = 64,
                  d_width: int = 64, dropout: float = DROPOUT, n_layers: int | None = None,
                  dropout_at_test: bool = True, d_norm: bool = True,
                  hint_channels: int = 0, num_classes: tuple[int, ...] = (), g_cond: str = "concat",
                  embed_dim: int = 32, d_tag_heads: bool = False) -> tuple[UNetGenerator, PatchDiscriminator]:
    """The pair (G, D) for ``image_size`` px (``n_layers`` None: :func:`default_layers`): ``in_channels`` of
    input picture (edges: 1), plus ``hint_channels`` of colour hints (0 or 4) that G and D both see; with
    ``num_classes`` G also takes tags (``g_cond``, ``embed_dim``: :class:`UNetGenerator`); D does not,
    but with ``d_tag_heads`` it has tag heads for them (:class:`TagClassifier`)."""
    n_layers = default_layers(image_size) if n_layers is None else n_layers
    c_in = in_channels + hint_channels
    return (UNetGenerator(image_size, c_in, out_channels, g_width, dropout, dropout_at_test, hint_channels=hint_channels,
                          num_classes=num_classes, g_cond=g_cond, embed_dim=embed_dim),
            PatchDiscriminator(image_size, c_in, out_channels, d_width, n_layers, d_norm,
                               num_classes=tuple(num_classes) if d_tag_heads else ()))


def build(cfg, spec, num_classes: tuple[int, ...], conditioning: str, d_norm: str):
    """The registry's builder: edges (and colour hints) in, ``spec.channels`` out; the tags too when
    ``num_classes`` is given (pix2pix-tags, ``model.g_cond`` saying how), and D's tag heads when the
    conditioning has them (pix2pix-acgan)."""
    from gan_core.models.registry import CONDITIONINGS

    return build_pix2pix(spec.image_size, spec.input_channels, spec.channels, cfg.g_width, cfg.d_width,
                         dropout_at_test=cfg.dropout_at_test, d_norm=d_norm == "batch",
                         hint_channels=spec.hint_channels, num_classes=tuple(num_classes), g_cond=cfg.g_cond,
                         embed_dim=cfg.embed_dim, d_tag_heads=CONDITIONINGS[conditioning].tag_heads > 0)

"""Colour hints for pix2pix, in the spirit of Sangkloy et al. 2017 ("Scribbler") and Zhang et al. 2017
("Real-Time User-Guided Image Colorization"): a few small dabs of colour tell G the colours that edges
cannot show (hair, eyes, skin, background).

Hints are uint8 (N, 4, S, S): channels 0-2 hold the dabs' colours (0 elsewhere), channel 3 the mask (255
on a dab, 0 elsewhere). A hint generator (``hint_channels`` = 4) takes them after its edges on the channel
axis, 1 + 4 = 5 input channels, each mapped to [-1, 1] like the edges. No dabs = all zeros, so a hint
generator also translates edges alone.

* :func:`make_hints`: random dabs of the true colours (training), drawn from a ``torch.Generator``: how
  many per picture, where, and how big; :func:`eval_hints`: the fixed ones a hint generator is judged with.
* :func:`hints_from_picture`: a hint picture (coloured dabs on white or transparent paper, any size) ->
  hints at G's size.
* :func:`split_drawing`: a drawing whose black strokes are edges and whose coloured strokes are dabs ->
  (line drawing, hint picture).
* :func:`hint_overlay`: edges with the dabs painted over them, one RGB picture (grids, screens).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

HINT_CHANNELS = 4          # R, G, B of the dabs + their mask
DAB_SIZES = (1, 3)         # training: side of a square dab in pixels, drawn from this range (inclusive)
P_NONE = 0.25              # training: share of pairs that get no dabs (so edges alone keep working)
COLOURED = 24              # a drawing's pixel is a dab when max(R, G, B) - min(R, G, B) is at least this
PAPER = 240                # a hint picture's pixel is paper when all of R, G, B are at least this
MIN_COVER = 0.25           # a pixel of G's size is a dab when at least this share of it is covered by dabs
EVAL_DABS, EVAL_SIDE = 8, 2  # judging a hint generator: 8 dabs of 2 x 2 pixels per picture


def make_hints(images: torch.Tensor, generator: Optional[torch.Generator], max_dabs: int, min_dabs: int = 1,
               p_none: float = P_NONE, sizes: tuple[int, int] = DAB_SIZES) -> torch.Tensor:
    """Random dabs of the true colours of uint8 ``images`` (N, 3, H, W): uint8 hints (N, 4, H, W).

    Each picture gets no dab with probability ``p_none``, else ``min_dabs`` to ``max_dabs`` of them (uniform;
    ``max_dabs`` 0: none);
    a dab is a square of ``sizes[0]`` to ``sizes[1]`` pixels a side at a uniform random place inside the
    picture, and its pixels carry the picture's own colours. Every draw comes from ``generator`` (on the
    images' device), so the same generator state gives the same hints."""
    if images.dim() != 4 or images.shape[1] != 3 or images.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
    lo, hi = int(sizes[0]), int(sizes[1])
    min_dabs = min(min_dabs, max_dabs)
    if not 0 <= min_dabs or not 1 <= lo <= hi <= min(images.shape[-2:]) or not 0 <= p_none <= 1:
        raise ValueError(f"bad hint settings: dabs {min_dabs}..{max_dabs}, sizes {sizes}, p_none {p_none}")
    n, _, h, w = images.shape
    dev = images.device
    hints = torch.zeros((n, HINT_CHANNELS, h, w), dtype=torch.uint8, device=dev)
    if max_dabs == 0 or n == 0:
        return hints
    k = max_dabs
    count = torch.randint(min_dabs, k + 1, (n,), generator=generator, device=dev)
    none = torch.rand(n, generator=generator, device=dev) < p_none
    count = torch.where(none, torch.zeros_like(count), count)
    side = torch.randint(lo, hi + 1, (n, k), generator=generator, device=dev)
    top = (torch.rand(n, k, generator=generator, device=dev) * (h - side + 1)).long()    # the dab fits inside
    left = (torch.rand(n, k, generator=generator, device=dev) * (w - side + 1)).long()
    active = torch.arange(k, device=dev)[None] < count[:, None]                            # (n, k)
    cover = torch.zeros((n, h * w), dtype=torch.int32, device=dev)
    for dy in range(hi):
        for dx in range(hi):
            on = active & (dy < side) & (dx < side)
            idx = torch.where(on, (top + dy) * w + left + dx, torch.zeros_like(top))
            cover.scatter_add_(1, idx, on.to(torch.int32))
    mask = (cover > 0).view(n, 1, h, w)
    hints[:, :3] = images * mask
    hints[:, 3:] = mask.to(torch.uint8) * 255
    return hints


def eval_hints(targets: torch.Tensor, dabs: int = EVAL_DABS, seed: int = 0, side: int = EVAL_SIDE) -> torch.Tensor:
    """The hints a hint generator is judged with: exactly ``dabs`` dabs of ``side`` x ``side`` pixels of each
    target's true colours at uniform random places (they may overlap), fixed by ``seed``: uint8 (N, 4, S, S)."""
    g = torch.Generator(device=targets.device).manual_seed(int(seed))
    return make_hints(targets, g, dabs, min_dabs=dabs, p_none=0.0, sizes=(side, side))


def no_hints(n: int, size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Hints without a single dab: uint8 zeros (n, 4, size, size)."""
    return torch.zeros((n, HINT_CHANNELS, size, size), dtype=torch.uint8, device=device)


def _rgba(img) -> np.ndarray:
    """A picture (PIL image or uint8 array (H, W[, 1|3|4])) as uint8 RGBA (H, W, 4)."""
    from PIL import Image, ImageOps

    if isinstance(img, Image.Image):
        img = np.asarray(ImageOps.exif_transpose(img).convert("RGBA"))
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {a.dtype}")
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected a picture (H, W, 1|3|4), got shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.shape[2] == 3:
        a = np.concatenate([a, np.full(a.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return a


def _dabs_of(a: np.ndarray) -> np.ndarray:
    """The dab pixels of an RGBA hint picture (see :func:`hints_from_picture`): (H, W) bool."""
    opaque = a[..., 3] >= 128
    return opaque if not opaque.all() else a[..., :3].min(axis=2) < PAPER


def hints_from_picture(img, size: int) -> torch.Tensor:
    """A hint picture -> uint8 hints (4, size, size). Its dabs are the pixels that are not paper: on a
    picture with transparent pixels (alpha under 128) the transparent ones are paper and every opaque pixel
    is a dab, white too; on an opaque picture white (R, G and B all at least :data:`PAPER`) is paper. Black
    and grey dabs count as dabs. The picture is center-cropped to a square; each pixel of G's size is a dab when dabs cover at least
    :data:`MIN_COVER` of it, in the mean colour of the dab pixels it covers."""
    a = _rgba(img)
    dab = _dabs_of(a)
    rgb = torch.from_numpy(np.ascontiguousarray(a[..., :3])).permute(2, 0, 1).float()[None]
    m = torch.from_numpy(dab).float()[None, None]
    h, w = m.shape[-2:]
    s = min(h, w)
    crop = (slice(None), slice(None), slice((h - s) // 2, (h - s) // 2 + s), slice((w - s) // 2, (w - s) // 2 + s))
    rgb, m = rgb[crop], m[crop]
    if s >= size:
        cover = F.adaptive_avg_pool2d(m, size)
        colour = F.adaptive_avg_pool2d(rgb * m, size) / cover.clamp_min(1e-6)
    else:
        cover = F.interpolate(m, size=(size, size), mode="nearest")
        colour = F.interpolate(rgb, size=(size, size), mode="nearest")
    on = cover >= MIN_COVER
    out = torch.zeros((HINT_CHANNELS, size, size), dtype=torch.uint8)
    out[:3] = torch.where(on, colour.round().clamp(0, 255), 0)[0].to(torch.uint8)
    out[3] = on[0, 0].to(torch.uint8) * 255
    return out


def hint_picture(hints: torch.Tensor) -> np.ndarray:
    """Hints (4, S, S) -> the RGBA hint picture (S, S, 4) uint8 that :func:`hints_from_picture` reads back:
    dabs opaque in their colours, the rest transparent white."""
    h = hints.permute(1, 2, 0).numpy()
    on = h[..., 3] >= 128
    out = np.full(h.shape[:2] + (4,), 255, np.uint8)
    out[..., 3] = np.where(on, 255, 0)
    out[on, :3] = h[on, :3]
    return out


def coloured(rgb: np.ndarray) -> np.ndarray:
    """Which pixels of (H, W, 3) uint8 are coloured strokes, not black, grey or white ones: (H, W) bool."""
    c = rgb[..., :3].astype(np.int16)
    return (c.max(axis=2) - c.min(axis=2)) >= COLOURED


def split_drawing(background: Optional[np.ndarray], strokes: Optional[np.ndarray] = None,
                  hints=None) -> tuple[np.ndarray, np.ndarray]:
    """A drawing whose black (and grey) strokes are edges and whose coloured strokes are colour dabs ->
    (the line drawing (H, W, 3) uint8, coloured pixels turned to white paper; the hint picture (H, W, 4)
    uint8 RGBA, dabs opaque). ``background``: (H, W, 3|4) uint8 or None (white paper), e.g. the edges of a
    face with or without dabs; ``strokes``: an RGBA layer drawn over it (a canvas): its pen and eraser
    strokes (black, white) change the lines and cover the dabs beneath them, its coloured strokes are dabs
    and leave the lines beneath them as they were. Black, grey and white cannot be dab colours here (they
    are lines and paper); a separate hint picture ``hints`` (read as by :func:`hints_from_picture`, laid
    under the strokes) can have them."""
    from PIL import Image

    if background is None and strokes is None:
        raise ValueError("nothing to split: no background and no strokes")
    ref = strokes if strokes is not None else background
    hw = ref.shape[:2]
    if background is None:
        base = np.full(hw + (3,), 255, np.uint8)
    else:
        base = _rgba(background)
        if base.shape[:2] != hw:
            base = np.asarray(Image.fromarray(base).resize(hw[::-1], Image.NEAREST))
        alpha = base[..., 3:4].astype(np.float32) / 255.0        # a transparent background is white paper
        base = (base[..., :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
    dab = coloured(base)
    lines = base.astype(np.float32)
    lines[dab] = 255.0
    hint = np.zeros(hw + (4,), np.uint8)
    hint[dab, :3], hint[dab, 3] = base[dab], 255
    if hints is not None:
        hp = _rgba(hints)
        if hp.shape[:2] != hw:
            hp = np.asarray(Image.fromarray(hp).resize(hw[::-1], Image.NEAREST))
        on = _dabs_of(hp)
        hint[on, :3], hint[on, 3] = hp[on, :3], 255
    if strokes is not None:
        s = _rgba(strokes)
        a = s[..., 3].astype(np.float32) / 255.0
        s_dab = coloured(s[..., :3]) & (a > 0)
        ink = np.where(s_dab, 0.0, a)[..., None]               # pen and eraser strokes over the lines
        lines = s[..., :3].astype(np.float32) * ink + lines * (1 - ink)
        hint[~s_dab & (a >= 0.5)] = 0                           # ... which cover the dabs beneath them
        put = s_dab & (a >= 0.5)
        hint[put, :3], hint[put, 3] = s[put, :3], 255
    return lines.round().clip(0, 255).astype(np.uint8), hint


def hint_overlay(edges: torch.Tensor, hints: Optional[torch.Tensor]) -> torch.Tensor:
    """Edges uint8 (N, 1, S, S) (or (1, S, S)) with the dabs of ``hints`` (same leading shape, 4 channels)
    painted over them: uint8 RGB (N, 3, S, S) (or (3, S, S)); no hints: the edges in RGB."""
    rgb = edges.expand(*edges.shape[:-3], 3, *edges.shape[-2:]) if edges.shape[-3] == 1 else edges
    if hints is None:
        return rgb.clone()
    on = hints[..., 3:4, :, :] >= 128
    return torch.where(on, hints[..., :3, :, :], rgb)

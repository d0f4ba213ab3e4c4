"""Seeds worth showing first: the Interpolate page opens on a pair of seeds whose pictures differ visibly (seeds
0 and 1 of the shipped faces generator are nearly the same face), the latent arithmetic on three such seeds,
and a loop walks through several of them and back to the first.

:func:`distinct_seeds` draws one picture for each of a few candidate seeds, and keeps the pair farthest apart by
a cheap picture distance (the RMS difference of their silhouettes at 8 px, blind to the background colour), then adds the candidate farthest from those kept, and so on. The
answer is cached per generator (and tags), so a page pays for it once.
"""
from __future__ import annotations

import weakref
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gan_core.models import latent
from gan_core.config import RunConfig
from gan_core.models import DataSpec
from gan_core.studio.pictures import interpolation_frames, label_groups, make_labels

CANDIDATES = 16                      # candidate seeds 0..15: one small batch
_CACHE: "weakref.WeakKeyDictionary[torch.nn.Module, dict]" = weakref.WeakKeyDictionary()


def _fixed_tags(cfg: RunConfig, spec: DataSpec, tags: Optional[Sequence[Optional[int]]]) -> Optional[list[int]]:
    """One full tag set (a group left None takes seed 0's random class); None for an unconditional G."""
    y = make_labels(cfg, spec, 1, tags, 0)
    return None if y is None else [int(v) for v in y[0]]


def _tag_sets(cfg: RunConfig, spec: DataSpec, tags: Optional[Sequence[Optional[int]]]) -> list[Optional[list[int]]]:
    """The tag sets the distances are measured with: the given tags, or with none given the first class of every
    group (a page's default) and three seeded random sets, so the seeds differ whatever tags are picked."""
    if tags is not None or not label_groups(cfg, spec):
        return [_fixed_tags(cfg, spec, tags)]
    first = [0] * len(label_groups(cfg, spec))
    return [first] + [[int(v) for v in make_labels(cfg, spec, 1, None, s)[0]] for s in range(3)]


def seed_distances(G: torch.nn.Module, cfg: RunConfig, spec: DataSpec, seeds: Sequence[int],
                   tags: Optional[Sequence[Optional[int]]] = None) -> np.ndarray:
    """(n, n) distances between the pictures of ``seeds``: the RMS difference of their silhouettes, averaged over
    the tag sets of :func:`_tag_sets`."""
    z = torch.cat([latent.sample_z(1, G.z_dim, seed=s) for s in seeds])
    total = np.zeros((len(seeds), len(seeds)))
    sets = _tag_sets(cfg, spec, tags)
    for fixed in sets:
        labels = None if fixed is None else torch.tensor([fixed] * len(seeds), dtype=torch.long)
        with torch.no_grad():
            x = latent.sample(G, len(seeds), z=z, labels=labels).images
        f = _structure(x.float().cpu())
        total += (torch.cdist(f, f) / f.shape[1] ** 0.5).numpy()
    return total / len(sets)


def _structure(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, 64): how far each place is from the picture's own background colour
    (the mean of its border pixels), relative to the picture's mean of that, area-averaged to 8 px. A background of another colour does not make two
    pictures "different"; the silhouette (hair length, face and shoulders) does."""
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1).mean(-1)   # (N, C)
    fg = (x - border[..., None, None]).abs().mean(dim=1, keepdim=True)
    fg = fg / fg.mean(dim=(2, 3), keepdim=True).clamp_min(1e-6)     # its shape, not its contrast
    return (F.adaptive_avg_pool2d(fg, 8) if fg.shape[-1] > 8 else fg).flatten(1)


def distinct_seeds(G: torch.nn.Module, cfg: RunConfig, spec: DataSpec, k: int = 2,
                   tags: Optional[Sequence[Optional[int]]] = None, candidates: int = CANDIDATES) -> tuple[int, ...]:
    """``k`` seeds among 0..candidates-1 whose pictures differ most: the farthest pair first, then each next the
    candidate farthest from all kept (its nearest kept picture is the farthest). Cached per generator. For 2D
    toy generators (a seed is a whole point cloud) simply 0..k-1."""
    if not 2 <= k <= candidates:
        raise ValueError(f"k must be between 2 and {candidates}, got {k}")
    if spec.kind == "points":
        return tuple(range(k))
    key = (k, candidates, None if tags is None else tuple(tags))
    try:
        cached = _CACHE.setdefault(G, {})
    except TypeError:       # a generator that cannot be weakly referenced: no cache
        cached = {}
    if key not in cached:
        d = seed_distances(G, cfg, spec, range(candidates), tags)
        i, j = np.unravel_index(int(np.argmax(d)), d.shape)
        kept = [int(min(i, j)), int(max(i, j))]
        while len(kept) < k:
            nearest = d[:, kept].min(axis=1)
            nearest[kept] = -1.0
            kept.append(int(np.argmax(nearest)))
        cached[key] = tuple(kept)
    return cached[key]


def seed_loop_frames(G: torch.nn.Module, cfg: RunConfig, spec: DataSpec, seeds: Sequence[int],
                     steps: int = 8, method: str = "slerp",
                     tags: Optional[Sequence[Optional[int]]] = None) -> list[np.ndarray]:
    """Frames of a closed walk seeds[0] -> seeds[1] -> ... -> seeds[0] (``steps`` frames a leg, one tag set):
    a GIF of them loops without a jump."""
    if len(seeds) < 2:
        raise ValueError("a loop needs at least two seeds")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    fixed = _fixed_tags(cfg, spec, tags)
    frames: list[np.ndarray] = []
    ring = list(seeds) + [seeds[0]]
    for a, b in zip(ring, ring[1:]):
        leg = interpolation_frames(G, cfg, spec, a, b, steps=steps + 1, method=method, tags_a=fixed, tags_b=fixed)
        frames.extend(leg[:-1])      # each leg's last frame is the next leg's first
    return frames

"""Latent-space tools: the one sampling path "seed + tags -> images" (:func:`sample`), z, lerp/slerp
paths, arithmetic, and "same z, other tags".

Randomness is explicit: pass ``generator=`` (a torch.Generator) or a ``seed``. Every seed offset lives
here: with a ``seed``, z comes from ``seed`` and random tags from ``seed + TAG_SEED_OFFSET`` (so fixing a
tag never changes z or the other tags); the trainer's fixed grid uses ``seed + GRID_SEED_OFFSET`` and
evaluations ``seed + EVAL_SEED_OFFSET``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor, nn

from gan_core.config.arguments import check_arg
from gan_core.config import SEED_MAX

TAG_SEED_OFFSET = 1        # random tags of a seeded sample: their own stream, apart from z
GRID_SEED_OFFSET = 12345   # the trainer's fixed-noise grid: far from the seeds people type
EVAL_SEED_OFFSET = 1       # evaluations (metrics listener, ``evaluate``): z and tags from one stream


def rng(seed: int, offset: int = 0) -> torch.Generator:
    """A CPU generator seeded with ``seed + offset`` (wrapped into the seed range, so the largest seed plus an
    offset still works). A seed outside 0..SEED_MAX raises ConfigError (a ValueError) naming the range."""
    seed = check_arg("seed", seed)
    return torch.Generator().manual_seed((seed + offset) % (SEED_MAX + 1))


def sample_z(n: int, z_dim: int, *, seed: Optional[int] = None, generator: Optional[torch.Generator] = None,
             device: torch.device | str = "cpu") -> Tensor:
    """(n, z_dim) standard normal. Same seed -> same z on every device (drawn on the CPU)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if generator is None:
        generator = rng(0 if seed is None else seed)
    return torch.randn(n, z_dim, generator=generator, device=generator.device).to(device)


def lerp(z1: Tensor, z2: Tensor, t: Tensor | float) -> Tensor:
    """(1 - t) z1 + t z2."""
    return torch.lerp(z1, z2, t if isinstance(t, Tensor) else torch.tensor(float(t), dtype=z1.dtype))


def slerp(z1: Tensor, z2: Tensor, t: Tensor | float, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation along the great circle between z1 and z2 (last dim), lerp when parallel.

    z1, z2: (..., D); t: scalar or (..., 1).
    """
    t = t if isinstance(t, Tensor) else torch.tensor(float(t), dtype=z1.dtype)
    n1, n2 = z1.norm(dim=-1, keepdim=True), z2.norm(dim=-1, keepdim=True)
    cos = ((z1 * z2).sum(-1, keepdim=True) / (n1 * n2).clamp_min(eps)).clamp(-1 + eps, 1 - eps)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    out = (torch.sin((1 - t) * omega) / so) * z1 + (torch.sin(t * omega) / so) * z2
    return torch.where(so.abs() < 1e-4, lerp(z1, z2, t), out)


def interpolation_path(z1: Tensor, z2: Tensor, steps: int, method: str = "slerp") -> Tensor:
    """(steps, D) path from z1 (D,) to z2 (D,), endpoints included."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    if method not in ("lerp", "slerp"):
        raise ValueError(f"method must be 'lerp' or 'slerp', got {method!r}")
    t = torch.linspace(0, 1, steps, dtype=z1.dtype)[:, None]  # (steps, 1)
    fn = slerp if method == "slerp" else lerp
    return fn(z1[None].expand(steps, -1), z2[None].expand(steps, -1), t)


def label_path(y1: Tensor, y2: Tensor, steps: int) -> Tensor:
    """(steps, G) labels for a path between two tag sets: the first half keeps y1, the rest y2."""
    return torch.stack([y1 if i < steps / 2 else y2 for i in range(steps)])


def arithmetic(z1: Tensor, z2: Tensor, z3: Tensor) -> Tensor:
    """z1 - z2 + z3 (e.g. "smiling woman" - "woman" + "man")."""
    return z1 - z2 + z3


@torch.no_grad()
def generate(G: nn.Module, z: Tensor, labels: Optional[Tensor] = None, batch_size: int = 256,
             progress: Optional[Callable[[int, int], None]] = None) -> Tensor:
    """G(z, labels) in batches, in eval mode; returns float CPU tensor in [-1, 1]. ``progress(done,
    total)`` is called after each batch (a CLI progress bar)."""
    device = _device_of(G)
    was = G.training
    G.eval()
    out = []
    try:
        for i in range(0, len(z), batch_size):
            y = labels[i:i + batch_size].to(device) if labels is not None else None
            out.append(G(z[i:i + batch_size].to(device), y).float().cpu())
            if progress is not None:
                progress(min(i + batch_size, len(z)), len(z))
    finally:
        G.train(was)
    return torch.cat(out)


def same_z_other_tags(z: Tensor, base: Sequence[int], group: int, num_classes: int) -> tuple[Tensor, Tensor]:
    """For each z (n, D) and every class of one label group: z repeated and labels varying.

    Returns z (n * num_classes, D) and labels (n * num_classes, G), ordered row-major by z: a grid with
    one row per z and one column per class of ``group``; other groups keep ``base``.
    """
    n = len(z)
    zz = z.repeat_interleave(num_classes, dim=0)
    y = torch.tensor(list(base), dtype=torch.long).repeat(n * num_classes, 1)
    y[:, group] = torch.arange(num_classes).repeat(n)
    return zz, y


@dataclass
class Samples:
    """What :func:`sample` drew and made."""
    images: Tensor              # (n, C, H, W) float CPU in [-1, 1]; (n, 2) for 2D point generators
    z: Tensor                   # (n, z_dim)
    labels: Optional[Tensor]    # (n, G) long; None for an unconditional G


def draw_labels(num_classes: Sequence[int], n: int, tags: Optional[Sequence[Optional[int]]] = None,
                generator: Optional[torch.Generator] = None) -> Tensor:
    """(n, G) long labels: ``tags[g]`` for every sample, or random classes where it is None. A random
    column is drawn for every group even when its tag is fixed, so fixing one tag leaves the others
    as they were."""
    tags = list(tags) if tags is not None else [None] * len(num_classes)
    if len(tags) != len(num_classes):
        raise ValueError(f"give one tag for each of the {len(num_classes)} tag groups, got {len(tags)}")
    cols = []
    for k, t in zip(num_classes, tags):
        rnd = torch.randint(int(k), (n,), generator=generator, device=generator.device if generator else None).cpu()
        if t is None:
            cols.append(rnd)
        else:
            if not 0 <= int(t) < k:
                raise ValueError(f"tag {t} is out of range 0..{k - 1}")
            cols.append(torch.full((n,), int(t), dtype=torch.long))
    return torch.stack(cols, dim=1)


def sample(G: nn.Module, n: int, *, seed: Optional[int] = None, tags: Optional[Sequence[Optional[int]]] = None,
           labels: Optional[Tensor] = None, z: Optional[Tensor] = None, generator: Optional[torch.Generator] = None,
           batch_size: int = 256, progress: Optional[Callable[[int, int], None]] = None) -> Samples:
    """n samples of G from seeded z and tags: the one path every page, the CLI, the metrics and the
    trainer's grid use.

    ``seed``: z from ``rng(seed)``, random tags from ``rng(seed, TAG_SEED_OFFSET)``. ``generator``
    instead: z, then the random tags, from that one stream. ``tags``: one class index (or None =
    random) per tag group; ``labels`` (n, G) and ``z`` (n, z_dim): exact values (paths, sweeps). G
    exposes ``z_dim`` and ``num_classes``; it runs in eval mode in batches and is put back as it was;
    the global RNG is left untouched.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if getattr(G, "takes_image", False):
        raise ValueError("this is an image-to-image (pix2pix) generator: it turns an edge image into a picture "
                         "and draws nothing from z; use gan_core.img2img.translate (CLI: translate, app: Sketch page)")
    tag_gen = generator if generator is not None else rng(0 if seed is None else seed, TAG_SEED_OFFSET)
    if z is None:
        z = (sample_z(n, G.z_dim, seed=0 if seed is None else seed) if generator is None
             else torch.randn(n, G.z_dim, generator=generator, device=generator.device).cpu())
    elif z.shape != (n, G.z_dim):
        raise ValueError(f"z must be ({n}, {G.z_dim}), got {tuple(z.shape)}")
    if G.num_classes:
        if labels is None:
            labels = draw_labels(G.num_classes, n, tags, tag_gen)
    elif labels is not None or (tags is not None and any(t is not None for t in tags)):
        raise ValueError("this generator is unconditional: it takes no tags")
    else:
        labels = None
    dev = _device_of(G)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        x = generate(G, z, labels, batch_size, progress)
    return Samples(x, z, labels)


def _device_of(G: nn.Module) -> torch.device:
    try:
        return next(G.parameters()).device
    except StopIteration:
        return torch.device("cpu")

"""Pictures and generation for the pages: PNG bytes, GIFs, upscaling, labelled grids, and sample
grids, tag sweeps, interpolation frames and latent arithmetic, all through :func:`gan_core.models.latent.sample`.
"""

from __future__ import annotations

import io
import math
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from gan_core.models import latent
from gan_core.config import RunConfig
from gan_core.data.images import make_grid_uint8, scatter_image
from gan_core.models import DataSpec, is_conditional



# ---- pictures ---------------------------------------------------------------------------------------
def png_bytes(img: np.ndarray, compress_level: int = 1) -> bytes:
    """H x W (x 3) uint8 -> PNG file bytes (level 1: ~4x faster than the default 6, files a bit larger)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def _upscale_factor(h: int, w: int, min_size: int, max_factor: int = 8) -> int:
    return max(1, min(max_factor, -(-min_size // max(min(h, w), 1))))


def upscale(img: np.ndarray, min_size: int = 256, max_factor: int = 8) -> np.ndarray:
    """Nearest-neighbour upscale by an integer factor so the shorter side is >= ``min_size`` (crisp pixels)."""
    f = _upscale_factor(img.shape[0], img.shape[1], min_size, max_factor)
    if f == 1:
        return img
    return np.repeat(np.repeat(img, f, axis=0), f, axis=1)


def frames_to_gif(frames: Sequence[np.ndarray], fps: float = 8.0, loop: int = 0, boomerang: bool = False,
                  min_size: int = 128) -> bytes:
    """Animated GIF bytes from uint8 frames (H, W, 3), upscaled (nearest) to at least ``min_size`` px.

    ``boomerang`` plays the frames forward then backward; ``loop=0`` loops forever.
    """
    if len(frames) == 0:
        raise ValueError("frames_to_gif needs at least one frame")
    seq = list(frames)
    if boomerang and len(seq) > 2:
        seq = seq + seq[-2:0:-1]
    # one shared 256-colour palette, quantised at the native size (cheap), then a nearest upscale of
    # the palette images: several times faster than quantising every upscaled frame
    arrs = [np.ascontiguousarray(np.asarray(f, dtype=np.uint8)) for f in seq]
    mosaic = Image.fromarray(np.concatenate(arrs[:: max(1, len(arrs) // 16)], axis=0))
    palette = mosaic.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    f = _upscale_factor(arrs[0].shape[0], arrs[0].shape[1], min_size)
    ims = [Image.fromarray(a).quantize(palette=palette, dither=Image.Dither.NONE).resize(
        (a.shape[1] * f, a.shape[0] * f), Image.Resampling.NEAREST) for a in arrs]
    buf = io.BytesIO()
    duration = max(20, int(round(1000.0 / max(fps, 0.1))))
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=duration, loop=loop,
                disposal=2, optimize=False)
    return buf.getvalue()


def annotate_columns(grid: np.ndarray, labels: Sequence[str], header: int = 16,
                     background: tuple[int, int, int] = (255, 255, 255),
                     colour: tuple[int, int, int] = (30, 30, 30)) -> np.ndarray:
    """Add a header strip naming each column of an evenly tiled grid (labels cut to fit)."""
    h, w = grid.shape[:2]
    n = max(1, len(labels))
    out = Image.new("RGB", (w, h + header), background)
    out.paste(Image.fromarray(np.ascontiguousarray(grid[..., :3])), (0, header))
    draw = ImageDraw.Draw(out)
    col_w = w / n
    max_chars = max(1, int(col_w // 6))
    for i, text in enumerate(labels):
        t = text if len(text) <= max_chars else text[: max(1, max_chars - 1)] + "."
        tw = draw.textlength(t)
        draw.text((i * col_w + (col_w - tw) / 2, (header - 11) / 2), t, fill=colour)
    return np.asarray(out)


def annotate_rows(grid: np.ndarray, labels: Sequence[str], width: int = 64,
                  background: tuple[int, int, int] = (255, 255, 255),
                  colour: tuple[int, int, int] = (30, 30, 30)) -> np.ndarray:
    """Add a strip at the left naming each row of an evenly tiled grid (labels cut to fit)."""
    h, w = grid.shape[:2]
    n = max(1, len(labels))
    out = Image.new("RGB", (w + width, h), background)
    out.paste(Image.fromarray(np.ascontiguousarray(grid[..., :3])), (width, 0))
    draw = ImageDraw.Draw(out)
    row_h = h / n
    max_chars = max(1, int((width - 4) // 6))
    for i, text in enumerate(labels):
        t = text if len(text) <= max_chars else text[: max(1, max_chars - 1)] + "."
        draw.text((width - 3 - draw.textlength(t), i * row_h + (row_h - 11) / 2), t, fill=colour)
    return np.asarray(out)


# ---- generation ---------------------------------------------------------------------------------------
def label_groups(cfg: RunConfig, spec: DataSpec) -> list[tuple[str, tuple[str, ...]]]:
    """(group name, class names) for each tag a generator is conditioned on; [] when unconditional."""
    if not is_conditional(cfg.model.arch) or not spec.num_classes:
        return []
    names = spec.group_names or tuple(f"group {i}" for i in range(len(spec.num_classes)))
    classes = spec.class_names or tuple(tuple(str(c) for c in range(n)) for n in spec.num_classes)
    return list(zip(names, classes))


def make_labels(cfg: RunConfig, spec: DataSpec, n: int, tags: Optional[Sequence[Optional[int]]] = None,
                seed: int = 0) -> Optional[torch.Tensor]:
    """(n, G) long labels: ``tags[g]`` for every sample, or seeded random classes where it is None
    (the same draw :func:`gan_core.models.latent.sample` makes for ``seed``). None for unconditional generators.
    """
    groups = label_groups(cfg, spec)
    if not groups:
        return None
    _check_tags(groups, tags)
    return latent.draw_labels(spec.num_classes, n, tags, latent.rng(seed, latent.TAG_SEED_OFFSET))


def _check_tags(groups: list[tuple[str, tuple[str, ...]]], tags: Optional[Sequence[Optional[int]]]) -> None:
    """Errors that name the tag group: one tag per group, each in its group's range."""
    if tags is None:
        return
    if len(tags) != len(groups):
        raise ValueError(f"give one tag for each of {', '.join(g for g, _ in groups)}")
    for (name, classes), t in zip(groups, tags):
        if t is not None and not 0 <= int(t) < len(classes):
            raise ValueError(f"{name} tag {t} is out of range 0..{len(classes) - 1}")


def _tags_for(cfg: RunConfig, spec: DataSpec, tags: Optional[Sequence[Optional[int]]]):
    """The tags to pass to latent.sample: checked for a conditional G, dropped for an unconditional one."""
    groups = label_groups(cfg, spec)
    if not groups:
        return None
    _check_tags(groups, tags)
    return tags


def render(x: torch.Tensor, spec: DataSpec, nrow: Optional[int] = None) -> np.ndarray:
    """Generated images (B, C, H, W) -> one uint8 grid; 2D points (B, 2) -> a scatter plot."""
    if spec.kind == "points":
        return scatter_image(x.numpy())
    nrow = nrow or max(1, int(math.ceil(math.sqrt(len(x)))))
    return make_grid_uint8(x, nrow=nrow)


def sample_grid(G: torch.nn.Module, cfg: RunConfig, spec: DataSpec, n: int = 64, seed: int = 0,
                tags: Optional[Sequence[Optional[int]]] = None, nrow: Optional[int] = None) -> np.ndarray:
    """A grid of ``n`` samples from seeded z (and tags), as (H, W, 3) uint8."""
    if spec.kind == "points":
        n = max(n, 512)  # a scatter plot needs many points
    return render(latent.sample(G, n, seed=seed, tags=_tags_for(cfg, spec, tags)).images, spec, nrow)


def tag_sweep(G: torch.nn.Module, cfg: RunConfig, spec: DataSpec, group: int, rows: int = 4, seed: int = 0,
              base: Optional[Sequence[Optional[int]]] = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """"Same z, other tag": one row per z, one column per class of tag ``group`` (other tags from ``base``).

    Returns (grid, column class names). Raises ValueError for unconditional generators.
    """
    groups = label_groups(cfg, spec)
    if not groups:
        raise ValueError("this generator is unconditional: it has no tags to change")
    if not 0 <= group < len(groups):
        raise ValueError(f"tag group {group} is out of range 0..{len(groups) - 1}")
    base_labels = make_labels(cfg, spec, 1, base, seed)[0].tolist()
    classes = groups[group][1]
    zz, y = latent.same_z_other_tags(latent.sample_z(rows, G.z_dim, seed=seed), base_labels, group, len(classes))
    return render(latent.sample(G, len(zz), z=zz, labels=y).images, spec, nrow=len(classes)), classes


def _tags_tensor(cfg: RunConfig, spec: DataSpec, tags: Optional[Sequence[Optional[int]]], seed: int):
    y = make_labels(cfg, spec, 1, tags, seed)
    return None if y is None else y[0]


def interpolation_frames(G: torch.nn.Module, cfg: RunConfig, spec: DataSpec, seed_a: int, seed_b: int,
                         steps: int = 16, method: str = "slerp",
                         tags_a: Optional[Sequence[Optional[int]]] = None,
                         tags_b: Optional[Sequence[Optional[int]]] = None) -> list[np.ndarray]:
    """Frames (H, W, 3) uint8 along a lerp/slerp path from z(seed_a) to z(seed_b).

    For conditional generators the tags switch from ``tags_a`` to ``tags_b`` half way (labels are
    discrete); with equal seeds and different tags only the tags change. For 2D toy models each
    frame is a scatter plot of 512 points moving from one noise batch to the other.
    """
    zdim = G.z_dim
    if spec.kind == "points":
        za, zb = latent.sample_z(512, zdim, seed=seed_a), latent.sample_z(512, zdim, seed=seed_b)
        fn = latent.slerp if method == "slerp" else latent.lerp
        return [scatter_image(latent.sample(G, 512, z=fn(za, zb, float(t))).images.numpy())
                for t in torch.linspace(0, 1, steps)]
    z = latent.interpolation_path(latent.sample_z(1, zdim, seed=seed_a)[0], latent.sample_z(1, zdim, seed=seed_b)[0],
                                  steps, method)
    ya, yb = _tags_tensor(cfg, spec, tags_a, seed_a), _tags_tensor(cfg, spec, tags_b, seed_b)
    labels = None if ya is None else latent.label_path(ya, yb, steps)
    x = latent.sample(G, steps, z=z, labels=labels).images
    return [make_grid_uint8(x[i:i + 1], nrow=1, padding=0) for i in range(len(x))]


def frames_strip(frames: Sequence[np.ndarray], per_row: int = 8, padding: int = 2) -> np.ndarray:
    """Tile frames (H, W, 3) uint8 into rows of ``per_row`` (black gaps)."""
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)
    return make_grid_uint8(x, nrow=per_row, padding=padding)


def arithmetic_images(G: torch.nn.Module, cfg: RunConfig, spec: DataSpec, seeds: Sequence[int],
                      tags: Optional[Sequence[Optional[int]]] = None) -> list[np.ndarray]:
    """Images of z1, z2, z3 and z1 - z2 + z3 (seeded z's; one tag set for all four)."""
    if len(seeds) != 3:
        raise ValueError("latent arithmetic needs three seeds")
    zdim = G.z_dim
    if spec.kind == "points":
        zs = [latent.sample_z(512, zdim, seed=s) for s in seeds]
        return [scatter_image(latent.sample(G, 512, z=z).images.numpy()) for z in (*zs, latent.arithmetic(*zs))]
    z1, z2, z3 = (latent.sample_z(1, zdim, seed=s) for s in seeds)
    z = torch.cat([z1, z2, z3, latent.arithmetic(z1, z2, z3)])
    y = make_labels(cfg, spec, 1, tags, seeds[0])
    x = latent.sample(G, 4, z=z, labels=None if y is None else y.repeat(4, 1)).images
    return [make_grid_uint8(x[i:i + 1], nrow=1, padding=0) for i in range(4)]

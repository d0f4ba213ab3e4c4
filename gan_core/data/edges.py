"""Paired image-to-image data for pix2pix: (input A, target B) pairs, both uint8 (N, C, H, W).

Sources
* ``faces-edges``: the procedural faces (:mod:`.faces`) as targets, their Canny edges as inputs; offline,
  cached as .npz next to the faces.
* ``pairs``: a folder or .zip of "A|B" pictures, input and target side by side in one image (the format of
  the pix2pix data sets such as edges2handbags); each half is resized to ``image_size``.
* ``edges``: a plain image folder or .zip (as for the ``folder`` data set); the inputs are its Canny edges.

Edges are black (0) lines on a white (255) background, one channel, like a pencil sketch and like the
edges of the pix2pix edges2* sets.

Edge detector: Canny from kornia (``kornia.filters.canny``) rather than scikit-image. Both are real
Canny detectors (Gaussian smoothing, Sobel gradients, non-maximum suppression, hysteresis). kornia adds
less: two wheels, kornia and kornia-rs, about 7 MB to download and 21 MB installed, with no new
dependency (it needs only torch and numpy, which the project has), whereas scikit-image is a 14 MB
wheel, about 30 MB installed, and pulls in imageio, tifffile and lazy-loader. kornia also runs on whole
batches of torch tensors, on the GPU too, so the edges of 20,000 faces are one batched call instead of a
Python loop over numpy images.

Loaders take a :class:`~gan_core.config.DataConfig` (``path``, ``image_size``, ``num_samples``, ``seed``,
``cache_dir``, ``max_images``) like the other data sources and return a :class:`PairedDataset`, an
:class:`~gan_core.data.ImageDataset` whose ``images`` are the targets B (so grids, FID and the like work on
them unchanged) and whose ``inputs`` are the inputs A. Folders are read with the limits of
:mod:`.folder` (pixels per image and per data set, file sizes, zip bombs, unsafe archive paths).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from gan_core.config import DataConfig
from gan_core.data.base import DataError, ImageDataset, ProgressFn
from gan_core.data.images import Ticker, load_npz_cache, report, rgb_on_white, save_npz_atomic

EDGES_VERSION = 1        # bump when the edge settings change: old caches are then ignored
LOW, HIGH = 0.1, 0.2     # Canny hysteresis thresholds on gradient magnitude (grey levels in [0, 1])
SIGMA = 1.0              # Gaussian smoothing before the gradients (pixels)
PAIR_KINDS = ("faces-edges", "pairs", "edges")
_CHUNK_PIXELS = 4_000_000  # pixels given to Canny at once (bounds its float copies)


@dataclass
class PairedDataset(ImageDataset):
    """Pairs for image-to-image translation: ``images`` are the targets B (N, C_B, H, W) uint8 and
    ``inputs`` the inputs A (N, C_A, H, W) uint8, pair i = (inputs[i], images[i]). ``hints`` > 0: train
    with up to that many colour dabs per pair (gan_core.data.hints; the trainer makes them from the
    targets); 0: edges only."""
    inputs: Optional[torch.Tensor] = None
    hints: int = 0

    @property
    def input_channels(self) -> int:
        return int(self.inputs.shape[1]) if self.inputs is not None else 0


# ---- edges ---------------------------------------------------------------------------------------
def canny(images: torch.Tensor, low: float = LOW, high: float = HIGH, sigma: float = SIGMA,
          progress: Optional[ProgressFn] = None) -> torch.Tensor:
    """Canny edges of uint8 images (N, 1|3, H, W): uint8 (N, 1, H, W), 0 on edges and 255 elsewhere.

    Colour images are turned grey first (kornia's rgb_to_grayscale weights); work is done in chunks.
    """
    import kornia

    if images.dim() != 4 or images.shape[1] not in (1, 3) or images.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images (N, 1|3, H, W), got {images.dtype} {tuple(images.shape)}")
    if not 0 <= low < high <= 1:
        raise ValueError(f"Canny thresholds need 0 <= low < high <= 1, got low={low}, high={high}")
    n, _, h, w = images.shape
    out = torch.empty((n, 1, h, w), dtype=torch.uint8)
    ks = 2 * max(1, int(round(2 * sigma))) + 1  # kernel covering +-2 sigma (5x5 for sigma 1)
    chunk = max(1, _CHUNK_PIXELS // max(1, h * w))
    tick = Ticker(progress, n, "finding edges")
    for i in range(0, n, chunk):
        x = images[i:i + chunk].float().div_(255.0)
        _, edges = kornia.filters.canny(x, low_threshold=low, high_threshold=high, kernel_size=ks,
                                        sigma=(sigma, sigma))
        out[i:i + chunk] = torch.where(edges > 0.5, 0, 255).to(torch.uint8)
        tick(min(n, i + chunk))
    return out


def thin_lines(on: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning (1984) of a bool line map (H, W): every line becomes one pixel wide, its ends and
    connections kept. Vectorised: each pass looks at all pixels at once."""
    img = np.pad(on.astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for first in (True, False):
            p = img
            nb = [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:], p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]]
            p2, p4, p6, p8 = nb[0], nb[2], nb[4], nb[6]
            b = sum(n.astype(np.int16) for n in nb)                                 # neighbours on
            a = sum(((nb[i] == 0) & (nb[(i + 1) % 8] == 1)).astype(np.int16) for i in range(8))   # 0->1 turns
            side = ((p2 * p4 * p6) == 0) & ((p4 * p6 * p8) == 0) if first else ((p2 * p4 * p8) == 0) & ((p2 * p6 * p8) == 0)
            m = (p[1:-1, 1:-1] == 1) & (b >= 2) & (b <= 6) & (a == 1) & side
            if m.any():
                img[1:-1, 1:-1][m] = 0
                changed = True
    return img[1:-1, 1:-1].astype(bool)


def detailed_edges(images: torch.Tensor, factor: int, **canny_kw) -> torch.Tensor:
    """Canny edges of uint8 images (N, 1|3, H*factor, W*factor) brought down to (N, 1, H, W): a pixel is an edge
    when any of the ``factor`` x ``factor`` pixels it covers is one, then the lines are thinned to one pixel.
    Small features (eyes, nose, mouth of a photographed face) that vanish when the picture is shrunk first
    keep their lines. uint8, 0 on edges and 255 elsewhere, as :func:`canny`."""
    on = (canny(images, **canny_kw) == 0).float()
    if factor > 1:
        on = torch.nn.functional.max_pool2d(on, factor)
    out = np.stack([thin_lines(m[0].numpy() > 0) for m in on])[:, None]
    return torch.from_numpy(np.where(out, 0, 255).astype(np.uint8))


# ---- faces-edges ---------------------------------------------------------------------------------
def load_faces_edges(cfg: DataConfig, progress: Optional[ProgressFn] = None) -> PairedDataset:
    """The procedural faces of ``cfg`` (num_samples, image_size, seed) and their Canny edges (cached)."""
    from gan_core.data.faces import load_faces

    faces = load_faces(cfg, progress)
    n, size = len(faces), faces.image_size
    path = Path(cfg.cache_dir) / f"faces_edges_v{EDGES_VERSION}_seed{cfg.seed}_n{n}_{size}px.npz"
    cached = load_npz_cache(path, {"edges": ((n, 1, size, size), np.uint8)})
    notes = list(faces.notes)
    if cached is not None:
        edges = torch.from_numpy(cached["edges"])
        report(progress, 1.0, f"loaded the edges of {n} faces from the cache")
    else:
        edges = canny(faces.images, progress=progress)
        if not save_npz_atomic(path, edges=edges.numpy()):
            notes.append(f"could not write the cache file {path}; edges will be computed again next time")
    return PairedDataset("faces-edges", faces.images, faces.labels, faces.label_groups, notes=notes, inputs=edges)


# ---- folders -------------------------------------------------------------------------------------
def _open_source(cfg: DataConfig):
    from gan_core.data.folder import open_source

    return open_source(cfg)


def _split_pair(im: Image.Image, size: int, a_side: str, gray_a: bool) -> "np.ndarray | Exception":
    """An A|B picture -> (A, B) as one (size, size, 4|6) array: A (grey or RGB) then B (RGB)."""
    src = im
    try:
        im.draft("RGB", (2 * size, size))
        im = rgb_on_white(im)
        w, h = im.size
        if w < 2 or w < 1.5 * h or w > 2.5 * h:
            return ValueError("not an A|B pair (expected about twice as wide as high)")
        half = w // 2
        left, right = im.crop((0, 0, half, h)), im.crop((half, 0, 2 * half, h))
        a, b = (left, right) if a_side == "left" else (right, left)
        a = a.resize((size, size), Image.LANCZOS)
        b = np.asarray(b.resize((size, size), Image.LANCZOS))
        a = np.asarray(a.convert("L"))[..., None] if gray_a else np.asarray(a)
        return np.concatenate([a, b], axis=2)
    except Exception as e:  # noqa: BLE001 - truncated / corrupt data surfaces here
        return e
    finally:
        src.close()


def load_pairs_folder(cfg: DataConfig, progress: Optional[ProgressFn] = None, a_side: str = "left",
                      input_channels: int = 1) -> PairedDataset:
    """A folder or .zip of A|B side-by-side pictures (pix2pix format): inputs A (N, input_channels, S, S)
    (grey when input_channels is 1) from the ``a_side`` half, targets B (N, 3, S, S) from the other."""
    from gan_core.data import folder as fo

    if a_side not in ("left", "right"):
        raise ValueError(f"a_side must be 'left' or 'right', got {a_side!r}")
    if input_channels not in (1, 3):
        raise ValueError(f"input_channels must be 1 or 3, got {input_channels}")
    root, source = _open_source(cfg)
    log, notes = fo._SkipLog(), []
    size, limit = cfg.image_size, cfg.max_images
    arrays: list[np.ndarray] = []
    not_pairs: list[str] = []
    try:
        report(progress, 0.0, f"looking for A|B pictures in {root}")
        names, _ = fo._scan(source, log, notes)
        tick = Ticker(progress, len(names), "reading pairs", step=0.02)
        for batch, done in fo._opened_batches(source, names, log):
            for name, im in batch:
                res = _split_pair(im, size, a_side, input_channels == 1)
                if isinstance(res, ValueError):
                    not_pairs.append(name)
                elif isinstance(res, Exception):
                    log.add(fo.UNREADABLE, name)
                elif not limit or len(arrays) < limit:
                    arrays.append(res)
            tick(done)
            if limit and len(arrays) >= limit:
                break
    finally:
        source.close()
    if not_pairs:
        notes.append(f"skipped {len(not_pairs)} picture(s) that are not A|B pairs (about twice as wide as "
                     f"high): {fo._examples(not_pairs)}")
    if not arrays:
        why = f": {log.summary()}" if log.count else ""
        raise DataError(f"no usable A|B pairs in {root}: found {len(names)} image file(s), "
                        f"{len(not_pairs)} not side by side, skipped {log.count}{why}")
    both = torch.from_numpy(np.ascontiguousarray(np.stack(arrays).transpose(0, 3, 1, 2)))
    ca = input_channels
    return PairedDataset(f"pairs:{root.name}", both[:, ca:].contiguous(), None, [],
                         skipped=log.count + len(not_pairs), notes=log.notes() + notes, inputs=both[:, :ca].contiguous())


def load_folder_edges(cfg: DataConfig, progress: Optional[ProgressFn] = None) -> PairedDataset:
    """A plain image folder or .zip (read as the ``folder`` data set, tags included) with its Canny edges
    as inputs."""
    from gan_core.data.folder import load_folder

    ds = load_folder(cfg, progress)
    if cfg.max_images and len(ds) > cfg.max_images:
        ds.images = ds.images[:cfg.max_images]
        ds.labels = ds.labels[:cfg.max_images] if ds.labels is not None else None
    edges = canny(ds.images, progress=progress)
    return PairedDataset(f"edges:{ds.name.split(':', 1)[-1]}", ds.images, ds.labels, ds.label_groups,
                         skipped=ds.skipped, notes=ds.notes, inputs=edges)


def load_paired(cfg: DataConfig, kind: str, progress: Optional[ProgressFn] = None) -> PairedDataset:
    """Dispatch on ``kind``: 'faces-edges', 'pairs' (A|B pictures) or 'edges' (edges of a plain folder)."""
    if kind == "faces-edges":
        return load_faces_edges(cfg, progress)
    if kind == "pairs":
        return load_pairs_folder(cfg, progress)
    if kind == "edges":
        return load_folder_edges(cfg, progress)
    raise DataError(f"unknown paired data {kind!r}: use one of {', '.join(PAIR_KINDS)}")


def write_pair_image(a: np.ndarray, b: np.ndarray) -> bytes:
    """PNG bytes of an A|B picture from A (H, W[, 1|3]) and B (H, W, 3) uint8 (the format read above)."""
    a3 = np.repeat(a.reshape(a.shape[0], a.shape[1], -1), 3 if a.ndim == 2 or a.shape[-1] == 1 else 1, axis=2)
    buf = io.BytesIO()
    Image.fromarray(np.concatenate([a3, b], axis=1)).save(buf, format="PNG")
    return buf.getvalue()

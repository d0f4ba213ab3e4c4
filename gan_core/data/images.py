"""Small helpers shared by the data loaders and the UI.

* pixel conversions: :func:`to_float`, :func:`to_uint8`, :func:`resize_uint8`
* pictures: :func:`make_grid_uint8`, :func:`scatter_image`, :func:`save_png`
* loader plumbing: :class:`Ticker` (throttled progress), :func:`load_npz_cache` /
  :func:`save_npz_atomic` (an on-disk cache that survives crashes and corrupt files)
"""
from __future__ import annotations

import zipfile
import zlib
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageOps

from gan_core.storage.fileio import PathLike, atomic_write_bytes
from gan_core.data.base import ProgressFn


# ---- pixel conversions -------------------------------------------------------------------------
def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [-1, 1]."""
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] (values outside are clipped) -> uint8 in [0, 255]."""
    return ((x.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5).round_().to(torch.uint8)


def resize_uint8(x: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Resize uint8 images (N, C, h, w) to (N, C, size, size), bilinear, antialiased when shrinking.

    Works in chunks so that the float copy of a big set (60k MNIST digits) stays small.
    """
    if x.shape[-2:] == (size, size):
        return x.contiguous()
    shrink = size < max(x.shape[-2:])
    out = torch.empty((x.shape[0], x.shape[1], size, size), dtype=torch.uint8)
    for i in range(0, x.shape[0], chunk):
        part = F.interpolate(x[i:i + chunk].float(), size=(size, size), mode="bilinear",
                             align_corners=False, antialias=shrink)
        out[i:i + chunk] = part.round_().clamp_(0, 255).to(torch.uint8)
    return out


# ---- pictures ----------------------------------------------------------------------------------
def make_grid_uint8(images: torch.Tensor, nrow: int = 8, padding: int = 2, pad_value: int = 0) -> np.ndarray:
    """Tile images (B, C, H, W), float in [-1, 1] or uint8, into one H x W x 3 uint8 picture.

    ``nrow`` images per row; 1-channel images are shown grey; ``padding`` pixels between tiles.
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images (B, 1|3, H, W), got shape {tuple(images.shape)}")
    x = (images if images.dtype == torch.uint8 else to_uint8(images)).cpu()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    b, _, h, w = x.shape
    ncol = max(1, min(nrow, b))
    nrows = max(1, -(-b // ncol))
    grid = np.full((nrows * (h + padding) + padding, ncol * (w + padding) + padding, 3), pad_value, np.uint8)
    tiles = x.permute(0, 2, 3, 1).numpy()
    for k in range(b):
        r, c = divmod(k, ncol)
        y0, x0 = padding + r * (h + padding), padding + c * (w + padding)
        grid[y0:y0 + h, x0:x0 + w] = tiles[k]
    return grid


def scatter_image(points: Union[torch.Tensor, np.ndarray],
                  real_points: Optional[Union[torch.Tensor, np.ndarray]] = None,
                  size: int = 256, lim: float = 3.0) -> np.ndarray:
    """Plot 2D points (N, 2) in [-lim, lim]^2 as a size x size x 3 uint8 picture.

    Real points (if given) are drawn first in light blue, generated points on top in orange-red;
    y grows upwards as in a usual plot.
    """
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for v in range(-int(lim), int(lim) + 1):  # light grid at integer coordinates, darker axes
        p = (v + lim) / (2 * lim) * (size - 1)
        colour = (170, 170, 170) if v == 0 else (232, 232, 232)
        draw.line([(p, 0), (p, size - 1)], fill=colour)
        draw.line([(0, p), (size - 1, p)], fill=colour)
    arr = np.asarray(img).copy()
    if real_points is not None:
        _plot_dots(arr, real_points, lim, (120, 170, 235))
    _plot_dots(arr, points, lim, (230, 80, 30))
    return arr


def _plot_dots(arr: np.ndarray, points: Union[torch.Tensor, np.ndarray], lim: float,
               colour: Sequence[int]) -> None:
    """Draw 2x2-pixel dots for the finite points that fall inside the plot."""
    if isinstance(points, torch.Tensor):
        points = points.detach().float().cpu().numpy()
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    size = arr.shape[0]
    col = np.round((pts[:, 0] + lim) / (2 * lim) * (size - 1)).astype(np.int64)
    row = np.round((lim - pts[:, 1]) / (2 * lim) * (size - 1)).astype(np.int64)
    keep = (col >= 0) & (col < size - 1) & (row >= 0) & (row < size - 1)
    col, row = col[keep], row[keep]
    for dr in (0, 1):
        for dc in (0, 1):
            arr[row + dr, col + dc] = colour


def rgb_on_white(im: Image.Image) -> Image.Image:
    """A picture as RGB: turned upright by its EXIF orientation, transparent parts on white paper (a plain
    convert would put them on black)."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return im.convert("RGB")


def save_png(array: np.ndarray, path: PathLike) -> None:
    """Write an H x W (x 3) uint8 array as PNG, atomically (readers never see half a file)."""
    atomic_write_bytes(path, lambda f: Image.fromarray(np.ascontiguousarray(array)).save(f, format="PNG"))


# ---- loader plumbing ---------------------------------------------------------------------------
class Ticker:
    """Calls ``progress(fraction, message)`` about every ``step`` of the way; no-op if progress is None."""

    def __init__(self, progress: Optional[ProgressFn], total: int, message: str, step: float = 0.05):
        self.progress, self.total, self.message = progress, max(1, total), message
        self.every = max(1, int(self.total * step))
        self.next = 0

    def __call__(self, done: int) -> None:
        if self.progress is not None and (done >= self.next or done >= self.total):
            self.progress(min(1.0, done / self.total), f"{self.message} ({done}/{self.total})")
            self.next = done + self.every


def report(progress: Optional[ProgressFn], fraction: float, message: str) -> None:
    """Call ``progress`` if there is one."""
    if progress is not None:
        progress(fraction, message)


def load_npz_cache(path: PathLike, expected: dict[str, tuple[tuple[int, ...], np.dtype]]) -> Optional[dict[str, np.ndarray]]:
    """Read a cache written by :func:`save_npz_atomic`; None if missing, corrupt or of the wrong shape.

    ``expected`` maps each array name to its (shape, dtype).
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            out = {k: f[k] for k in expected}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return None
    for k, (shape, dtype) in expected.items():
        if out[k].shape != tuple(shape) or out[k].dtype != np.dtype(dtype):
            return None
    return out


def save_npz_atomic(path: PathLike, **arrays: np.ndarray) -> bool:
    """Write arrays to a compressed .npz via a temp file + os.replace. False if it could not be written."""
    try:
        atomic_write_bytes(path, lambda f: np.savez_compressed(f, **arrays))
    except OSError:
        return False
    return True

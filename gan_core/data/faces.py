"""Procedurally drawn anime-style faces with hair and eye colour tags (an offline stand-in for the
anime-faces data of Jin et al., 2017).

Each face is drawn with PIL at 4x supersampling and shrunk with a Lanczos filter. Image ``i`` of a
set depends only on ``(seed, i)``, so a bigger set starts with the same faces as a smaller one.
"""
from __future__ import annotations

import colorsys
import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from gan_core.config import DataConfig
from gan_core.data.tags import EYE_COLORS, HAIR_COLORS
from gan_core.data.base import ImageDataset, LabelGroup, ProgressFn
from gan_core.data.images import Ticker, load_npz_cache, report, save_npz_atomic

FACES_VERSION = 1   # bump when the drawing changes: old caches are then ignored
SUPERSAMPLE = 4

RGB = tuple[int, int, int]

HAIR_RGB: dict[str, RGB] = {
    "orange": (255, 135, 0), "white": (244, 244, 248), "aqua": (0, 215, 215), "gray": (125, 125, 132),
    "green": (35, 165, 55), "red": (215, 20, 30), "purple": (125, 45, 185), "pink": (255, 115, 190),
    "blue": (30, 70, 225), "black": (22, 22, 28), "brown": (115, 65, 25), "blonde": (248, 218, 85),
}
EYE_RGB: dict[str, RGB] = {
    "gray": (130, 130, 140), "black": (18, 18, 22), "orange": (250, 130, 0), "pink": (255, 95, 180),
    "yellow": (245, 225, 15), "aqua": (0, 210, 210), "purple": (140, 45, 205), "green": (25, 170, 45),
    "brown": (125, 70, 25), "red": (225, 15, 25), "blue": (25, 80, 235),
}
assert tuple(HAIR_RGB) == HAIR_COLORS and tuple(EYE_RGB) == EYE_COLORS

_SKIN_TONES: tuple[RGB, ...] = ((255, 230, 212), (252, 222, 200), (255, 236, 224), (245, 212, 186))
_LINE: RGB = (55, 35, 35)
Shape = tuple[str, list]   # ("ellipse", [x0, y0, x1, y1]) or ("polygon", [(x, y), ...])


# ---- colour helpers ------------------------------------------------------------------------------
def _jitter(rgb: RGB, rng: np.random.Generator, amount: float = 0.08, noise: float = 10.0) -> RGB:
    """A slightly different shade of ``rgb`` (brightness scale and per-channel noise)."""
    c = np.asarray(rgb, np.float64) * (1.0 + rng.uniform(-amount, amount)) + rng.uniform(-noise, noise, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255).round())  # type: ignore[return-value]


def _shade(rgb: RGB, f: float) -> RGB:
    """f < 1 darkens towards black, f > 1 lightens towards white."""
    c = np.asarray(rgb, np.float64)
    c = c * f if f <= 1 else c + (255 - c) * (f - 1)
    return tuple(int(v) for v in np.clip(c, 0, 255).round())  # type: ignore[return-value]


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def _hsv(h: float, s: float, v: float) -> RGB:
    return tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(h, s, v))  # type: ignore[return-value]


# ---- drawing ----------------------------------------------------------------------------------
class _Canvas:
    """An RGB image addressed in unit coordinates (0..1 on both axes)."""

    def __init__(self, size: int, background: RGB):
        self.s = float(size)
        self.img = Image.new("RGB", (size, size), background)
        self.draw = ImageDraw.Draw(self.img)

    def box(self, cx: float, cy: float, rx: float, ry: float) -> list[float]:
        return [(cx - rx) * self.s, (cy - ry) * self.s, (cx + rx) * self.s, (cy + ry) * self.s]

    def pts(self, points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * self.s, y * self.s) for x, y in points]

    def px(self, v: float) -> int:
        return max(1, int(round(v * self.s)))

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill: RGB, outline: Optional[RGB] = None,
                width: float = 0.0) -> None:
        self.draw.ellipse(self.box(cx, cy, rx, ry), fill=fill, outline=outline,
                          width=self.px(width) if outline else 0)

    def layer(self, shapes: Sequence[Shape], fill: RGB, outline: RGB, width: float) -> None:
        """Fill the union of ``shapes`` with one outline around the whole silhouette: first every
        shape grown by ``width`` in the outline colour, then every shape in the fill colour."""
        w = self.px(width)
        for kind, xy in shapes:
            if kind == "ellipse":
                x0, y0, x1, y1 = xy
                self.draw.ellipse([x0 - w, y0 - w, x1 + w, y1 + w], fill=outline)
            else:
                self.draw.polygon(xy, fill=outline)
                self.draw.line(list(xy) + [xy[0]], fill=outline, width=2 * w, joint="curve")
        for kind, xy in shapes:
            if kind == "ellipse":
                self.draw.ellipse(xy, fill=fill)
            else:
                self.draw.polygon(xy, fill=fill)


def _face_outline(cx: float, cy: float, rx: float, ry: float, n: int = 36) -> list[tuple[float, float]]:
    """An egg shape with a narrower, slightly pointed chin."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    lower = np.clip(np.sin(t), 0, None)
    x = cx + rx * np.cos(t) * (1 - 0.38 * lower ** 2)
    y = cy + ry * np.sin(t)
    return list(zip(x.tolist(), y.tolist()))


def _bang_edge(rng: np.random.Generator, x0: float, x1: float, y_tip: float, y_notch: float) -> list[tuple[float, float]]:
    """Lower edge of the bangs from right (x1) to left (x0) in one of four styles."""
    style = int(rng.integers(4))
    if style == 0:      # spiky: alternating tips and notches
        n = int(rng.integers(3, 6))
        xs = np.linspace(x1, x0, 2 * n + 1)
        ys = [y_notch if k % 2 == 0 else y_tip + rng.uniform(-0.015, 0.015) for k in range(2 * n + 1)]
        return list(zip(xs.tolist(), ys))
    if style == 1:      # straight fringe (hime cut)
        xs = np.linspace(x1, x0, 7)
        return [(x, y_tip + rng.uniform(-0.008, 0.008)) for x in xs.tolist()]
    if style == 2:      # swept to one side
        side = rng.choice([-1.0, 1.0])
        xs = np.linspace(x1, x0, 5)
        f = np.linspace(0, 1, 5) if side > 0 else np.linspace(1, 0, 5)
        return [(x, y_notch + (y_tip - y_notch) * t) for x, t in zip(xs.tolist(), f.tolist())]
    xm = (x0 + x1) / 2  # parted in the middle (curtain bangs)
    return [(x1, y_tip), (xm + (x1 - xm) * 0.45, y_tip - 0.02), (xm, y_notch - 0.03),
            (xm - (xm - x0) * 0.45, y_tip - 0.02), (x0, y_tip)]


def draw_face(hair: int, eye: int, size: int, rng: np.random.Generator) -> Image.Image:
    """Draw one anime-style face (RGB, size x size) with hair colour ``HAIR_COLORS[hair]`` and eye
    colour ``EYE_COLORS[eye]``; every other detail (style, jitter, background) comes from ``rng``."""
    cv = _Canvas(size * SUPERSAMPLE, _hsv(rng.uniform(), rng.uniform(0.12, 0.32), rng.uniform(0.9, 1.0)))
    k = rng.uniform(0.92, 1.06)                       # overall size
    cx, cy = 0.5 + rng.uniform(-0.04, 0.04), 0.55 + rng.uniform(-0.03, 0.03)
    fw, fh = 0.25 * k, 0.29 * k                       # face half-width / half-height
    hair_c = _jitter(HAIR_RGB[HAIR_COLORS[hair]], rng)
    hair_line = _shade(hair_c, 0.55)
    skin = _jitter(_SKIN_TONES[int(rng.integers(len(_SKIN_TONES)))], rng, 0.02, 4)
    line_w = 0.012

    # back hair: a cap around the head plus a mass falling to a random length
    cap = (cx, cy - 0.07 * k, fw * 1.24, fh * 1.1)
    length = rng.uniform(0.0, 1.0)
    bottom = min(1.02, cy + fh * (0.3 + 1.4 * length))
    flare = fw * rng.uniform(0.05, 0.35)
    mass = [(cx - cap[2], cap[1]), (cx - cap[2] - flare, bottom), (cx + cap[2] + flare, bottom), (cx + cap[2], cap[1])]
    cap_box = cv.box(*cap)
    cv.layer([("ellipse", cap_box), ("polygon", cv.pts(mass))], hair_c, hair_line, line_w)

    # neck, clothes, face
    cv.draw.rectangle([(cx - fw * 0.32) * cv.s, (cy + fh * 0.5) * cv.s, (cx + fw * 0.32) * cv.s, cv.s],
                      fill=_shade(skin, 0.88))
    clothes = _hsv(rng.uniform(), rng.uniform(0.25, 0.6), rng.uniform(0.35, 0.8))
    top = cy + fh * 1.3
    cv.draw.polygon(cv.pts([(cx - fw * 0.4, top), (cx + fw * 0.4, top), (cx + fw * 1.9, 1.05), (cx - fw * 1.9, 1.05)]),
                    fill=clothes, outline=_shade(clothes, 0.6), width=cv.px(line_w))
    cv.draw.polygon(cv.pts(_face_outline(cx, cy, fw, fh)), fill=skin, outline=_shade(skin, 0.7), width=cv.px(line_w * 0.8))

    # eyes: sclera, dark iris ring, iris, pupil, highlight, upper lash line
    eye_c = _jitter(EYE_RGB[EYE_COLORS[eye]], rng, 0.06, 8)
    ek = rng.uniform(0.9, 1.12)
    erx, ery = fw * 0.27 * ek, fh * 0.3 * ek
    ey = cy + fh * rng.uniform(0.08, 0.16)
    gaze = rng.uniform(-0.15, 0.15) * erx
    for side in (-1.0, 1.0):
        ex = cx + side * fw * rng.uniform(0.4, 0.46)
        cv.ellipse(ex, ey, erx, ery, (255, 255, 255))
        ix, iy, irx, iry = ex + gaze, ey + ery * 0.15, erx * 0.8, ery * 0.82
        cv.ellipse(ix, iy, irx, iry, _shade(eye_c, 0.45))
        cv.ellipse(ix, iy, irx * 0.8, iry * 0.84, eye_c)
        cv.ellipse(ix, iy + iry * 0.05, irx * 0.34, iry * 0.36, _shade(eye_c, 0.2))
        cv.ellipse(ix - irx * 0.38, iy - iry * 0.4, irx * 0.26, irx * 0.26, (255, 255, 255))
        cv.draw.arc(cv.box(ex, ey + ery * 0.05, erx * 1.08, ery * 1.05), 195, 345, fill=_LINE, width=cv.px(0.022 * k))
        if rng.uniform() < 0.5:  # blush under the eye
            cv.ellipse(ex + side * erx * 0.2, ey + ery * 1.45, erx * 0.75, ery * 0.25, _mix(skin, (255, 115, 135), 0.45))

    # nose and mouth
    my = cy + fh * rng.uniform(0.55, 0.65)
    cv.draw.line(cv.pts([(cx + fw * 0.02, my - fh * 0.22), (cx + fw * 0.05, my - fh * 0.19)]),
                 fill=_shade(skin, 0.7), width=cv.px(0.008))
    mw = fw * rng.uniform(0.1, 0.22)
    mouth = int(rng.integers(3))
    if mouth == 0:
        cv.draw.line(cv.pts([(cx - mw, my), (cx + mw, my)]), fill=(150, 55, 55), width=cv.px(0.012))
    elif mouth == 1:
        cv.draw.arc(cv.box(cx, my - mw * 0.6, mw, mw * 0.8), 20, 160, fill=(150, 55, 55), width=cv.px(0.012))
    else:
        cv.draw.chord(cv.box(cx, my - mw * 0.3, mw * 0.8, mw * 0.9), 0, 180, fill=(175, 60, 65), outline=(120, 40, 40))

    # front hair: bangs over the forehead (following the cap) and two side locks
    y_tip = cy - fh * rng.uniform(0.28, 0.4)
    y_notch = cy - fh * rng.uniform(0.58, 0.75)
    t = np.linspace(np.pi, 2 * np.pi, 13)
    arc = list(zip((cap[0] + cap[2] * np.cos(t)).tolist(), (cap[1] + cap[3] * np.sin(t)).tolist()))
    x_left, x_right = cx - fw * 1.02, cx + fw * 1.02
    bangs = arc + [(x_right, cy - fh * 0.1)] + _bang_edge(rng, x_left + 0.02, x_right - 0.02, y_tip, y_notch) \
        + [(x_left, cy - fh * 0.1)]
    lock_len = cy + fh * rng.uniform(0.3, 1.2)
    lock_w = fw * rng.uniform(0.2, 0.32)
    shapes: list[Shape] = [("polygon", cv.pts(bangs))]
    for side in (-1.0, 1.0):
        xo = cx + side * cap[2] * 0.98
        xi = cx + side * (fw * 1.02 - lock_w)
        shapes.append(("polygon", cv.pts([(xo, cy - fh * 0.45), (xi, cy - fh * 0.45), (xi + side * lock_w * 0.3, lock_len),
                                          (xo - side * lock_w * 0.1, lock_len + 0.04)])))
    cv.layer(shapes, hair_c, hair_line, line_w)
    cv.draw.arc(cv.box(cap[0], cap[1] + 0.02, cap[2] * 0.72, cap[3] * 0.7), 215, 325, fill=_shade(hair_c, 1.45),
                width=cv.px(0.025))  # shine ("angel ring")
    return cv.img.resize((size, size), Image.LANCZOS)


# ---- dataset ---------------------------------------------------------------------------------
def face_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of face ``index`` of the set made with ``seed``."""
    return np.random.default_rng([seed, index])


def generate_faces(num: int, size: int, seed: int, progress: Optional[ProgressFn] = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``num`` faces: uint8 images (num, 3, size, size) and int64 labels (num, 2) [hair, eye]."""
    images = np.empty((num, size, size, 3), np.uint8)
    labels = np.empty((num, 2), np.int64)
    tick = Ticker(progress, num, "drawing faces")
    for i in range(num):
        rng = face_rng(seed, i)
        hair, eye = int(rng.integers(len(HAIR_COLORS))), int(rng.integers(len(EYE_COLORS)))
        images[i] = np.asarray(draw_face(hair, eye, size, rng))
        labels[i] = (hair, eye)
        tick(i + 1)
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)), labels


def faces_label_groups() -> list[LabelGroup]:
    return [LabelGroup("hair", HAIR_COLORS), LabelGroup("eye", EYE_COLORS)]


def load_faces(cfg: DataConfig, progress: Optional[ProgressFn] = None) -> ImageDataset:
    """The procedural faces set for ``cfg`` (num_samples, image_size, seed), cached as .npz in cache_dir."""
    n, size, seed = cfg.num_samples, cfg.image_size, cfg.seed
    path = Path(cfg.cache_dir) / f"faces_v{FACES_VERSION}_seed{seed}_n{n}_{size}px.npz"
    expected = {"images": ((n, 3, size, size), np.uint8), "labels": ((n, 2), np.int64)}
    cached = load_npz_cache(path, expected)
    notes: list[str] = []
    if cached is None:   # one process draws a pool, others wait for it (the server makes it at start)
        with _drawing_lock(path, progress):
            cached = load_npz_cache(path, expected)
            if cached is None:
                images, labels = generate_faces(n, size, seed, progress)
                if not save_npz_atomic(path, images=images, labels=labels):
                    notes.append(f"could not write the cache file {path}; faces will be drawn again next time")
    if cached is not None:
        images, labels = cached["images"], cached["labels"]
        report(progress, 1.0, f"loaded {n} faces from the cache")
    return ImageDataset("faces", torch.from_numpy(images), torch.from_numpy(labels), faces_label_groups(), notes=notes)


@contextlib.contextmanager
def _drawing_lock(path: Path, progress: Optional[ProgressFn]) -> Iterator[None]:
    """Held while a pool is drawn: a second process loading the same pool (a run started while the
    server draws it at start-up) waits and then reads the cache instead of drawing it again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(path) + ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    except OSError:   # a read-only cache folder: draw without the lock
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report(progress, 0.0, "waiting for the faces another process is drawing (the server makes them at start)")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # releases the lock

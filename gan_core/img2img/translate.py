"""Image-to-image translation with a pix2pix generator: edges in, picture out.

* :func:`translate`: ``G`` (a :class:`~gan_core.models.pix2pix.UNetGenerator`) applied to uint8 edge
  images, black lines on white as made by :func:`~gan_core.data.edges.canny`: uint8 pictures out. A
  generator trained with colour hints (:func:`takes_hints`) also takes ``hints`` (dabs of colour,
  :mod:`gan_core.data.hints`); without them it works from the edges alone.
* :func:`edges_of_photo`: a picture (PIL image, (H, W, 3) array or uint8 tensor) -> its Canny edges at the
  generator's size, the ``--from-photo`` path of the ``translate`` command.
* :func:`sketch_to_edges`: a drawing (any size, any colours, e.g. from a canvas) -> a one-channel edge
  image of the generator's size.
* :func:`load_translator`: a pix2pix generator from a checkpoint or export, with a one-line error otherwise.
* View helpers for the Sketch pages of both front ends (no UI toolkit here): :func:`random_face_edges`
  (a starting point) and :func:`face_hints` (dabs of its true colours), :func:`compose_drawing` (canvas
  strokes over a background), :func:`merge_layers` (a pad's stroke layers as one), :func:`sketch_view` (drawing -> edges, dabs and picture, enlarged for the
  screen; black strokes are lines, coloured ones dabs); PNG bytes: gan_core.studio.png_bytes.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image
from torch import nn

from gan_core.data.edges import canny, detailed_edges
from gan_core.data.hints import coloured, eval_hints, hint_overlay, hints_from_picture, split_drawing
from gan_core.data.images import resize_uint8, rgb_on_white, to_float, to_uint8

PictureLike = Union[np.ndarray, torch.Tensor, Image.Image]


def _as_batch(x: torch.Tensor, channels: tuple[int, ...]) -> tuple[torch.Tensor, bool]:
    """uint8 (H, W), (C, H, W) or (N, C, H, W) -> (N, C, H, W) and whether the input had a batch axis."""
    if x.dtype != torch.uint8:
        raise ValueError(f"expected uint8 pixels, got {x.dtype}")
    batched = x.dim() == 4
    if x.dim() == 2:
        x = x[None]
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] not in channels:
        raise ValueError(f"expected images (N, {'|'.join(map(str, channels))}, H, W), got shape {tuple(x.shape)}")
    return x, batched


def _square(x: torch.Tensor, size: int) -> torch.Tensor:
    """Center-crop (N, C, H, W) to a square and resize to ``size``."""
    h, w = x.shape[-2:]
    s = min(h, w)
    x = x[..., (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return resize_uint8(x.contiguous(), size)


def takes_hints(G: nn.Module) -> bool:
    """Whether G was trained with colour hints (its input has hint channels after the edges)."""
    return int(getattr(G, "hint_channels", 0)) > 0


def _hint_batch(hints: torch.Tensor, n: int, size: int) -> torch.Tensor:
    """Hints uint8 (4, H, W) or (N | 1, 4, H, W) -> (n, 4, size, size): center-cropped, nearest resize."""
    h, _ = _as_batch(hints, (4,))
    if h.shape[0] not in (1, n):
        raise ValueError(f"expected hints for 1 or {n} pictures, got {h.shape[0]}")
    if h.shape[-2:] != (size, size):
        hh, ww = h.shape[-2:]
        s = min(hh, ww)
        h = h[..., (hh - s) // 2:(hh - s) // 2 + s, (ww - s) // 2:(ww - s) // 2 + s].float()
        h = torch.nn.functional.interpolate(h, size=(size, size), mode="nearest").to(torch.uint8)
    return h.expand(n, -1, -1, -1)


def takes_tags(G: nn.Module) -> bool:
    """Whether G also takes tags (a pix2pix-tags generator: hair and eye colours for the faces)."""
    return bool(getattr(G, "num_classes", ())) and getattr(G, "takes_image", False)


TagsLike = Union[torch.Tensor, Sequence[Optional[int]]]


def tag_labels(G: nn.Module, n: int, tags: Optional[TagsLike], seed: Optional[int] = None) -> Optional[torch.Tensor]:
    """The (n, G) long labels for a generator that :func:`takes_tags`: ``tags`` one class index or None
    (random) per group, or exact labels (G,) / (n, G); None: all random. Random picks come from ``seed``
    as on the Generate page (:func:`gan_core.models.latent.draw_labels` with ``rng(seed, TAG_SEED_OFFSET)``).
    None for a generator without tags; ValueError when tags are given to one."""
    from gan_core.models import latent

    if not takes_tags(G):
        if tags is not None and not (not isinstance(tags, torch.Tensor) and all(t is None for t in tags)):
            raise ValueError("this generator takes no tags (it was trained on edges without them)")
        return None
    k = len(G.num_classes)
    if isinstance(tags, torch.Tensor):
        lab = tags.long().reshape(-1, k) if tags.dim() <= 2 else tags
        if lab.shape not in ((1, k), (n, k)):
            raise ValueError(f"expected tags (G,) or ({n}, {k}), got {tuple(tags.shape)}")
        for g, c in enumerate(G.num_classes):
            if not bool(((lab[:, g] >= 0) & (lab[:, g] < c)).all()):
                raise ValueError(f"tag of group {g} out of range 0..{c - 1}")
        return lab.expand(n, -1).cpu()
    return latent.draw_labels(G.num_classes, n, tags, latent.rng(0 if seed is None else seed, latent.TAG_SEED_OFFSET))


@torch.no_grad()
def translate(G: nn.Module, edges_uint8: torch.Tensor, seed: Optional[int] = None,
              batch_size: int = 256, hints: Optional[torch.Tensor] = None,
              tags: Optional[TagsLike] = None) -> torch.Tensor:
    """Pictures for edge images: uint8 (N, 1, H, W) (or (1, H, W), (H, W)) -> uint8 (N, 3, S, S) (same batch
    axis as the input). Edges of another size are center-cropped and resized to G's ``image_size``;
    3-channel edges are made grey for a 1-channel G. G's dropout is its noise: ``seed`` fixes it.
    ``hints``: uint8 (N, 4, H, W) or (4, H, W) colour dabs (gan_core.data.hints) for a generator that
    :func:`takes_hints`; None: no dabs (edges alone). ValueError for hints to a generator without them.
    ``tags`` for a generator that :func:`takes_tags` (:func:`tag_labels`: one class or None = random per
    group, or exact labels; None: all random, drawn from ``seed``)."""
    x, batched = _as_batch(edges_uint8, (1, 3))
    hc = int(getattr(G, "hint_channels", 0))
    if hints is not None and not hc:
        raise ValueError("this generator takes no colour hints (it was trained on edges alone)")
    cin = getattr(G, "in_channels", x.shape[1] + hc) - hc
    size = getattr(G, "image_size", x.shape[-1])
    if x.shape[1] != cin:
        x = (x.float().mean(1, keepdim=True).round().to(torch.uint8) if cin == 1 else x.expand(-1, cin, -1, -1))
    x = _square(x, size)
    if hc:
        h = (_hint_batch(hints, x.shape[0], size) if hints is not None
             else torch.zeros((x.shape[0], hc, size, size), dtype=torch.uint8))
        x = torch.cat([x, h], 1)
    lab = tag_labels(G, x.shape[0], tags, seed)
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    outs = []
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            if seed is not None:
                torch.manual_seed(seed)
            for i in range(0, x.shape[0], batch_size):
                xb = to_float(x[i:i + batch_size]).to(device)
                out = G(xb) if lab is None else G(xb, lab[i:i + batch_size].to(device))
                outs.append(to_uint8(out).cpu())
    finally:
        G.train(was_training)
    out = torch.cat(outs)
    return out if batched else out[0]


def _picture_tensor(img: PictureLike) -> tuple[torch.Tensor, bool]:
    """A picture as uint8 (N, 3, H, W) and whether it had a batch axis."""
    if isinstance(img, Image.Image):
        img = np.asarray(rgb_on_white(img))
    if isinstance(img, np.ndarray):
        if img.dtype != np.uint8:
            raise ValueError(f"expected uint8 pixels, got {img.dtype}")
        if img.ndim == 2:
            img = img[..., None]
        if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
            raise ValueError(f"expected an image (H, W, 1|3|4), got shape {img.shape}")
        img = torch.from_numpy(np.array(img[..., :3])).permute(2, 0, 1)
    x, batched = _as_batch(img, (1, 3))
    return (x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x), batched


PHOTO_DETAIL = 4   # a photo's edges are found at 4x the generator's size, then brought down and thinned


def edges_of_photo(img: PictureLike, size: Optional[int] = None, detail: int = PHOTO_DETAIL,
                   **canny_kw) -> torch.Tensor:
    """Canny edges of a picture, black on white: uint8 (1, S, S) for one picture ((N, 1, S, S) for a batch
    (N, 3, H, W)). With ``size`` the picture is center-cropped to a square and resized to ``detail`` times
    ``size``, its edges found there and brought down to ``size`` with one-pixel lines
    (:func:`~gan_core.data.edges.detailed_edges`): at 32 px directly a face's eyes, nose and mouth are lost.
    ``detail=1``: Canny at ``size`` itself. ``canny_kw``: low, high, sigma of :func:`~gan_core.data.edges.canny`."""
    x, batched = _picture_tensor(img)
    if size is not None and detail > 1:
        e = detailed_edges(_square(x, size * detail).contiguous(), detail, **canny_kw)
        return e if batched else e[0]
    if size is not None:
        x = _square(x, size)
    e = canny(x.contiguous(), **canny_kw)
    return e if batched else e[0]


PHOTO_COLOURS = 64    # distinct colours (4 bits a channel) from which an upload may be a photo ...
PHOTO_PLAIN = 0.5     # ... when less than this share of it is plain paper or dark lines


def photo_likeness(img: PictureLike) -> tuple[bool, str]:
    """Whether an uploaded picture looks like a photo rather than a drawing: many colours and little plain
    paper (white) or line (dark grey / black). A drawing, even with colour dabs, is mostly paper. Returns
    (looks like a photo, the figures in words: "2,310 colours, 4% plain paper or lines")."""
    x, _ = _picture_tensor(img)
    x = x[:1]
    if max(x.shape[-2:]) > 128:       # the figures of a 128 px copy: fast on big photos
        x = torch.nn.functional.interpolate(x.float(), size=(128, 128), mode="area").round().to(torch.uint8)
    a = x[0].permute(1, 2, 0).reshape(-1, 3).numpy().astype(np.int16)
    colours = len(np.unique((a >> 4) @ np.array([256, 16, 1])))
    spread = a.max(1) - a.min(1)
    plain = float(((a.min(1) >= 200) | ((a.max(1) <= 100) & (spread < 40))).mean())
    return colours >= PHOTO_COLOURS and plain < PHOTO_PLAIN, f"{colours:,} colours, {plain:.0%} plain paper or lines"


def upload_drawing(img: PictureLike, size: int, scale: int = 8, photo: bool = False,
                   fit: bool = False) -> tuple[np.ndarray, bool, str]:
    """An uploaded picture for the Sketch pages: (the drawing to show and give :func:`sketch_view`, whether it
    was read as a photo, a note). ``photo``: the user said it is a photo; without it a photo-like upload
    (:func:`photo_likeness`) is read as a photo too, and the note says so: read as a drawing its hundreds
    of colours would be colour dabs, and the output noise. A photo gives its edges (:func:`edges_of_photo`:
    found at 4x ``size`` and thinned) enlarged ``scale`` times; a drawing is given as it is, or with ``fit``
    center-cropped and resized to that same square (``size * scale``: a drawing pad's background)."""
    auto, why = (False, "") if photo else photo_likeness(img)
    if not (photo or auto):
        x = _picture_tensor(img)[0][:1]
        if fit:
            x = _square(x, size * scale)
        return x[0].permute(1, 2, 0).numpy(), False, ""
    note = (f"This picture looks like a photo ({why}), so its edges were computed, as with \"It is a photo\". "
            "Upload a drawing of dark lines on white paper to draw the lines yourself." if auto else "")
    return enlarge(edges_of_photo(img, size), scale), True, note


def sketch_to_edges(img: PictureLike, size: int, threshold: int = 128) -> torch.Tensor:
    """A drawing (dark strokes on a light background, any size) -> uint8 (1, size, size), 0 on the strokes
    and 255 elsewhere: grey, center-cropped, shrunk with area averaging (thin strokes survive), thresholded."""
    x, _ = _picture_tensor(img)
    x = x[:1].float().mean(1, keepdim=True)
    h, w = x.shape[-2:]
    s = min(h, w)
    x = x[..., (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    x = torch.nn.functional.adaptive_avg_pool2d(x, size) if s >= size else \
        torch.nn.functional.interpolate(x, size=(size, size), mode="nearest")
    # a stroke that covers part of a pixel still darkens it: keep pixels noticeably darker than paper
    return torch.where(x < threshold + (255 - threshold) * 0.5, 0, 255).to(torch.uint8)[0]


class TranslateError(ValueError):
    """A checkpoint or picture cannot be used for translation; the message is one line."""


def load_translator(path, device: str = "cpu", with_spec: bool = False):
    """The pix2pix generator of a ``.pt`` checkpoint or ``.safetensors`` export (eval mode); with ``with_spec``
    (G, run config, DataSpec). :class:`TranslateError` (one line) when it is missing, unreadable or not an
    image-to-image generator."""
    from gan_core.storage.checkpoint import CheckpointError, load_generator

    try:
        G, cfg, spec = load_generator(path, device=device)
    except CheckpointError as e:
        raise TranslateError(str(e)) from None
    if not getattr(G, "takes_image", False):
        raise TranslateError(f"{path} holds a '{cfg.model.arch}' generator, which draws from noise; translate "
                             "needs an image-to-image one (arch 'pix2pix', e.g. checkpoints/faces_pix2pix.safetensors)")
    return (G, cfg, spec) if with_spec else G


def parse_translate_tags(G: nn.Module, spec, text: str) -> list[Optional[int]]:
    """Tag text for a generator that :func:`takes_tags` (``"blue hair, red eyes"``, the parser of ``sample
    --tags``): one class per group, None where it says ``random`` or leaves the group out (a random pick).
    ValueError for a generator without tags or unknown names."""
    from gan_core.data.tags import parse_tags_for

    if not takes_tags(G):
        raise ValueError("this generator takes no tags (it was trained on edges without them): leave --tags out")
    return list(parse_tags_for(zip(spec.group_names, spec.class_names), text, require_all=False, allow_random=True))


def random_face_edges(seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """A procedural face of ``seed`` and its Canny edges: uint8 (3, size, size) and (1, size, size)."""
    from gan_core.data.faces import generate_faces

    images, _ = generate_faces(1, size, int(seed))
    face = torch.from_numpy(images)
    return face[0], canny(face)[0]


def face_hints(face: torch.Tensor, dabs: int, seed: int = 0, side: int = 2) -> torch.Tensor:
    """``dabs`` square dabs (``side`` pixels) of a picture's true colours at random places fixed by
    ``seed``: uint8 hints (4, S, S) for uint8 ``face`` (3, S, S)."""
    return eval_hints(face[None], dabs, seed, side)[0]


def enlarge(img: torch.Tensor, scale: int) -> np.ndarray:
    """uint8 (C, H, W) -> (H*scale, W*scale, 3) uint8 array, nearest neighbour (crisp pixels on screen)."""
    x = img.expand(3, -1, -1) if img.shape[0] == 1 else img
    return np.ascontiguousarray(x.repeat_interleave(scale, 1).repeat_interleave(scale, 2).permute(1, 2, 0).numpy())


def compose_drawing(background: Optional[np.ndarray], strokes: Optional[np.ndarray]) -> np.ndarray:
    """What the user sees on a canvas: RGBA ``strokes`` (H, W, 4) laid over ``background`` (H, W, 3 or
    None = white paper). White strokes erase, dark ones draw. (H, W, 3) uint8."""
    if strokes is None and background is None:
        raise ValueError("nothing to compose: no background and no strokes")
    ref = strokes if strokes is not None else background
    base = (np.full(ref.shape[:2] + (3,), 255, np.float32) if background is None
            else np.asarray(Image.fromarray(background).resize(ref.shape[1::-1], Image.NEAREST)
                            if background.shape[:2] != ref.shape[:2] else background, np.float32)[..., :3])
    if strokes is None:
        return base.astype(np.uint8)
    a = strokes[..., 3:4].astype(np.float32) / 255.0
    return (strokes[..., :3].astype(np.float32) * a + base * (1 - a)).round().astype(np.uint8)


def merge_layers(layers) -> Optional[np.ndarray]:
    """Stroke layers (RGBA (H, W, 4) uint8 each, the first at the bottom, e.g. a drawing pad's) as one
    RGBA layer, each laid over the ones before; None for no layers."""
    layers = [np.asarray(x) for x in (layers or []) if x is not None and np.asarray(x).ndim == 3]
    if not layers:
        return None
    out = np.zeros(layers[0].shape[:2] + (4,), np.float32)
    for x in layers:
        x = x.astype(np.float32) if x.shape[-1] == 4 else np.dstack([x[..., :3], np.full(x.shape[:2], 255.0)])
        a, b = x[..., 3:] / 255.0, out[..., 3:] / 255.0
        alpha = a + b * (1 - a)
        rgb = (x[..., :3] * a + out[..., :3] * b * (1 - a)) / np.maximum(alpha, 1e-6)
        out = np.concatenate([rgb, alpha * 255.0], axis=2)
    return out.round().clip(0, 255).astype(np.uint8)


def sketch_view(G: nn.Module, drawing: Optional[PictureLike], seed: int = 0, scale: int = 8,
                strokes: Optional[np.ndarray] = None, hints: Optional[PictureLike] = None,
                tags: Optional[Sequence[Optional[int]]] = None) -> dict:
    """A drawing (dark lines on light paper, any size; None: white paper) with optional canvas ``strokes``
    (RGBA, laid over it) through G. For a generator that :func:`takes_hints`, coloured pixels of the drawing
    and coloured strokes are colour dabs, black and grey ones lines (:func:`~gan_core.data.hints.split_drawing`),
    and ``hints`` (a separate hint picture, under the strokes) adds dabs of any colour; for an edges-only generator the strokes are composed
    over the drawing and dark ones are lines, as ever. Returns ``edges`` (S, S) uint8 as G sees them,
    ``hints`` (4, S, S) uint8 or None, ``dabs`` (pixels of G's size under a dab), ``picture`` (S, S, 3)
    uint8, ``seen`` (S, S, 3): edges with the dabs painted over; ``edges_big``, ``seen_big`` and
    ``picture_big`` enlarged ``scale`` times for the screen; ``note``: a sentence when dabs were ignored.
    G's dropout noise is fixed by ``seed``. ``tags`` (a generator that :func:`takes_tags`: the Sketch pages'
    hair and eye pickers): one class or None (random, drawn from ``seed`` as on Generate) per group; ignored
    by a generator without tags (its pickers are not shown); ``tags`` in the result: the classes used."""
    size = int(getattr(G, "image_size", 32))
    note, hint_t = "", None
    if takes_hints(G):
        arr = None if drawing is None else _picture_tensor(drawing)[0][0].permute(1, 2, 0).numpy()
        if hints is not None and not isinstance(hints, Image.Image):
            hints = np.asarray(hints)
        lines, hint_pic = split_drawing(arr, strokes, hints)
        hint_t = hints_from_picture(hint_pic, size)
    else:
        lines = drawing if strokes is None else compose_drawing(
            None if drawing is None else _picture_tensor(drawing)[0][0].permute(1, 2, 0).numpy(), strokes)
        col = coloured(np.asarray(_picture_tensor(lines)[0][0].permute(1, 2, 0)))
        if col.any() or (hints is not None and (hints_from_picture(hints, size)[3] > 0).any()):
            note = ("This generator was trained on edges alone and takes no colour hints: coloured dabs are "
                    "ignored (a dark coloured stroke counts as a line).")
    edges = sketch_to_edges(lines, size)
    lab = tag_labels(G, 1, tags, seed) if takes_tags(G) else None
    pic = translate(G, edges, seed=seed, hints=hint_t, tags=lab)
    seen = hint_overlay(edges, hint_t)
    return {"edges": edges[0].numpy(), "hints": hint_t, "dabs": int((hint_t[3] > 0).sum()) if hint_t is not None else 0,
            "picture": pic.permute(1, 2, 0).numpy(), "seen": seen.permute(1, 2, 0).numpy(),
            "edges_big": enlarge(edges, scale), "seen_big": enlarge(seen, scale), "picture_big": enlarge(pic, scale),
            "note": note, "tags": None if lab is None else [int(t) for t in lab[0]]}


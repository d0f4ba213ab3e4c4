"""Neural style transfer (Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural
Networks", CVPR 2016).

An image x is optimised so that its VGG19 features match a content image p at the content layers while
the Gram matrices of its features match those of a style image a at the style layers:

    L(x) = alpha * L_content + beta * sum_l w_l * E_l
    L_content = 1/2 sum_ij (F_ij - P_ij)^2 / (N * M)        the paper's content loss, divided by the
                                                            layer size N*M so that it does not grow with
                                                            the image (summed over the content layers)
    E_l = 1 / (4 N_l^2 M_l^2) sum_ij (G_ij - A_ij)^2        the paper's style loss of layer l
    G = F F^T                                               Gram matrix of the features F (N_l, M_l)

with N_l feature maps of M_l = height * width positions. As in the paper, the network's max pooling is
replaced by average pooling, and a layer name such as ``relu4_2`` means the output of the ReLU after
conv4_2 (the paper's Caffe layers were rectified in place, so its "conv4_2" is our ``relu4_2``;
``conv4_2`` here is the response before the ReLU).

Default weights: alpha = 1, beta = 1e3, and w_l proportional to 1 / N_l^2 (normalised to sum to 1), as in
the first author's own PyTorch code; with torchvision's ImageNet normalisation this is close to the widely
used setting "content weight 1, style weight 1e6 on the mean squared error of size-normalised Gram
matrices" (that is beta = 656 here). ``style_weights=(0.2,) * 5`` gives the paper's equal weights.

The network half (VGG19, its weights, Gram matrices, layer losses) is :mod:`gan_core.img2img.style_vgg`, whose public
names this module re-exports. Weights of VGG19 (torchvision's ``VGG19_Weights.IMAGENET1K_V1``, file ``vgg19-dcbb9e9d.pth``) come from,
in order: a path passed in, the file named by the environment variable ``GAN_STUDIO_VGG19``, or
torchvision (its cache, else a download where the network allows). When none works,
:class:`WeightsUnavailable` says so and how to supply the file. Any VGG-shaped state dict is accepted:
the network is rebuilt from the shapes of its convolutions, which is how the tests run the mechanics on a
small randomly initialised VGG-shaped network.

:func:`stylize` is a generator of typed events (:class:`StyleStep` every step, :class:`StylePreview`
every ``preview_every`` steps, :class:`StyleDone` at the end) that the CLI and the UI subscribe to.
"""
from __future__ import annotations

import io
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gan_core.data.images import rgb_on_white
from gan_core.img2img.style_vgg import (  # noqa: F401 - the network half of style transfer, re-exported
    StyleError, WeightsUnavailable, offline_message, make_vgg_features,
    vgg_from_state_dict, load_weights_file, local_weights, load_vgg19, layer_names, extract,
    gram_matrix, style_layer_loss, content_layer_loss, ENV_VAR, VGG19_FILE, IMAGENET_MEAN, IMAGENET_STD, VGG19_CFG
)

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")
MAX_SIDE = 1024                      # longest side of the optimised image (pixels)
MAX_INPUT_PIXELS = 4096 * 4096       # a content / style picture bigger than this is refused (decompression bombs)
MAX_STEPS = 10_000

ImageLike = Union[np.ndarray, torch.Tensor, Image.Image]


# ---- settings and events -------------------------------------------------------------------------
@dataclass
class StyleConfig:
    steps: int = 300                          # optimiser iterations (one L-BFGS iteration or one Adam step)
    image_size: int = 256                     # longest side of the result; content resized to it (<= MAX_SIDE)
    content_layers: tuple[str, ...] = ("relu4_2",)
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    style_weights: Optional[tuple[float, ...]] = None  # w_l, one per style layer; None: prop. to 1/N_l^2, sum 1
    alpha: float = 1.0                        # content weight
    beta: float = 1e3                         # style weight
    optimizer: str = "lbfgs"                  # "lbfgs" (as in the paper) or "adam"
    lr: Optional[float] = None                # None: 1.0 for L-BFGS, 0.02 for Adam (pixels in [0, 1])
    init: str = "content"                     # start from the content image, white noise or the style image
    preview_every: int = 10                   # a StylePreview every this many steps (0: only at the end)
    seed: int = 0                             # noise init
    device: str = "cpu"

    def validate(self) -> "StyleConfig":
        def bad(field_: str, msg: str) -> StyleError:
            return StyleError(f"style.{field_} {msg}")

        if not 1 <= self.steps <= MAX_STEPS:
            raise bad("steps", f"must be between 1 and {MAX_STEPS}, got {self.steps}")
        if not 16 <= self.image_size <= MAX_SIDE:
            raise bad("image_size", f"must be between 16 and {MAX_SIDE}, got {self.image_size}")
        if not self.content_layers and not self.style_layers:
            raise bad("content_layers", "and style_layers are both empty")
        if self.style_weights is not None and len(self.style_weights) != len(self.style_layers):
            raise bad("style_weights", f"has {len(self.style_weights)} values for {len(self.style_layers)} style layers")
        for name, v in (("alpha", self.alpha), ("beta", self.beta)):
            if not (math.isfinite(v) and v >= 0):
                raise bad(name, f"must be a finite number >= 0, got {v}")
        if self.style_weights is not None and not all(math.isfinite(w) and w >= 0 for w in self.style_weights):
            raise bad("style_weights", "must be finite numbers >= 0")
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.init not in INITS:
            raise bad("init", f"must be one of {', '.join(INITS)}, got {self.init!r}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise bad("lr", f"must be > 0, got {self.lr}")
        if self.preview_every < 0:
            raise bad("preview_every", f"must be >= 0, got {self.preview_every}")
        return self


@dataclass(frozen=True)
class StyleStep:
    step: int                                 # 1..steps
    steps: int
    loss: float                               # alpha * content + beta * style
    content: float                            # L_content (summed over the content layers)
    style: float                              # sum_l w_l E_l
    style_layers: dict[str, float] = field(default_factory=dict)  # E_l per layer (unweighted)
    seconds: float = 0.0                      # since stylize() started (network and targets included)


@dataclass(frozen=True)
class StylePreview:
    step: int
    image: np.ndarray                         # (H, W, 3) uint8


@dataclass(frozen=True)
class StyleDone:
    image: np.ndarray                         # (H, W, 3) uint8, the result
    steps: int
    loss: float                               # the loss of the saved picture (``image``)
    first_loss: float                         # the loss of the starting image
    seconds: float
    layer_weights: dict[str, float] = field(default_factory=dict)  # the w_l used


StyleEvent = Union[StyleStep, StylePreview, StyleDone]


# ---- pictures ------------------------------------------------------------------------------------
def to_rgb_array(img: ImageLike) -> np.ndarray:
    """A picture as (H, W, 3) uint8: PIL image, (H, W[, 1|3|4]) uint8 array, or (1|3, H, W) uint8 tensor."""
    if isinstance(img, Image.Image):
        if img.width * img.height > MAX_INPUT_PIXELS:
            raise StyleError(f"the picture has {img.width}x{img.height} pixels, more than {MAX_INPUT_PIXELS}")
        return np.asarray(rgb_on_white(img))
    if isinstance(img, torch.Tensor):
        if img.dim() == 4 and img.shape[0] == 1:
            img = img[0]
        if img.dim() != 3 or img.shape[0] not in (1, 3) or img.dtype != torch.uint8:
            raise StyleError(f"expected a uint8 tensor (1|3, H, W), got {img.dtype} {tuple(img.shape)}")
        img = img.expand(3, -1, -1).permute(1, 2, 0).cpu().numpy()
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        raise StyleError(f"expected uint8 pixels, got {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise StyleError(f"expected an image (H, W, 1|3|4), got shape {arr.shape}")
    if arr.shape[2] == 4:
        arr = arr[..., :3]
    return np.ascontiguousarray(np.broadcast_to(arr, arr.shape[:2] + (3,)) if arr.shape[2] == 1 else arr)


def read_image(source: Union[str, os.PathLike, bytes]) -> np.ndarray:
    """Decode a picture file (or its bytes) to (H, W, 3) uint8, EXIF rotation applied, alpha on white."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
            if im.width * im.height > MAX_INPUT_PIXELS:
                raise StyleError(f"the picture has {im.width}x{im.height} pixels, more than {MAX_INPUT_PIXELS}")
            return to_rgb_array(im)   # turned upright by its EXIF orientation, alpha on white
    except StyleError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise StyleError("the picture has too many pixels (a possible decompression bomb)") from None
    except FileNotFoundError:
        raise StyleError(f"{source} does not exist") from None
    except Exception as e:  # noqa: BLE001 - PIL raises many types on bad data
        what = "the picture" if isinstance(source, bytes) else str(source)
        raise StyleError(f"{what} is not a readable image ({type(e).__name__})") from None


def _resize_longest(arr: np.ndarray, side: int) -> np.ndarray:
    h, w = arr.shape[:2]
    s = side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    if size == (w, h):
        return arr
    return np.asarray(Image.fromarray(arr).resize(size, Image.LANCZOS))


def _to_input(arr: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.tensor(arr).permute(2, 0, 1)[None].float().div(255.0).contiguous().to(device)


def _to_uint8_image(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    return (x.detach()[0].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


class _Normalize(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.5,) * channels, (0.25,) * channels)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def default_layer_weights(net: nn.Sequential, layers: Sequence[str]) -> tuple[float, ...]:
    """w_l proportional to 1 / N_l^2 (N_l: feature maps of layer l), normalised to sum to 1."""
    channels = _layer_channels(net)
    inv = [1.0 / channels[name] ** 2 for name in layers]
    total = sum(inv)
    return tuple(v / total for v in inv)


def _layer_channels(net: nn.Sequential) -> dict[str, int]:
    out, c = {}, 0
    for name, m in net.named_children():
        if isinstance(m, nn.Conv2d):
            c = m.out_channels
        out[name] = c
    return out


def check_layers(net: nn.Sequential, cfg: StyleConfig) -> None:
    names = layer_names(net)
    for what, layers in (("content_layers", cfg.content_layers), ("style_layers", cfg.style_layers)):
        missing = [n for n in layers if n not in names]
        if missing:
            raise StyleError(f"style.{what}: this network has no layer {', '.join(missing)}; it has "
                             f"{', '.join(n for n in names if not n.startswith('pool'))}")


# ---- the optimisation ----------------------------------------------------------------------------
def stylize(content: ImageLike, style: ImageLike, cfg: Optional[StyleConfig] = None,
            net: Optional[nn.Sequential] = None, weights: Optional[Union[str, os.PathLike]] = None,
            download: bool = True) -> Iterator[StyleEvent]:
    """Optimise an image that has the content of ``content`` and the style of ``style``.

    Yields a :class:`StyleStep` after every step, a :class:`StylePreview` every ``cfg.preview_every``
    steps and one :class:`StyleDone` at the end. ``net`` is a VGG features stack (default:
    :func:`load_vgg19` with ``weights``). Raises :class:`StyleError` on bad settings or pictures, and
    :class:`WeightsUnavailable` before the first event when no VGG19 weights can be had.
    """
    cfg = (cfg or StyleConfig()).validate()
    t0 = time.perf_counter()
    device = torch.device(cfg.device)
    if net is None:
        net = load_vgg19(weights, download=download)
    check_layers(net, cfg)
    net = net.to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    first_conv = next(m for m in net if isinstance(m, nn.Conv2d))
    norm = _Normalize(first_conv.in_channels).to(device)

    c_arr = _resize_longest(to_rgb_array(content), cfg.image_size)
    s_arr = _resize_longest(to_rgb_array(style), cfg.image_size)
    c_img, s_img = _to_input(c_arr, device), _to_input(s_arr, device)
    if first_conv.in_channels == 1:
        c_img, s_img = c_img.mean(1, keepdim=True), s_img.mean(1, keepdim=True)

    weights_l = cfg.style_weights if cfg.style_weights is not None else default_layer_weights(net, cfg.style_layers)
    layer_w = dict(zip(cfg.style_layers, weights_l))
    with torch.no_grad():
        targets_c = extract(net, norm(c_img), cfg.content_layers)
        targets_s = {k: gram_matrix(v) for k, v in extract(net, norm(s_img), cfg.style_layers).items()}

    if cfg.init == "content":
        x0 = c_img.clone()
    elif cfg.init == "style":
        x0 = F.interpolate(s_img, size=c_img.shape[-2:], mode="bilinear", align_corners=False)
    else:
        g = torch.Generator().manual_seed(cfg.seed)
        x0 = torch.rand(c_img.shape, generator=g).to(device)
    x = x0.clone().contiguous().requires_grad_(True)
    all_layers = tuple(dict.fromkeys(cfg.content_layers + cfg.style_layers))

    def losses(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        feats = extract(net, norm(img), all_layers)
        zero = x.new_zeros(())
        lc = sum((content_layer_loss(feats[n], targets_c[n]) for n in cfg.content_layers), zero)
        per = {n: style_layer_loss(feats[n], targets_s[n]) for n in cfg.style_layers}
        ls = sum((layer_w[n] * e for n, e in per.items()), zero)
        return cfg.alpha * lc + cfg.beta * ls, lc, ls, per

    if cfg.optimizer == "lbfgs":
        opt: torch.optim.Optimizer = torch.optim.LBFGS([x], lr=cfg.lr or 1.0, max_iter=1, max_eval=20, history_size=50,
                                                       line_search_fn="strong_wolfe")
    else:
        opt = torch.optim.Adam([x], lr=cfg.lr or 0.02)

    # The loss is always that of the picture in [0, 1] (clamped inside the closure, so L-BFGS's curvature pairs
    # stay consistent): what is printed is what is saved, not an image with values outside the range.
    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        total = losses(x.clamp(0.0, 1.0))[0]
        total.backward()
        return total

    with torch.no_grad():
        first = float(losses(x.clamp(0.0, 1.0))[0])
    if not math.isfinite(first):
        raise StyleError("the loss of the starting image is not finite: check the weights file and the settings")
    last = first
    for step in range(1, cfg.steps + 1):
        if cfg.optimizer == "lbfgs":
            opt.step(closure)
        else:
            closure()
            opt.step()
        with torch.no_grad():
            if cfg.optimizer == "adam":  # (not L-BFGS: its curvature pairs would no longer match)
                x.clamp_(0.0, 1.0)
            total, lc, ls, per = losses(x.clamp(0.0, 1.0))
        last = float(total)
        yield StyleStep(step, cfg.steps, last, float(lc), float(ls), {n: float(v) for n, v in per.items()},
                        time.perf_counter() - t0)
        if cfg.preview_every and step % cfg.preview_every == 0 and step < cfg.steps:
            yield StylePreview(step, _to_uint8_image(x))
        if not math.isfinite(last):
            raise StyleError(f"the loss became {last} at step {step}: lower the learning rate or the weights")
    image = _to_uint8_image(x)
    with torch.no_grad():   # the loss of the saved picture itself (8 bits a channel)
        saved = float(losses((x.detach().clamp(0.0, 1.0) * 255.0).round() / 255.0)[0])
    yield StylePreview(cfg.steps, image)
    yield StyleDone(image, cfg.steps, saved, first, time.perf_counter() - t0, dict(layer_w))


def run_style_transfer(content: ImageLike, style: ImageLike, cfg: Optional[StyleConfig] = None,
                       net: Optional[nn.Sequential] = None,
                       weights: Optional[Union[str, os.PathLike]] = None) -> StyleDone:
    """:func:`stylize` run to the end; returns its :class:`StyleDone`."""
    done = None
    for ev in stylize(content, style, cfg, net=net, weights=weights):
        if isinstance(ev, StyleDone):
            done = ev
    assert done is not None
    return done


# ---- example pictures (offline) ------------------------------------------------------------------
def example_pair(size: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A built-in content / style pair: a procedural face and a colourful stripes-and-circles pattern,
    each (size, size, 3) uint8."""
    from gan_core.data.faces import draw_face, face_rng

    rng = face_rng(seed, 0)
    hair, eye = int(rng.integers(12)), int(rng.integers(11))
    face = np.asarray(draw_face(hair, eye, size, rng).convert("RGB"))
    return face, pattern_image(size, seed)


def pattern_image(size: int = 128, seed: int = 0) -> np.ndarray:
    """A "painting-like" pattern: diagonal waves in warm and cool colours with dots (size, size, 3) uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    phase = rng.uniform(0, 2 * np.pi, 3)
    freq = 6.0 + 2.0 * rng.random()
    wave = np.sin(2 * np.pi * freq * (xx + yy) + 3.0 * np.sin(2 * np.pi * 2 * yy) + phase[0])
    swirl = np.sin(2 * np.pi * 3 * np.hypot(xx - 0.5, yy - 0.5) + phase[1])
    r = 0.55 + 0.4 * wave
    g = 0.35 + 0.3 * swirl * wave
    b = 0.6 - 0.35 * wave + 0.15 * swirl
    img = np.stack([r, g, b], -1)
    for _ in range(12):  # dots
        cx, cy, rad = rng.random(), rng.random(), 0.03 + 0.05 * rng.random()
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < rad ** 2
        img[mask] = rng.random(3) * 0.3 + np.array([0.9, 0.8, 0.1]) * rng.random()
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)

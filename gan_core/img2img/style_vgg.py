"""The network side of neural style transfer (gan_core.img2img.style): VGG19 with average pooling, rebuilt from any
VGG-shaped state dict, its weights (a path, ``$GAN_STUDIO_VGG19``, or torchvision's cache / download), the
offline message, feature extraction, Gram matrices and the per-layer content and style losses.

gan_core.img2img.style re-exports every public name here, so ``from gan_core import style as S; S.load_vgg19()``
keeps working.
"""
from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
from torch import nn

from gan_core.config import envvars

ENV_VAR = envvars.VGG19.name
VGG19_FILE = "vgg19-dcbb9e9d.pth"       # torchvision's file name of VGG19_Weights.IMAGENET1K_V1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's VGG19 "features": channels of each conv, "M" a 2x2 pooling
VGG19_CFG: tuple[Union[int, str], ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                                          512, 512, 512, 512, "M", 512, 512, 512, 512, "M")

class StyleError(ValueError):
    """Style transfer cannot run as asked (bad setting, unreadable picture, unusable weights file)."""


class WeightsUnavailable(StyleError):
    """No VGG19 weights: no local file was given and torchvision could not load or download them."""


def offline_message(reason: str = "") -> str:
    """What to tell the user when no VGG19 weights can be had."""
    why = f" ({reason})" if reason else ""
    return (f"Style transfer needs the ImageNet weights of VGG19, and none are available here: no file is named "
            f"by the environment variable {ENV_VAR} and torchvision could not download them{why}. "
            f"To supply them, copy torchvision's file {VGG19_FILE} (VGG19_Weights.IMAGENET1K_V1, about 548 MB; "
            f"torchvision saves it under ~/.cache/torch/hub/checkpoints/ on a machine that can download it) "
            f"here and set {ENV_VAR}=/path/to/{VGG19_FILE}, or put it in torch's hub cache "
            f"({_hub_checkpoints_dir()}).")


def _hub_checkpoints_dir() -> str:
    try:
        return str(Path(torch.hub.get_dir()) / "checkpoints")
    except Exception:  # noqa: BLE001 - only used in a message
        return "~/.cache/torch/hub/checkpoints"


# ---- the network ---------------------------------------------------------------------------------
def make_vgg_features(cfg: Sequence[Union[int, str]] = VGG19_CFG, in_channels: int = 3) -> nn.Sequential:
    """A VGG "features" stack with average pooling: conv3x3 + ReLU per int of ``cfg``, AvgPool2d(2) per "M".

    Children are named as the layers of the paper (conv1_1, relu1_1, ..., pool1, conv2_1, ...); the
    parameters are randomly initialised (He init, zero bias) until a state dict is loaded.
    """
    layers: dict[str, nn.Module] = {}
    block, k, c = 1, 0, in_channels
    for v in cfg:
        if v == "M":
            layers[f"pool{block}"] = nn.AvgPool2d(kernel_size=2, stride=2)
            block, k = block + 1, 0
        else:
            k += 1
            conv = nn.Conv2d(c, int(v), kernel_size=3, padding=1)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
            layers[f"conv{block}_{k}"] = conv
            layers[f"relu{block}_{k}"] = nn.ReLU(inplace=False)
            c = int(v)
    return nn.Sequential(_ordered(layers))


def _ordered(layers: dict[str, nn.Module]) -> "OrderedDict[str, nn.Module]":
    return OrderedDict(layers)


def _features_state(sd: dict[str, torch.Tensor]) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """{index in torchvision's features: (conv weight (out, in, 3, 3), bias (out,))} of a VGG state dict
    (a whole torchvision VGG, its ``features`` alone, or the named stack of :func:`make_vgg_features`)."""
    prefix = "features." if any(k.startswith("features.") for k in sd) else ""
    convs: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for key, w in sd.items():
        if not (key.startswith(prefix) and key.endswith(".weight")):
            continue
        idx = key[len(prefix):-len(".weight")]
        b = sd.get(f"{prefix}{idx}.bias")
        if not idx.isdigit() or not isinstance(w, torch.Tensor) or w.dim() != 4 or not isinstance(b, torch.Tensor):
            continue
        if w.shape[-2:] != (3, 3) or b.shape != (w.shape[0],):
            raise StyleError(f"weight {key} has shape {tuple(w.shape)}: not a VGG 3x3 convolution")
        convs[int(idx)] = (w, b)
    return convs


def vgg_from_state_dict(sd: dict[str, torch.Tensor]) -> nn.Sequential:
    """Rebuild a VGG features stack (average pooling) from a state dict and load its weights.

    torchvision's features are conv, ReLU, [pool], conv, ..., pool: a gap of 3 between two conv indices
    means a pooling layer between them, and the stack ends with one. Raises :class:`StyleError` if the dict is not VGG-shaped.
    """
    if not isinstance(sd, dict):
        raise StyleError("the weights file does not hold a state dict (a mapping of tensor names to tensors)")
    if any(k.startswith("conv1_1.") for k in sd):  # the named stack of make_vgg_features
        cfg: list[Union[int, str]] = []
        names = [k[:-len(".weight")] for k in sd if k.endswith(".weight")]
        last_block = 1
        for name in names:
            block = int(name[4:].split("_")[0])
            if block != last_block:
                cfg.append("M")
                last_block = block
            cfg.append(int(sd[name + ".weight"].shape[0]))
        net = make_vgg_features(cfg + ["M"], in_channels=int(sd["conv1_1.weight"].shape[1]))
        _load(net, {k: v for k, v in sd.items()})
        return net
    convs = _features_state(sd)
    if not convs:
        raise StyleError("the weights file has no VGG convolutions (expected keys such as 'features.0.weight')")
    idx = sorted(convs)
    if idx[0] != 0:
        raise StyleError(f"the first VGG convolution should be features.0, found features.{idx[0]}")
    cfg = []
    for a, b in zip(idx, idx[1:] + [None]):
        cfg.append(int(convs[a][0].shape[0]))
        if b is not None:
            gap = b - a
            if gap == 3:
                cfg.append("M")
            elif gap != 2:
                raise StyleError(f"features.{a} and features.{b}: not the conv/ReLU/pool layout of a VGG")
    cfg.append("M")  # a VGG's features end with a pooling layer (it has no weights)
    net = make_vgg_features(cfg, in_channels=int(convs[0][0].shape[1]))
    conv_names = [n for n, m in net.named_children() if isinstance(m, nn.Conv2d)]  # one per index, in order
    state = {}
    for name, i in zip(conv_names, idx):
        state[f"{name}.weight"], state[f"{name}.bias"] = convs[i]
    _load(net, state)
    return net


def _load(net: nn.Module, state: dict[str, torch.Tensor]) -> None:
    try:
        net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as e:
        raise StyleError(f"the weights do not fit a VGG network: {str(e).splitlines()[0]}") from None
    for p in net.parameters():
        p.requires_grad_(False)
    net.eval()


def load_weights_file(path: Union[str, os.PathLike]) -> nn.Sequential:
    """A VGG features stack from a .pth / .pt (loaded with ``weights_only=True``) or .safetensors file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise StyleError(f"VGG19 weights file {p} does not exist (named by "
                         f"{'the argument' if os.environ.get(ENV_VAR) != str(path) else ENV_VAR}); "
                         f"it should be torchvision's {VGG19_FILE}")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file
            sd = load_file(str(p))
        else:
            sd = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - pickles with code, truncated files, wrong formats
        raise StyleError(f"cannot read the VGG19 weights file {p}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return vgg_from_state_dict(sd)


def local_weights() -> Optional[str]:
    """The VGG19 weights file that :func:`load_vgg19` would read without downloading, or None: the file
    named by ``$GAN_STUDIO_VGG19`` (even if missing, so that loading says what is wrong) or torch's
    hub-cache copy."""
    env = os.environ.get(ENV_VAR)
    if env:
        return env
    cached = Path(_hub_checkpoints_dir()) / VGG19_FILE
    return str(cached) if cached.is_file() else None


def load_vgg19(weights: Optional[Union[str, os.PathLike]] = None, download: bool = True) -> nn.Sequential:
    """VGG19 features with average pooling and ImageNet weights, frozen, in eval mode.

    From ``weights`` if given, else from the file named by ``$GAN_STUDIO_VGG19``, else from torchvision
    (its hub cache, or a download unless ``download`` is False). Raises :class:`WeightsUnavailable` when
    none works.
    """
    path = weights or os.environ.get(ENV_VAR) or None
    if path:
        return load_weights_file(path)
    import torchvision

    if not download and not (Path(_hub_checkpoints_dir()) / VGG19_FILE).is_file():
        raise WeightsUnavailable(offline_message("downloads are turned off and torch's hub cache has no copy"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = torchvision.models.vgg19(weights=torchvision.models.VGG19_Weights.IMAGENET1K_V1, progress=False)
    except Exception as e:  # noqa: BLE001 - URLError, OSError, RuntimeError (bad download), hash mismatch
        detail = str(e).splitlines()[0] if str(e) else ""
        raise WeightsUnavailable(offline_message(f"{type(e).__name__}: {detail}".rstrip(": "))) from None
    return vgg_from_state_dict(model.features.state_dict())


def layer_names(net: nn.Sequential) -> list[str]:
    return [name for name, _ in net.named_children()]


def extract(net: nn.Sequential, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """Activations of the named ``layers`` for normalised images x (B, 3, H, W); stops after the last one."""
    want = set(layers)
    out: dict[str, torch.Tensor] = {}
    for name, module in net.named_children():
        x = module(x)
        if name in want:
            out[name] = x
            if len(out) == len(want):
                break
    return out


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """G = F F^T of features (B, N, H, W) seen as F (B, N, M = H*W): (B, N, N), unnormalised as in the paper."""
    b, n = features.shape[:2]
    f = features.reshape(b, n, -1)
    return f @ f.transpose(1, 2)


def style_layer_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """E_l = sum (G - A)^2 / (4 N^2 M^2) for features (B, N, H, W) and the style's Gram matrix A (B|1, N, N)."""
    _, n, h, w = features.shape
    m = h * w
    return (gram_matrix(features) - target_gram).pow(2).sum() / (4.0 * n * n * m * m)


def content_layer_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1/2 sum (F - P)^2 / (N * M): the paper's content loss per feature element."""
    return 0.5 * (features - target).pow(2).sum() / features[0].numel()

"""Small CNN classifiers shipped with the project (digits; faces hair/eye tags).

They serve two purposes:

* **feature extractors** for FID / KID (their penultimate layer, ``feature_dim`` wide) and IS (their
  softmax), standing in for Inception v3 when offline or on small 1-channel data;
* **judges** of conditional generators: tag accuracy, class confidence.

Weights live in ``gan_core/assets/<name>_classifier.safetensors`` with JSON metadata (classes, input
size, held-out accuracy, the command that trained them); ``scripts/train_classifiers.py`` makes them.

Every classifier takes float images in [-1, 1] (B, C, H, W) at any of 16/32/64 px (or any size): they
are resized (bilinear, antialiased) to the classifier's input size first.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_core.data.images import to_float
from gan_core.data.registry import DATASETS

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
CLASSIFIER_NAMES: tuple[str, ...] = ("digits", "faces")
FORMAT = "gan-studio-classifier"


class ClassifierUnavailable(RuntimeError):
    """The classifier weights are missing or unreadable (run scripts/train_classifiers.py)."""


@dataclass(frozen=True)
class ClassifierInfo:
    """Everything a classifier needs to be rebuilt and described (stored as safetensors metadata)."""

    name: str                                   # "digits" | "faces"
    channels: int                               # input channels (1 digits, 3 faces)
    input_size: int                             # images are resized to this before the convs
    group_names: tuple[str, ...]                # one head per label group, e.g. ("hair", "eye")
    class_names: tuple[tuple[str, ...], ...]    # class names per group
    width: int = 24                             # base channel width of the CNN
    feature_dim: int = 128                      # penultimate (feature) layer width
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # accuracies, seed, command ...

    @property
    def num_classes(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.class_names)

    @property
    def feature_name(self) -> str:
        return f"{self.name}-classifier"

    def to_metadata(self) -> dict[str, str]:
        d = {"name": self.name, "channels": self.channels, "input_size": self.input_size,
             "group_names": list(self.group_names), "class_names": [list(c) for c in self.class_names],
             "width": self.width, "feature_dim": self.feature_dim, "extra": self.extra}
        return {"format": FORMAT, "info": json.dumps(d)}

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> "ClassifierInfo":
        d = json.loads(meta["info"])
        return cls(name=d["name"], channels=int(d["channels"]), input_size=int(d["input_size"]),
                   group_names=tuple(d["group_names"]), class_names=tuple(tuple(c) for c in d["class_names"]),
                   width=int(d["width"]), feature_dim=int(d["feature_dim"]), extra=dict(d.get("extra", {})))


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.MaxPool2d(2)]


class SmallClassifier(nn.Module):
    """VGG-style CNN: three double-conv stages (w, 2w, 4w; each halves the size), global average
    pooling, a ``feature_dim`` ReLU layer (the features) and one linear head per label group.

    ``forward(x)`` -> list of logits (B, K_g); :meth:`features_and_logits` gives both in one pass.
    """

    def __init__(self, info: ClassifierInfo):
        super().__init__()
        self.info = info
        w = info.width
        self.body = nn.Sequential(*_block(info.channels, w), *_block(w, 2 * w), *_block(2 * w, 4 * w))
        self.embed = nn.Sequential(nn.Linear(4 * w, info.feature_dim), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(0.2)
        self.heads = nn.ModuleList(nn.Linear(info.feature_dim, k) for k in info.num_classes)

    def prepare(self, x: Tensor) -> Tensor:
        """Float [-1, 1] images (or uint8 [0, 255]) of any size/channels -> the classifier's input."""
        if x.dim() != 4:
            raise ValueError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")
        if x.dtype == torch.uint8:
            x = to_float(x)
        x = x.float()
        c = self.info.channels
        if x.shape[1] != c:
            if c == 1 and x.shape[1] == 3:
                x = x.mean(dim=1, keepdim=True)  # grey
            elif c == 3 and x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            else:
                raise ValueError(f"the {self.info.name} classifier takes {c}-channel images, got {x.shape[1]}")
        s = self.info.input_size
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False,
                              antialias=max(x.shape[-2:]) > s)
        return x.contiguous()

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        h = self.body(self.prepare(x))
        f = self.embed(h.mean(dim=(2, 3)))                 # (B, feature_dim)
        hd = self.drop(f)
        return f, [head(hd) for head in self.heads]

    def forward(self, x: Tensor) -> list[Tensor]:
        return self.features_and_logits(x)[1]


class FeatureExtractor:
    """A frozen network that maps images to features (for FID/KID) and class logits (for IS, tag
    accuracy, confidence).

    * ``name``: e.g. ``"faces-classifier"``, ``"digits-classifier"``, ``"inception-v3"``; every metric
      result carries it.
    * ``num_features``: feature width.
    * ``group_names`` / ``num_classes``: label groups of the logits (Inception: one group of 1008).
    * ``extract(images)`` -> ``(features (B, F) float32, [logits (B, K_g) per group])``, images float
      in [-1, 1] or uint8 (B, C, H, W); batched, no grad, on the extractor's device, results on CPU.
    """

    name: str = "features"
    num_features: int = 0
    group_names: tuple[str, ...] = ()
    num_classes: tuple[int, ...] = ()

    def extract(self, images: Tensor, batch_size: int = 256) -> tuple[Tensor, list[Tensor]]:
        raise NotImplementedError

    def features(self, images: Tensor, batch_size: int = 256) -> Tensor:
        return self.extract(images, batch_size)[0]

    def logits(self, images: Tensor, batch_size: int = 256) -> list[Tensor]:
        return self.extract(images, batch_size)[1]

    def joint_logits(self, images: Tensor, batch_size: int = 256) -> Tensor:
        """One distribution over all tag combinations: log p(c1) + log p(c2) + ... (B, prod K_g)."""
        return joint_log_probs(self.logits(images, batch_size))

    def __call__(self, images: Tensor) -> Tensor:
        return self.features(images)


def joint_log_probs(logits: Sequence[Tensor]) -> Tensor:
    """Per-group logits -> log-probabilities of every combination of classes, (B, prod K_g)
    (the groups are treated as independent given the image)."""
    out = F.log_softmax(logits[0].double(), dim=1)
    for lg in logits[1:]:
        lp = F.log_softmax(lg.double(), dim=1)
        out = (out[:, :, None] + lp[:, None, :]).flatten(1)
    return out


class ClassifierExtractor(FeatureExtractor):
    """A :class:`SmallClassifier` as a :class:`FeatureExtractor` (eval mode, no grad)."""

    def __init__(self, model: SmallClassifier, device: Union[str, torch.device] = "cpu"):
        self.model = model.eval().requires_grad_(False).to(device)
        self.info = model.info
        self.device = torch.device(device)
        self.name = model.info.feature_name
        self.num_features = model.info.feature_dim
        self.group_names = model.info.group_names
        self.num_classes = model.info.num_classes
        self._lock = threading.Lock()  # BN/dropout are in eval mode; the lock only guards .to()

    @torch.no_grad()
    def extract(self, images: Tensor, batch_size: int = 256) -> tuple[Tensor, list[Tensor]]:
        if len(images) == 0:
            raise ValueError("no images to classify")
        feats: list[Tensor] = []
        logits: list[list[Tensor]] = [[] for _ in self.num_classes]
        for i in range(0, len(images), batch_size):
            f, lg = self.model.features_and_logits(images[i:i + batch_size].to(self.device))
            feats.append(f.float().cpu())
            for g, l in enumerate(lg):
                logits[g].append(l.float().cpu())
        return torch.cat(feats), [torch.cat(l) for l in logits]

    def predict(self, images: Tensor, batch_size: int = 256) -> Tensor:
        """Most likely class per group: long (B, G)."""
        return torch.stack([l.argmax(1) for l in self.logits(images, batch_size)], dim=1)


def classifier_path(name: str) -> Path:
    if name not in CLASSIFIER_NAMES:
        raise ValueError(f"unknown classifier {name!r}; choose from {', '.join(CLASSIFIER_NAMES)}")
    return ASSETS_DIR / f"{name}_classifier.safetensors"


def save_classifier(model: SmallClassifier, path: Union[str, Path]) -> Path:
    """Write weights (float32) + info metadata to safetensors, atomically."""
    from safetensors.torch import save

    from gan_core.storage.fileio import atomic_write_bytes

    sd = {k: v.detach().float().contiguous().cpu() if v.is_floating_point() else v.detach().contiguous().cpu()
          for k, v in model.state_dict().items()}
    blob = save(sd, metadata=model.info.to_metadata())
    atomic_write_bytes(path, lambda f: f.write(blob))
    return Path(path)


def read_classifier(path: Union[str, Path]) -> SmallClassifier:
    """Rebuild a classifier from a safetensors file written by :func:`save_classifier`."""
    from gan_core.storage.checkpoint import read_safetensors

    p = Path(path)
    if not p.is_file():
        raise ClassifierUnavailable(
            f"classifier weights {p} are missing; make them with `python scripts/train_classifiers.py`")
    meta, weights = read_safetensors(p, ClassifierUnavailable)
    if meta.get("format") != FORMAT:
        raise ClassifierUnavailable(f"{p} is not a GAN Studio classifier")
    model = SmallClassifier(ClassifierInfo.from_metadata(meta))
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise ClassifierUnavailable(f"{p}: weights do not match the metadata: {e}") from None
    return model.eval()


_CACHE: dict[tuple[str, str], ClassifierExtractor] = {}
_CACHE_LOCK = threading.Lock()


def load_classifier(name: str, device: Union[str, torch.device] = "cpu") -> ClassifierExtractor:
    """The shipped classifier ``"digits"`` or ``"faces"`` as a :class:`ClassifierExtractor` (cached
    per process and device; thread-safe). Raises :class:`ClassifierUnavailable` when the weights are
    missing."""
    key = (name, str(torch.device(device)))
    with _CACHE_LOCK:
        ext = _CACHE.get(key)
        if ext is None:
            ext = ClassifierExtractor(read_classifier(classifier_path(name)), device)
            _CACHE[key] = ext
        return ext


def classifier_for(dataset: str, spec: Optional[Any] = None) -> Optional[str]:
    """Which shipped classifier judges a dataset (``"faces"``, ``"digits"``), or None.

    With a :class:`~gan_core.models.DataSpec`, the spec's label groups / channels must match too (a
    folder of images with other tags gets None)."""
    name = DATASETS[dataset].classifier if dataset in DATASETS else None
    if name is None or spec is None:
        return name
    want = {"faces": (3, ("hair", "eye"), (12, 11)), "digits": (1, ("digit",), (10,))}[name]
    if getattr(spec, "kind", "image") != "image" or spec.channels != want[0]:
        return None
    if spec.num_classes and (tuple(spec.group_names), tuple(spec.num_classes)) != want[1:]:
        return None
    return name

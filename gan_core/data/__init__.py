"""Datasets as in-memory tensors.

Every loader returns an :class:`ImageDataset`: ``images`` is a uint8 tensor (N, C, H, W) for image
data, or a float32 tensor (N, 2) of points for the 2D toy data; ``labels`` is a long tensor (N, G)
with one class index per label group (e.g. hair, eye) or None. The trainer draws batches by index,
so there is no DataLoader in the hot loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from ..config import DataConfig

ProgressFn = Callable[[float, str], None]  # (fraction 0..1, message)


class DataError(ValueError):
    """The data could not be loaded (missing folder, offline download, no readable images ...)."""


@dataclass
class LabelGroup:
    name: str                    # "hair", "eye", "digit", "class"
    classes: tuple[str, ...]     # human names of the classes

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass
class ImageDataset:
    name: str
    images: torch.Tensor                     # uint8 (N, C, H, W), or float32 (N, 2) points for toy2d
    labels: Optional[torch.Tensor] = None    # long (N, G) or None
    label_groups: list[LabelGroup] = field(default_factory=list)
    skipped: int = 0                         # unreadable / refused files skipped while loading
    notes: list[str] = field(default_factory=list)  # human-readable remarks (e.g. skipped files)

    @property
    def is_points(self) -> bool:
        return self.images.dtype != torch.uint8

    @property
    def channels(self) -> int:
        return 0 if self.is_points else int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        return 0 if self.is_points else int(self.images.shape[-1])

    def __len__(self) -> int:
        return int(self.images.shape[0])


def load_dataset(cfg: DataConfig, progress: Optional[ProgressFn] = None) -> ImageDataset:
    """Load (and cache) the dataset a DataConfig names."""
    cfg.validate()
    if cfg.dataset == "faces":
        from .faces import load_faces as fn
    elif cfg.dataset == "digits":
        from .digits import load_digits as fn
    elif cfg.dataset in ("mnist", "fashion-mnist", "cifar10"):
        from .torchvision_sets import load_torchvision as fn
    elif cfg.dataset == "folder":
        from .folder import load_folder as fn
    elif cfg.dataset == "toy2d":
        from .toy2d import load_toy2d as fn
    else:  # pragma: no cover - validate() already refuses
        raise DataError(f"unknown dataset {cfg.dataset!r}")
    ds = fn(cfg, progress)
    if cfg.max_images and len(ds) > cfg.max_images:
        ds.images = ds.images[: cfg.max_images]
        if ds.labels is not None:
            ds.labels = ds.labels[: cfg.max_images]
    return ds

"""What every data source returns: :class:`ImageDataset` (with its :class:`LabelGroup` s), the
:class:`DataError` a source raises, and the progress callback type. Sources import these from here, so
the package's ``load_dataset`` dispatch imports the sources one way only."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

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

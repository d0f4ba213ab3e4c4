"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision (downloaded once into the cache folder)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from gan_core.config import DataConfig
from gan_core.data.base import DataError, ImageDataset, LabelGroup, ProgressFn
from gan_core.data.digits import DIGIT_CLASSES
from gan_core.data.images import report, resize_uint8


@dataclass(frozen=True)
class _SetInfo:
    cls_name: str        # class in torchvision.datasets
    title: str           # for messages
    files_dir: str       # where torchvision keeps the files, relative to the root
    group: str           # label group name


TORCHVISION_SETS: dict[str, _SetInfo] = {
    "mnist": _SetInfo("MNIST", "MNIST", "MNIST/raw", "digit"),
    "fashion-mnist": _SetInfo("FashionMNIST", "Fashion-MNIST", "FashionMNIST/raw", "class"),
    "cifar10": _SetInfo("CIFAR10", "CIFAR-10", "cifar-10-batches-py (or cifar-10-python.tar.gz next to it)", "class"),
}


def _open_dataset(info: _SetInfo, root: Path, download: bool) -> Any:
    """Instantiate the torchvision dataset (train split), turning every failure into a DataError."""
    import torchvision.datasets

    cls = getattr(torchvision.datasets, info.cls_name)
    where = root / info.files_dir
    try:
        return cls(root=str(root), train=True, download=download)
    except Exception as e:  # noqa: BLE001 - torchvision raises RuntimeError, URLError, tarfile/zlib errors ...
        if download:
            msg = (f"could not download {info.title}: no internet connection? Use the offline 'digits' or "
                   f"'faces' datasets, or put the {info.title} files in {where}")
        else:
            msg = (f"{info.title} is not in {where} and downloads are off (data.download is false): "
                   f"put the files there, allow the download, or use the offline 'digits' or 'faces' datasets")
        first_line = (str(e).strip().splitlines() or [""])[0]
        raise DataError(f"{msg} ({type(e).__name__}: {first_line})") from e


def load_torchvision(cfg: DataConfig, progress: Optional[ProgressFn] = None) -> ImageDataset:
    """The train split of cfg.dataset resized to cfg.image_size: uint8 (N, 1|3, H, W), labels (N, 1)."""
    if cfg.dataset not in TORCHVISION_SETS:
        raise DataError(f"{cfg.dataset!r} is not a torchvision dataset ({', '.join(TORCHVISION_SETS)})")
    info = TORCHVISION_SETS[cfg.dataset]
    report(progress, 0.0, f"opening {info.title}" + (" (downloading if needed)" if cfg.download else ""))
    ds = _open_dataset(info, Path(cfg.cache_dir) / "torchvision", cfg.download)
    data = torch.as_tensor(np.asarray(ds.data))
    images = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)  # (N,H,W) or (N,H,W,C)
    report(progress, 0.5, f"resizing {len(images)} {info.title} images to {cfg.image_size} px")
    images = resize_uint8(images.to(torch.uint8), cfg.image_size)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.long).reshape(-1, 1)
    classes = DIGIT_CLASSES if info.group == "digit" else tuple(str(c) for c in ds.classes)
    report(progress, 1.0, f"loaded {len(images)} {info.title} images")
    return ImageDataset(cfg.dataset, images, labels, [LabelGroup(info.group, classes)])

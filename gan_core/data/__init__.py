"""Datasets as in-memory tensors.

Every loader returns an :class:`ImageDataset`: ``images`` is a uint8 tensor (N, C, H, W) for image
data, or a float32 tensor (N, 2) of points for the 2D toy data; ``labels`` is a long tensor (N, G)
with one class index per label group (e.g. hair, eye) or None. The trainer draws batches by index,
so there is no DataLoader in the hot loop.
"""
from __future__ import annotations

from typing import Optional

from ..config import DataConfig
from .base import DataError, ImageDataset, LabelGroup, ProgressFn  # noqa: F401  (the package's API)

def dataset_is_labelled(cfg: DataConfig) -> Optional[bool]:
    """Whether the data has class labels: False for 2D toy data, True for the built-in image sets;
    a folder has labels with a tags CSV, a Hugging Face dataset with label columns."""
    if cfg.dataset == "toy2d":
        return False
    if cfg.dataset == "faces-edges":
        return True
    if cfg.dataset == "folder":
        return True if cfg.tags_csv else None
    if cfg.dataset == "hf":
        return bool(cfg.hf_label_columns.strip())
    return True


def dataset_is_paired(cfg: DataConfig) -> bool:
    """Whether the data are (input, target) image pairs for pix2pix: 'faces-edges', or 'folder' with
    ``data.pairs`` set ('ab' pictures or 'edges' of plain images)."""
    return cfg.dataset == "faces-edges" or (cfg.dataset == "folder" and bool(cfg.pairs))


def load_dataset(cfg: DataConfig, progress: Optional[ProgressFn] = None) -> ImageDataset:
    """Load (and cache) the dataset a DataConfig names. Paired data (:func:`dataset_is_paired`) come as a
    :class:`~gan_core.data.edges.PairedDataset`: ``images`` are the targets, ``inputs`` the inputs."""
    cfg.validate()
    if dataset_is_paired(cfg):
        from .edges import load_paired

        ds = load_paired(cfg, "faces-edges" if cfg.dataset == "faces-edges" else
                         {"ab": "pairs", "edges": "edges"}[cfg.pairs], progress)
        if cfg.max_images and len(ds) > cfg.max_images:
            ds.images, ds.inputs = ds.images[: cfg.max_images], ds.inputs[: cfg.max_images]
            ds.labels = ds.labels[: cfg.max_images] if ds.labels is not None else None
        ds.hints = cfg.hints   # up to this many colour dabs per training pair (gan_core.data.hints)
        return ds
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
    elif cfg.dataset == "hf":
        from .hf import load_hf as fn
    else:  # pragma: no cover - validate() already refuses
        raise DataError(f"unknown dataset {cfg.dataset!r}")
    ds = fn(cfg, progress)
    if cfg.max_images and len(ds) > cfg.max_images:
        ds.images = ds.images[: cfg.max_images]
        if ds.labels is not None:
            ds.labels = ds.labels[: cfg.max_images]
    return ds

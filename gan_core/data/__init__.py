"""Datasets as in-memory tensors.

Every loader returns an :class:`ImageDataset`: ``images`` is a uint8 tensor (N, C, H, W) for image
data, or a float32 tensor (N, 2) of points for the 2D toy data; ``labels`` is a long tensor (N, G)
with one class index per label group (e.g. hair, eye) or None. The trainer draws batches by index,
so there is no DataLoader in the hot loop.
"""
from __future__ import annotations

from typing import Optional

from gan_core.config import DataConfig
from gan_core.data.base import DataError, ImageDataset, LabelGroup, ProgressFn  # noqa: F401  (the package's API)

from gan_core.data.registry import DATASETS, DatasetSpec  # noqa: F401,E402


def dataset_is_labelled(cfg: DataConfig) -> Optional[bool]:
    """Whether the data has class labels (None: not known before loading): the registry's
    :meth:`DatasetSpec.is_labelled` (a folder has labels with a tags CSV, a Hugging Face dataset with
    label columns)."""
    return DATASETS[cfg.dataset].is_labelled(cfg)


def dataset_is_paired(cfg: DataConfig) -> bool:
    """Whether the data are (input, target) image pairs for pix2pix: 'faces-edges', or 'folder' with
    ``data.pairs`` set ('ab' pictures or 'edges' of plain images)."""
    return DATASETS[cfg.dataset].is_paired(cfg)


def load_dataset(cfg: DataConfig, progress: Optional[ProgressFn] = None) -> ImageDataset:
    """Load (and cache) the dataset a DataConfig names, by its registry entry. Paired data
    (:func:`dataset_is_paired`) come as a :class:`~gan_core.data.edges.PairedDataset`: ``images`` are the
    targets, ``inputs`` the inputs."""
    cfg.validate()
    spec = DATASETS[cfg.dataset]
    ds = spec.load(cfg, progress)
    if spec.is_paired(cfg):
        if cfg.max_images and len(ds) > cfg.max_images:
            ds.images, ds.inputs = ds.images[: cfg.max_images], ds.inputs[: cfg.max_images]
            ds.labels = ds.labels[: cfg.max_images] if ds.labels is not None else None
        ds.hints = cfg.hints   # up to this many colour dabs per training pair (gan_core.data.hints)
        return ds
    if cfg.max_images and len(ds) > cfg.max_images:
        ds.images = ds.images[: cfg.max_images]
        if ds.labels is not None:
            ds.labels = ds.labels[: cfg.max_images]
    return ds

"""scikit-learn's 8x8 handwritten digits (1797 images, shipped with scikit-learn: works offline)."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from gan_core.config import DataConfig
from gan_core.data.base import ImageDataset, LabelGroup, ProgressFn
from gan_core.data.images import report, resize_uint8

DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))


def load_digits(cfg: DataConfig, progress: Optional[ProgressFn] = None) -> ImageDataset:
    """The digits as 1-channel uint8 images upscaled (bilinear) to cfg.image_size, labels (N, 1)."""
    from sklearn.datasets import load_digits as sk_load_digits

    report(progress, 0.0, "loading scikit-learn digits")
    bunch = sk_load_digits()
    grey = np.round(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)  # 0..16 grey levels
    images = resize_uint8(torch.from_numpy(grey).unsqueeze(1), cfg.image_size)
    labels = torch.as_tensor(bunch.target, dtype=torch.long).unsqueeze(1)
    report(progress, 1.0, f"loaded {len(labels)} digits")
    return ImageDataset("digits", images, labels, [LabelGroup("digit", DIGIT_CLASSES)])

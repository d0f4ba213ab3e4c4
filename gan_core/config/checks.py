"""One call that says whether a RunConfig can train: ``check_config(cfg)``.

``RunConfig.validate()`` checks types and ranges from the fields' metadata; the registries check what
only they know (gan_core.losses: the loss name; gan_core.models: the arch name and whether it fits the
data, as the dataset registry describes it). config.py imports none of them, so there is no import circle.
"""
from __future__ import annotations

from gan_core.config import ConfigError, RunConfig
from gan_core.data.registry import DATASETS
from gan_core.losses import check_loss_config
from gan_core.models import check_model_config, is_translator


def check_config(cfg: RunConfig) -> RunConfig:
    """Validate every field, then the registry checks; returns ``cfg`` (ConfigError on the first fault)."""
    cfg.validate()
    check_loss_config(cfg.loss)
    data = DATASETS[cfg.data.dataset]   # validate() refused unknown names
    check_model_config(cfg.model, cfg.data.dataset, data.is_labelled(cfg.data), data.is_paired(cfg.data), data.points)
    if cfg.data.hints and not is_translator(cfg.model.arch):
        raise ConfigError("data.hints", f"colour hints are for image-to-image archs (pix2pix); set it to 0 for "
                                        f"arch '{cfg.model.arch}'")
    return cfg

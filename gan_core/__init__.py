"""GAN Studio core: config, data, models, losses, trainer, checkpoints, latent tools, metrics, jobs.

Never imports a UI toolkit and never prints (the CLI in ``gan_core.cli`` is the one terminal front end).
"""
from gan_core.config import ConfigError, DataConfig, LossConfig, ModelConfig, RunConfig, TrainConfig

__all__ = ["ConfigError", "DataConfig", "LossConfig", "ModelConfig", "RunConfig", "TrainConfig"]
__version__ = "0.1.0"

"""2D lab settings: :class:`LabConfig` (data shape, model, loss, training, view sizes) and the fields
that change a running lab."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from gan_core.config import TOY2D_SHAPES, ConfigError, LossConfig, ModelConfig, TrainConfig
from gan_core.losses import check_loss_config
from gan_core.models import ARCHITECTURES, DataSpec

DRAWN = "drawn"                                   # data shape: Gaussians around user-drawn points
LAB_SHAPES: tuple[str, ...] = TOY2D_SHAPES + (DRAWN,)
POINTS_SPEC = DataSpec(kind="points", channels=0, image_size=0)
MAX_DRAWN = 200

# fields that :meth:`Lab2D.update` accepts while training (dotted names, as in the config)
LIVE_FIELDS: tuple[str, ...] = (
    "shape", "drawn", "drawn_std",
    *(f"loss.{f}" for f in ("name", "real_label", "fake_label", "label_noise", "lsgan_a", "lsgan_b",
                           "lsgan_c", "clip_value", "gp_lambda", "dragan_c")),
    *(f"train.{f}" for f in ("optimizer", "lr_g", "lr_d", "beta1", "beta2", "n_critic", "batch_size")),
)


# ---- configuration ------------------------------------------------------------------------------
def _default_model() -> ModelConfig:
    # width 32 (3 hidden layers in G and D): enough for every shape, ~2000 steps/s on one core
    return ModelConfig(arch="mlp", z_dim=2, mlp_hidden=32)


def _default_train() -> TrainConfig:
    return TrainConfig(batch_size=128, steps=1_000_000, lr_g=1e-3, lr_d=1e-3, beta1=0.5, beta2=0.9,
                       log_every=20, device="cpu")


@dataclass
class LabConfig:
    shape: str = "8gaussians"                       # one of LAB_SHAPES
    drawn: tuple[tuple[float, float], ...] = ()     # user-drawn centres (x, y) for shape="drawn"
    drawn_std: float = 0.05                         # std of the Gaussian around each drawn point
    model: ModelConfig = field(default_factory=_default_model)   # arch "mlp"; z_dim, mlp_hidden, g_dropout, spectral_norm
    loss: LossConfig = field(default_factory=LossConfig)         # every loss of LOSSES and its tricks
    train: TrainConfig = field(default_factory=_default_train)   # optimizer, lrs, n_critic, batch, steps / seconds, seed
    pool: int = 20_000              # real points drawn once per shape; batches index into them
    grid: int = 64                  # D surface resolution (grid x grid values)
    extent: float = 3.0             # the plane shown and sampled: [-extent, extent]^2
    view_points: int = 2500         # real / fake points in each frame (and for the coverage metric)
    arrows: int = 64                # fakes that carry a gradient arrow
    draw_points: int = 600          # real / fake points sent to the view per frame (the metric uses view_points)
    frame_history: int = 300        # logged rows sent per frame (evenly thinned; the last one always)
    view_every_s: float = 0.25      # seconds between frames published by LabRunner
    history: int = 5000             # logged rows kept (one every train.log_every steps)
    strip_every: int = 0            # keep the fakes every this many steps as a strip of earlier frames (0: none)
    strip_frames: int = 8           # frames the strip keeps (the newest)

    def validate(self) -> "LabConfig":
        if self.shape not in LAB_SHAPES:
            raise ConfigError("lab.shape", f"must be one of {', '.join(LAB_SHAPES)}; got {self.shape!r}")
        if self.shape == DRAWN and not self.drawn:
            raise ConfigError("lab.drawn", "is empty: draw at least one point (or pick another shape)")
        if len(self.drawn) > MAX_DRAWN:
            raise ConfigError("lab.drawn", f"has {len(self.drawn)} points; at most {MAX_DRAWN}")
        for p in self.drawn:
            if len(p) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) and abs(v) <= self.extent
                                      for v in p):
                raise ConfigError("lab.drawn", f"points must be (x, y) inside [-{self.extent:g}, {self.extent:g}]; got {p!r}")
        if not 0.005 <= self.drawn_std <= 1.0:
            raise ConfigError("lab.drawn_std", f"must be between 0.005 and 1, got {self.drawn_std!r}")
        self.model.validate()
        points = [a for a, spec in ARCHITECTURES.items() if spec.points]   # archs that draw 2D points
        if self.model.arch not in points:
            raise ConfigError("model.arch", f"must be {' or '.join(repr(a) for a in points)} in the 2D lab, "
                                            f"got {self.model.arch!r}")
        self.loss.validate()
        check_loss_config(self.loss)
        self.train.validate()
        for name, v, lo, hi in (("lab.pool", self.pool, 64, 10**7), ("lab.grid", self.grid, 4, 512),
                                ("lab.view_points", self.view_points, 8, 100_000),
                                ("lab.arrows", self.arrows, 0, 100_000), ("lab.history", self.history, 10, 10**7),
                                ("lab.draw_points", self.draw_points, 1, 100_000),
                                ("lab.frame_history", self.frame_history, 2, 10**7),
                                ("lab.strip_every", self.strip_every, 0, 10**7),
                                ("lab.strip_frames", self.strip_frames, 1, 64)):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ConfigError(name, f"must be an integer between {lo} and {hi}, got {v!r}")
        if not 0.5 <= self.extent <= 100:
            raise ConfigError("lab.extent", f"must be between 0.5 and 100, got {self.extent!r}")
        if not 0.01 <= self.view_every_s <= 60:
            raise ConfigError("lab.view_every_s", f"must be between 0.01 and 60, got {self.view_every_s!r}")
        return self

    def replace(self, **changes: Any) -> "LabConfig":
        """A validated copy with dotted fields changed: ``cfg.replace(**{"loss.name": "lsgan"})``."""
        new = copy.deepcopy(self)
        for k, v in changes.items():
            _set_field(new, k, v)
        return new.validate()


def _set_field(cfg: LabConfig, key: str, value: Any) -> None:
    sec, _, name = key.rpartition(".")
    target = getattr(cfg, sec) if sec else cfg
    if sec not in ("", "model", "loss", "train") or not hasattr(target, name):
        raise ConfigError(key, "is not a 2D lab setting")
    if key == "drawn":
        value = tuple((float(x), float(y)) for x, y in value)
    setattr(target, name, value)


"""Typed run configuration: four dataclasses (data, model, loss, train) that round-trip to JSON.

Every field is validated in ``validate()``; a bad value raises :class:`ConfigError` whose message
names the offending field (``train.batch_size must be >= 1, got 0``), so UIs and the CLI can show it
as-is.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Optional


class ConfigError(ValueError):
    """A configuration value is invalid. ``field`` is the dotted path of the bad field."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name} {message}")
        self.field = field_name


DATASETS = ("faces", "digits", "mnist", "fashion-mnist", "cifar10", "folder", "toy2d")
TOY2D_SHAPES = ("8gaussians", "25gaussians", "moons", "ring", "spiral")
OPTIMIZERS = ("adam", "rmsprop")
DEVICES = ("auto", "cpu", "cuda", "mps")
D_NORMS = ("auto", "batch", "layer", "none")
G_CONDS = ("concat", "cbn", "both")
DIFFAUGMENT_OPS = ("color", "translation", "cutout")


@dataclass
class DataConfig:
    dataset: str = "faces"          # one of DATASETS
    image_size: int = 32            # 16, 32 or 64 (ignored for toy2d)
    path: Optional[str] = None      # image folder or .zip (dataset="folder")
    tags_csv: Optional[str] = None  # optional "filename,tags" CSV for dataset="folder"
    num_samples: int = 20000        # size of procedurally made sets (faces, toy2d): a pool D cannot memorise
    toy_shape: str = "8gaussians"   # one of TOY2D_SHAPES
    augment_flip: bool = False      # random horizontal flip
    augment_rotate: float = 0.0     # max |rotation| in degrees (0 = off, at most 30)
    seed: int = 0                   # seed for procedural data
    cache_dir: str = ".cache/gan_studio"
    download: bool = True           # allow torchvision downloads
    max_images: int = 0             # 0 = all; otherwise keep the first N images
    diffaugment: str = ""           # DiffAugment policy for D's inputs, real and fake: "" (off) or a
                                    # comma list of color, translation, cutout (Zhao et al. 2020)

    def validate(self) -> None:
        _choice("data.dataset", self.dataset, DATASETS)
        if self.dataset != "toy2d" and self.image_size not in (16, 32, 64):
            raise ConfigError("data.image_size", f"must be 16, 32 or 64, got {self.image_size!r}")
        if self.dataset == "folder" and not self.path:
            raise ConfigError("data.path", "is required when data.dataset is 'folder'")
        _int_range("data.num_samples", self.num_samples, 16, 1_000_000)
        _choice("data.toy_shape", self.toy_shape, TOY2D_SHAPES)
        _num_range("data.augment_rotate", self.augment_rotate, 0.0, 30.0)
        _int_range("data.max_images", self.max_images, 0, 10_000_000)
        _is_bool("data.augment_flip", self.augment_flip)
        _is_bool("data.download", self.download)
        _int_range("data.seed", self.seed, 0, 2**63 - 1)
        parse_diffaugment(self.diffaugment)


@dataclass
class ModelConfig:
    arch: str = "dcgan"             # a key of gan_core.models.ARCHITECTURES
    z_dim: int = 100
    g_width: int = 64               # base channel width of G (ngf)
    d_width: int = 64               # base channel width of D (ndf)
    d_norm: str = "auto"            # auto: batch norm, none for gradient-penalty losses
    spectral_norm: bool = False     # spectral norm on D layers
    g_dropout: float = 0.0          # dropout probability inside G
    dropout_at_test: bool = False   # keep G dropout active when sampling
    res_blocks: int = 8             # residual blocks (srresnet G / resnet D)
    mlp_hidden: int = 128           # hidden width of the 2D toy MLPs
    embed_dim: int = 32             # label embedding size (conditional archs)
    g_cond: str = "concat"          # how tags enter a conditional DCGAN G: concat (input) | cbn | both

    def validate(self) -> None:
        from .models import ARCHITECTURES  # local import: models imports config

        _choice("model.arch", self.arch, tuple(ARCHITECTURES))
        _int_range("model.z_dim", self.z_dim, 1, 4096)
        _int_range("model.g_width", self.g_width, 4, 1024)
        _int_range("model.d_width", self.d_width, 4, 1024)
        _choice("model.d_norm", self.d_norm, D_NORMS)
        _is_bool("model.spectral_norm", self.spectral_norm)
        _num_range("model.g_dropout", self.g_dropout, 0.0, 0.9)
        _is_bool("model.dropout_at_test", self.dropout_at_test)
        _int_range("model.res_blocks", self.res_blocks, 1, 32)
        _int_range("model.mlp_hidden", self.mlp_hidden, 8, 4096)
        _int_range("model.embed_dim", self.embed_dim, 1, 1024)
        _choice("model.g_cond", self.g_cond, G_CONDS)


@dataclass
class LossConfig:
    name: str = "ns"                # a key of gan_core.losses.LOSSES
    real_label: float = 1.0         # soft labels: e.g. 0.9 (one-sided smoothing)
    fake_label: float = 0.0
    label_noise: float = 0.0        # probability of flipping each D target (noisy labels)
    lsgan_a: float = 0.0            # LSGAN target for fake in D
    lsgan_b: float = 1.0            # LSGAN target for real in D
    lsgan_c: float = 1.0            # LSGAN target G wants D to give fakes
    clip_value: float = 0.01        # WGAN weight clipping c
    gp_lambda: float = 10.0         # WGAN-GP / DRAGAN penalty weight
    dragan_c: float = 0.5           # DRAGAN perturbation scale (x std)
    aux_weight: float = 1.0         # ACGAN auxiliary classification weight
    aux_on_fake: bool = False       # also train D's tag heads on fakes (original AC-GAN); off = real
                                    # images only, which stops D from learning G's wrong colours
    ms_weight: float = 0.0          # mode-seeking regulariser (MSGAN, Mao et al. 2019): G is pushed to
                                    # make two samples with the same tags differ as much as their z do

    def validate(self) -> None:
        from .losses import LOSSES

        _choice("loss.name", self.name, tuple(LOSSES))
        _num_range("loss.real_label", self.real_label, 0.0, 1.0)
        _num_range("loss.fake_label", self.fake_label, 0.0, 1.0)
        _num_range("loss.label_noise", self.label_noise, 0.0, 0.5)
        for f in ("lsgan_a", "lsgan_b", "lsgan_c"):
            _num_range(f"loss.{f}", getattr(self, f), -10.0, 10.0)
        _num_range("loss.clip_value", self.clip_value, 1e-6, 10.0)
        _num_range("loss.gp_lambda", self.gp_lambda, 0.0, 1000.0)
        _num_range("loss.dragan_c", self.dragan_c, 0.0, 10.0)
        _num_range("loss.aux_weight", self.aux_weight, 0.0, 100.0)
        _num_range("loss.ms_weight", self.ms_weight, 0.0, 100.0)


@dataclass
class TrainConfig:
    batch_size: int = 64
    steps: int = 1000               # generator steps (0 = until `seconds` runs out)
    seconds: float = 0.0            # wall-clock budget (0 = no limit)
    optimizer: str = "adam"         # adam | rmsprop
    lr_g: float = 2e-4              # TTUR: G and D have their own learning rates
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1               # D steps per G step
    ema_decay: float = 0.0          # EMA of G weights (0 = off, e.g. 0.999)
    seed: int = 0
    device: str = "auto"            # auto | cpu | cuda | mps
    amp: bool = True                # autocast: CUDA (bf16 if supported, else fp16); bf16 on CPUs with native bf16
    channels_last: bool = True      # channels_last memory format for conv nets
    log_every: int = 10             # steps between StepEvents
    sample_every: int = 100         # steps between sample grids (0 = only at the end)
    sample_seconds: float = 0.0     # also a grid every this many seconds of training (0 = off)
    checkpoint_every: int = 500     # steps between checkpoints (0 = only at the end)
    checkpoint_seconds: float = 0.0 # also a checkpoint every this many seconds of training (0 = off)
    keep_checkpoints: int = 3       # step_*.pt files kept besides last.pt
    grid_size: int = 64             # images in the fixed-noise grid

    def validate(self) -> None:
        _int_range("train.batch_size", self.batch_size, 1, 65536)
        _int_range("train.steps", self.steps, 0, 100_000_000)
        _num_range("train.seconds", self.seconds, 0.0, 10**7)
        if self.steps == 0 and self.seconds == 0:
            raise ConfigError("train.steps", "and train.seconds are both 0: set at least one limit")
        _choice("train.optimizer", self.optimizer, OPTIMIZERS)
        _num_range("train.lr_g", self.lr_g, 1e-8, 1.0)
        _num_range("train.lr_d", self.lr_d, 1e-8, 1.0)
        _num_range("train.beta1", self.beta1, 0.0, 0.9999)
        _num_range("train.beta2", self.beta2, 0.0, 0.99999)
        _int_range("train.n_critic", self.n_critic, 1, 100)
        _num_range("train.ema_decay", self.ema_decay, 0.0, 0.99999)
        _int_range("train.seed", self.seed, 0, 2**63 - 1)
        _choice("train.device", self.device, DEVICES)
        _is_bool("train.amp", self.amp)
        _is_bool("train.channels_last", self.channels_last)
        _int_range("train.log_every", self.log_every, 1, 10**6)
        _int_range("train.sample_every", self.sample_every, 0, 10**7)
        _int_range("train.checkpoint_every", self.checkpoint_every, 0, 10**7)
        _num_range("train.sample_seconds", self.sample_seconds, 0.0, 10**6)
        _num_range("train.checkpoint_seconds", self.checkpoint_seconds, 0.0, 10**7)
        _int_range("train.keep_checkpoints", self.keep_checkpoints, 0, 1000)
        _int_range("train.grid_size", self.grid_size, 1, 256)


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> "RunConfig":
        self.data.validate()
        self.model.validate()
        self.loss.validate()
        self.train.validate()
        from .models import ARCHITECTURES

        point_arch = ARCHITECTURES[self.model.arch].backbone == "mlp"
        if point_arch != (self.data.dataset == "toy2d"):
            raise ConfigError(
                "model.arch",
                f"'{self.model.arch}' does not fit dataset '{self.data.dataset}': "
                "the 'mlp' arch is for 'toy2d' data and image archs are for image data",
            )
        return self

    # ---- JSON round trip -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        if not isinstance(d, dict):
            raise ConfigError("config", f"must be a JSON object, got {type(d).__name__}")
        unknown = set(d) - {"data", "model", "loss", "train"}
        if unknown:
            raise ConfigError(sorted(unknown)[0], "is not a config section (data, model, loss, train)")
        parts = {}
        for name, sub in (("data", DataConfig), ("model", ModelConfig), ("loss", LossConfig), ("train", TrainConfig)):
            parts[name] = _sub_from_dict(sub, d.get(name, {}), name)
        return cls(**parts)

    @classmethod
    def from_json(cls, s: str) -> "RunConfig":
        try:
            d = json.loads(s)
        except json.JSONDecodeError as e:
            raise ConfigError("config", f"is not valid JSON: {e}") from e
        return cls.from_dict(d)

    def replace(self, **sections: dict[str, Any]) -> "RunConfig":
        """Copy with some fields changed: ``cfg.replace(train={"steps": 10})``."""
        d = self.to_dict()
        for sec, vals in sections.items():
            if sec not in d:
                raise ConfigError(sec, "is not a config section (data, model, loss, train)")
            d[sec].update(vals)
        return RunConfig.from_dict(d)


def _sub_from_dict(cls, d: Any, prefix: str):
    if not isinstance(d, dict):
        raise ConfigError(prefix, f"must be an object, got {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in d:
        if k not in fields:
            raise ConfigError(f"{prefix}.{k}", "is not a known field")
    kwargs = {}
    for k, v in d.items():
        default = getattr(cls(), k)
        kwargs[k] = _coerce(f"{prefix}.{k}", v, default)
    return cls(**kwargs)


def _coerce(name: str, v: Any, default: Any) -> Any:
    """Coerce JSON values to the type of the field's default (int->float ok, no str->number)."""
    if isinstance(default, bool):
        if not isinstance(v, bool):
            raise ConfigError(name, f"must be true or false, got {v!r}")
        return v
    if isinstance(default, int):
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                return int(v)
            raise ConfigError(name, f"must be an integer, got {v!r}")
        return v
    if isinstance(default, float):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(name, f"must be a number, got {v!r}")
        return float(v)
    if default is None or isinstance(default, str):
        if v is not None and not isinstance(v, str):
            raise ConfigError(name, f"must be a string, got {v!r}")
        return v
    return v


def parse_diffaugment(policy: Any) -> tuple[str, ...]:
    """``"color, translation"`` -> ``("color", "translation")``; ``""`` -> ``()``. ConfigError on an op
    not in DIFFAUGMENT_OPS (the one list of them; gan_core.data.augment implements each)."""
    if not isinstance(policy, str):
        raise ConfigError("data.diffaugment", f"must be a string, got {policy!r}")
    ops = tuple(o.strip() for o in policy.split(",") if o.strip())
    for op in ops:
        if op not in DIFFAUGMENT_OPS:
            raise ConfigError("data.diffaugment", f"has an unknown DiffAugment op {op!r}; choose from "
                              f"{', '.join(DIFFAUGMENT_OPS)}")
    return ops


def _choice(name: str, v: Any, choices: tuple) -> None:
    if v not in choices:
        raise ConfigError(name, f"must be one of {', '.join(map(str, choices))}; got {v!r}")


def _is_bool(name: str, v: Any) -> None:
    if not isinstance(v, bool):
        raise ConfigError(name, f"must be true or false, got {v!r}")


def _int_range(name: str, v: Any, lo: int, hi: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(name, f"must be an integer, got {v!r}")
    if not lo <= v <= hi:
        raise ConfigError(name, f"must be between {lo} and {hi}, got {v}")


def _num_range(name: str, v: Any, lo: float, hi: float) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(name, f"must be a number, got {v!r}")
    if v != v or not lo <= v <= hi:  # NaN fails too
        raise ConfigError(name, f"must be between {lo:g} and {hi:g}, got {v!r}")

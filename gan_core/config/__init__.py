"""Typed run configuration: four dataclasses (data, model, loss, train) that round-trip to JSON.

Each field is declared once with :func:`setting`: default, label, help, range or choices, form group.
``validate()``, the forms of both front ends (gan_core.studio.form) and the CLI flags are generated from
that metadata. A bad value raises :class:`ConfigError` whose message names the offending field
(``train.batch_size must be between 1 and 65536, got 0``), so UIs and the CLI can show it as-is.
This module imports nothing from gan_core at its top: registry names are checked in gan_core.config.checks, and
``DataConfig._check`` asks the dataset registry (gan_core.data.registry, which imports nothing from gan_core)
about the chosen dataset when it runs.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional


class ConfigError(ValueError):
    """A configuration value is invalid. ``field`` is the dotted path of the bad field."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name} {message}")
        self.field = field_name


def __getattr__(name: str) -> Any:
    """``config.DATASETS``: the dataset names, now the keys of the dataset registry (kept for old imports)."""
    if name == "DATASETS":
        from gan_core.data.registry import DATASETS as registry

        return tuple(registry)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PAIRS = ("", "ab", "edges")   # data.pairs: a plain folder, A|B side-by-side pictures, edges of a plain folder
TOY2D_SHAPES = ("8gaussians", "25gaussians", "moons", "ring", "spiral")
LR_DECAYS = ("none", "linear", "cosine")
OPTIMIZERS = ("adam", "rmsprop")
DEVICES = ("auto", "cpu", "cuda", "mps")
D_NORMS = ("auto", "batch", "layer", "none")
G_CONDS = ("concat", "cbn", "both")
DIFFAUGMENT_OPS = ("color", "translation", "cutout")
SEED_MAX = 2**63 - 1


def setting(default: Any, label: str, help: str = "", *, lo: Any = None, hi: Any = None, step: Any = None,
            choices: Optional[tuple] = None, registry: Optional[str] = None, names: Optional[dict] = None,
            fmt: Optional[str] = None, group: str = "", live: bool = False, flag: Optional[str] = None,
            advanced: bool = False) -> Any:
    """A config field and everything said about it, in one place. ``validate()``, the UI forms
    (gan_core.studio.form) and the CLI flags are all generated from this metadata.

    lo/hi: inclusive range of a number; choices: allowed values; registry: the values are the keys of a
    registry ("datasets", "architectures", "losses"), checked by gan_core.config.checks (datasets: by DataConfig,
    which asks the dataset registry) since config imports no registry at its top;
    names: display names of choices; step/fmt: widget step and printf format; group: the form's column;
    live: can be changed while a run trains; flag: the short CLI flag (``--lr_g``); advanced: shown in
    the form's "Logging and samples" popover.
    """
    md = dict(label=label, help=help, lo=lo, hi=hi, step=step, choices=choices, registry=registry,
              names=names or {}, fmt=fmt, group=group, live=live, flag=flag, advanced=advanced)
    return field(default=default, metadata=md)


class _Section:
    """Generic validation from the fields' metadata; ``_check`` adds rules that involve several fields."""
    PREFIX = ""
    CONDITIONAL: tuple[str, ...] = ()   # fields whose choices are enforced by ``_check`` only

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            if f.name not in self.CONDITIONAL:
                check_value(f"{self.PREFIX}.{f.name}", getattr(self, f.name), f)
        self._check()

    def _check(self) -> None:
        pass


def check_value(name: str, v: Any, f: dataclasses.Field) -> None:
    """Type, range and choices of one value, from its field's default and metadata."""
    md, default = f.metadata, f.default
    if md.get("choices") is not None:
        _choice(name, v, md["choices"])
    elif isinstance(default, bool):
        _is_bool(name, v)
    elif isinstance(default, int):
        _int_range(name, v, md["lo"], md["hi"])
    elif isinstance(default, float):
        _num_range(name, v, md["lo"], md["hi"])
    elif isinstance(default, str) and not isinstance(v, str):
        raise ConfigError(name, f"must be a string, got {v!r}")
    elif default is None and v is not None and not isinstance(v, str):
        raise ConfigError(name, f"must be a string or empty, got {v!r}")


@dataclass
class DataConfig(_Section):
    PREFIX = "data"
    CONDITIONAL = ("image_size",)
    dataset: str = setting("faces", "Dataset", registry="datasets", group="data", flag="dataset")
    image_size: int = setting(32, "Image size (px)", "Ignored for toy2d points.", choices=(16, 32, 64),
                              group="data", flag="image_size")
    path: Optional[str] = setting(None, "Image folder, .zip or dataset name",
                                  "A folder (searched recursively) or a .zip of images on the server; for "
                                  "dataset 'hf' a Hugging Face dataset OWNER/NAME or a local saved copy.",
                                  group="data", flag="data_path")
    pairs: str = setting("", "Pairs for pix2pix",
                         "Dataset 'folder' as image-to-image pairs: 'ab' reads A|B pictures (input left, target "
                         "right, the pix2pix format), 'edges' pairs each image with its Canny edges; empty: "
                         "plain images.", choices=PAIRS, group="data", flag="pairs",
                         names={"": "no (plain images)", "ab": "A|B side-by-side pictures",
                                "edges": "edges of each image"})
    hints: int = setting(0, "Colour hints (pix2pix)",
                         "Train with up to N dabs of the true colours per pair (none for a quarter of the pairs): "
                         "the generator then follows colour dabs drawn with the edges. 0 = edges only.",
                         lo=0, hi=64, step=1, group="data", flag="hints")
    tags_csv: Optional[str] = setting(None, "Tags CSV (optional)",
                                      "'filename,tags' lines such as 'a.png,blue hair red eyes'.",
                                      group="data", flag="tags_csv")
    hf_split: str = setting("train", "Split", "Which split of the Hugging Face dataset to train on.",
                            group="data")
    hf_image_column: str = setting("", "Image column", "Empty: the first column of images.", group="data")
    hf_label_columns: str = setting("", "Label columns as tags",
                                    "Comma list of class-label or text columns; each becomes a tag group "
                                    "(e.g. 'hair,eye' or 'label'). Empty: unconditional.", group="data")
    num_samples: int = setting(20000, "Samples to draw",
                               "Size of the procedurally made set (faces, toy2d): a pool D cannot memorise.",
                               lo=16, hi=1_000_000, step=256, group="data", flag="num_samples")
    toy_shape: str = setting("8gaussians", "2D shape", choices=TOY2D_SHAPES, group="data")
    augment_flip: bool = setting(False, "Random horizontal flips", group="data", flag="flip")
    augment_rotate: float = setting(0.0, "Random rotation (degrees)", "Largest |rotation|; 0 = off.",
                                    lo=0.0, hi=30.0, step=1.0, group="data", flag="rotate")
    seed: int = setting(0, "Data seed", "Seed of the procedurally made data.", lo=0, hi=SEED_MAX, step=1,
                        group="data", advanced=True)
    cache_dir: str = setting(".cache/gan_studio", "Cache folder", "Where decoded data sets are cached.",
                             group="data", advanced=True)
    download: bool = setting(True, "Allow downloads", "Let torchvision or Hugging Face download data.",
                             group="data", advanced=True)
    max_images: int = setting(0, "Use at most N images (0 = all)", "Keep the first N images.", lo=0,
                              hi=10_000_000, step=1000, group="data", flag="max_images")
    diffaugment: str = setting("", "DiffAugment for D",
                               "Comma list of " + ", ".join(DIFFAUGMENT_OPS) + ": differentiable "
                               "augmentation of real and fake images before D (Zhao et al. 2020). Helps a "
                               "small folder (a few hundred images) that D would memorise.",
                               group="data", flag="diffaugment")

    def _check(self) -> None:
        from gan_core.data.registry import DATASETS, unknown_dataset   # the dataset's own rules (path, pairs, size)

        if self.dataset not in DATASETS:
            raise ConfigError("data.dataset", unknown_dataset(self.dataset))
        problem = DATASETS[self.dataset].problem(self)
        if problem is not None:
            raise ConfigError(*problem)
        parse_diffaugment(self.diffaugment)


@dataclass
class ModelConfig(_Section):
    PREFIX = "model"
    arch: str = setting("dcgan", "Architecture", registry="architectures", group="model", flag="arch")
    z_dim: int = setting(100, "z dimension", lo=1, hi=4096, step=8, group="model", flag="z_dim")
    g_width: int = setting(64, "G width (ngf)", "Base channel width of G.", lo=4, hi=1024, step=4,
                           group="model", flag="g_width")
    d_width: int = setting(64, "D width (ndf)", "Base channel width of D.", lo=4, hi=1024, step=4,
                           group="model", flag="d_width")
    d_norm: str = setting("auto", "D normalisation", "auto: batch norm, none for gradient-penalty losses.",
                          choices=D_NORMS, group="model")
    spectral_norm: bool = setting(False, "Spectral norm on D", group="model", flag="spectral_norm")
    g_dropout: float = setting(0.0, "G dropout", "Dropout probability inside G.", lo=0.0, hi=0.9, step=0.05,
                               group="model", flag="g_dropout")
    dropout_at_test: bool = setting(False, "G dropout at sampling",
                                    "Keep G's dropout on when sampling, so the same z (or sketch) can give "
                                    "different pictures; off: sampling is deterministic.", group="model")
    res_blocks: int = setting(8, "Residual blocks", "SRResNet G / ResNet D.", lo=1, hi=32, step=1,
                              group="model")
    mlp_hidden: int = setting(128, "MLP hidden width", "Hidden width of the 2D toy MLPs.", lo=8, hi=4096,
                              step=16, group="model")
    embed_dim: int = setting(32, "Label embedding size", lo=1, hi=1024, step=4, group="model")
    g_cond: str = setting("concat", "How tags enter G",
                          "concat: tags join z at G's input. Conditional BN: the tags set every BatchNorm's "
                          "gain and bias, so they steer each layer and z keeps the input to itself.",
                          choices=G_CONDS, group="model",
                          names={"concat": "concat with z at the input", "cbn": "conditional BatchNorm",
                                 "both": "both"})


@dataclass
class LossConfig(_Section):
    PREFIX = "loss"
    name: str = setting("ns", "Loss", "Choosing a loss fills in the optimiser settings its paper recommends.",
                        registry="losses", group="loss", flag="loss")
    real_label: float = setting(1.0, "Real label (soft labels)",
                                "Target for real images, e.g. 0.9 for one-sided label smoothing.",
                                lo=0.0, hi=1.0, step=0.05, group="loss")
    fake_label: float = setting(0.0, "Fake label", "Target for fakes.", lo=0.0, hi=1.0, step=0.05, group="loss")
    label_noise: float = setting(0.0, "Label noise (flip probability)",
                                 "Probability of swapping each sample's real/fake target.",
                                 lo=0.0, hi=0.5, step=0.01, group="loss")
    lsgan_a: float = setting(0.0, "LSGAN a (fake target)", lo=-10.0, hi=10.0, step=0.1, group="loss")
    lsgan_b: float = setting(1.0, "LSGAN b (real target)", lo=-10.0, hi=10.0, step=0.1, group="loss")
    lsgan_c: float = setting(1.0, "LSGAN c (G's target)", lo=-10.0, hi=10.0, step=0.1, group="loss")
    clip_value: float = setting(0.01, "Weight clipping c", lo=1e-6, hi=10.0, step=0.005, fmt="%.4f", group="loss")
    gp_lambda: float = setting(10.0, "Penalty weight (lambda)", "WGAN-GP / DRAGAN penalty weight.",
                               lo=0.0, hi=1000.0, step=1.0, group="loss")
    dragan_c: float = setting(0.5, "DRAGAN perturbation c", "Perturbation scale (x std of the data).",
                              lo=0.0, hi=10.0, step=0.1, group="loss")
    aux_weight: float = setting(1.0, "ACGAN aux weight", "Weight of the tag classifiers' cross-entropy.",
                                lo=0.0, hi=100.0, step=0.1, group="loss")
    aux_on_fake: bool = setting(False, "D's tag loss on fakes",
                                "Train D's tag heads on generated images too, as the original AC-GAN. Off: "
                                "real images only, which stops D from learning G's wrong colours.", group="loss")
    l1_weight: float = setting(100.0, "L1 weight (pix2pix lambda)",
                               "pix2pix: G's loss adds lambda * mean |G(x) - y|, the distance to the true "
                               "picture (Isola et al. 2017 use 100); the GAN term sharpens what L1 blurs. Its "
                               "curve is 'l1' under Loss terms.", lo=0.0, hi=10000.0, step=10.0, group="loss",
                               flag="l1_weight")
    drop_tags: float = setting(0.25, "Dropped tags (pix2pix-acgan)",
                               "pix2pix-acgan: the chance that a tag group of a pair trained with its true tags "
                               "is given as unknown instead, so that G learns to take those colours from the "
                               "colour dabs.", lo=0.0, hi=1.0, step=0.05, group="loss")
    ms_weight: float = setting(0.0, "Mode-seeking weight (MSGAN)",
                               "Adds weight / (|G(z1) - G(z2)| / |z1 - z2|) to G's loss for pairs with the "
                               "same tags (Mao et al. 2019): G is pushed to make different z give different "
                               "images. Its curve ('ms' under Loss terms) is that ratio: it should rise, not "
                               "sink to 0.", lo=0.0, hi=100.0, step=0.5, group="loss")


@dataclass
class TrainConfig(_Section):
    PREFIX = "train"
    batch_size: int = setting(64, "Batch size", lo=1, hi=65536, step=8, group="train", flag="batch_size")
    steps: int = setting(1000, "Steps", "G steps (0 = until the time limit).", lo=0, hi=100_000_000, step=100,
                         group="train", flag="steps")
    seconds: float = setting(0.0, "Time limit (s)", "Wall-clock budget; 0 = no limit.", lo=0.0, hi=1e7,
                             step=30.0, fmt="%.0f", group="train", flag="seconds")
    optimizer: str = setting("adam", "Optimiser", choices=OPTIMIZERS, group="train", flag="optimizer")
    lr_g: float = setting(2e-4, "lr G", "TTUR: G and D have their own learning rates.", lo=1e-8, hi=1.0,
                          step=1e-5, fmt="%.1e", group="train", live=True, flag="lr_g")
    lr_d: float = setting(2e-4, "lr D", lo=1e-8, hi=1.0, step=1e-5, fmt="%.1e", group="train", live=True,
                          flag="lr_d")
    beta1: float = setting(0.5, "beta1", "Adam only.", lo=0.0, hi=0.9999, step=0.1, group="train")
    beta2: float = setting(0.999, "beta2", "Adam only.", lo=0.0, hi=0.99999, step=0.001, fmt="%.3f",
                           group="train")
    lr_decay: str = setting("none", "lr decay",
                            "Lower both learning rates to 0 over the last part of the budget (steps or seconds, "
                            "whichever ends the run), along a line or half a cosine, from the share 'lr decay "
                            "from' (train.lr_decay_start) on. A live lr change sets the rate that decays.",
                            choices=LR_DECAYS, group="train",
                            flag="lr_decay", names={"none": "none (constant)", "linear": "linear to 0",
                                                    "cosine": "cosine to 0"})
    lr_decay_start: float = setting(0.6, "lr decay from", "Share of the budget (0..1) after which the decay starts.",
                                    lo=0.0, hi=0.99, step=0.05, fmt="%.2f", group="train")
    n_critic: int = setting(1, "n_critic", "D steps per G step.", lo=1, hi=100, step=1, group="train",
                            live=True, flag="n_critic")
    ema_decay: float = setting(0.0, "EMA of G (0 = off)", "Exponential moving average of G's weights, e.g. 0.999.",
                               lo=0.0, hi=0.99999, step=0.001, fmt="%.3f", group="train", flag="ema")
    seed: int = setting(0, "Seed", lo=0, hi=SEED_MAX, step=1, group="train", flag="seed")
    device: str = setting("auto", "Device", choices=DEVICES, group="train", flag="device")
    amp: bool = setting(True, "Mixed precision (autocast)",
                        "The faster of fp32 and (CUDA) fp16 + grad scaler or bf16, (CPU) bf16, by a timed probe.",
                        group="train", advanced=True)
    channels_last: bool = setting(True, "channels_last memory format", "For conv nets, where it is faster.",
                                  group="train", advanced=True)
    log_every: int = setting(10, "Log every N steps", lo=1, hi=10**6, step=1, group="train", advanced=True,
                             flag="log_every")
    sample_every: int = setting(100, "Sample grid every N steps (0 = end only)", lo=0, hi=10**7, step=5,
                                group="train", advanced=True, flag="sample_every")
    sample_seconds: float = setting(0.0, "... and every N seconds (0 = off)", lo=0.0, hi=1e6, step=1.0,
                                    fmt="%.0f", group="train", advanced=True)
    checkpoint_every: int = setting(500, "Checkpoint every N steps (0 = end only)", lo=0, hi=10**7, step=50,
                                    group="train", advanced=True, flag="checkpoint_every")
    checkpoint_seconds: float = setting(0.0, "... and every N seconds (0 = off)", lo=0.0, hi=1e7, step=10.0,
                                        fmt="%.0f", group="train", advanced=True)
    keep_checkpoints: int = setting(3, "Checkpoints kept", "step_*.pt files kept besides last.pt.", lo=0,
                                    hi=1000, step=1, group="train", advanced=True)
    grid_size: int = setting(64, "Images in the sample grid", lo=1, hi=256, step=1, group="train",
                             advanced=True)
    world_size: int = setting(1, "Processes (data-parallel)",
                              "How many processes trained the run (torchrun; recorded, not chosen here): the "
                              "global batch is batch size x this.", lo=1, hi=65536, group="train")

    def _check(self) -> None:
        if self.steps == 0 and self.seconds == 0:
            raise ConfigError("train.steps", "and train.seconds are both 0: set at least one limit")


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig, "train": TrainConfig}


def field_info(key: str) -> dataclasses.Field:
    """The dataclass field of ``"section.field"`` (its metadata says all that is known about it)."""
    sec, _, name = key.partition(".")
    if sec not in SECTIONS:
        raise ConfigError(key, "is not a section.field name")
    for f in dataclasses.fields(SECTIONS[sec]):
        if f.name == name:
            return f
    raise ConfigError(key, "is not a known field")


def bounds(key: str) -> tuple[Any, Any]:
    """(lo, hi) of a numeric setting, e.g. ``bounds("train.lr_g") == (1e-8, 1.0)``."""
    md = field_info(key).metadata
    return md["lo"], md["hi"]


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"data": {"dataset": "faces"}}`` -> ``{"data.dataset": "faces"}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def all_fields() -> list[tuple[str, dataclasses.Field]]:
    """Every ``("section.field", Field)`` in form order."""
    return [(f"{sec}.{f.name}", f) for sec, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> "RunConfig":
        """Types and ranges of every field (names of losses and architectures, and whether the
        architecture fits the data, are checked by gan_core.config.checks, next to the registries)."""
        for sec in SECTIONS:
            getattr(self, sec).validate()
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
        for name, sub in SECTIONS.items():
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

"""Generator / discriminator networks and the architecture registry.

Networks map tensors to tensors:

* ``G(z: (B, z_dim), labels: (B, G) long | None) -> x: (B, C, H, W)`` in [-1, 1]  (or (B, 2) points)
* ``D(x, labels | None) -> (adv: (B,), aux: list[(B, n_classes_g)])``; ``aux`` is empty unless the
  arch is ACGAN, which has one classification head per label group.

The image-to-image archs ``pix2pix``, ``pix2pix-tags`` and ``pix2pix-acgan`` differ: ``G(edges (B, 1, S, S)
[, labels]) -> x`` (labels for the tag archs; -1 = unknown) and ``D(edges, x) -> patch logits (B, 1, P, P)``
(pix2pix-acgan: ``(patch logits, [tag logits (B, n_g)])``, its tag heads reading x alone);
gan_core.train.pix2pix_step trains them on paired data. With colour hints (DataSpec.hint_channels = 4) both take
(B, 1 + 4, S, S): edges, then hints. Whether a checkpoint's G takes tags is its config's arch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from torch import nn

from gan_core.config import ConfigError, ModelConfig
from gan_core.models.registry import ARCHITECTURES, BACKBONES, CONDITIONINGS, ArchSpec, Backbone, Conditioning  # noqa: F401


@dataclass(frozen=True)
class DataSpec:
    """What the networks need to know about the data (stored in checkpoints)."""

    kind: str = "image"                      # "image" | "points"
    channels: int = 3
    image_size: int = 32
    num_classes: tuple[int, ...] = ()        # classes per label group, () when unlabelled
    group_names: tuple[str, ...] = ()
    class_names: tuple[tuple[str, ...], ...] = ()
    input_channels: int = 1                  # image-to-image: channels of the input picture (edges: 1)
    hint_channels: int = 0                   # ... and of colour hints after it (0, or 4: gan_core.data.hints)
    hint_dabs: int = 0                       # ... the most dabs per picture it was trained with

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        """The spec of ``to_dict`` (older files lack the image-to-image fields: edges only). ValueError when
        the input or hint channels are not ones a generator can have."""
        spec = cls(
            kind=d["kind"], channels=int(d["channels"]), image_size=int(d["image_size"]),
            num_classes=tuple(d.get("num_classes", ())), group_names=tuple(d.get("group_names", ())),
            class_names=tuple(tuple(c) for c in d.get("class_names", ())),
            input_channels=int(d.get("input_channels", 1)), hint_channels=int(d.get("hint_channels", 0)),
            hint_dabs=int(d.get("hint_dabs", 0)),
        )
        if spec.input_channels not in (1, 3) or spec.hint_channels not in (0, 4) or not 0 <= spec.hint_dabs <= 1024:
            raise ValueError(f"input_channels must be 1 or 3, hint_channels 0 or 4 and hint_dabs 0 to 1024, got "
                             f"{spec.input_channels}, {spec.hint_channels} and {spec.hint_dabs}")
        return spec

    @classmethod
    def from_dataset(cls, ds) -> "DataSpec":
        from gan_core.data.hints import HINT_CHANNELS

        groups = ds.label_groups if ds.labels is not None else []
        dabs = int(getattr(ds, "hints", 0) or 0)         # a PairedDataset made with colour hints
        return cls(
            kind="points" if ds.is_points else "image",
            channels=ds.channels, image_size=ds.image_size,
            num_classes=tuple(g.num_classes for g in groups),
            group_names=tuple(g.name for g in groups),
            class_names=tuple(tuple(g.classes) for g in groups),
            input_channels=int(getattr(ds, "input_channels", 1) or 1),
            hint_channels=HINT_CHANNELS if dabs else 0, hint_dabs=dabs,
        )


def is_conditional(arch: str) -> bool:
    """G takes tags (cgan, acgan, tacgan ...); not the unconditional and image-to-image archs."""
    return ARCHITECTURES[arch].conditional


def is_translator(arch: str) -> bool:
    """G turns an input image into a picture (pix2pix): trained on pairs, used through gan_core.img2img.translate."""
    return ARCHITECTURES[arch].paired


def check_model_config(cfg: ModelConfig, dataset: str, labelled: Optional[bool], paired: bool = False,
                       points: bool = False) -> None:
    """The architecture is a known one and fits the data: 'mlp' for 2D points (``points``: toy2d), image
    archs for images, a conditional arch only where the data has labels (``labelled`` None: not known
    yet), and 'pix2pix' exactly for paired data (``paired``: faces-edges, or a folder with data.pairs)."""
    if cfg.arch not in ARCHITECTURES:
        raise ConfigError("model.arch", f"must be one of {', '.join(ARCHITECTURES)}; got {cfg.arch!r}")
    if is_translator(cfg.arch) != paired:
        if paired:
            raise ConfigError("model.arch", f"'{cfg.arch}' does not fit paired data ('{dataset}' pairs inputs "
                              "with targets): use 'pix2pix', or a plain dataset such as 'faces'")
        raise ConfigError("model.arch", f"'{cfg.arch}' needs paired images: dataset 'faces-edges', or 'folder' "
                          f"with data.pairs 'ab' or 'edges'; '{dataset}' is not paired")
    if ARCHITECTURES[cfg.arch].points != points:
        raise ConfigError("model.arch", f"'{cfg.arch}' does not fit dataset '{dataset}': the 'mlp' arch is "
                          "for 'toy2d' data and image archs are for image data")
    if is_conditional(cfg.arch) and labelled is False:
        plain = [a for a, s in ARCHITECTURES.items() if not s.conditional and not s.paired]
        raise ConfigError(
            "model.arch",
            f"'{cfg.arch}' is conditional and needs labelled data, but '{dataset}' has no labels; "
            f"choose an unconditional arch ({', '.join(plain)}) or a labelled dataset",
        )


def build_models(cfg: ModelConfig, spec: DataSpec, gradient_penalty: bool = False) -> tuple[nn.Module, nn.Module]:
    """Build (G, D) for a model config and data spec, with N(0, 0.02) init for DCGAN nets.

    ``gradient_penalty``: the loss penalises D's input gradients; with ``d_norm='auto'`` D then uses
    no batch norm (per-sample gradients must not mix across the batch).
    """
    arch = ARCHITECTURES[cfg.arch]
    if arch.conditional and not spec.num_classes:
        raise ValueError(
            f"model.arch '{cfg.arch}' is conditional but the dataset has no labels; "
            + ("use 'pix2pix', or give the pictures tags" if arch.paired
               else "use 'dcgan' or 'srresnet', or give the images tags"))
    num_classes = spec.num_classes if arch.conditional else ()
    if cfg.g_cond not in arch.net.g_conds and num_classes:
        raise ValueError(f"model.g_cond '{cfg.g_cond}' is only built for the DCGAN generator; use 'concat' "
                         f"with '{cfg.arch}'")
    d_norm = cfg.d_norm
    if d_norm == "auto":
        d_norm = "none" if gradient_penalty else "batch"
    g, d = arch.net.build(cfg, spec, num_classes, arch.conditioning, d_norm)
    if cfg.spectral_norm and arch.net.spectral_norm:
        apply_spectral_norm(d)
    return g, d


def apply_spectral_norm(module: nn.Module) -> None:
    """Wrap every conv / linear weight of ``module`` in spectral normalisation (in place)."""
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Conv2d, nn.Linear)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        elif isinstance(child, nn.Embedding):  # the projection D's class embeddings (Miyato & Koyama 2018)
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            apply_spectral_norm(child)


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())

"""The training form's logic, shared by both front ends: the form's fields generated from the config's
metadata (:func:`form_fields`), which of them matter for a dataset/arch/loss (:func:`relevant_fields`),
presets, a loss's optimiser settings, and flat ``section.field`` values to a checked RunConfig.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from gan_core.config.checks import check_config
from gan_core.config import ConfigError, RunConfig, TrainConfig, all_fields, field_info, flatten
from gan_core.data.registry import DATASETS
from gan_core.losses import LOSSES
from gan_core.models import ARCHITECTURES
from gan_core.train.recipes import PRESETS, merge_sections, recipe_for

REGISTRIES: dict[str, Mapping[str, Any]] = {"datasets": DATASETS, "architectures": ARCHITECTURES, "losses": LOSSES}
GROUPS: dict[str, str] = {"data": "Data", "model": "Model", "loss": "Loss", "train": "Optimisation"}
SERVER_ONLY = ("data.cache_dir", "data.download",   # server settings a visitor's form never shows
               "train.world_size")                  # ... and a fact the trainer records (torchrun)


@dataclass(frozen=True)
class FieldSpec:
    """One form widget, generated from a config field's metadata (gan_core.config.setting)."""
    key: str                      # "train.lr_g"
    label: str
    help: str
    kind: str                     # "int" | "float" | "bool" | "choice" | "text"
    default: Any
    lo: Any = None
    hi: Any = None
    step: Any = None
    fmt: Optional[str] = None
    choices: tuple = ()
    names: Mapping[Any, str] = dataclasses.field(default_factory=dict)   # display names of choices
    group: str = ""               # a key of GROUPS
    advanced: bool = False        # in the "Logging and samples" popover
    live: bool = False            # can be changed while the run trains
    optional: bool = False        # a text field that may stay empty (None)

    def display(self, v: Any) -> str:
        return str(self.names.get(v, v))


def field_spec(key: str) -> FieldSpec:
    """The widget for ``"section.field"``, from its metadata; registry fields list the registry's keys."""
    f = field_info(key)
    md, default = f.metadata, f.default
    choices = md["choices"] or (tuple(REGISTRIES[md["registry"]]) if md["registry"] else ())
    if choices:
        kind = "choice"
    elif isinstance(default, bool):
        kind = "bool"
    elif isinstance(default, int):
        kind = "int"
    elif isinstance(default, float):
        kind = "float"
    else:
        kind = "text"
    return FieldSpec(key, md["label"], md["help"], kind, default, md["lo"], md["hi"], md["step"], md["fmt"],
                     tuple(choices), dict(md["names"]), md["group"], md["advanced"], md["live"], default is None)


def relevant_fields(dataset: str, arch: str, loss: str) -> set[str]:
    """The optional ``section.field`` settings that matter for a dataset/arch/loss choice; a form hides
    the others (they keep their values and are ignored by the trainer)."""
    f = set(DATASETS[dataset].relevant_fields())
    a = ARCHITECTURES[arch]
    f = (f | a.fields) - a.cond.drops
    f |= {f"loss.{name}" for name in LOSSES[loss].fields}
    return f


# every setting that some dataset/arch/loss choice hides
OPTIONAL_FIELDS: frozenset[str] = frozenset().union(*(
    relevant_fields(d, a, lo) for d, a, lo in itertools.product(DATASETS, ARCHITECTURES, LOSSES)))


def form_fields(dataset: str, arch: str, loss: str) -> list[FieldSpec]:
    """The widgets a visitor's form shows for this choice, in config order (group them by ``group``):
    every field but the server-only ones and the optional ones that do not matter here."""
    rel = relevant_fields(dataset, arch, loss)
    return [field_spec(k) for k, _ in all_fields()
            if k not in SERVER_ONLY and (k not in OPTIONAL_FIELDS or k in rel)]


OPTIMIZER_FIELDS = ("optimizer", "lr_g", "lr_d", "beta1", "beta2", "n_critic")


def optimizer_settings(loss: str) -> dict[str, Any]:
    """The optimiser a loss should start with: TrainConfig defaults overridden by the paper's settings.

    Choosing a loss without recommendations therefore also undoes another loss's (e.g. n_critic 5).
    """
    base = TrainConfig()
    out: dict[str, Any] = {f: getattr(base, f) for f in OPTIMIZER_FIELDS}
    out.update({k: v for k, v in LOSSES[loss].recommended.items() if k in OPTIMIZER_FIELDS})
    return out


def preset_sections(name: str, dataset: str, tagged: Optional[bool] = None) -> dict[str, dict[str, Any]]:
    """What choosing a preset fills in: its sizes and time budget, plus the recommended recipe for the
    dataset (the tag-conditional one for tagged data)."""
    return merge_sections(recipe_for(dataset, tagged), PRESETS[name].sections)


def config_from_flat(values: Mapping[str, Any], base: Optional[RunConfig] = None) -> RunConfig:
    """A validated RunConfig from ``{"section.field": value}`` (unknown fields raise ConfigError).

    Blank strings become None for optional text fields (e.g. ``data.path`` left empty in a form).
    """
    optional = {k for k, v in flatten(RunConfig().to_dict()).items() if v is None}
    sections: dict[str, dict[str, Any]] = {}
    for key, v in values.items():
        if "." not in key:
            raise ConfigError(key, "is not a section.field name")
        if key in optional and isinstance(v, str) and not v.strip():
            v = None
        sec, fld = key.split(".", 1)
        sections.setdefault(sec, {})[fld] = v
    return check_config((base or RunConfig()).replace(**sections))

"""Recommended recipes and time-based presets.

* :data:`TAGGED_RECIPE`: the tag-conditional recipe chosen by measurement (``bench/bench_recipes.py``,
  table in ``bench/RESULTS_recipes.md``); the default for tagged data (faces, a folder with a tags CSV)
  when no architecture is given. Digits, told apart by shape rather than colour, have their own
  (:data:`DIGITS_RECIPE`), also measured.
* :data:`PRESETS`: sizes and time budgets. ``1min`` / ``5min`` / ``full`` are *time* budgets: the run
  stops when the budget is spent, so the ETA matches the name on any machine. At start the trainer
  times a few steps (:mod:`gan_core.train.speed`, n_critic included) and reports the step plan that this
  speed gives; the sample grid and checkpoint cadences are set in seconds (``train.sample_seconds``,
  ``train.checkpoint_seconds``), so the first grid shows at once and refreshes every few seconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from gan_core.config import RunConfig
from gan_core.data.registry import DATASETS

__all__ = ["Preset", "PRESETS", "PIX2PIX_RECIPE", "TAGGED_RECIPE", "DIGITS_RECIPE", "UNTAGGED_RECIPE", "RECIPES", "apply_preset",
           "recipe_for", "merge_sections", "STEPS_NEEDED", "steps_needed", "preset_of"]

Sections = dict[str, dict[str, Any]]

# The measured winner for tagged data (bench/RESULTS_recipes.md, at equal seconds): ACGAN whose tag heads
# learn from real images only, tags entering G through class-conditional BatchNorm, plus the mode-seeking
# term of MSGAN (Mao et al. 2019), which keeps z alive where plain ACGAN draws one face per tag pair.
TAGGED_RECIPE: Sections = {
    "model": {"arch": "acgan", "spectral_norm": False, "g_cond": "cbn"},
    "loss": {"name": "ns", "ms_weight": 1.0, "aux_weight": 1.0, "aux_on_fake": False},
    # lr_g 8e-4 (four times D's): at 1400 steps (the 1min preset) eye colours are learnt in time: tag accuracy
    # 94.7 % mean / 93.4 % min over training seeds 0-2 (94.8 / 93.4 % over seeds 0-4), against 92.6 / 92.0 %
    # with 4e-4 and 88.8 / 83.6 % with 2e-4; same-tag diversity 1.02 (bench/RESULTS_recipes.md sections 3-4;
    # 6e-4 missed on seed 4). The EMA is what makes it work: the raw G's eye colours swing from step to step
    # (77-92 %) and the average of its last ~160 steps reads them right. An lr decay over the last 40 %
    # (train.lr_decay) cost accuracy at 1400 steps: not used.
    "train": {"optimizer": "adam", "lr_g": 8e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_critic": 1,
              "ema_decay": 0.999},
}
# Digits are told apart by shape, not colour: there the projection discriminator with the tags
# concatenated to z learns the classes fastest (97 % at 1200 steps vs 86-90 % for the ACGAN variants), and
# the mode-seeking term keeps it from drawing one digit per class (same-tag diversity 0.18 without it).
DIGITS_RECIPE: Sections = {
    "model": {"arch": "cgan", "spectral_norm": False, "g_cond": "concat"},
    "loss": {"name": "ns", "ms_weight": 1.0},
    "train": {"optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_critic": 1,
              "ema_decay": 0.999},
}
UNTAGGED_RECIPE: Sections = {
    "model": {"arch": "dcgan", "spectral_norm": False, "g_cond": "concat"},
    "loss": {"name": "ns", "ms_weight": 0.0},
    "train": {"optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_critic": 1},
}
# Paired data (faces-edges, a folder with data.pairs): pix2pix with the paper's settings (Isola et al. 2017:
# cGAN + 100 * L1, Adam 2e-4, beta1 0.5).
PIX2PIX_RECIPE: Sections = {
    "model": {"arch": "pix2pix", "spectral_norm": False},
    "loss": {"name": "ns", "ms_weight": 0.0, "l1_weight": 100.0},
    "train": {"optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_critic": 1},
}
# by name: a dataset's registry entry (gan_core.data.registry.DatasetSpec.recipe) names the one for its data
RECIPES: dict[str, Sections] = {"tagged": TAGGED_RECIPE, "digits": DIGITS_RECIPE, "untagged": UNTAGGED_RECIPE,
                                "pix2pix": PIX2PIX_RECIPE}


@dataclass(frozen=True)
class Preset:
    title: str
    description: str
    sections: Sections = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return float(self.sections.get("train", {}).get("seconds", 0.0))


PRESETS: dict[str, Preset] = {
    "1min": Preset(
        "1 minute (CPU demo)",
        "One minute of training on a laptop CPU: 32 px, narrow networks, a fresh pool of 20,000 faces. "
        "Tags right and faces that vary with the seed within the minute; a grid every 3 s.",
        {"data": {"image_size": 32, "num_samples": 20000},
         "model": {"z_dim": 64, "g_width": 32, "d_width": 32, "res_blocks": 4, "embed_dim": 16},
         "train": {"batch_size": 64, "steps": 0, "seconds": 60.0, "log_every": 10, "sample_every": 0,
                   "sample_seconds": 3.0, "checkpoint_every": 0, "checkpoint_seconds": 20.0, "grid_size": 64}},
    ),
    "5min": Preset(
        "5 minutes (CPU)",
        "Five minutes on a CPU: the 1-minute networks trained five times longer (32 px, 20,000 faces); "
        "a grid every 5 s, metrics every minute.",
        {"data": {"image_size": 32, "num_samples": 20000},
         "model": {"z_dim": 64, "g_width": 32, "d_width": 32, "res_blocks": 4, "embed_dim": 16},
         "train": {"batch_size": 64, "steps": 0, "seconds": 300.0, "log_every": 10, "sample_every": 0,
                   "sample_seconds": 5.0, "checkpoint_every": 0, "checkpoint_seconds": 60.0, "grid_size": 64}},
    ),
    "full": Preset(
        "Full size, 30 minutes (GPU recommended)",
        "Paper-sized networks (64 wide, z 100) for 30 minutes: on a GPU this is many thousands of steps; "
        "on a CPU it is slow going.",
        {"data": {"image_size": 32, "num_samples": 40000},
         "model": {"z_dim": 100, "g_width": 64, "d_width": 64, "res_blocks": 8, "embed_dim": 32},
         "train": {"batch_size": 64, "steps": 0, "seconds": 1800.0, "log_every": 10, "sample_every": 0,
                   "sample_seconds": 10.0, "checkpoint_every": 0, "checkpoint_seconds": 180.0, "grid_size": 64}},
    ),
    "tiny": Preset(
        "Tiny (smoke test, seconds)",
        "16 px, 256 faces, very narrow networks, 300 steps: shows the whole loop working, not good pictures.",
        {"data": {"image_size": 16, "num_samples": 256},
         "model": {"z_dim": 32, "g_width": 8, "d_width": 8, "res_blocks": 1, "embed_dim": 8},
         "train": {"batch_size": 16, "steps": 300, "seconds": 0.0, "log_every": 2, "sample_every": 5,
                   "sample_seconds": 0.0, "checkpoint_every": 0, "checkpoint_seconds": 0.0, "grid_size": 36}},
    ),
}
DEFAULT_PRESET = "1min"

# The generator steps a preset's networks need before their pictures show what the preset promises
# (bench/RESULTS_recipes.md; issue 22: the 1min faces recipe reaches its quality target by 1400 steps,
# ``train --dataset faces --preset 1min --steps 1400 --seconds 0``; digits learn their classes by 1200).
# A time preset gives as many steps as the machine makes in its seconds: gan_core.train.timeplan compares the
# two before Start, and the trainer says at the end when a run got fewer. By preset, then dataset; the
# 5min preset has the 1min networks (same needs; the extra minutes polish).
STEPS_NEEDED: dict[str, dict[str, int]] = {
    "1min": {"faces": 1400, "digits": 1200},
    "5min": {"faces": 1400, "digits": 1200},
}


def merge_sections(*parts: Mapping[str, Mapping[str, Any]]) -> Sections:
    """Later parts win, field by field."""
    out: Sections = {}
    for p in parts:
        for sec, vals in p.items():
            out.setdefault(sec, {}).update(vals)
    return out


def recipe_for(dataset: str, tagged: Optional[bool] = None) -> Sections:
    """The recommended architecture / loss / optimiser for a dataset: the tag-conditional recipe for
    tagged data, a plain DCGAN otherwise (``tagged`` overrides the registry's guess, e.g. a folder with
    tags); pix2pix for paired data. Which is which: the dataset's registry entry."""
    spec = DATASETS.get(dataset)
    if spec is not None and spec.paired:
        return PIX2PIX_RECIPE
    if tagged is None:
        tagged = spec is not None and spec.tagged_by_default
    if not tagged:
        return UNTAGGED_RECIPE
    return RECIPES[spec.recipe] if spec is not None else TAGGED_RECIPE


def apply_preset(cfg: RunConfig, name: str, tagged: Optional[bool] = None, with_recipe: bool = True) -> RunConfig:
    """``cfg`` with a preset's sizes and time budget and (``with_recipe``) the recommended recipe for
    its dataset. Fields the caller sets afterwards win; this only sets the preset's."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    parts: list[Mapping[str, Mapping[str, Any]]] = []
    if with_recipe:
        from gan_core.data import dataset_is_paired

        parts.append(PIX2PIX_RECIPE if dataset_is_paired(cfg.data) else recipe_for(cfg.data.dataset, tagged))
    parts.append(PRESETS[name].sections)
    return cfg.replace(**merge_sections(*parts))


def preset_of(cfg: RunConfig) -> Optional[str]:
    """The preset whose data and model sizes ``cfg`` has (the first in PRESETS order; 1min before 5min,
    which share them), or None for a config of its own."""
    d = cfg.to_dict()
    for name, p in PRESETS.items():
        if all(d.get(sec, {}).get(k) == v for sec in ("data", "model") for k, v in p.sections.get(sec, {}).items()):
            return name
    return None


def steps_needed(cfg_or_preset: "RunConfig | str", dataset: Optional[str] = None) -> Optional[int]:
    """The steps the preset's networks need on ``dataset`` (:data:`STEPS_NEEDED`), or None when not
    measured. Takes a preset name and a dataset, or a RunConfig (its preset found by :func:`preset_of`)."""
    if isinstance(cfg_or_preset, str):
        preset = cfg_or_preset
    else:
        preset, dataset = preset_of(cfg_or_preset), cfg_or_preset.data.dataset
    return STEPS_NEEDED.get(preset or "", {}).get(dataset or "")

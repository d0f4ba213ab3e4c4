"""Honest time presets: how many steps a time preset gives on THIS machine, and whether that is enough.

A time preset (``1min``, ``5min``, ``full``) trains for its seconds, so the steps it makes depend on the
machine: about 1500 on a quiet 2-vCPU box, 60-80 on a busy one, 2600 on a fast laptop. Each preset states
the steps its networks need (:data:`gan_core.train.recipes.STEPS_NEEDED`). This module is the one home of the
comparison:

* :func:`plan_for` (pure): a :class:`PresetPlan` from a measured speed: steps expected, steps needed, a
  verdict ("enough" | "tight" | "too few" | "unknown" | "measuring" | "by steps"), a one-line message and
  a suggestion (a variant that fits: 16 px or narrower networks, or training by steps / waiting in the
  queue). Both fronts show it before Start; the trainer's step plan (the CLI prints it) uses
  :func:`plan_line`, and the end of a run :func:`shortfall_note` ("the machine was busy: N steps, expect
  noise").
* the speeds come from :mod:`gan_core.train.timeprobe` (probed once per network shape in the background, cached).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional

from gan_core.config import RunConfig
from gan_core.train.recipes import PRESETS, apply_preset, merge_sections, steps_needed

__all__ = ["Variant", "VARIANTS", "VariantPlan", "PresetPlan", "verdict", "plan_for", "plan_line",
           "shortfall_note", "preset_config", "shape_key", "TIGHT"]

TIGHT = 0.5      # a run with at least this share of the steps it needs draws rough pictures, below it noise


@dataclass(frozen=True)
class Variant:
    """A smaller version of a preset that makes more steps in the same seconds."""
    key: str
    title: str
    sections: Mapping[str, Mapping[str, Any]]


VARIANTS: tuple[Variant, ...] = (
    Variant("16px", "16 px images", {"data": {"image_size": 16}}),
    Variant("narrow", "narrower networks (16 wide)", {"model": {"g_width": 16, "d_width": 16}}),
)


@dataclass(frozen=True)
class VariantPlan:
    key: str
    title: str
    ms_per_step: Optional[float]
    steps_expected: Optional[int]
    fits: bool


@dataclass(frozen=True)
class PresetPlan:
    """What a time preset gives on this machine (the view-model both fronts and the CLI show)."""
    preset: str
    dataset: str
    seconds: float
    steps_needed: Optional[int]
    ms_per_step: Optional[float]           # None: not measured yet
    steps_expected: Optional[int]
    verdict: str                           # enough | tight | too few | unknown | measuring | by steps
    message: str                           # one line: "about 1,520 steps in 60 s here; it needs about 1,400: enough"
    suggestion: str = ""                   # what to do when it is not enough ('' otherwise)
    variants: tuple[VariantPlan, ...] = ()
    source: str = ""                       # how the speed was measured, and when

    @property
    def enough(self) -> bool:
        return self.verdict in ("enough", "by steps")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict(steps: Optional[int], needed: Optional[int]) -> str:
    """"enough" (steps >= needed), "tight" (>= TIGHT of it), "too few", or "unknown" (either missing)."""
    if steps is None or needed is None:
        return "unknown"
    if steps >= needed:
        return "enough"
    return "tight" if steps >= TIGHT * needed else "too few"


def _n(x: int) -> str:
    return f"{x:,}"


def plan_line(seconds: float, ms_per_step: float, needed: Optional[int], cap: int = 0) -> str:
    """The trainer's step plan (a StartEvent note, printed by the CLI): steps the budget gives at the
    probed speed, and how that compares with what the preset needs."""
    plan = int(seconds * 1000 / ms_per_step) if ms_per_step > 0 else 0
    if cap:
        plan = min(plan, cap)
    line = (f"time budget {seconds:g} s: about {_n(plan)} steps at the probed speed ({ms_per_step:.1f} ms per step)"
            + (f", capped at {_n(cap)} steps" if cap else ""))
    v = verdict(plan, needed)
    if v == "enough":
        line += f"; this preset needs about {_n(needed or 0)}: enough"
    elif v in ("tight", "too few"):
        line += (f"; this preset needs about {_n(needed or 0)}, so expect "
                 + ("rough pictures" if v == "tight" else "noise") + f" (train by steps instead: --steps {needed} --seconds 0)")
    return line


def shortfall_note(steps: int, needed: Optional[int], seconds: float, reason: str) -> str:
    """What a run that ended on its time budget with too few steps says ('' when it had enough, ended
    otherwise, or nothing is known of what it needs)."""
    if reason != "time" or not needed or steps >= needed:
        return ""
    if steps < TIGHT * needed:
        return (f"The machine was busy: {_n(steps)} steps in {seconds:g} s, where this preset needs about "
                f"{_n(needed)}; expect noise. Continue the run, or train by steps on a quieter machine.")
    return (f"The machine was slow: {_n(steps)} steps in {seconds:g} s, where this preset needs about "
            f"{_n(needed)}; expect rough pictures. Continue the run to reach it.")


def preset_config(preset: str, dataset: str, variant: Optional[Variant] = None) -> RunConfig:
    """The config a preset (with the recommended recipe for ``dataset``) trains, optionally a variant."""
    cfg = apply_preset(RunConfig().replace(data={"dataset": dataset}), preset)
    return cfg.replace(**merge_sections(variant.sections)) if variant is not None else cfg


def shape_key(cfg: RunConfig) -> str:
    """What a step's time depends on: data size, networks, loss, batch, n_critic, device."""
    d = cfg.to_dict()
    return json.dumps({"data": {k: d["data"][k] for k in ("dataset", "image_size", "diffaugment")},
                       "model": d["model"], "loss": d["loss"],
                       "train": {k: d["train"][k] for k in ("batch_size", "n_critic", "device", "amp", "channels_last")}},
                      sort_keys=True)


def plan_for(preset: str, dataset: str, ms_per_step: Optional[float],
             variant_ms: Optional[Mapping[str, Optional[float]]] = None, measuring: bool = False,
             busy_with: int = 0, source: str = "") -> PresetPlan:
    """The plan of ``preset`` on ``dataset`` at ``ms_per_step`` (None: not measured; ``measuring``: a
    probe is under way). ``variant_ms``: the variants' speeds by key. ``busy_with``: runs training on
    this server now (a new run waits for them, so waiting in the queue is the honest suggestion)."""
    p = PRESETS[preset]
    needed = steps_needed(preset, dataset)
    secs = p.seconds
    if not secs:
        steps = int(p.sections.get("train", {}).get("steps", 0))
        dur = f" (about {round(steps * ms_per_step / 1000)} s here)" if ms_per_step and steps else ""
        return PresetPlan(preset, dataset, 0.0, needed, ms_per_step, steps or None, "by steps",
                          f"trains {_n(steps)} steps{dur}, however long they take", source=source)
    if ms_per_step is None or not math.isfinite(ms_per_step) or ms_per_step <= 0:
        v = "measuring" if measuring else "unknown"
        msg = ("measuring this machine's speed (a few training steps, once)..." if measuring
               else "this machine's speed is not measured yet")
        if needed:
            msg += f"; this preset needs about {_n(needed)} steps"
        return PresetPlan(preset, dataset, secs, needed, None, None, v, msg, source=source)
    expected = int(secs * 1000 / ms_per_step)
    v = verdict(expected, needed)
    head = f"about {_n(expected)} steps in {secs:g} s on this machine ({ms_per_step:.0f} ms per step)"
    if needed is None:
        return PresetPlan(preset, dataset, secs, None, ms_per_step, expected, "unknown",
                          head + "; the steps this preset needs on this data are not measured", source=source)
    msg = head + f"; it needs about {_n(needed)}: " + {"enough": "enough", "tight": "short (rough pictures)",
                                                       "too few": "too few (expect noise)"}[v]
    variants = []
    for var in VARIANTS:
        ms = (variant_ms or {}).get(var.key)
        exp = int(secs * 1000 / ms) if ms else None
        variants.append(VariantPlan(var.key, var.title, ms, exp, bool(exp is not None and exp >= needed)))
    suggestion = ""
    if v != "enough":
        fit = next((x for x in variants if x.fits), None)
        parts = []
        if fit is not None:
            parts.append(f"the {fit.title} variant fits: about {_n(fit.steps_expected or 0)} steps in {secs:g} s")
        if busy_with:
            parts.append(f"or wait in the queue: {busy_with} run(s) train on this server now, and a run that "
                         "waits for them gets the machine to itself")
        parts.append(f"or train by steps ({_n(needed)} steps, about {_n(round(needed * ms_per_step / 1000))} s here)")
        suggestion = "; ".join(parts)
        suggestion = suggestion[0].upper() + suggestion[1:] + "."
    return PresetPlan(preset, dataset, secs, needed, ms_per_step, expected, v, msg, suggestion, tuple(variants), source)

"""Curves, metrics tiles and the runs on disk: history series, smoothing, the metrics overview, the
list of runs with their newest sample and evaluation, and what differs between runs' configs.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
from PIL import Image

from gan_core.storage import rundir
from gan_core.losses import LOSSES
from gan_core.metrics.listener import load_eval_metrics
from gan_core.models import ARCHITECTURES
from gan_core.metrics.scores import METRICS
from gan_core.studio.files import runs_dir
from gan_core.studio.form import flatten

PathLike = Union[str, os.PathLike]

# ---- durations ----
def format_duration(seconds: Optional[float]) -> str:
    """``75.2`` -> ``1 min 15 s``; None -> ``?``."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"



# ---- curves ---------------------------------------------------------------------------------------------
CURVES: dict[str, str] = {
    "d_loss": "D loss", "g_loss": "G loss", "d_real": "D(x)", "d_fake": "D(G(z))",
    "grad_norm_d": "|grad D|", "grad_norm_g": "|grad G|", "lr_d": "lr D", "lr_g": "lr G",
    "n_critic": "n_critic", "img_per_s": "img/s",
}


def history_keys(history: Iterable[Mapping[str, Any]]) -> list[str]:
    """Plottable keys in StepEvent dicts: the standard curves, then ``extra.<name>`` (penalty, aux, ...)."""
    keys: dict[str, None] = {}
    extras: dict[str, None] = {}
    for h in history:
        for k in CURVES:
            if isinstance(h.get(k), (int, float)):
                keys[k] = None
        for k, v in (h.get("extra") or {}).items():
            if isinstance(v, (int, float)):
                extras[f"extra.{k}"] = None
    return [k for k in CURVES if k in keys] + sorted(extras)


def curve_label(key: str) -> str:
    return CURVES.get(key, key.removeprefix("extra."))


# Curves drawn on a log axis with scientific ticks: positive values a few decades below 1 that are constant in
# most runs (a linear axis around a constant 2e-4 spans -1..1 and draws the lr as a flat line at "0").
LOG_CURVES = ("lr_d", "lr_g")


def curve_axis(keys: Sequence[str]) -> dict[str, Any]:
    """How to draw the y axis of a chart of ``keys``: ``{"log": True, "tickformat": ".1e"}`` for learning
    rates, ``{"log": False, "tickformat": None}`` for the rest (a chart mixes them never)."""
    log = bool(keys) and all(k in LOG_CURVES for k in keys)
    return {"log": log, "tickformat": ".1e" if log else None}


def history_series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one curve; ``extra.<name>`` reads the ``extra`` dict; gaps and NaNs skipped."""
    xs, ys = [], []
    for h in history:
        v = (h.get("extra") or {}).get(key[6:]) if key.startswith("extra.") else h.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and "step" in h:
            xs.append(int(h["step"]))
            ys.append(float(v))
    return xs, ys


def downsample(rows: Sequence[Any], max_points: int = 1500) -> list[Any]:
    """At most ``max_points`` evenly spaced rows, always keeping the last one."""
    n = len(rows)
    if n <= max_points:
        return list(rows)
    idx = np.linspace(0, n - 1, max_points).round().astype(int)
    return [rows[i] for i in np.unique(idx)]


def smooth(values: Sequence[float], weight: float = 0.0) -> list[float]:
    """Exponential moving average (TensorBoard-style, debiased); weight 0 = unchanged."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc = weight * acc + (1 - weight) * v
        out.append(acc / (1 - weight ** (i + 1)) if weight > 0 else v)
    return out


# headline metrics, most telling first (the Train page shows the first four present): views of the one
# table of metric names and help, gan_core.metrics.METRICS
METRIC_NAMES: dict[str, str] = {k: m.name for k, m in METRICS.items() if m.headline}
METRIC_HELP: dict[str, str] = {k: m.help for k, m in METRICS.items() if m.headline and m.help}
LOWER_IS_BETTER = tuple(k for k, m in METRICS.items() if m.lower_is_better)


def metrics_overview(extras: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """What a job's evaluator rows (``snapshot.extras`` or ``metrics.load_eval_metrics(run_dir)``, as
    published by :class:`gan_core.metrics.MetricsListener`) say, ready to show:

    ``latest`` / ``previous``: the newest two "metrics" rows (or None); ``series``: the headline metric
    names present (fid, kid, tag_accuracy, ...); ``table``: one display row per evaluation with the
    sample sizes; ``alerts``: "alerts" rows (mode collapse, D saturation), oldest first; ``status``: the
    newest "metrics_status" message (why metrics are off / an evaluation failure) or None.
    """
    rows = [r for r in (extras.get("metrics") or []) if isinstance(r, Mapping)]
    series = [k for k in METRIC_NAMES if any(_is_num(r.get(k)) for r in rows)]
    table = []
    for r in rows:
        t: dict[str, Any] = {"step": r.get("step")}
        for k in series:
            v = r.get(k)
            if METRICS[k].percent and _is_num(v):
                v = round(100.0 * v, 1)
            t[_column(k)] = v
        t["real images"] = r.get("n_real")
        t["generated images"] = r.get("n_fake")
        t["features"] = r.get("features")
        table.append(t)
    status = [r for r in (extras.get("metrics_status") or []) if isinstance(r, Mapping) and r.get("message")]
    return {
        "latest": rows[-1] if rows else None,
        "previous": rows[-2] if len(rows) > 1 else None,
        "series": series,
        "table": table,
        "alerts": [dict(a) for a in (extras.get("alerts") or []) if isinstance(a, Mapping) and a.get("message")],
        "status": str(status[-1]["message"]) if status else None,
    }


def _column(k: str) -> str:
    return METRIC_NAMES[k] + (" %" if METRICS[k].percent else "")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def format_metric(name: str, value: Any) -> str:
    """``("fid", 12.345)`` -> ``"12.35"``; tag accuracy as a percentage; ``-`` when missing."""
    if not _is_num(value):
        return "-"
    if name in METRICS and METRICS[name].percent:
        return f"{100.0 * value:.1f}%"
    if name == "kid":
        return f"{value:.4f}"
    return f"{value:.2f}"


# ---- runs -----------------------------------------------------------------------------------------------
@dataclass
class RunInfo:
    name: str
    path: Path
    config: Optional[dict[str, Any]]
    last: Optional[dict[str, Any]]      # newest StepEvent row of metrics.jsonl
    sample: Optional[Path]              # newest samples/*.png
    checkpoint: Optional[Path]          # last.pt when present
    mtime: float

    @property
    def sample_step(self) -> Optional[int]:
        """Step of the newest sample grid (from its name, ``step_0000049.png``)."""
        m = re.match(r"step_(\d+)$", self.sample.stem) if self.sample is not None else None
        return int(m.group(1)) if m else None

    @property
    def step(self) -> int:
        """The run's newest step: its last logged step, or a later sample grid (the final grid and
        checkpoint come after the last logged window), so every label of a run names the same step."""
        logged = int(self.last["step"]) if self.last else 0
        return max(logged, self.sample_step or 0)

    def sample_image(self) -> Optional[np.ndarray]:
        """The newest sample grid as (H, W, 3) uint8, or None when there is none (or it cannot be read)."""
        if self.sample is None:
            return None
        try:
            with Image.open(self.sample) as im:
                return np.asarray(im.convert("RGB"))
        except (OSError, ValueError):
            return None

    @property
    def label(self) -> str:
        c = self.config or {}
        what = "/".join(str(c.get(s, {}).get(f, "?")) for s, f in (("data", "dataset"), ("model", "arch"),
                                                                    ("loss", "name")))
        return f"{self.name} ({what}, step {self.step})"


def load_metrics(run_dir: PathLike) -> list[dict[str, Any]]:
    """StepEvent rows of a run's metrics.jsonl, oldest first; broken lines (a crash mid-write) skipped."""
    return rundir.step_rows(run_dir)


newest_sample = rundir.newest_sample


def list_runs(root: Optional[PathLike] = None) -> list[RunInfo]:
    """Run folders (with a config.json or metrics.jsonl) under the runs dir, newest first."""
    r = Path(root) if root is not None else runs_dir()
    if not r.is_dir():
        return []
    out = []
    for d in r.iterdir():
        if not d.is_dir() or d.name.startswith(".") or not rundir.is_run(d):
            continue
        cfg_p, met_p, ck = d / rundir.CONFIG, d / rundir.METRICS, d / rundir.LAST
        mtimes = [p.stat().st_mtime for p in (cfg_p, met_p) if p.exists()]
        out.append(RunInfo(d.name, d, rundir.read_json(cfg_p), rundir.last_row(met_p), rundir.newest_sample(d),
                           ck if ck.exists() else None, max(mtimes)))
    return sorted(out, key=lambda x: x.mtime, reverse=True)


DIFF_IGNORED = ("data.cache_dir",)


def config_differences(configs: Mapping[str, Optional[Mapping[str, Any]]],
                       ignore: Sequence[str] = DIFF_IGNORED) -> list[dict[str, Any]]:
    """Rows ``{"field": "loss.name", run1: "ns", run2: "lsgan"}`` for the fields whose values differ."""
    flat = {name: flatten(c or {}) for name, c in configs.items()}
    keys = sorted({k for f in flat.values() for k in f} - set(ignore))
    rows = []
    for k in keys:
        vals = [f.get(k) for f in flat.values()]
        if any(v != vals[0] for v in vals[1:]):
            rows.append({"field": k, **{name: f.get(k) for name, f in flat.items()}})
    return rows


QUALITY_KEYS = ("tag_accuracy", "diversity_ratio", "l1", "l1_ratio", "fid", "recall", "precision")   # Compare's Quality table


def quality_rows(runs: Sequence["RunInfo"]) -> list[dict[str, Any]]:
    """One row per run with its newest evaluation (the metrics listener's ``eval_metrics.jsonl``):
    tag accuracy, same-tag diversity, FID, precision / recall, and the sample sizes they rest on."""
    out = []
    for r in runs:
        rows = [m for m in load_eval_metrics(r.path)["metrics"] if isinstance(m, Mapping)]
        row: dict[str, Any] = {"run": r.name}
        if not rows:
            row["evaluated at step"] = None
            out.append(row)
            continue
        m = rows[-1]
        row["evaluated at step"] = m.get("step")
        for k in QUALITY_KEYS:
            v = m.get(k)
            if _is_num(v):
                row[_column(k)] = round(100.0 * v, 1) if METRICS[k].percent else round(v, 3)
        row["samples (real / generated)"] = f"{m.get('n_real')} / {m.get('n_fake')}"
        row["features"] = m.get("features")
        out.append(row)
    return out


def quality_caption(rows: Sequence[Mapping[str, Any]]) -> str:
    """What the columns of :func:`quality_rows` mean: only those the rows hold (no L1 help for GAN runs)."""
    shown = [k for k in QUALITY_KEYS if any(_column(k) in r for r in rows)]
    return "The newest evaluation of each run. " + " ".join(f"**{METRIC_NAMES[k]}**: {METRIC_HELP[k]}." for k in shown)


def mid_run_changes(history: Sequence[Mapping[str, Any]],
                    keys: Sequence[str] = ("lr_g", "lr_d", "n_critic"),
                    config: Optional[Mapping[str, Any]] = None) -> list[dict[str, Any]]:
    """The optimiser settings changed while a run trained, from its logged steps: one row per change,
    ``{"step": 400, "lr_g": "2e-04 -> 1e-04"}`` (the config only holds the starting values). With the run's
    ``config`` (a RunConfig dict) the starting values come from it, so a change made before the first
    logged step is listed too (at that step)."""
    rows: list[dict[str, Any]] = []
    train = (config or {}).get("train") or {}
    prev: dict[str, Any] = {k: train[k] for k in keys if train.get(k) is not None}
    for h in history:
        change = {}
        for k in keys:
            v = h.get(k)
            if v is None:
                continue
            if k in prev and prev[k] != v:
                fmt = (lambda x: f"{x:.1e}") if k.startswith("lr") else str
                change[k] = f"{fmt(prev[k])} -> {fmt(v)}"
            prev[k] = v
        if change:
            rows.append({"step": h.get("step"), **change})
    return rows


def changed_while_training(runs: Sequence[RunInfo], histories: Mapping[str, Sequence[Mapping[str, Any]]]
                           ) -> list[dict[str, Any]]:
    """Compare's "Changed while training" table: one row per change of each run (``{"run", "step", ...}``),
    measured from the run's config, as text cells."""
    out = []
    for r in runs:
        for row in mid_run_changes(histories.get(r.name) or [], config=r.config):
            out.append({k: ("" if v is None else str(v)) for k, v in {"run": r.name, **row}.items()})
    return out


def curve_help(loss: str, arch: Optional[str] = None) -> dict[str, str]:
    """What each training curve means for a loss (the loss explanation comes from its LossSpec); with
    ``arch`` also what an architecture adds to the D and G losses (ACGAN's tag term)."""
    spec = LOSSES[loss]
    if spec.d_outputs_probs:
        outputs = ("D(x) and D(G(z)) are D's mean probabilities that real and generated images are real. "
                   "They start apart; at balance both hover around 0.5. D(x) near 1 with D(G(z)) near 0 "
                   "means D wins easily and G learns slowly.")
    else:
        outputs = ("D(x) and D(G(z)) are D's raw mean scores on real and generated images. The gap "
                   "between them is what D measures: a gap that shrinks over training means G is "
                   "catching up.")
    losses = f"{spec.title}. {spec.curve_help}"
    if arch in ARCHITECTURES:
        losses += ARCHITECTURES[arch].cond.curve_note
    return {
        "losses": losses,
        "outputs": outputs,
        "grad_norm": "Gradient norms of D and G: spikes or a steady climb warn of instability.",
        "terms": "Loss terms: d_adv / g_adv are the adversarial parts alone; aux_d / aux_g the tag-classifier "
                 "cross-entropies of ACGAN / TAC-GAN (twin_d: the twin heads on fakes; G's aux_g subtracts "
                 "it); penalty the gradient penalty; ms the mode-seeking ratio mean |G(z1) - G(z2)| / |z1 - z2| "
                 "for pairs with the same tags: it should stay well above 0; falling towards 0 means G is "
                 "starting to ignore z; l1 (pix2pix) the mean absolute distance of G's pictures to the true ones.",
        "lr": "Learning rates (they change when you apply new ones during the run).",
    }

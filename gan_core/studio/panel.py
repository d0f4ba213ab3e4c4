"""What both front ends' Train views say about a run, as plain data and strings (no UI toolkit): the
quality-metrics text, the live chart groups, the status / queue / view-only lines, the notes under a
form field and the grid's row labels. Streamlit and Gradio only lay these out."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from gan_core.losses import LOSSES
from gan_core.models import ARCHITECTURES
from gan_core.studio.files import runs_dir
from gan_core.studio.runs import LOWER_IS_BETTER, METRIC_HELP, METRIC_NAMES, curve_help, format_duration, format_metric, history_keys, \
    list_runs, metrics_overview

VIEW_ONLY = ("View only: this run was started in another browser session. You can watch it, but only that "
             "browser (or the admin) can pause, stop or change it; a copied link never gives control.")
CONTROL_DISABLED = "View only: only the browser that started this run (or the admin) can use this."
WAITING_FIRST_STEP = "Waiting for the first logged step..."
WAITING_FIRST_SAMPLE = "The sample grid appears after the first sample."


# ---- quality metrics ------------------------------------------------------------------------------------
def metrics_view(extras: Mapping[str, Any], every: int) -> dict[str, Any]:
    """The quality-metrics part of the live panel: ``alerts`` (lines, newest three), ``intro`` (why there
    are no metrics yet, '' once there are), ``cards`` (name, label, value, delta, lower_is_better, help)
    for the headline metrics, ``summary`` (the step and sample sizes), ``values`` (one line of the cards),
    ``help`` (what each metric means), ``table`` (one row per evaluation)."""
    ov = metrics_overview(extras)
    out: dict[str, Any] = {"alerts": [f"**Alert at step {a.get('step', '?')}:** {a['message']}"
                                      for a in ov["alerts"][-3:]],
                           "intro": "", "cards": [], "summary": "", "values": "", "help": "", "table": ov["table"]}
    latest = ov["latest"]
    if latest is None:
        if ov["status"]:
            out["intro"] = f"Quality metrics: {ov['status']}"
        elif every:
            out["intro"] = (f"Quality metrics (FID, KID, tag accuracy) are computed at checkpoints, at most every "
                            f"{every} steps, and at the end of the run.")
        return out
    prev = ov["previous"] or {}
    sizes = (f"{latest.get('n_real')} real vs {latest.get('n_fake')} generated images, "
             f"{latest.get('features')} features")
    for k in ov["series"][:4]:
        delta = None
        if isinstance(prev.get(k), (int, float)) and isinstance(latest.get(k), (int, float)):
            d = latest[k] - prev[k]
            delta = f"{d * 100:+.1f} pts" if k == "tag_accuracy" else f"{d:+.4g}"
        out["cards"].append({"name": k, "label": METRIC_NAMES[k], "value": format_metric(k, latest.get(k)),
                             "delta": delta, "lower_is_better": k in LOWER_IS_BETTER,
                             "help": f"{METRIC_HELP.get(k, '')}. At step {latest.get('step')}: {sizes}."})
    label = f", {latest['label']}" if latest.get("label") else ""
    out["summary"] = f"Quality at step {latest.get('step')} ({sizes}{label})"
    out["values"] = " · ".join(f"**{c['label']}** {c['value']}" for c in out["cards"])
    out["help"] = " ".join(f"**{METRIC_NAMES[k]}**: {h}." for k, h in METRIC_HELP.items() if k in ov["series"])
    return out


def metrics_markdown(extras: Mapping[str, Any], every: int) -> str:
    """:func:`metrics_view` as one Markdown text (for a front end that shows it as text)."""
    v = metrics_view(extras, every)
    lines = list(v["alerts"])
    if v["intro"]:
        lines.append(v["intro"])
    if v["summary"]:
        lines += [f"{v['summary']}: {v['values']}", v["help"]]
    return "\n\n".join(lines)


# ---- the live charts -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChartGroup:
    title: str
    keys: tuple[str, ...]
    help: str          # the curve_help entry that explains it ('' none)
    main: bool         # shown at once (else under "More curves")


CHART_GROUPS: tuple[ChartGroup, ...] = (
    ChartGroup("Losses", ("d_loss", "g_loss"), "losses", True),
    ChartGroup("D outputs", ("d_real", "d_fake"), "outputs", True),
    ChartGroup("Gradient norms", ("grad_norm_d", "grad_norm_g"), "grad_norm", False),
    ChartGroup("Learning rates", ("lr_d", "lr_g"), "lr", False),
    ChartGroup("Loss terms", (), "terms", False),   # the history's extra.* keys
)
MORE_CURVES = "More curves: gradient norms, learning rates, loss terms"


def chart_groups(history: Sequence[Mapping[str, Any]], loss: str, arch: Optional[str] = None) -> list[dict[str, Any]]:
    """The live charts of a run's history, in order: title, the history keys it draws, the text that
    explains it, whether it is shown at once. "Loss terms" only when the history has extra.* terms."""
    help_ = curve_help(loss, arch)
    extra = tuple(k for k in history_keys(history) if k.startswith("extra."))
    out = []
    for g in CHART_GROUPS:
        keys = g.keys or extra
        if keys:
            out.append({"title": g.title, "keys": list(keys), "help": help_.get(g.help, ""), "main": g.main})
    return out


# ---- status lines ----------------------------------------------------------------------------------------
def owner_label(is_mine: bool, admin: bool) -> str:
    return "yours" if is_mine else ("admin" if admin else "view only: started in another browser")


def no_run_text(runs: Sequence[Any], folder: Any) -> str:
    """What the live panel says when no run is training (the runs on disk survive a restart)."""
    if runs:
        return (f"No run is training. {len(runs)} earlier run(s) are in `{folder}` (newest: {runs[0].name}): "
                "see them on **Compare**, or start a new one.")
    return "No run yet. Choose a preset or your own settings and press **Start training**."


_NO_RUN: dict[str, tuple[Any, float, str]] = {}   # runs folder -> (its mtime, when, what no_run_message said)
NO_RUN_MAX_AGE_S = 10.0


def no_run_message(folder: Optional[Any] = None) -> str:
    """:func:`no_run_text` for the runs folder, listed anew only when a run folder was added or removed there
    (the folder's mtime) or after NO_RUN_MAX_AGE_S (a new folder's config.json comes after the folder): the page
    of every visitor without a run asks for it at each tick."""
    r = Path(folder) if folder is not None else runs_dir()
    try:
        stamp = r.stat().st_mtime_ns
    except OSError:
        stamp = None
    got, now = _NO_RUN.get(str(r)), time.monotonic()
    if got is None or got[0] != stamp or stamp is None or now - got[1] > NO_RUN_MAX_AGE_S:
        got = (stamp, now, no_run_text(list_runs(r), r))
        _NO_RUN[str(r)] = got
    return got[2]


def queue_header(n_waiting: int, max_concurrent: int) -> str:
    return f"**Queue** · {n_waiting} waiting · {max_concurrent} run(s) train at once"


def queue_row_text(row: Mapping[str, Any]) -> str:
    """One row of :func:`gan_core.studio.queue_rows` as a sentence."""
    who = "your run" if row["whose"] == "yours" else f"{row['whose']} run"
    return (f"**#{row['position']}** · {who} · {row['dataset']} · {row['arch']} · {row['loss']} · "
            f"{row['length']} · expected start {row['expected start']}")


def queued_text(position: Optional[int], wait: Optional[float] = None) -> str:
    """The line a visitor whose run waits for a training slot sees (both fronts; never Gradio's own
    "queue: 1/1 | 6.2/163.7s")."""
    when = "" if wait is None else (", next" if not wait else f", expected in about {format_duration(wait)}")
    return f"Queued: your run starts when a training slot is free (position {position}{when})."


def run_status_text(snap: Any, mine: bool) -> str:
    """The one-line state of the visitor's run after Start (queued lines come from :func:`queued_text`)."""
    name = Path(snap.run_dir).name
    if snap.active:
        return (f"Run {name} is {snap.status}: you control it (Pause, Stop, live lr)." if mine else
                f"Run {name} is {snap.status}. " + VIEW_ONLY)
    return f"Run {name} ended: {snap.status} at step {snap.step}." + (f" {snap.error}" if snap.error else "")


# ---- notes under form fields -----------------------------------------------------------------------------
def field_note(key: str, dataset: str, arch: str, loss: str) -> Optional[str]:
    """The note shown right under a form field (Markdown), or None: what the architecture and the loss
    are; for a loss without real/fake targets, that the label settings are not used."""
    if key == "model.arch" and arch in ARCHITECTURES:
        return ARCHITECTURES[arch].description
    if key == "loss.name" and loss in LOSSES:
        spec = LOSSES[loss]
        note = f"**{spec.title}.** {spec.curve_help}"
        if not spec.uses_targets:
            note += " (Real/fake labels and label noise are not used: this loss has no real/fake targets.)"
        return note
    return None


# ---- the sample grid ---------------------------------------------------------------------------------------
def grid_labels_view(config: Mapping[str, Any], data_spec: Mapping[str, Any], n: int) -> dict[str, Any]:
    """The tags of a run's fixed-noise sample grid of ``n`` images, as the sweep view labels its columns:
    ``rows`` (the first tag group's class of each row), ``columns`` (the second group's class of each
    column, [] with one group), ``caption`` ('' for an unconditional run). Mirrors
    :func:`gan_core.train.steplog.grid_labels`, which the trainer draws the grid's tags with."""
    import math

    from gan_core.models import DataSpec, is_conditional

    empty = {"rows": [], "columns": [], "caption": ""}
    try:
        spec = DataSpec.from_dict(dict(data_spec)) if data_spec else None
    except (KeyError, TypeError, ValueError):
        spec = None
    arch = (config.get("model") or {}).get("arch", "")
    if spec is None or not spec.num_classes or not is_conditional(arch) or spec.kind != "image" or n < 1:
        return empty
    names = spec.group_names or tuple(f"group {i}" for i in range(len(spec.num_classes)))
    classes = spec.class_names or tuple(tuple(str(c) for c in range(k)) for k in spec.num_classes)
    ncol = max(1, int(math.ceil(math.sqrt(n))))
    nrows = int(math.ceil(n / ncol))
    rows = [classes[0][r % len(classes[0])] for r in range(nrows)]
    cols = [classes[1][c % len(classes[1])] for c in range(ncol)] if len(classes) > 1 else []
    fixed = [f"{classes[g][0]} {names[g]}" for g in range(2, len(classes))]
    caption = f"rows: {names[0]}" + (f" · columns: {names[1]}" if cols else "") + \
        (f" · {', '.join(fixed)} throughout" if fixed else "")
    return {"rows": rows, "columns": cols, "caption": caption}



def labelled_grid(sample: Any, config: Mapping[str, Any], data_spec: Mapping[str, Any],
                  min_size: int = 384) -> tuple[Any, str]:
    """A run's sample grid enlarged to ``min_size`` with its tags written left of the rows and above the
    columns (as the sweep view does), and the caption that says which tag varies where."""
    from gan_core.studio.pictures import annotate_columns, annotate_rows, upscale

    n = int((config.get("train") or {}).get("grid_size") or 0)
    view = grid_labels_view(config, data_spec, n)
    big = upscale(sample, min_size=min_size)
    if not view["rows"]:
        return big, ""
    out = annotate_rows(big, view["rows"], width=ROW_LABEL_PX)
    if view["columns"]:   # under the grid: a front end's own label bar may cover the picture's top edge
        out = _with_footer(out, annotate_columns(big, view["columns"], header=LABEL_STRIP_PX)[:LABEL_STRIP_PX])
    return out, view["caption"] + (" (below)" if view["columns"] else "")


ROW_LABEL_PX = 72
LABEL_STRIP_PX = 18


def _with_footer(body: Any, strip: Any) -> Any:
    """``strip`` (the column labels, as wide as the grid alone) under ``body`` (row labels + grid)."""
    pad = np.full((strip.shape[0], body.shape[1] - strip.shape[1], 3), 255, np.uint8)
    return np.concatenate([body[..., :3], np.concatenate([pad, strip[..., :3]], axis=1)], axis=0)


# ---- the form after a reload -------------------------------------------------------------------------------
def reattached_form(mgr: Any, me: str) -> Optional[dict[str, Any]]:
    """The ``section.field`` values of the run a returning visitor's page reattaches to (their own newest
    run: running, queued or finished; never another visitor's, issue 22), so the form shows what that run
    uses rather than the defaults; None when they have no run."""
    from gan_core.studio.classroom import own_run
    from gan_core.studio.form import flatten

    job = own_run(mgr, me)
    return None if job is None else flatten(job.cfg.to_dict())

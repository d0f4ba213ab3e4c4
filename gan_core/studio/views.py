"""What both front ends show about generators, runs, jobs and checkpoints, as plain text, dicts and
rows (no UI toolkit): generator loading (cached) and captions, tag text, the live run's status line,
the queue's rows, the Compare summary, the Checkpoints table, the admin token check and the metrics
evaluator's settings.

Both front ends (``apps/streamlit/`` and ``apps/gradio/``) use them, so each is written once.
"""
from __future__ import annotations

import hmac
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from gan_core.config import envvars
from gan_core.storage import rundir
from gan_core.storage.checkpoint import CheckpointError, load_generator
from gan_core.config import RunConfig
from gan_core.models import DataSpec
from gan_core.data.tags import parse_tags_for
from gan_core.studio.files import CheckpointFile, checkpoints_dir, describe_checkpoint, format_bytes, list_generators
from gan_core.studio.form import flatten, optimizer_settings, preset_sections
from gan_core.studio.pictures import label_groups
from gan_core.studio.runs import RunInfo, format_duration

ADMIN_ENV = envvars.ADMIN_TOKEN.name
METRICS_ENV = envvars.METRICS.name            # "0" turns the evaluator off
EVAL_EVERY_ENV = envvars.EVAL_EVERY.name      # steps between evaluations (default 250)
EVAL_SAMPLES_ENV = envvars.EVAL_SAMPLES.name  # images per evaluation (default 256)
DEFAULT_GENERATOR = "faces"                   # the generator a first visit shows (tags to play with)
ORIGIN_LABELS = {"shipped": "shipped (read-only)", "yours": "yours", "other": "another visitor's"}


# ---- generators -----------------------------------------------------------------------------------------
class GeneratorCache:
    """(G, cfg, spec) per checkpoint file and device, keyed by (path, mtime, size) so a retrained file is reloaded;
    at most ``max_entries`` kept (least recently used dropped). Thread-safe."""

    def __init__(self, max_entries: int = 8):
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[str, int, int, str], tuple[Any, RunConfig, DataSpec]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, path: os.PathLike | str, device: str = "cpu"):
        info = Path(path).stat()
        key = (str(Path(path).resolve()), info.st_mtime_ns, info.st_size, device)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        item = load_generator(path, device=device)
        with self._lock:
            self._items[key] = item
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return item


_CACHE = GeneratorCache()


def load_generator_cached(path: os.PathLike | str, device: str = "cpu"):
    """(G, cfg, spec) of a checkpoint on ``device`` through the process-wide :class:`GeneratorCache` (the
    Gradio tools pass ``gan_core.jobs.zerogpu.tool_device()``: "cuda" inside a ZeroGPU call)."""
    return _CACHE.load(path, device)


def default_generator(entries: Sequence[CheckpointFile]) -> Optional[CheckpointFile]:
    """The shipped faces generator when it is there, else the first entry (None when there is none)."""
    return next((e for e in entries if e.source == "checkpoints" and e.path.stem == DEFAULT_GENERATOR),
                entries[0] if entries else None)


def generator_key(entry: CheckpointFile) -> str:
    """The name scripts use for a generator: the file name in the checkpoints folder
    (``faces.safetensors``), ``<run>/last.pt`` for a trained run."""
    return entry.name if entry.source == "checkpoints" else f"{entry.run}/{entry.name}"


def find_generator(name: str, entries: Optional[Sequence[CheckpointFile]] = None) -> CheckpointFile:
    """The generator called ``name``: a file name or stem in the checkpoints folder (``faces`` or
    ``faces.safetensors``) or ``<run>/last.pt`` of a trained run; empty = the default generator.
    Only listed files can be named (no paths). Raises ValueError listing the names."""
    entries = list_generators() if entries is None else list(entries)
    name = (name or "").strip()
    if not name:
        d = default_generator(entries)
        if d is None:
            raise ValueError(f"there are no checkpoints in {checkpoints_dir()}: upload one or train a model")
        return d
    for e in entries:
        if name == generator_key(e) or (e.source == "checkpoints" and name == e.path.stem) or \
                (e.source == "run" and name == e.run):
            return e
    known = ", ".join(generator_key(e) for e in entries[:20]) or "none"
    raise ValueError(f"no checkpoint called {name!r}; available: {known}")


def generator_caption(cfg: RunConfig, spec: DataSpec) -> str:
    """``faces · acgan · ns loss · 32 px · tags: hair, eye`` (a pix2pix generator trained with colour hints
    adds ``· colour hints (up to 8 dabs in training)``)."""
    groups = label_groups(cfg, spec)
    tags = ", ".join(g for g, _ in groups) or "none (unconditional)"
    size = f"{spec.image_size} px" if spec.kind == "image" else "2D points"
    hints = f" · colour hints (up to {spec.hint_dabs} dabs in training)" if spec.hint_channels else ""
    return f"{cfg.data.dataset} · {cfg.model.arch} · {cfg.loss.name} loss · {size} · tags: {tags}{hints}"


def parse_tag_text(groups: Sequence[tuple[str, Sequence[str]]], text: str) -> Optional[list[Optional[int]]]:
    """Tag text (``"blue hair, red eyes"``, ``"hair=blue"``, ``"cat"``) -> one class index per group, None
    for a group left out (random per sample); None for an unconditional generator with no text.
    Raises ValueError (tags given to an unconditional generator, unknown names)."""
    text = (text or "").strip()
    if not groups:
        if text:
            raise ValueError("this generator is unconditional: it takes no tags (leave them empty)")
        return None
    if not text:
        return [None] * len(groups)
    return list(parse_tags_for(groups, text, require_all=False))


def tags_caption(groups: Sequence[tuple[str, Sequence[str]]], tags: Optional[Sequence[Optional[int]]]) -> str:
    """``"blue hair, random eye"`` for the chosen tags ('' for an unconditional generator)."""
    if not groups:
        return ""
    tags = list(tags) if tags is not None else [None] * len(groups)
    return ", ".join(f"{cl[t]} {g}" if t is not None else f"random {g}" for (g, cl), t in zip(groups, tags))


# ---- the training form ---------------------------------------------------------------------------------
def initial_form_values(preset: str, dataset: Optional[str] = None) -> dict[str, Any]:
    """The form's starting ``section.field`` values: the config defaults, the default loss's optimiser
    settings, then the preset (with the recommended recipe for the dataset)."""
    base = RunConfig()
    values = flatten(base.to_dict())
    values.update({f"train.{k}": v for k, v in optimizer_settings(base.loss.name).items()})
    values.update(flatten(preset_sections(preset, dataset or base.data.dataset)))
    return values


# ---- the live run --------------------------------------------------------------------------------------
def job_status(snap: Any, queue_position: Optional[int] = None, expected_wait: Optional[float] = None,
               include_history: bool = False) -> dict[str, Any]:
    """A job snapshot as plain JSON (no owner secret): what ``/train_status`` returns and the live
    panel's numbers are read from."""
    last = snap.history[-1] if snap.history else {}
    out: dict[str, Any] = {
        "job": snap.id, "run": Path(snap.run_dir).name, "status": snap.status, "step": int(snap.step),
        "total_steps": int(snap.total_steps or 0), "progress": round(float(snap.progress), 4),
        "img_per_s": round(float(snap.img_per_s), 1),
        "eta_s": None if snap.eta is None or not snap.active else round(float(snap.eta), 1),
        "logged_steps": len(snap.history), "sample_step": int(snap.sample_step), "error": snap.error,
        "dataset": snap.config["data"]["dataset"], "arch": snap.config["model"]["arch"],
        "loss": snap.config["loss"]["name"],
        "last": {k: last.get(k) for k in ("step", "d_loss", "g_loss", "d_real", "d_fake", "lr_g", "lr_d", "n_critic")
                 if k in last},
        "queue_position": queue_position, "expected_wait_s": None if expected_wait is None else round(expected_wait, 1),
        "stopped_by": getattr(snap, "stopped_by", None), "eval_pending": bool(getattr(snap, "eval_pending", False)),
    }
    if include_history:
        out["history"] = [{k: h.get(k) for k in ("step", "d_loss", "g_loss", "d_real", "d_fake")} for h in snap.history]
    return out


def progress_text(snap: Any) -> str:
    """``Step 120 / 400 · 30% · 85 img/s · ETA 1 min 02 s`` (or the final status)."""
    step = f"Step {snap.step} / {snap.total_steps}" if snap.total_steps else f"Step {snap.step}"
    tail = f"ETA {format_duration(snap.eta)}" if snap.active else snap.status
    return f"{step} · {snap.progress:.0%} · {snap.img_per_s:.0f} img/s · {tail}"


def live_settings(snap: Any) -> dict[str, Any]:
    """The lr G, lr D and n_critic the run uses now (its newest logged step, else its config)."""
    hist = snap.history[-1] if snap.history else {}
    tc = snap.config["train"]
    return {"lr_g": float(hist.get("lr_g", tc["lr_g"])), "lr_d": float(hist.get("lr_d", tc["lr_d"])),
            "n_critic": int(hist.get("n_critic", tc["n_critic"]))}


def can_steer(snap: Any, mine: bool) -> bool:
    """Offer this visitor the live lr / n_critic box: their run, and it trains (not while it starts or loads
    its data: the values shown would be the config's, and a change would come before any logged step)."""
    return mine and snap.steerable


def can_continue(snap: Any, mine: bool) -> bool:
    """A finished or stopped run of this visitor with a checkpoint: offer "Continue this run"."""
    return mine and not snap.active and not snap.queued and bool(snap.checkpoints)


def continue_run(mgr: Any, snap: Any, me: str, more_steps: int) -> Any:
    """Start (or queue) ``more_steps`` more steps of a finished run from its last checkpoint, into the
    same run folder; the manager's errors (busy, caps, config) pass through."""
    if int(more_steps) < 1:
        raise ValueError("more steps must be at least 1")
    cfg = RunConfig.from_dict(snap.config).replace(train={"steps": snap.step + int(more_steps), "seconds": 0.0})
    return mgr.start(cfg, me, run_dir=snap.run_dir, resume=str(Path(snap.run_dir) / rundir.LAST))


def hf_preview_view(p: Any) -> dict[str, Any]:
    """What both fronts show of a Hugging Face dataset preview (gan_core.data.hf.HFPreview): a header line,
    the images with their tag captions, one row per column (what it is used for), a line per tag group,
    and the notes."""
    rows_n = f"{p.num_rows:,} rows" if p.num_rows is not None else "size unknown until it is read"
    splits = f" (splits: {', '.join(p.splits)})" if p.splits else ""
    tags = {g.name for g in p.label_groups}

    def use(c: Any) -> str:
        if c.name == p.image_column:
            return "images"
        return "tags" if c.name in tags else ("can be tags" if c.usable_as_tags else "")

    groups = []
    for g in p.label_groups:
        shown = ", ".join(g.classes[:30]) + (f", ... ({g.num_classes} in all)" if g.num_classes > 30 else "")
        groups.append(f"Tag group **{g.name}** ({g.num_classes} classes): {shown}")
    if not p.label_groups:
        usable = [c.name for c in p.columns if c.usable_as_tags]
        groups.append("No label columns chosen: the model will be unconditional."
                      + (f" Columns that can be tags: {', '.join(usable)}." if usable else ""))
    return {"header": f"**{p.name}**, split `{p.split}`{splits}: {rows_n}; images from column `{p.image_column}`",
            "images": list(p.images), "captions": p.captions(), "groups": groups, "notes": list(p.notes),
            "columns": [{"column": c.name, "type": c.kind, "details": c.detail, "use": use(c)} for c in p.columns]}


def run_length(train: Mapping[str, Any]) -> str:
    """How long a run is asked to train, from its ``train`` config section: "200 steps", "60 s",
    "200 steps or 60 s" (whichever comes first)."""
    steps, seconds = train.get("steps") or 0, train.get("seconds") or 0
    parts = [f"{steps:,} steps"] if steps else []
    if seconds:
        parts.append(f"{seconds:g} s" if seconds < 120 else format_duration(seconds))
    return " or ".join(parts) or "no limit"


def queue_rows(mgr: Any, me: Optional[str]) -> list[dict[str, Any]]:
    """The runs waiting in a job manager's queue: position, whose, what, how long ("200 steps", "60 s") and
    expected start."""
    rows = []
    for q in mgr.queued_jobs():
        c = q.snapshot().config
        wait = mgr.expected_wait(q)
        rows.append({"position": mgr.queue_position(q), "whose": "yours" if q.owner == me else "another visitor's",
                     "dataset": c["data"]["dataset"], "arch": c["model"]["arch"], "loss": c["loss"]["name"],
                     "length": run_length(c["train"]),
                     "expected start": "next" if not wait else f"in about {format_duration(wait)}", "job": q.id})
    return rows


# ---- runs and checkpoints -------------------------------------------------------------------------------
def run_summary_rows(runs: Sequence[RunInfo]) -> list[dict[str, Any]]:
    """Compare's summary: one row per run with its newest logged losses and D outputs."""
    out = []
    for r in runs:
        c = r.config or {}
        last = r.last or {}
        out.append({
            "run": r.name, "dataset": c.get("data", {}).get("dataset"), "arch": c.get("model", {}).get("arch"),
            "loss": c.get("loss", {}).get("name"), "step": r.step,
            "D loss": last.get("d_loss"), "G loss": last.get("g_loss"), "D(x)": last.get("d_real"),
            "D(G(z))": last.get("d_fake"), "train time": format_duration(last.get("elapsed")),
        })
    return out


def checkpoint_rows(files: Sequence[CheckpointFile], folder: os.PathLike | str, who: Optional[str]) -> list[dict[str, Any]]:
    """The Checkpoints table: what each file holds and whose it is (unreadable files say why)."""
    from gan_core.jobs import sharing

    rows = []
    for f in files:
        try:
            d = describe_checkpoint(f.path)
            rows.append({"file": f.name, "from": ORIGIN_LABELS[sharing.file_origin(folder, f.name, who)],
                         "dataset": d["dataset"], "arch": d["arch"], "loss": d["loss"], "step": d["step"],
                         "image size": d["image_size"], "tags": ", ".join(d["label_groups"]) or "-",
                         "size": format_bytes(f.size),
                         "modified": time.strftime("%Y-%m-%d %H:%M", time.localtime(f.mtime))})
        except (CheckpointError, OSError, ValueError) as e:
            rows.append({"file": f.name, "from": "", "dataset": f"unreadable: {e}", "arch": "", "loss": "",
                         "step": None, "image size": None, "tags": "", "size": format_bytes(f.size), "modified": ""})
    return rows


# ---- server settings ------------------------------------------------------------------------------------
def admin_token_configured() -> bool:
    return bool(os.environ.get(ADMIN_ENV, "").strip())


def check_admin_token(token: Optional[str]) -> bool:
    """Whether ``token`` is ``$GAN_STUDIO_ADMIN_TOKEN`` (constant-time; False when none is set)."""
    expected = os.environ.get(ADMIN_ENV, "").strip()
    given = (token or "").strip()
    return bool(expected and given) and hmac.compare_digest(given.encode(), expected.encode())


def _env_int(name: str, default: int, lo: int) -> int:
    try:
        return max(lo, int(os.environ.get(name, default)))
    except ValueError:
        return default


def metrics_enabled() -> bool:
    return os.environ.get(METRICS_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def install_metrics(manager: Any = None) -> int:
    """Attach the quality-metrics evaluator to the job manager (once). Returns its interval in steps,
    or 0 when metrics are off (``GAN_STUDIO_METRICS=0``)."""
    if not metrics_enabled():
        return 0
    from gan_core.jobs.manager import get_manager  # here, not at the top: jobs -> sharing -> studio would be a circle
    from gan_core.metrics import install_default_listeners

    manager = manager if manager is not None else get_manager()
    listener = install_default_listeners(manager, every_n_steps=_env_int(EVAL_EVERY_ENV, 250, 1),
                                         n_samples=_env_int(EVAL_SAMPLES_ENV, 256, 8))
    return listener.every_n_steps


def rows_to_table(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """(headers, values) of dict rows (every key of any row, in first-seen order; missing -> None)."""
    headers: dict[str, None] = {}
    for r in rows:
        for k in r:
            headers.setdefault(str(k), None)
    cols = list(headers)
    return cols, [[r.get(c) for c in cols] for r in rows]

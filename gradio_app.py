"""GAN Studio's Gradio front end: the Streamlit app's pages as tabs, over the same core.

    python gradio_app.py            # http://localhost:7860 (port: $GRADIO_SERVER_PORT)

Every tab is a thin layer over ``gan_core`` (forms generated from the config metadata, pictures and
tables from ``gan_core.studio``, charts from ``ui.charts``); nothing here trains or computes what the
Streamlit pages would not. Training goes through the process-wide job manager; **Start** waits in
Gradio's own queue (``concurrency_id="training"``, limit = the manager's ``max_concurrent``), so a
second visitor sees their place in line instead of a refusal, and a run also takes one of the
machine-wide training slots of :mod:`gan_core.slots` (shared with a Streamlit server on the same
runs folder). Only the browser that started a run (a random secret in its localStorage, never in
the URL) or the admin (``$GAN_STUDIO_ADMIN_TOKEN``) can pause, steer or stop it.

API for scripts (see the "Use via API" page): ``/generate`` (PNG grid), ``/interpolate`` (GIF),
``/train`` (start a run and stream its status), ``/train_status``, ``/train_stop``.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import gradio as gr
import numpy as np

from gan_core import sharing, studio
from gan_core.checkpoint import CheckpointError
from gan_core.config import ConfigError, RunConfig, all_fields
from gan_core.fileio import remove_stale_temp_files
from gan_core.jobs import JobBusyError, NotOwnerError, get_manager
from gan_core.losses import LOSSES
from gan_core.models import ARCHITECTURES
from apps import charts

TITLE = "GAN Studio"
PORT_ENV = "GRADIO_SERVER_PORT"
MAX_TAG_GROUPS = 4              # tag dropdowns per picker (faces: hair + eye; Hub data: its label columns)
API_MAX_N = 64                  # images per /generate call
POLL_S = 1.0                    # the Train tab's live panel
LAB_POLL_S = 0.5                # the 2D lab's picture
RANDOM = -1                     # a tag dropdown's "random per image" value
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SPECS = [studio.field_spec(k) for k, _ in all_fields() if k not in studio.SERVER_ONLY]
KEYS = [s.key for s in SPECS]
SPEC = dict(zip(KEYS, SPECS))
TARGET_FIELDS = ("loss.real_label", "loss.fake_label", "loss.label_noise")
CSS = """
.pixelated img { image-rendering: pixelated; }
.stat-cards { display: flex; gap: 12px; flex-wrap: wrap; }
.stat-cards div { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 12px; min-width: 120px; }
.stat-cards b { display: block; font-size: 1.3em; }
"""

mgr = get_manager()
_OUT = Path(tempfile.mkdtemp(prefix="gan-studio-gradio-"))   # files handed to Gradio (it copies them to its cache)


# ---- who is asking ----------------------------------------------------------------------------------------
def owner_of(value: Any, request: Optional[gr.Request] = None) -> str:
    """The visitor's owner secret: the browser's (kept in localStorage by gr.BrowserState), else one tied
    to this connection (an API client that gave none, or an event before the page finished loading)."""
    if isinstance(value, str) and TOKEN_RE.match(value):
        return value
    session = getattr(request, "session_hash", None) or secrets.token_hex(16)
    return "session-" + hashlib.sha256(("gan-studio-gradio:" + session).encode()).hexdigest()[:40]


def init_owner(value: Any) -> str:
    """Page load: keep this browser's secret, or draw one (stored in its localStorage)."""
    return value if isinstance(value, str) and TOKEN_RE.match(value) else secrets.token_urlsafe(24)


def admin_sign_in(token: str) -> tuple[bool, str]:
    if studio.check_admin_token(token):
        return True, "Admin: you can stop any run and delete any upload (this browser tab only)."
    return False, "Wrong admin token."


# ---- small helpers ------------------------------------------------------------------------------------------
def _file(data: bytes, name: str) -> str:
    """Write bytes to a fresh file for Gradio to serve; returns its path."""
    d = Path(tempfile.mkdtemp(dir=_OUT))
    p = d / name
    p.write_bytes(data)
    return str(p)


def _png(img: np.ndarray, name: str) -> str:
    return _file(studio.png_bytes(img, compress_level=6), name)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80] or "image"


def _table(rows: list[dict[str, Any]], empty: str = "-") -> Any:
    cols, values = studio.rows_to_table(rows)
    if not cols:
        return gr.update(value=None, visible=False)
    cell = lambda v: "" if v is None else (round(v, 4) if isinstance(v, float) else v)  # noqa: E731
    return gr.update(value={"headers": cols, "data": [[cell(v) for v in r] for r in values]},
                     visible=True)


def _stat_cards(items: list[tuple[str, str]]) -> str:
    return '<div class="stat-cards">' + "".join(f"<div>{k}<b>{v}</b></div>" for k, v in items) + "</div>"


# ---- generators and tags ------------------------------------------------------------------------------------
def generator_choices() -> tuple[list[tuple[str, str]], Optional[str]]:
    entries = studio.list_generators()
    d = studio.default_generator(entries)
    return [(e.label, studio.generator_key(e)) for e in entries], (studio.generator_key(d) if d else None)


def load(name: str):
    """(entry, G, cfg, spec, groups) for a generator name; gr.Error with the reason otherwise."""
    try:
        entry = studio.find_generator(name)
        G, cfg, spec = studio.load_generator_cached(entry.path)
    except (ValueError, CheckpointError, OSError) as e:
        raise gr.Error(str(e)) from None
    return entry, G, cfg, spec, studio.label_groups(cfg, spec)


def _stem(entry) -> str:
    return entry.path.stem if entry.source == "checkpoints" else str(entry.run)


def tag_updates(groups, allow_random: bool, prefix: str = "") -> list[Any]:
    """Updates for MAX_TAG_GROUPS tag dropdowns: one per group of the generator, the rest hidden."""
    out = []
    for i in range(MAX_TAG_GROUPS):
        if i < len(groups):
            name, classes = groups[i]
            choices = ([(f"random {name}", RANDOM)] if allow_random else []) + [(c, j) for j, c in enumerate(classes)]
            out.append(gr.update(choices=choices, value=RANDOM if allow_random else 0, label=f"{prefix}{name} tag".capitalize(),
                                 visible=True))
        else:
            out.append(gr.update(choices=[("-", RANDOM)], value=RANDOM, visible=False))
    return out


def picked_tags(groups, values) -> Optional[list[Optional[int]]]:
    if not groups:
        return None
    out = []
    for (name, classes), v in zip(groups, values):
        v = RANDOM if v is None else int(v)
        out.append(None if v == RANDOM or not 0 <= v < len(classes) else v)
    return out


def tag_dropdowns(prefix: str) -> list[gr.Dropdown]:
    with gr.Row():
        return [gr.Dropdown(choices=[("-", RANDOM)], value=RANDOM, label=f"Tag {i + 1}", visible=False, interactive=True,
                            elem_id=f"{prefix}-tag-{i}") for i in range(MAX_TAG_GROUPS)]


# ---- Generate ----------------------------------------------------------------------------------------------
def on_generator(name: str):
    entry, G, cfg, spec, groups = load(name)
    sweep = gr.update(choices=[(g, i) for i, (g, _) in enumerate(groups)], value=0 if groups else None,
                      visible=bool(groups))
    note = ("" if groups else " This generator is unconditional: it has no tags to choose. Train a conditional "
            "architecture on labelled data to pick tags.")
    return [studio.generator_caption(cfg, spec) + note, *tag_updates(groups, True), sweep,
            gr.update(visible=bool(groups))]


def generate(name: str, seed: float, n: float, nrow: float, *tags):
    entry, G, cfg, spec, groups = load(name)
    seed, n, nrow = int(seed or 0), int(n or 64), int(nrow or 8)
    t = picked_tags(groups, tags)
    try:
        grid = studio.sample_grid(G, cfg, spec, n=n, seed=seed, tags=t, nrow=nrow)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    txt = studio.tags_caption(groups, t)
    caption = f"seed {seed}" + (f" · {txt}" if txt else "")
    return (studio.upscale(grid, min_size=512), caption, _png(grid, f"{_safe(_stem(entry))}_seed{seed}.png"))


def sweep(name: str, seed: float, group: Any, rows: float, *tags):
    entry, G, cfg, spec, groups = load(name)
    if not groups:
        return None, "", None
    seed, rows, group = int(seed or 0), int(rows or 4), int(group or 0)
    base = [v if v is not None else 0 for v in picked_tags(groups, tags)]
    try:
        img, classes = studio.tag_sweep(G, cfg, spec, group, rows=rows, seed=seed, base=base)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    img = studio.annotate_columns(studio.upscale(img, min_size=rows * 64, max_factor=8), list(classes), header=18)
    gname = groups[group][0]
    return (img, f"seed {seed} · rows: z · columns: {gname}",
            _png(img, f"{_safe(_stem(entry))}_seed{seed}_{_safe(gname)}_sweep.png"))


# ---- Interpolate -------------------------------------------------------------------------------------------
def on_generator_interp(name: str):
    entry, G, cfg, spec, groups = load(name)
    note = "" if groups else " Unconditional: only the seeds move."
    return [studio.generator_caption(cfg, spec) + note, *tag_updates(groups, False, "start "),
            *tag_updates(groups, False, "end "), *tag_updates(groups, False)]


def interpolate(name, seed_a, seed_b, method, steps, fps, boomerang, *tags):
    entry, G, cfg, spec, groups = load(name)
    ta, tb = picked_tags(groups, tags[:MAX_TAG_GROUPS]), picked_tags(groups, tags[MAX_TAG_GROUPS:])
    seed_a, seed_b, steps = int(seed_a or 0), int(seed_b or 0), int(steps or 16)
    try:
        frames = studio.interpolation_frames(G, cfg, spec, seed_a, seed_b, steps=steps, method=method, tags_a=ta,
                                             tags_b=tb)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    strip = studio.frames_strip(frames, per_row=min(8, len(frames)))
    stem = f"{_safe(_stem(entry))}_{method}_{seed_a}-{seed_b}"
    gif = _file(studio.frames_to_gif(frames, fps=float(fps or 10), boomerang=bool(boomerang), min_size=192),
                stem + ".gif")
    return (studio.upscale(strip, min_size=320), f"{len(frames)} frames, {method}, seed {seed_a} -> {seed_b}",
            _png(strip, stem + ".png"), gif, gif)


def arithmetic(name, s1, s2, s3, *tags):
    entry, G, cfg, spec, groups = load(name)
    seeds = (int(s1 or 0), int(s2 or 0), int(s3 or 0))
    t = picked_tags(groups, tags)
    try:
        imgs = studio.arithmetic_images(G, cfg, spec, seeds, tags=t)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    caps = [f"z1 (seed {seeds[0]})", f"z2 (seed {seeds[1]})", f"z3 (seed {seeds[2]})", "z1 - z2 + z3"]
    return [(studio.upscale(im, min_size=160), c) for im, c in zip(imgs, caps)]


# ---- the API for scripts -----------------------------------------------------------------------------------
def api_generate(checkpoint: str, tags: str, seed: float, n: float) -> str:
    """A PNG grid of ``n`` (1-64) samples of ``checkpoint`` (a file name in the checkpoints folder, e.g.
    "faces.safetensors", or "<run>/last.pt"; empty = the shipped faces generator) for ``tags`` ("blue
    hair, red eyes"; empty = random tags, or an unconditional model) and ``seed``: the same arguments
    give the same image."""
    entry, G, cfg, spec, groups = load(checkpoint)
    try:
        n = int(n)
        seed = int(seed)
        if not 1 <= n <= API_MAX_N:
            raise ValueError(f"n must be between 1 and {API_MAX_N}, got {n}")
        t = studio.parse_tag_text(groups, tags)
        grid = studio.sample_grid(G, cfg, spec, n=n, seed=seed, tags=t)
    except (ValueError, TypeError) as e:
        raise gr.Error(str(e)) from None
    return _png(grid, f"{_safe(_stem(entry))}_seed{seed}_n{n}.png")


def api_interpolate(checkpoint: str, seed_a: float, seed_b: float, frames: float, method: str, tags_a: str,
                    tags_b: str, fps: float) -> str:
    """An animated GIF walking from z(seed_a) to z(seed_b) (``method`` "slerp" or "lerp", 2-64 frames);
    for conditional generators the tags switch from ``tags_a`` to ``tags_b`` (default: the same) half way."""
    entry, G, cfg, spec, groups = load(checkpoint)
    try:
        steps = int(frames)
        if not 2 <= steps <= 64:
            raise ValueError(f"frames must be between 2 and 64, got {steps}")
        if method not in ("slerp", "lerp"):
            raise ValueError(f"method must be 'slerp' or 'lerp', got {method!r}")
        ta = studio.parse_tag_text(groups, tags_a)
        tb = studio.parse_tag_text(groups, tags_b) if (tags_b or "").strip() else ta
        if ta is not None:  # a path needs fixed tags: a group left out takes the seed's random class
            base = studio.make_labels(cfg, spec, 1, ta, int(seed_a))[0].tolist()
            ta = [b if t is None else t for t, b in zip(ta, base)]
            tb = [a if t is None else t for t, a in zip(tb, ta)]
        fr = studio.interpolation_frames(G, cfg, spec, int(seed_a), int(seed_b), steps=steps, method=method,
                                         tags_a=ta, tags_b=tb)
        gif = studio.frames_to_gif(fr, fps=float(fps), boomerang=False, min_size=128)
    except (ValueError, TypeError) as e:
        raise gr.Error(str(e)) from None
    return _file(gif, f"{_safe(_stem(entry))}_{method}_{int(seed_a)}-{int(seed_b)}.gif")


# ---- training: shared by the Train tab and /train -------------------------------------------------------
def _slots_text() -> str:
    """Who holds the machine's training slots, when another server's runs hold them all."""
    held = mgr.slots.holders()
    if mgr.slots.free() > 0 or not held:
        return ""
    who = "; ".join(h.get("label") or f"process {h.get('pid')}" for h in held)
    return f" Training slots on this machine: {len(held)} of {mgr.slots.n} taken ({who})."


def run_training(cfg, me: str, start: Optional[Callable[[], Any]] = None) -> Iterator[tuple[Optional[Any], str]]:
    """Start a run of ``cfg`` for ``me`` (or call ``start``; the job manager queues it until a machine-wide
    slot is free) and follow it to its end, yielding (job or None, message) about once a second."""
    try:
        job = start() if start is not None else mgr.start(cfg, me)
    except (JobBusyError, ConfigError, ValueError) as e:
        yield None, f"Not started: {e}"
        return
    while True:
        snap = job.snapshot()
        if snap.queued:
            yield job, (f"Queued: position {mgr.queue_position(job)}, expected start in about "
                        f"{studio.format_duration(mgr.expected_wait(job))}." + _slots_text())
        elif snap.active:
            yield job, f"Run {Path(snap.run_dir).name} is {snap.status}: you control it (Pause, Stop, live lr)."
        else:
            end = f"Run {Path(snap.run_dir).name} ended: {snap.status} at step {snap.step}."
            yield job, end + (f" {snap.error}" if snap.error else "")
            return
        time.sleep(1.0)


def _coerce(spec: studio.FieldSpec, v: Any) -> Any:
    if v is None:
        return None if spec.optional else spec.default
    if spec.kind == "int":
        return int(v)
    if spec.kind == "float":
        return float(v)
    if spec.kind == "bool":
        return bool(v)
    if spec.kind == "choice":
        return next((c for c in spec.choices if c == v or str(c) == str(v)), v)
    return str(v)


def form_to_flat(values) -> dict[str, Any]:
    return {k: _coerce(SPEC[k], v) for k, v in zip(KEYS, values)}


def form_config(values):
    return studio.config_from_flat(form_to_flat(values))


def start_run(owner_v, *values, request: gr.Request = None):
    me = owner_of(owner_v, request)
    try:
        cfg = form_config(values)
    except (ConfigError, ValueError, TypeError) as e:
        yield f"**Not started:** {e}"
        return
    yield from _changes(run_training(cfg, me))


def _changes(follow: Iterator[tuple[Optional[Any], str]]) -> Iterator[Any]:
    """The messages of ``run_training``, each once (a repeat leaves the box as it is)."""
    last = None
    for _job, msg in follow:
        if msg != last:
            yield msg
            last = msg
        else:
            yield gr.skip()


def continue_run(owner_v, more: float, request: gr.Request = None):
    """More steps of the visitor's finished run, from its last checkpoint, in the same run folder."""
    job, me = _job_for(owner_v, request)
    snap = job.snapshot() if job is not None else None
    if snap is None or not studio.can_continue(snap, job.can_control(me)):
        yield "**Not started:** there is no finished run of yours with a checkpoint to continue."
        return
    yield from _changes(run_training(None, me, start=lambda: studio.continue_run(mgr, snap, me, int(more or 0))))


def api_train(settings: dict, preset: str = "tiny", owner_key: str = "", request: gr.Request = None) -> Iterator[dict]:
    """Start a training run and stream its status until it ends (it waits in line like the Start button).

    ``settings``: ``{"section.field": value}`` over the form's defaults and ``preset`` (e.g.
    ``{"train.steps": 50, "data.dataset": "digits"}``). ``owner_key``: a secret of 16-64 letters, digits,
    "-" or "_" that controls the run (for /train_stop); empty = a new one, returned as ``owner_key``."""
    me = owner_key if TOKEN_RE.match(owner_key or "") else secrets.token_urlsafe(24)
    try:
        if preset not in studio.PRESETS:
            raise ValueError(f"preset must be one of {', '.join(studio.PRESETS)}, got {preset!r}")
        flat = studio.initial_form_values(preset, (settings or {}).get("data.dataset"))
        flat.update(settings or {})
        cfg = studio.config_from_flat({k: v for k, v in flat.items() if k in SPEC or k in (settings or {})})
    except (ConfigError, ValueError, TypeError, AttributeError) as e:
        raise gr.Error(f"Not started: {e}") from None
    for job, msg in run_training(cfg, me):
        out = studio.job_status(job.snapshot(), mgr.queue_position(job), mgr.expected_wait(job)) if job else {}
        yield {**out, "message": msg, "owner_key": me}


def api_train_status(job: int = 0) -> dict:
    """The status of run ``job`` (0: the run training now, else the newest): step, total steps,
    progress, img/s, ETA, the newest losses and its logged D/G losses; ``queue`` lists the waiting runs."""
    j = mgr.get(int(job)) if job else (mgr.active_job() or mgr.latest())
    if j is None:
        return {"status": "none", "message": "no run yet", "queue": [], "max_concurrent": mgr.max_concurrent}
    out = studio.job_status(j.snapshot(), mgr.queue_position(j), mgr.expected_wait(j), include_history=True)
    out["queue"] = [{k: v for k, v in r.items() if k != "whose"} for r in studio.queue_rows(mgr, None)]
    out["max_concurrent"] = mgr.max_concurrent
    return out


def api_train_stop(job: int, owner_key: str) -> str:
    """Stop (or take out of the queue) run ``job`` started with ``owner_key``."""
    j = mgr.get(int(job))
    if j is None:
        raise gr.Error(f"no run {job}")
    try:
        j.stop(owner_key or "")
    except NotOwnerError as e:
        raise gr.Error(str(e)) from None
    return j.snapshot().status


# ---- the Train tab ----------------------------------------------------------------------------------------
def field_component(s: studio.FieldSpec, value: Any):
    kw = dict(label=s.label, info=s.help or None, elem_id="f-" + s.key.replace(".", "-"), interactive=True)
    if s.kind == "choice":
        return gr.Dropdown(choices=[(s.display(c), c) for c in s.choices], value=value, **kw)
    if s.kind == "bool":
        return gr.Checkbox(value=bool(value), **kw)
    if s.kind in ("int", "float"):
        return gr.Number(value=value, minimum=s.lo, maximum=s.hi, step=s.step or (1 if s.kind == "int" else None),
                         precision=0 if s.kind == "int" else None, **kw)
    return gr.Textbox(value="" if value is None else str(value), placeholder="(empty)" if s.optional else None, **kw)


def form_view(*values) -> list[Any]:
    """Visibility / interactivity of every field for the chosen dataset, arch and loss, the notes, and
    whether the configuration can train."""
    flat = dict(zip(KEYS, values))
    dataset, arch, loss = flat["data.dataset"], flat["model.arch"], flat["loss.name"]
    shown = {s.key for s in studio.form_fields(dataset, arch, loss)}
    no_targets = not LOSSES[loss].uses_targets
    adam = flat.get("train.optimizer") == "adam"
    ups = []
    for k in KEYS:
        interactive = not ((k in TARGET_FIELDS and no_targets) or (k in ("train.beta1", "train.beta2") and not adam))
        ups.append(gr.update(visible=k in shown, interactive=interactive))
    spec = LOSSES[loss]
    notes = f"**{spec.title}.** {spec.curve_help}" + (" (Real/fake labels and label noise are not used: this loss "
                                                       "has no real/fake targets.)" if no_targets else "")
    return [*ups, ARCHITECTURES[arch].description, notes, check_text(*values)]


def hf_preview(*values):
    """The Train tab's preview of a Hugging Face dataset (as the Streamlit Train page): the first 16 images
    with their tags, the columns and the tag groups, or the one line that says why not."""
    from gan_core.data import DataError
    from gan_core.data.hf import preview

    flat = dict(zip(KEYS, values))
    path = str(flat.get("data.path") or "").strip()
    if not path:
        return ("Give a Hugging Face dataset name such as `huggan/anime-faces`, or a local saved copy (a "
                "`save_to_disk` folder or a parquet file), then preview it.", None, gr.update(visible=False))
    try:
        p = preview(path, flat["data.hf_split"], flat["data.hf_image_column"], flat["data.hf_label_columns"],
                    n=16, image_size=64, cache_dir=RunConfig().data.cache_dir)
    except DataError as e:
        return f"**Preview failed:** {e}", None, gr.update(visible=False)
    v = studio.hf_preview_view(p)
    text = "\n\n".join([v["header"], *v["groups"], *v["notes"]])
    images = [(im, cap or None) for im, cap in zip(v["images"], v["captions"])]
    return text, images, _table(v["columns"])


def check_text(*values) -> str:
    try:
        form_config(values)
    except (ConfigError, ValueError, TypeError) as e:
        return f"**This configuration cannot train:** {e}"
    return "Ready to train."


def apply_preset(preset: str, *values):
    flat = dict(zip(KEYS, values))
    new = studio.flatten(studio.preset_sections(preset, flat["data.dataset"]))
    return [studio.PRESETS[preset].description, *[gr.update(value=new[k]) if k in new else gr.skip() for k in KEYS]]


def apply_loss(loss: str):
    opt = {f"train.{k}": v for k, v in studio.optimizer_settings(loss).items()}
    return [gr.update(value=opt[k]) if k in opt else gr.skip() for k in KEYS]


def _job_for(owner_v, request) -> tuple[Optional[Any], str]:
    me = owner_of(owner_v, request)
    return mgr.latest(owner=me), me


def control(action: str):
    def fn(owner_v, admin: bool, request: gr.Request = None):
        job, me = _job_for(owner_v, request)
        if job is None:
            gr.Warning("There is no run to control.")
            return
        try:
            getattr(job, action)(me, admin=bool(admin))
        except NotOwnerError as e:
            gr.Warning(str(e))
        else:
            gr.Info({"pause": "Paused.", "resume_training": "Resumed.", "stop": "Stopping..."}[action])
    return fn


def steer(owner_v, admin: bool, lr_g, lr_d, n_critic, request: gr.Request = None):
    job, me = _job_for(owner_v, request)
    if job is None or not job.active:
        gr.Warning("No run is training.")
        return
    try:
        job.set_lr(me, lr_g=float(lr_g), lr_d=float(lr_d), admin=bool(admin))
        job.set_n_critic(me, int(n_critic), admin=bool(admin))
    except (NotOwnerError, ValueError, TypeError) as e:
        gr.Warning(str(e))
    else:
        gr.Info(f"Applied: lr G {float(lr_g):.1e}, lr D {float(lr_d):.1e}, n_critic {int(n_critic)}")


def metrics_md(snap, every: int) -> str:
    ov = studio.metrics_overview(snap.extras)
    lines = [f"**Alert at step {a.get('step', '?')}:** {a['message']}" for a in ov["alerts"][-3:]]
    latest = ov["latest"]
    if latest is None:
        if ov["status"]:
            lines.append(f"Quality metrics: {ov['status']}")
        elif every:
            lines.append(f"Quality metrics (FID, KID, tag accuracy) are computed at checkpoints, at most every "
                         f"{every} steps, and at the end of the run.")
        return "\n\n".join(lines)
    vals = " · ".join(f"**{studio.METRIC_NAMES[k]}** {studio.format_metric(k, latest.get(k))}" for k in ov["series"][:4])
    lines.append(f"Quality at step {latest.get('step')} ({latest.get('n_real')} real vs {latest.get('n_fake')} "
                 f"generated images, {latest.get('features')} features): {vals}")
    lines.append(" ".join(f"**{studio.METRIC_NAMES[k]}**: {h}." for k, h in studio.METRIC_HELP.items()
                          if k in ov["series"]))
    return "\n\n".join(lines)


def live_panel(owner_v, admin: bool, shown: Optional[dict], request: gr.Request = None):
    """One poll of the Train tab: the visitor's run (or the one training) drawn from one snapshot; plots
    and the grid are only resent when they changed, the live lr / n_critic boxes only filled when the
    shown run changes."""
    job, me = _job_for(owner_v, request)
    queue = studio.queue_rows(mgr, me)
    queue_up = _table(queue) if queue else gr.update(value=None, visible=False)
    queue_md = (f"**Queue** · {len(queue)} waiting · {mgr.max_concurrent} run(s) train at once" if queue else "")
    if job is None:
        runs = studio.list_runs()
        msg = (f"No run is training. {len(runs)} earlier run(s) are in `{studio.runs_dir()}` (see **Compare**)."
               if runs else "No run yet. Choose a preset or your own settings and press **Start training**.")
        return [None, f"### {msg}", "", "", *[gr.skip()] * 6, "", "", gr.update(visible=False), *[gr.skip()] * 3,
                queue_md, queue_up, gr.update(visible=False)]
    snap = job.snapshot()
    mine = job.can_control(me, bool(admin))
    key = {"job": snap.id, "n": len(snap.history), "sample": snap.sample_step, "status": snap.status,
           "steer": bool(snap.active and mine)}
    new_job = not shown or shown.get("job") != snap.id
    changed = new_job or shown.get("n") != key["n"] or shown.get("status") != key["status"]
    who = "yours" if job.owner == me else ("admin" if admin else "view only: started in another browser")
    title = f"### Run {Path(snap.run_dir).name} · {snap.status} · {who}"
    pct = min(max(snap.progress, 0.0), 1.0)
    prog = (f'<progress value="{pct:.4f}" max="1" style="width:100%;height:14px"></progress>'
            f'<div id="progress-text">{studio.progress_text(snap)}</div>')
    stats = _stat_cards([("Status", snap.status),
                         ("Step", f"{snap.step} / {snap.total_steps}" if snap.total_steps else str(snap.step)),
                         ("Images / s", f"{snap.img_per_s:.0f}"),
                         ("ETA", studio.format_duration(snap.eta) if snap.active else "-")])
    if snap.error:
        stats += f"<p><b>Error:</b> {snap.error}</p>"
    if job.owner != me and snap.active and not admin:
        stats += ("<p>View only: this run was started in another browser. You can watch it, but only that browser "
                  "(or the admin) can pause, stop or change it; a copied link never gives control.</p>")
    help_ = studio.curve_help(snap.config["loss"]["name"], snap.config["model"]["arch"])
    if changed and snap.history:
        extra = [k for k in studio.history_keys(snap.history) if k.startswith("extra.")]
        plots = [charts.curves_figure(snap.history, ["d_loss", "g_loss"], "Losses"),
                 charts.curves_figure(snap.history, ["d_real", "d_fake"], "D outputs"),
                 charts.curves_figure(snap.history, ["grad_norm_d", "grad_norm_g"], "Gradient norms"),
                 charts.curves_figure(snap.history, ["lr_d", "lr_g"], "Learning rates"),
                 charts.curves_figure(snap.history, extra, "Loss terms") if extra else None]
    elif changed:
        plots = [None] * 5
    else:
        plots = [gr.skip()] * 5
    if snap.sample is not None and (new_job or shown.get("sample") != snap.sample_step):
        grid = gr.update(value=studio.upscale(snap.sample, min_size=384),
                         label=f"Fixed-noise samples at step {snap.sample_step}")
    elif snap.sample is None and new_job:
        grid = gr.update(value=None, label="The sample grid appears after the first sample")
    else:
        grid = gr.skip()
    notes = (f"{help_['losses']}\n\n{help_['outputs']}" if snap.history else "Waiting for the first logged step...")
    more = f"{help_['grad_norm']}\n\n{help_['lr']}\n\n{help_['terms']}\n\n" + metrics_md(snap, METRICS_EVERY)
    if key["steer"] and (new_job or not shown.get("steer")):
        s = studio.live_settings(snap)
        steer_vals = [s["lr_g"], s["lr_d"], s["n_critic"]]
    else:
        steer_vals = [gr.skip()] * 3
    return [key, title, prog, stats, *plots, grid, notes, more, gr.update(visible=key["steer"]), *steer_vals,
            queue_md, queue_up, gr.update(visible=studio.can_continue(snap, job.owner == me))]


# ---- Compare ----------------------------------------------------------------------------------------------
def compare_choices():
    runs = studio.list_runs()
    return gr.update(choices=[(r.label, r.name) for r in runs], value=[r.name for r in runs[:3]])


def compare_curves(picked: list[str]):
    runs = {r.name: r for r in studio.list_runs()}
    hist = [h for n in picked or [] if n in runs for h in studio.load_metrics(runs[n].path)[-1:]]
    keys = studio.history_keys(hist) or ["d_loss", "g_loss"]
    return gr.update(choices=[(studio.curve_label(k), k) for k in keys],
                     value=[k for k in ("d_loss", "g_loss") if k in keys])


N_COMPARE_PLOTS = 4


def compare(picked: list[str], curves: list[str], smoothing: float, log_y: bool):
    runs = {r.name: r for r in studio.list_runs()}
    sel = [runs[n] for n in picked or [] if n in runs]
    if not sel:
        msg = (f"No runs in `{studio.runs_dir()}` yet: train a few on **Train** (e.g. the same preset and seed "
               "with the ns, lsgan and wgan-gp losses), then compare them here." if not runs else "Pick at least one run.")
        return [msg, *[gr.update(value=None, visible=False)] * N_COMPARE_PLOTS, None, *[gr.update(visible=False)] * 4]
    histories = {r.name: studio.load_metrics(r.path) for r in sel}
    plots = []
    for i in range(N_COMPARE_PLOTS):
        if i < len(curves or []):
            k = curves[i]
            plots.append(gr.update(value=charts.compare_figure(histories, k, smoothing=float(smoothing),
                                                               log_y=bool(log_y) and k not in ("d_real", "d_fake")),
                                   visible=True))
        else:
            plots.append(gr.update(value=None, visible=False))
    losses = sorted({(r.config or {}).get("loss", {}).get("name") for r in sel} - {None})
    msg = " ".join(f"**{n}**: {studio.curve_help(n)['losses']}" for n in losses if n in LOSSES)
    if len(curves or []) > N_COMPARE_PLOTS:
        msg += f"\n\n(The first {N_COMPARE_PLOTS} curves are drawn.)"
    gallery = []
    for r in sel:
        img = r.sample_image()
        if img is not None:
            gallery.append((studio.upscale(img, min_size=256), f"{r.name} · step {r.sample_step}"))
    diff = studio.config_differences({r.name: r.config for r in sel}) if len(sel) > 1 else []
    changes = [{"run": name, **row} for name, h in histories.items() for row in studio.mid_run_changes(h)]
    quality = studio.quality_rows(sel)
    has_q = any(q.get("evaluated at step") is not None for q in quality)
    str_rows = lambda rows: [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in rows]  # noqa: E731
    return [msg, *plots, gallery, _table(studio.run_summary_rows(sel)),
            _table(quality) if has_q else gr.update(visible=False),
            _table(str_rows(diff)) if diff else gr.update(visible=False),
            _table(str_rows(changes)) if changes else gr.update(visible=False)]


# ---- Checkpoints -------------------------------------------------------------------------------------------
def checkpoints_view(owner_v, request: gr.Request = None):
    me = owner_of(owner_v, request)
    folder = studio.checkpoints_dir()
    remove_stale_temp_files(folder, min_age_s=3600)
    files = studio.list_checkpoints(folder)
    runs = studio.list_run_checkpoints()
    names = [f.name for f in files]
    table = _table(studio.checkpoint_rows(files, folder, me)) if files else gr.update(visible=False)
    return [table, gr.update(choices=names, value=names[0] if names else None),
            gr.update(choices=[r.run for r in runs], value=runs[0].run if runs else None)]


def checkpoint_pick(name: Optional[str], owner_v, admin: bool, request: gr.Request = None):
    me = owner_of(owner_v, request)
    folder = studio.checkpoints_dir()
    if not name:
        return gr.update(value=None, visible=False), "", gr.update(interactive=False)
    p = folder / Path(name).name
    ok, why = sharing.can_delete(folder, p.name, me, bool(admin))
    return (gr.update(value=str(p.resolve()) if p.is_file() else None, label=f"Download {p.name}", visible=p.is_file()),
            "" if ok else f"Read-only for you: {why}.", gr.update(interactive=ok))


def checkpoint_delete(name: Optional[str], sure: bool, owner_v, admin: bool, request: gr.Request = None) -> str:
    if not name:
        return "Pick a checkpoint."
    if not sure:
        return "Tick *I am sure* first: deleting cannot be undone."
    try:
        sharing.delete_checkpoint_as(name, owner_of(owner_v, request), bool(admin), studio.checkpoints_dir())
    except (studio.UploadError, sharing.PermissionDenied) as e:
        return f"**Refused:** {e}"
    return f"Deleted {name}."


def checkpoint_upload(path: Optional[str], owner_v, request: gr.Request = None) -> str:
    if not path:
        return ""
    p = Path(path)
    try:
        size = p.stat().st_size
        sharing.check_upload_room(studio.checkpoints_dir(), size)  # before reading a big file into memory
        dest, s = sharing.save_upload_as(p.name, p.read_bytes(), owner_of(owner_v, request), studio.checkpoints_dir())
    except (studio.UploadError, sharing.PermissionDenied, OSError) as e:
        return f"**Refused:** {e}"
    return f"Saved {dest.name}: {s['dataset']} · {s['arch']} · {s['loss']} · step {s['step']}."


def checkpoint_export(run: Optional[str], out_name: str, owner_v, request: gr.Request = None) -> str:
    runs = {r.run: r for r in studio.list_run_checkpoints()}
    if not run or run not in runs:
        return "Pick a trained run."
    folder = studio.checkpoints_dir()
    try:
        p = studio.export_run_generator(runs[run].path, (out_name or run).strip() or run, folder)
        sharing.record_owner(folder, p.name, owner_of(owner_v, request))
    except (studio.UploadError, CheckpointError, OSError) as e:
        return f"**Refused:** {e}"
    return f"Exported {p.name}."


# ---- 2D lab ------------------------------------------------------------------------------------------------
def _lab():
    try:
        from gan_core import lab2d
        from apps.lab2d_view import lab_figure
    except ImportError:  # pragma: no cover - the lab is being reworked
        return None
    return lab2d, lab_figure


LAB_WIDGETS = {"shape": "shape", "loss": "loss.name", "lr_g": "train.lr_g", "lr_d": "train.lr_d",
               "n_critic": "train.n_critic", "batch": "train.batch_size", "optimizer": "train.optimizer"}
SHAPE_NAMES = {"8gaussians": "8 Gaussians on a ring", "25gaussians": "25 Gaussians on a grid", "moons": "Two moons",
               "ring": "Ring", "spiral": "Spiral", "drawn": "Your points (click the pad)"}
CUSTOM = "custom"
PAD_PX = 360   # the drawing pad's side in pixels


def pad_image(drawn: list, extent: float) -> np.ndarray:
    """The 2D lab's drawing pad: the plane [-extent, extent]^2 with a unit grid and the drawn points."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (PAD_PX, PAD_PX), (250, 250, 252))
    d = ImageDraw.Draw(img)
    to_px = lambda v: (v / extent + 1) / 2 * (PAD_PX - 1)  # noqa: E731
    for k in range(-int(extent), int(extent) + 1):
        c = (150, 150, 160) if k == 0 else (222, 222, 230)
        d.line([(to_px(k), 0), (to_px(k), PAD_PX)], fill=c)
        d.line([(0, to_px(-k)), (PAD_PX, to_px(-k))], fill=c)
    for x, y in drawn:
        cx, cy = to_px(x), to_px(-y)
        d.ellipse([cx - 5, cy - 5, cx + 5, cy + 5], fill=(230, 110, 20), outline=(60, 30, 10))
    return np.asarray(img)


def pad_point(index: Any, extent: float) -> tuple[float, float]:
    """Plane coordinates of a click at pixel ``index`` = (x, y) of the pad (y grows downwards)."""
    px, py = float(index[0]), float(index[1])
    f = lambda v: round(max(-extent, min(extent, (v / (PAD_PX - 1) * 2 - 1) * extent)), 3)  # noqa: E731
    return f(px), -f(py)


def lab_pad_click(owner_v, shape: str, drawn: list, evt: gr.SelectData, request: gr.Request = None):
    """A click on the pad adds a point (each becomes a small Gaussian); a running lab on "Your points"
    takes the new set at once."""
    lab2d, _ = _lab()
    extent = lab2d.LabConfig().extent
    pt = list(pad_point(evt.index, extent))
    drawn = list(drawn or [])
    if pt not in drawn and len(drawn) < lab2d.MAX_DRAWN:
        drawn.append(pt)
    if shape == lab2d.DRAWN:
        _lab_update(owner_v, request, shape=lab2d.DRAWN, drawn=[tuple(v) for v in drawn])
    return pad_image(drawn, extent), drawn, f"{len(drawn)} point(s) drawn."


def lab_pad_clear():
    lab2d, _ = _lab()
    return pad_image([], lab2d.LabConfig().extent), [], "0 points drawn: click the pad to add some."


def _my_lab(owner_v, request) -> Any:
    """This visitor's 2D lab runner, or None."""
    lab2d, _ = _lab()
    return lab2d.get_lab_manager().get(owner_of(owner_v, request))


def _lab_update(owner_v, request, **changes) -> None:
    r = _my_lab(owner_v, request)
    if r is None or not r.active:
        return
    try:
        r.update(**changes)
    except (ConfigError, ValueError, TypeError) as e:
        gr.Warning(f"Not applied: {e}")


def lab_values(cfg) -> list[Any]:
    out = []
    for f in LAB_WIDGETS.values():
        sec, _, name = f.rpartition(".")
        out.append(getattr(getattr(cfg, sec) if sec else cfg, name))
    return out


def lab_preset(preset: str):
    lab2d, _ = _lab()
    p = lab2d.LAB_PRESETS.get(preset)
    if p is None:
        return ["Custom: your settings, runs until stopped.", *[gr.skip()] * len(LAB_WIDGETS)]
    checks = ", ".join(f"{k.replace('_', ' ')} in [{lo:g}, {hi:g}]" for k, (lo, hi) in p.expect.items())
    note = f"**What it should show:** {p.shows}\n\n**Checked by:** {checks} after {p.steps} steps."
    return [note, *lab_values(p.config())]


def lab_config(preset: str, values, drawn: Optional[list] = None) -> Any:
    lab2d, _ = _lab()
    p = lab2d.LAB_PRESETS.get(preset)
    base = p.config() if p is not None else lab2d.LabConfig()
    changes = {f: _lab_coerce(f, v) for f, v in zip(LAB_WIDGETS.values(), values)}
    changes["drawn"] = tuple(tuple(v) for v in drawn or ())
    changes["train.steps"] = 100_000_000 if p is None else p.steps
    return base.replace(**changes)


def _lab_coerce(field: str, v: Any) -> Any:
    if field in ("train.n_critic", "train.batch_size"):
        return int(v)
    if field.startswith("train.lr"):
        return float(v)
    return v


def lab_start(owner_v, preset, drawn, *values, request: gr.Request = None):
    lab2d, _ = _lab()
    try:
        lab2d.get_lab_manager().start(owner_of(owner_v, request), lab_config(preset, values, drawn))
    except (ConfigError, lab2d.LabBusyError, ValueError, TypeError) as e:
        gr.Warning(f"Not started: {e}")
        return gr.Timer(active=False)
    return gr.Timer(active=True)


def lab_control(action: str):
    def fn(owner_v, request: gr.Request = None):
        r = _my_lab(owner_v, request)
        if r is None or not r.active:
            return
        if action == "pause":
            r.resume() if r.status == "paused" else r.pause()
        else:
            r.stop()
    return fn


def lab_live(widget: str):
    field = LAB_WIDGETS[widget]

    def fn(owner_v, value, drawn, request: gr.Request = None):
        lab2d, _ = _lab()
        if field == "shape" and value == lab2d.DRAWN:
            if not drawn:
                gr.Warning("Click a few points on the drawing pad first; the lab keeps the old shape until then.")
                return
            _lab_update(owner_v, request, shape=value, drawn=[tuple(v) for v in drawn])
            return
        try:
            value = _lab_coerce(field, value)
        except (ValueError, TypeError) as e:
            gr.Warning(f"Not applied: {e}")
            return
        _lab_update(owner_v, request, **{field: value})
    return fn


def lab_tick(owner_v, arrows: bool, request: gr.Request = None):
    lab2d, lab_figure = _lab()
    r = _my_lab(owner_v, request)
    fr = r.frame() if r is not None else None
    if fr is None:
        return ["Press **Start** to train. Pick a preset for a classic picture.", gr.skip(), gr.skip(), gr.skip(),
                gr.Timer(active=False)]
    cov = (f"{fr.coverage.modes_covered} / {fr.coverage.n_modes} modes · {fr.coverage.high_quality:.0%} high-quality"
           if fr.coverage is not None else "-")
    stats = _stat_cards([("Status", r.status), ("Step", str(fr.step)), ("Steps / s", f"{fr.steps_per_s:.0f}"),
                         ("Modes covered", cov), ("Mean |dL_G/dx|", f"{fr.grad_norm:.3g}")])
    if fr.error:
        stats += f"\n\n**Error:** {fr.error}"
    s = fr.settings
    stats += (f"\n\nNow: {LOSSES[s['loss']].title}, lr G {s['lr_g']:.1e}, lr D {s['lr_d']:.1e}, n_critic "
              f"{s['n_critic']}, batch {s['batch_size']}, {SHAPE_NAMES.get(s['shape'], s['shape'])}. "
              f"{lab2d.SCALE_NOTES[fr.scale]} {lab2d.teaching_note(s['loss'])}")
    plane = lab_figure(fr, show_arrows=bool(arrows), height=520)
    losses = charts.curves_figure(fr.history, ["d_loss", "g_loss"], "Losses", max_points=300) if fr.history else None
    outs = charts.curves_figure(fr.history, ["d_real", "d_fake"], "D outputs", max_points=300) if fr.history else None
    return [stats, plane, losses, outs, gr.Timer(active=r.active)]


# ---- the app ---------------------------------------------------------------------------------------------------
METRICS_EVERY = 0


# ---- Sketch (pix2pix) and Style (Gatys) ---------------------------------------------------------------------
SKETCH_PX = 256          # the drawing pad's size on screen


def translator_choices() -> tuple[list[tuple[str, str]], Optional[str]]:
    entries = studio.list_generators(translators=True)
    return [(e.label, studio.generator_key(e)) for e in entries], (studio.generator_key(entries[0]) if entries else None)


def _translator(name: str):
    if not name:
        raise gr.Error("no image-to-image (pix2pix) generator yet: the shipped faces_pix2pix.safetensors is missing; "
                       "train one with --arch pix2pix --dataset faces-edges")
    try:
        entry = studio.find_generator(name, studio.list_generators(translators=True))
        return studio.load_generator_cached(entry.path)[0]
    except (ValueError, CheckpointError, OSError) as e:
        raise gr.Error(str(e)) from None


SKETCH_COLOURS = ["#000000", "#ffffff",      # the pen (lines) and the eraser; any other colour is a colour dab
                  "#d81e28", "#ff8700", "#f8da55", "#23a537", "#00d7d7", "#1e46e1", "#7d2db9", "#ff73be",
                  "#73411a", "#ffe6d4"]


def sketch_start(name: str, seed: float, dabs: float = 0):
    """The pad starts from the edges of a procedural face (with ``dabs`` dabs of its true colours for a
    generator that takes colour hints); the output is drawn at once. Returns (pad, picture, what G sees,
    start), ``start`` the lines and dabs the pad started from (kept in a gr.State for ``sketch_draw``)."""
    from gan_core import translate
    from gan_core.data.hints import hint_overlay, hint_picture

    G = _translator(name)
    size = int(getattr(G, "image_size", 32))
    face, edges = translate.random_face_edges(int(seed or 0), size)
    scale = SKETCH_PX // size
    paper = translate.enlarge(edges, scale)       # dark lines on light paper, as G was trained
    start: dict[str, Any] = {"lines": paper, "hints": None}
    shown = paper
    if translate.takes_hints(G) and int(dabs or 0) > 0:   # the dabs travel apart from the lines (any colour)
        h = translate.face_hints(face, int(dabs), int(seed or 0))
        start["hints"] = np.repeat(np.repeat(hint_picture(h), scale, 0), scale, 1)
        shown = translate.enlarge(hint_overlay(edges, h), scale)
    pad = {"background": shown, "layers": [], "composite": shown}
    return (pad,) + sketch_draw(name, pad, seed, start) + (start,)


def sketch_draw(name: str, value: Optional[dict], seed: float, start: Optional[dict] = None):
    """What G draws from the pad as it is now: (picture, what G sees: edges with colour dabs), both enlarged.
    With ``start`` (from ``sketch_start``) the pad's stroke layers go over its lines and dabs, so a coloured
    stroke is a dab and leaves the lines beneath it; without, the pad's composite picture is read alone."""
    from gan_core import translate

    drawing = (value or {}).get("composite")
    if drawing is None:
        return None, None
    G = _translator(name)
    seed = int(seed or 0)
    if start and start.get("lines") is not None and np.asarray(start["lines"]).shape[:2] == drawing.shape[:2]:
        strokes = translate.merge_layers((value or {}).get("layers"))
        view = translate.sketch_view(G, start["lines"], seed=seed, scale=8, strokes=strokes, hints=start.get("hints"))
    else:
        rgb = translate.compose_drawing(None, drawing) if drawing.shape[-1] == 4 else drawing
        view = translate.sketch_view(G, rgb, seed=seed, scale=8)
    if view["note"]:
        gr.Info(view["note"])
    return view["picture_big"], view["seen_big"]


_VGG: dict[str, Any] = {}


def _vgg():
    """VGG19 once per process; the reason it cannot be had is remembered too (no retry per click)."""
    from gan_core import style as S

    if "net" not in _VGG and "error" not in _VGG:
        try:
            _VGG["net"] = S.load_vgg19()
        except S.WeightsUnavailable as e:
            _VGG["error"] = str(e)
    if "error" in _VGG:
        raise gr.Error(_VGG["error"], duration=None)
    return _VGG["net"]


def style_example():
    from gan_core import style as S

    return S.example_pair(size=128)


def style_run(content, style_img, steps, size, alpha, beta, optimizer):
    """Stream previews while the image is optimised, then the result."""
    from gan_core import style as S

    if content is None or style_img is None:
        raise gr.Error("give a content and a style picture (or press 'Use the example pair')")
    try:
        cfg = S.StyleConfig(steps=int(steps), image_size=int(size), alpha=float(alpha), beta=float(beta),
                            optimizer=optimizer, preview_every=max(1, int(steps) // 10)).validate()
        for ev in S.stylize(content, style_img, cfg, net=_vgg()):
            if isinstance(ev, S.StylePreview):
                yield ev.image, f"step {ev.step} / {cfg.steps}"
            elif isinstance(ev, S.StyleDone):
                yield ev.image, (f"done: {ev.steps} steps in {ev.seconds:.1f} s; loss {ev.first_loss:.3g} -> "
                                 f"{ev.loss:.3g}")
    except S.StyleError as e:
        raise gr.Error(str(e)) from None



def build_demo() -> gr.Blocks:
    global METRICS_EVERY
    METRICS_EVERY = studio.install_metrics(mgr)
    gen_choices, gen_default = generator_choices()
    init = studio.initial_form_values(studio.DEFAULT_PRESET)
    private = dict(api_visibility="private")
    with gr.Blocks(title=TITLE) as demo:
        owner = gr.BrowserState(None, storage_key="gan_studio_owner")
        admin = gr.State(False)
        gr.Markdown(f"# {TITLE}\nTrain and explore GANs: pick a loss and an architecture, start a short run, watch "
                    "the curves and samples live, change tags, interpolate and compare runs.")
        if studio.admin_token_configured():
            with gr.Accordion("Admin", open=False):
                with gr.Row():
                    admin_tok = gr.Textbox(label="Admin token", type="password", scale=3)
                    admin_btn = gr.Button("Sign in", scale=1)
                admin_msg = gr.Markdown()
                admin_btn.click(admin_sign_in, admin_tok, [admin, admin_msg], **private).then(
                    lambda: "", None, admin_tok, **private)

        # ---- Train ----
        with gr.Tab("Train", id="train"):
            with gr.Accordion("Run configuration", open=True):
                with gr.Row():
                    preset = gr.Dropdown([(p.title, k) for k, p in studio.PRESETS.items()], value=studio.DEFAULT_PRESET,
                                         label="Preset", scale=1, elem_id="preset",
                                         info="Fills sizes and the time budget; for tagged data also the "
                                              "recommended recipe (architecture, loss, optimiser).")
                    preset_note = gr.Markdown(studio.PRESETS[studio.DEFAULT_PRESET].description)
                comps: dict[str, Any] = {}
                with gr.Row(equal_height=False):
                    for g, title in studio.GROUPS.items():
                        with gr.Column(min_width=220):
                            gr.Markdown(f"**{title}**")
                            for s in SPECS:
                                if s.group == g and not s.advanced:
                                    comps[s.key] = field_component(s, init.get(s.key, s.default))
                                    if s.key == "model.arch":
                                        arch_note = gr.Markdown(ARCHITECTURES[init["model.arch"]].description)
                                    if s.key == "loss.name":
                                        loss_note = gr.Markdown()
                            if g == "train":
                                with gr.Accordion("Logging and samples", open=False):
                                    for s in SPECS:
                                        if s.advanced:
                                            comps[s.key] = field_component(s, init.get(s.key, s.default))
                with gr.Accordion("Hugging Face dataset: preview", open=True, visible=init["data.dataset"] == "hf",
                                  elem_id="hf-box") as hf_box:
                    hf_btn = gr.Button("Preview dataset", size="sm", elem_id="hf-preview")
                    hf_text = gr.Markdown(elem_id="hf-preview-text")
                    hf_gallery = gr.Gallery(columns=8, height=220, show_label=False, object_fit="contain",
                                            elem_id="hf-gallery")
                    hf_table = gr.Dataframe(visible=False, interactive=False, label="Columns")
                form_check = gr.Markdown(elem_id="form-check")
            fields = [comps[k] for k in KEYS]
            with gr.Row():
                start_btn = gr.Button("Start training", variant="primary", elem_id="start")
                pause_btn = gr.Button("Pause", elem_id="pause")
                resume_btn = gr.Button("Resume", elem_id="resume")
                stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
                leave_btn = gr.Button("Leave the line", elem_id="leave")
            start_msg = gr.Markdown(elem_id="start-msg", min_height=40)
            gr.Markdown(f"{mgr.max_concurrent} run(s) train at once on this machine (shared with the Streamlit app); "
                        "a later **Start** waits in line and shows its place. Only the browser that started a run "
                        f"(or the admin) can pause, steer or stop it; at most {mgr.max_per_visitor} per visitor.")
            queue_md = gr.Markdown()
            queue_tbl = gr.Dataframe(visible=False, interactive=False, label="Queue")
            run_title = gr.Markdown(elem_id="run-title")
            progress = gr.HTML(elem_id="progress")
            stats = gr.HTML(elem_id="stats")
            with gr.Group(visible=False) as steer_box:
                with gr.Row(equal_height=True):
                    lr_g = gr.Number(label="lr G (live)", minimum=1e-8, maximum=1.0, step=1e-5)
                    lr_d = gr.Number(label="lr D (live)", minimum=1e-8, maximum=1.0, step=1e-5)
                    n_crit = gr.Number(label="n_critic (live)", minimum=1, maximum=100, step=1, precision=0)
                    apply_btn = gr.Button("Apply to the running job")
            with gr.Row(visible=False, equal_height=True) as continue_box:
                more_steps = gr.Number(label="More steps", value=200, minimum=1, maximum=10_000_000, step=50,
                                       precision=0, elem_id="more-steps", scale=1)
                continue_btn = gr.Button("Continue this run from its last checkpoint", elem_id="continue", scale=3)
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    with gr.Row():
                        p_losses = gr.Plot(label="Losses", elem_id="plot-losses")
                        p_outputs = gr.Plot(label="D outputs", elem_id="plot-outputs")
                    curve_notes = gr.Markdown()
                with gr.Column(scale=2):
                    grid = gr.Image(label="Sample grid", format="png", interactive=False, elem_classes="pixelated",
                                    elem_id="train-grid", buttons=["download"])
            with gr.Accordion("More curves: gradient norms, learning rates, loss terms, quality metrics", open=False):
                with gr.Row():
                    p_grad = gr.Plot(label="Gradient norms")
                    p_lr = gr.Plot(label="Learning rates")
                    p_terms = gr.Plot(label="Loss terms")
                more_notes = gr.Markdown()
            shown = gr.State(None)
            timer = gr.Timer(POLL_S)

        # ---- Generate ----
        with gr.Tab("Generate", id="generate"):
            with gr.Row():
                g_ckpt = gr.Dropdown(gen_choices, value=gen_default, label="Generator checkpoint", scale=4,
                                     elem_id="gen-ckpt", info="Shipped/uploaded files from the checkpoints folder; "
                                                              "trained runs' last.pt from the runs folder.")
                g_refresh = gr.Button("Refresh list", scale=1)
            g_info = gr.Markdown()
            with gr.Row():
                g_seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1,
                                   info="Same seed, same z: the grid is reproducible.", elem_id="gen-seed")
                g_n = gr.Slider(1, 256, 64, step=1, label="Images")
                g_nrow = gr.Slider(1, 32, 8, step=1, label="Images per row")
            g_tags = tag_dropdowns("gen")
            g_btn = gr.Button("Generate", variant="primary", elem_id="gen-btn")
            g_img = gr.Image(label="Samples", format="png", interactive=False, elem_classes="pixelated", elem_id="gen-img")
            with gr.Row():
                g_cap = gr.Markdown(elem_id="gen-caption")
                g_dl = gr.DownloadButton("Download PNG", elem_id="gen-dl")
            with gr.Group(visible=False) as g_sweep_box:
                gr.Markdown("### Same z, change one tag\nEach row keeps one noise vector z; each column sets the "
                            "chosen tag to another class while the other tags stay as selected above.")
                with gr.Row():
                    g_group = gr.Dropdown(label="Tag to vary", choices=[], interactive=True)
                    g_rows = gr.Slider(1, 8, 4, step=1, label="Rows (different z)")
                    g_sweep_btn = gr.Button("Show the sweep")
                g_sweep = gr.Image(label="Tag sweep", format="png", interactive=False, elem_classes="pixelated")
                with gr.Row():
                    g_sweep_cap = gr.Markdown()
                    g_sweep_dl = gr.DownloadButton("Download sweep PNG")

        # ---- Interpolate ----
        with gr.Tab("Interpolate", id="interpolate"):
            i_ckpt = gr.Dropdown(gen_choices, value=gen_default, label="Generator checkpoint", elem_id="int-ckpt")
            i_info = gr.Markdown()
            gr.Markdown("### Walk between two points")
            with gr.Row():
                i_sa = gr.Number(0, label="Start seed", precision=0, minimum=0, maximum=2**31 - 1)
                i_sb = gr.Number(1, label="End seed", precision=0, minimum=0, maximum=2**31 - 1,
                                 info="The start seed again changes only the tags.")
                i_method = gr.Radio(["slerp", "lerp"], value="slerp", label="Path",
                                    info="slerp follows the sphere where Gaussian z's live; lerp is a straight line.")
                i_steps = gr.Slider(2, 64, 16, step=1, label="Frames", elem_id="int-steps")
            gr.Markdown("Start tags / end tags (tags are discrete: they switch half way along the path)")
            i_ta = tag_dropdowns("int-a")
            i_tb = tag_dropdowns("int-b")
            with gr.Row():
                i_fps = gr.Slider(1, 30, 10, step=1, label="GIF frames / s")
                i_boom = gr.Checkbox(True, label="Back and forth")
                i_btn = gr.Button("Interpolate", variant="primary", elem_id="int-btn")
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    i_strip = gr.Image(label="Frames", format="png", interactive=False, elem_classes="pixelated")
                    i_cap = gr.Markdown()
                    i_strip_dl = gr.DownloadButton("Download frames (PNG)")
                with gr.Column(scale=1):
                    i_gif = gr.Image(label="Animated GIF", type="filepath", interactive=False, elem_id="int-gif")
                    i_gif_dl = gr.DownloadButton("Download GIF")
            gr.Markdown("### Latent arithmetic: z1 - z2 + z3\nVector arithmetic on noise vectors (Radford et al. "
                        "2015): z1 - z2 + z3 tends to carry z1's difference from z2 onto z3.")
            with gr.Row():
                a_s1 = gr.Number(10, label="z1 seed", precision=0, minimum=0)
                a_s2 = gr.Number(11, label="z2 seed", precision=0, minimum=0)
                a_s3 = gr.Number(12, label="z3 seed", precision=0, minimum=0)
                a_btn = gr.Button("Compute")
            a_tags = tag_dropdowns("arith")
            a_gallery = gr.Gallery(label="z1, z2, z3, z1 - z2 + z3", columns=4, height="auto", object_fit="contain")

        # ---- Compare ----
        with gr.Tab("Compare", id="compare"):
            with gr.Row():
                c_runs = gr.Dropdown([], multiselect=True, label="Runs", scale=4, info="Newest first; pick two or more.")
                c_refresh = gr.Button("Refresh runs", scale=1)
            with gr.Row():
                c_curves = gr.Dropdown([], multiselect=True, label="Curves", scale=3)
                c_smooth = gr.Slider(0.0, 0.99, 0.6, step=0.01, label="Smoothing", info="Exponential moving average.")
                c_log = gr.Checkbox(False, label="Log y axis")
            c_msg = gr.Markdown()
            with gr.Row():
                c_plots = [gr.Plot(visible=False) for _ in range(N_COMPARE_PLOTS)]
            c_gallery = gr.Gallery(label="Final sample grids", columns=4, height=420, object_fit="contain")
            gr.Markdown("### Summary")
            c_summary = gr.Dataframe(interactive=False, visible=False, elem_id="compare-summary")
            gr.Markdown("### Quality (newest evaluation of each run) · config differences · changed while training")
            c_quality = gr.Dataframe(interactive=False, visible=False, label="Quality")
            c_diff = gr.Dataframe(interactive=False, visible=False, label="Config differences")
            c_changes = gr.Dataframe(interactive=False, visible=False, label="lr / n_critic changed while training")

        # ---- Checkpoints ----
        with gr.Tab("Checkpoints", id="checkpoints"):
            gr.Markdown(f"Folder: `{studio.checkpoints_dir()}` (set `{studio.CHECKPOINTS_ENV}` to use another). "
                        "Full training checkpoints (`.pt`) and generator exports (`.safetensors`) both work on "
                        "Generate and Interpolate.")
            k_table = gr.Dataframe(interactive=False, visible=False, label="Checkpoints", elem_id="ck-table")
            with gr.Row():
                k_pick = gr.Dropdown([], label="Checkpoint", scale=2)
                k_dl = gr.DownloadButton("Download", visible=False, scale=1)
            with gr.Row():
                k_sure = gr.Checkbox(False, label="I am sure (deleting cannot be undone)")
                k_del = gr.Button("Delete", variant="stop", interactive=False, elem_id="ck-delete")
            k_why = gr.Markdown(elem_id="ck-why")
            k_msg = gr.Markdown()
            limit_mb = sharing.max_upload_bytes() >> 20
            gr.Markdown(f"### Upload\nA GAN Studio checkpoint (`.pt` or `.safetensors`, at most {limit_mb} MB). "
                        "Uploads are checked before they are saved: `.pt` files are loaded with `weights_only` (a file "
                        "with pickled code is refused and never written) and the generator must rebuild from the file's "
                        "own config. Shipped files are read-only; an upload can be deleted by its uploader or the admin.")
            k_up = gr.File(label="Upload a checkpoint", file_types=[".pt", ".safetensors"], type="filepath")
            k_up_msg = gr.Markdown()
            gr.Markdown("### Export a trained run\nWrites the run's generator (EMA weights when present) as a small "
                        "`.safetensors` file in the checkpoints folder.")
            with gr.Row():
                k_run = gr.Dropdown([], label="Run")
                k_name = gr.Textbox(label="Save as")
                k_export = gr.Button("Export generator")
            k_export_msg = gr.Markdown()

        # ---- 2D lab ----
        lab = _lab()
        with gr.Tab("Sketch", id="sketch"):
            t_choices, t_default = translator_choices()
            gr.Markdown("Draw edges and see the face a pix2pix generator (U-Net G, PatchGAN D) makes of them. "
                        "Start from the edges of a random face, then draw dark lines (black pen) or erase (white). "
                        "A generator trained with colour hints also takes dabs of colour: strokes in any other "
                        "colour of the brush tell it the colours there (hair, skin, eyes, background), which edges "
                        "cannot show (as in Scribbler, Sangkloy et al. 2017).")
            with gr.Row():
                k_ckpt = gr.Dropdown(t_choices, value=t_default, label="Image-to-image generator", scale=3)
                k_seed = gr.Number(0, label="Face seed (and G's dropout noise)", precision=0, minimum=0, scale=1)
                k_dabs = gr.Slider(0, 16, 0, step=1, label="Dabs of the face's true colours (hint generators)", scale=1,
                                   elem_id="sketch-dabs")
                k_new = gr.Button("Edges of a random face", scale=1, elem_id="sketch-new")
            k_start = gr.State(None)
            with gr.Row():
                k_pad = gr.Sketchpad(label="Your edges and colour dabs", type="numpy", image_mode="RGBA",
                                     canvas_size=(SKETCH_PX, SKETCH_PX),
                                     brush=gr.Brush(colors=SKETCH_COLOURS, default_color="#000000", default_size=3),
                                     elem_id="sketch-pad")
                k_out = gr.Image(label="The generator's picture", format="png", interactive=False,
                                 elem_classes="pixelated", elem_id="sketch-out")
                k_edges = gr.Image(label="What G sees: edges and colour dabs", format="png", interactive=False,
                                   elem_classes="pixelated")
            k_new.click(sketch_start, [k_ckpt, k_seed, k_dabs], [k_pad, k_out, k_edges, k_start], **private)
            k_pad.change(sketch_draw, [k_ckpt, k_pad, k_seed, k_start], [k_out, k_edges], show_progress="hidden",
                         trigger_mode="always_last", **private)
            if t_default is not None:   # without a generator the tab says so; no error at every page load
                demo.load(sketch_start, [k_ckpt, k_seed, k_dabs], [k_pad, k_out, k_edges, k_start], **private)
            else:
                gr.Markdown("**No image-to-image generator here yet:** the shipped `faces_pix2pix.safetensors` is "
                            "missing from the checkpoints folder. Train one (`python -m gan_core train --dataset "
                            "faces-edges --arch pix2pix`) and export it, or upload one on **Checkpoints**.",
                            elem_id="sketch-missing")

        with gr.Tab("Style", id="style"):
            gr.Markdown("Neural style transfer (Gatys et al. 2016): an image is optimised so that VGG19's features match "
                        "the content picture and their Gram matrices match the style picture. VGG19's weights come "
                        "from `GAN_STUDIO_VGG19` or torchvision's download; without either, the tab says so.")
            with gr.Row():
                y_content = gr.Image(label="Content", type="numpy", image_mode="RGB")
                y_style = gr.Image(label="Style", type="numpy", image_mode="RGB")
                y_out = gr.Image(label="Result", format="png", interactive=False)
            with gr.Row():
                y_example = gr.Button("Use the example pair")
                y_steps = gr.Slider(10, 500, 100, step=10, label="Steps")
                y_size = gr.Slider(64, 512, 192, step=32, label="Size (px)")
                y_alpha = gr.Number(1.0, label="Content weight (alpha)")
                y_beta = gr.Number(1000.0, label="Style weight (beta)")
                y_opt = gr.Dropdown(["lbfgs", "adam"], value="lbfgs", label="Optimiser")
            y_run = gr.Button("Stylise", variant="primary")
            y_msg = gr.Markdown()
            y_example.click(style_example, None, [y_content, y_style], **private)
            y_run.click(style_run, [y_content, y_style, y_steps, y_size, y_alpha, y_beta, y_opt], [y_out, y_msg],
                        concurrency_limit=1, **private)

        with gr.Tab("2D lab", id="lab2d"):
            if lab is None:
                gr.Markdown("The 2D lab's core is not available in this build: use the Streamlit app's **2D lab** page.")
            else:
                lab2d, _ = lab
                first = lab2d.LAB_PRESETS["ns-collapse"]
                gr.Markdown("A tiny MLP GAN on points in the plane. The background is D's output over the plane, "
                            "black dots are real data, orange dots G's samples, green arrows where G's loss pushes "
                            "each sample (-dL_G/dx). The settings apply to the running lab at once. For your own "
                            "data, choose **Your points** and click the drawing pad.")
                with gr.Row():
                    l_preset = gr.Dropdown([(p.title, k) for k, p in lab2d.LAB_PRESETS.items()]
                                           + [("Custom (runs until stopped)", CUSTOM)], value=first.name, label="Preset")
                    l_note = gr.Markdown(lab_preset(first.name)[0])
                cfg0 = first.config()
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=240):
                        l_w = {
                            "shape": gr.Dropdown([(SHAPE_NAMES.get(s, s), s) for s in lab2d.LAB_SHAPES],
                                                 value=cfg0.shape, label="Data shape", elem_id="lab-shape"),
                            "loss": gr.Dropdown([(spec.title, k) for k, spec in LOSSES.items()], value=cfg0.loss.name,
                                                label="Loss"),
                            "lr_g": gr.Number(cfg0.train.lr_g, label="lr G", minimum=1e-8, maximum=1.0, step=1e-4),
                            "lr_d": gr.Number(cfg0.train.lr_d, label="lr D", minimum=1e-8, maximum=1.0, step=1e-4),
                            "n_critic": gr.Number(cfg0.train.n_critic, label="n_critic", minimum=1, maximum=100,
                                                  precision=0),
                            "batch": gr.Number(cfg0.train.batch_size, label="Batch size", minimum=1, maximum=65536,
                                               precision=0),
                            "optimizer": gr.Dropdown(list(studio.field_spec("train.optimizer").choices),
                                                     value=cfg0.train.optimizer, label="Optimiser"),
                        }
                        l_arrows = gr.Checkbox(True, label="Gradient arrows")
                        with gr.Accordion("Drawing pad: click to add points (each becomes a small Gaussian)",
                                          open=False):
                            l_pad = gr.Image(pad_image([], cfg0.extent), interactive=False, show_label=False,
                                             elem_id="lab-pad", buttons=[], height=PAD_PX, width=PAD_PX)
                            with gr.Row():
                                l_pad_note = gr.Markdown("0 points drawn: click the pad to add some.",
                                                         elem_id="lab-pad-note")
                                l_clear = gr.Button("Clear points", size="sm")
                            l_drawn = gr.State([])
                        with gr.Row():
                            l_start = gr.Button("Start / restart", variant="primary", elem_id="lab-start")
                            l_pause = gr.Button("Pause / resume")
                            l_stop = gr.Button("Stop", elem_id="lab-stop")
                    with gr.Column(scale=3):
                        l_stats = gr.Markdown("Press **Start** to train. Pick a preset for a classic picture.", elem_id="lab-stats")
                        with gr.Row(equal_height=False):
                            l_plane = gr.Plot(label="The plane", scale=3)
                            with gr.Column(scale=2):
                                l_losses = gr.Plot(label="Losses", elem_id="lab-losses")
                                l_outs = gr.Plot(label="D outputs")
                l_timer = gr.Timer(LAB_POLL_S, active=False)

        # ---- hidden API endpoints with files (listed on the API page) ----
        with gr.Column(visible=False):
            api_ckpt = gr.Textbox(gen_default or "faces.safetensors", label="checkpoint")
            api_tags = gr.Textbox("", label="tags")
            api_seed = gr.Number(0, label="seed", precision=0)
            api_n = gr.Number(16, label="n", precision=0, minimum=1, maximum=API_MAX_N)
            api_png = gr.File(label="PNG grid")
            api_sa = gr.Number(0, label="seed_a", precision=0)
            api_sb = gr.Number(1, label="seed_b", precision=0)
            api_frames = gr.Number(16, label="frames", precision=0)
            api_method = gr.Textbox("slerp", label="method")
            api_ta = gr.Textbox("", label="tags_a")
            api_tb = gr.Textbox("", label="tags_b")
            api_fps = gr.Number(10, label="fps")
            api_gif = gr.File(label="GIF")
            api_btn1 = gr.Button("generate")
            api_btn2 = gr.Button("interpolate")
        api_btn1.click(api_generate, [api_ckpt, api_tags, api_seed, api_n], api_png, api_name="generate",
                       concurrency_id="pictures", concurrency_limit=2)
        api_btn2.click(api_interpolate, [api_ckpt, api_sa, api_sb, api_frames, api_method, api_ta, api_tb, api_fps],
                       api_gif, api_name="interpolate", concurrency_id="pictures", concurrency_limit=2)
        gr.api(api_train, api_name="train", concurrency_id="training", concurrency_limit=mgr.max_concurrent)
        gr.api(api_train_status, api_name="train_status", concurrency_limit=None, queue=False)
        gr.api(api_train_stop, api_name="train_stop", concurrency_limit=None)

        # ---- events: Train ----
        demo.load(init_owner, owner, owner, **private)
        view_outputs = [*fields, arch_note, loss_note, form_check]
        demo.load(form_view, fields, view_outputs, **private)
        preset.input(apply_preset, [preset, *fields], [preset_note, *fields], **private).then(
            form_view, fields, view_outputs, **private)
        comps["loss.name"].input(apply_loss, comps["loss.name"], fields, **private).then(
            form_view, fields, view_outputs, **private)
        for k in ("data.dataset", "model.arch", "train.optimizer"):
            comps[k].input(form_view, fields, view_outputs, **private)
        comps["data.dataset"].change(lambda d: gr.update(visible=d == "hf"), comps["data.dataset"], hf_box,
                                     queue=False, **private)
        hf_btn.click(hf_preview, fields, [hf_text, hf_gallery, hf_table], concurrency_id="pictures",
                     concurrency_limit=2, **private)
        gr.on([comps[k].input for k in KEYS if k not in ("data.dataset", "model.arch", "loss.name", "train.optimizer")],
              check_text, fields, form_check, concurrency_limit=None, show_progress="hidden", **private)
        start_btn.click(lambda: "In line for a training slot: your place shows at the right (queue: place / waiting). "
                        "The run starts by itself when a slot is free; **Leave the line** to give up.", None, start_msg,
                        queue=False, **private)
        start_ev = start_btn.click(start_run, [owner, *fields], start_msg, concurrency_id="training",
                                   concurrency_limit=mgr.max_concurrent, show_progress="full", **private)
        leave_btn.click(lambda: "You left the line (a run that had started keeps training: use Stop).", None,
                        start_msg, cancels=[start_ev], **private)
        pause_btn.click(control("pause"), [owner, admin], None, **private)
        resume_btn.click(control("resume_training"), [owner, admin], None, **private)
        stop_btn.click(control("stop"), [owner, admin], None, **private)
        apply_btn.click(steer, [owner, admin, lr_g, lr_d, n_crit], None, **private)
        continue_btn.click(continue_run, [owner, more_steps], start_msg, concurrency_id="training",
                           concurrency_limit=mgr.max_concurrent, show_progress="full", **private)
        live_outputs = [shown, run_title, progress, stats, p_losses, p_outputs, p_grad, p_lr, p_terms, grid,
                        curve_notes, more_notes, steer_box, lr_g, lr_d, n_crit, queue_md, queue_tbl, continue_box]
        timer.tick(live_panel, [owner, admin, shown], live_outputs, concurrency_limit=None, show_progress="hidden",
                   **private)

        # ---- events: Generate ----
        g_info_out = [g_info, *g_tags, g_group, g_sweep_box]
        g_inputs = [g_ckpt, g_seed, g_n, g_nrow, *g_tags]
        g_outputs = [g_img, g_cap, g_dl]
        g_ckpt.input(on_generator, g_ckpt, g_info_out, **private).then(generate, g_inputs, g_outputs, **private)
        demo.load(on_generator, g_ckpt, g_info_out, **private).then(generate, g_inputs, g_outputs, **private)
        g_btn.click(generate, g_inputs, g_outputs, concurrency_id="pictures", concurrency_limit=2, **private)
        g_refresh.click(lambda: gr.update(choices=generator_choices()[0]), None, g_ckpt, **private)
        g_sweep_btn.click(sweep, [g_ckpt, g_seed, g_group, g_rows, *g_tags], [g_sweep, g_sweep_cap, g_sweep_dl],
                          concurrency_id="pictures", concurrency_limit=2, **private)

        # ---- events: Interpolate ----
        i_info_out = [i_info, *i_ta, *i_tb, *a_tags]
        i_ckpt.input(on_generator_interp, i_ckpt, i_info_out, **private)
        demo.load(on_generator_interp, i_ckpt, i_info_out, **private)
        i_btn.click(interpolate, [i_ckpt, i_sa, i_sb, i_method, i_steps, i_fps, i_boom, *i_ta, *i_tb],
                    [i_strip, i_cap, i_strip_dl, i_gif, i_gif_dl], concurrency_id="pictures", concurrency_limit=2,
                    **private)
        a_btn.click(arithmetic, [i_ckpt, a_s1, a_s2, a_s3, *a_tags], a_gallery, concurrency_id="pictures",
                    concurrency_limit=2, **private)

        # ---- events: Compare ----
        c_out = [c_msg, *c_plots, c_gallery, c_summary, c_quality, c_diff, c_changes]
        c_in = [c_runs, c_curves, c_smooth, c_log]
        for trig in (c_refresh.click, demo.load):
            trig(compare_choices, None, c_runs, **private).then(compare_curves, c_runs, c_curves, **private).then(
                compare, c_in, c_out, **private)
        c_runs.input(compare_curves, c_runs, c_curves, **private).then(compare, c_in, c_out, **private)
        gr.on([c_curves.input, c_smooth.release, c_log.input], compare, c_in, c_out, **private)

        # ---- events: Checkpoints ----
        k_view_out = [k_table, k_pick, k_run]
        k_pick_out = [k_dl, k_why, k_del]
        for trig in (demo.load,):
            trig(checkpoints_view, owner, k_view_out, **private).then(checkpoint_pick, [k_pick, owner, admin],
                                                                        k_pick_out, **private)
        k_pick.change(checkpoint_pick, [k_pick, owner, admin], k_pick_out, **private)
        k_del.click(checkpoint_delete, [k_pick, k_sure, owner, admin], k_msg, **private).then(
            checkpoints_view, owner, k_view_out, **private).then(lambda: False, None, k_sure, **private)
        k_up.upload(checkpoint_upload, [k_up, owner], k_up_msg, **private).then(
            checkpoints_view, owner, k_view_out, **private)
        k_run.change(lambda r: r or "", k_run, k_name, **private)
        k_export.click(checkpoint_export, [k_run, k_name, owner], k_export_msg, **private).then(
            checkpoints_view, owner, k_view_out, **private)

        # ---- events: 2D lab ----
        if lab is not None:
            l_vals = list(l_w.values())
            l_preset.input(lab_preset, l_preset, [l_note, *l_vals], **private)
            l_start.click(lab_start, [owner, l_preset, l_drawn, *l_vals], l_timer, **private)
            l_pad.select(lab_pad_click, [owner, l_w["shape"], l_drawn], [l_pad, l_drawn, l_pad_note], **private)
            l_clear.click(lab_pad_clear, None, [l_pad, l_drawn, l_pad_note], **private)
            l_pause.click(lab_control("pause"), owner, None, **private)
            l_stop.click(lab_control("stop"), owner, None, **private)
            for w, comp in l_w.items():
                comp.input(lab_live(w), [owner, comp, l_drawn], None, **private)
            l_timer.tick(lab_tick, [owner, l_arrows], [l_stats, l_plane, l_losses, l_outs, l_timer],
                         concurrency_limit=None, show_progress="hidden", **private)
    return demo


def main() -> None:
    demo = build_demo()
    folders = [str(Path(p).resolve()) for p in (studio.checkpoints_dir(),)]
    demo.queue(default_concurrency_limit=1, max_size=int(os.environ.get("GAN_STUDIO_GRADIO_MAX_QUEUE", "100")))
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
                server_port=int(os.environ.get(PORT_ENV, "7860")), allowed_paths=folders,
                max_file_size=sharing.max_upload_bytes(), css=CSS, show_error=True, favicon_path=
                str(Path(__file__).resolve().parent / "apps" / "favicon.png"))


if __name__ == "__main__":
    main()

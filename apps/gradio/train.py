"""The Train tab: the form generated from the config metadata, Start (in Gradio's queue and the machine's
training slots), owner-only pause/steer/stop, Continue, and the live panel; ``run_training`` is shared with /train."""
from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import gradio as gr

from gan_core import studio
from gan_core.config import ConfigError, RunConfig, all_fields
from gan_core.jobs.job import ACTIVE
from gan_core.jobs.manager import JobBusyError, NotOwnerError
from gan_core.losses import LOSSES
from gan_core.models import ARCHITECTURES
from gan_core.studio import board
from . import common as C
from .common import Ctx, POLL_S, _controls, _head, _stat_cards, _table, owner_of


SPECS = [studio.field_spec(k) for k, _ in all_fields() if k not in studio.SERVER_ONLY]
KEYS = [s.key for s in SPECS]
SPEC = dict(zip(KEYS, SPECS))
TARGET_FIELDS = ("loss.real_label", "loss.fake_label", "loss.label_noise")


# ---- training: shared by the Train tab and /train -------------------------------------------------------
def _slots_text() -> str:
    """Who holds the machine's training slots, when another server's runs hold them all."""
    held = C.mgr.slots.holders()
    if C.mgr.slots.free() > 0 or not held:
        return ""
    who = "; ".join(h.get("label") or f"process {h.get('pid')}" for h in held)
    return f" Training slots on this machine: {len(held)} of {C.mgr.slots.n} taken ({who})."


def run_training(cfg, me: str, start: Optional[Callable[[], Any]] = None) -> Iterator[tuple[Optional[Any], str]]:
    """Start a run of ``cfg`` for ``me`` (or call ``start``; the job manager queues it until a machine-wide
    slot is free) and follow it to its end, yielding (job or None, message) about once a second."""
    try:
        job = start() if start is not None else C.mgr.start(cfg, me)
    except (JobBusyError, ConfigError, ValueError) as e:
        yield None, f"Not started: {e}"
        return
    while True:
        snap = job.snapshot()
        if snap.queued:
            yield job, studio.queued_text(C.mgr.queue_position(job), C.mgr.expected_wait(job)) + _slots_text()
        else:
            yield job, studio.run_status_text(snap, mine=True)
            if not snap.active:
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


def leave_line(owner_v, request: gr.Request = None) -> str:
    """Take this visitor's waiting runs out of the job manager's line (a started run keeps training)."""
    me = owner_of(owner_v, request)
    mine = [q for q in C.mgr.queued_jobs() if q.owner == me]
    for q in mine:
        q.cancel(me)
    return (f"You left the line ({len(mine)} waiting run(s) cancelled)." if mine else "You have no run waiting.") + \
        " A run that has started keeps training: use Stop."


def _changes(follow: Iterator[tuple[Optional[Any], str]]) -> Iterator[Any]:
    """The messages of ``run_training``, each once (a repeat leaves the box as it is)."""
    last = None
    for _job, msg in follow:
        if msg != last:
            yield msg
            last = msg
        else:
            yield gr.skip()


def continue_run(owner_v, more: float, chosen: Optional[int] = None, request: gr.Request = None):
    """More steps of the visitor's finished run, from its last checkpoint, in the same run folder."""
    job, me = _job_for(owner_v, request, chosen)
    snap = job.snapshot() if job is not None else None
    if snap is None or not studio.can_continue(snap, job.can_control(me)):
        yield "**Not started:** there is no finished run of yours with a checkpoint to continue."
        return
    yield from _changes(run_training(None, me, start=lambda: studio.continue_run(C.mgr, snap, me, int(more or 0))))




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
    return [*ups, studio.field_note("model.arch", dataset, arch, loss),
            studio.field_note("loss.name", dataset, arch, loss), check_text(*values)]


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


def preset_note(preset: str, dataset: str = "faces") -> str:
    """The preset's description and what it gives on this machine (steps expected vs needed)."""
    plan = studio.preset_plan(preset, dataset or "faces", busy_with=len(C.mgr.active_jobs()))
    return f"{studio.PRESETS[preset].description}\n\n{studio.plan_markdown(plan)}"


def apply_preset(preset: str, *values):
    flat = dict(zip(KEYS, values))
    new = studio.flatten(studio.preset_sections(preset, flat["data.dataset"]))
    return [preset_note(preset, flat["data.dataset"]), *[gr.update(value=new[k]) if k in new else gr.skip() for k in KEYS]]


def apply_loss(loss: str):
    opt = {f"train.{k}": v for k, v in studio.optimizer_settings(loss).items()}
    return [gr.update(value=opt[k]) if k in opt else gr.skip() for k in KEYS]


def restore_form(owner_v, request: gr.Request = None) -> list[Any]:
    """Page load: the form shows the settings of the run the page reattaches to (as Streamlit's does), not
    the defaults (#23 item 9)."""
    flat = studio.reattached_form(C.mgr, owner_of(owner_v, request))
    if flat is None:
        return [gr.skip()] * len(KEYS)
    return [gr.update(value=flat[k]) if k in flat else gr.skip() for k in KEYS]


def _job_for(owner_v, request, chosen: Optional[int] = None) -> tuple[Optional[Any], str]:
    """The run this visitor's tab shows (studio.shown_run: the one they chose, else their own newest) and
    their owner secret."""
    me = owner_of(owner_v, request)
    return studio.shown_run(C.mgr, me, chosen), me


def control(action: str):
    def fn(owner_v, admin: bool, chosen: Optional[int] = None, request: gr.Request = None):
        job, me = _job_for(owner_v, request, chosen)
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


def steer(owner_v, admin: bool, lr_g, lr_d, n_critic, chosen: Optional[int] = None, request: gr.Request = None):
    job, me = _job_for(owner_v, request, chosen)
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


def watch_update(me: str, job: Optional[Any], shown: Optional[dict], chosen: Optional[int]) -> tuple[Any, Any, Any]:
    """The "Watch a run" list (resent only when a run came, went or changed status) and "Back to my run"."""
    rows = studio.run_list(C.mgr, me, job, board.namer(board.BoardStore(C.mgr.runs_dir)))
    sig = [[r["job"], r["label"].split(" · ")[-1].split(",")[0]] for r in rows] + [[job.id if job else None]]
    back = gr.update(visible=chosen is not None and studio.own_run(C.mgr, me) is not None)
    if shown and shown.get("watch") == sig:
        return sig, gr.skip(), back
    return sig, gr.update(choices=[(r["label"], r["job"]) for r in rows], value=job.id if job else None,
                          visible=len(rows) > 1), back


def watch(value: Optional[int]) -> Optional[int]:
    """A run picked in "Watch a run": shown until the visitor picks another, goes back, or starts a run."""
    return None if value is None else int(value)


def _slow(sig: list, back: dict, queue: list, snap: Any, mine: bool, cont: bool, chosen: Optional[int]) -> dict:
    """The slow key: what the slow outputs (steering, queue, buttons, continue, run list, resent when it changes) show."""
    return {"watch": sig, "back": back["visible"], "queue": [r["job"] for r in queue], "status": snap and snap.status,
            "steer": bool(snap and studio.can_steer(snap, mine)), "mine": mine, "cont": cont, "chosen": chosen}


def form_open(owner_v, request: gr.Request = None):
    """A visitor who only watches a run gets a light page: the form starts collapsed (open when no run exists)."""
    job, _ = _job_for(owner_v, request)
    return gr.update(open=job is None)


N_LIVE_OUTPUTS = 24   # the Train tab's live outputs (build: live_outputs)
# A tick's outputs cost Gradio per session, a gr.skip() or gr.update() most (~1 ms: the component is made anew):
# what changes often (run head, main curves, grid) has the tick, the rest (steering, queue, buttons, run list) only
# when the slow key changed, the folded "More curves" a slower tick while it is open.
FAST = (0, 1, 2, 3, 7, 8, 9)   # shown, run head, losses, D outputs, grid, its caption, curve notes
MORE = (0, 4, 5, 6, 10)   # gradient norms, learning rates, loss terms, their notes
TEXT = (0, 1, 8, 9, 10)   # shown, run head, grid caption, notes: plain text, resent as it is when nothing changed
SLOW = tuple(i for i in range(N_LIVE_OUTPUTS) if i not in FAST[1:] + MORE[1:])   # its own shown state first
SLOW_POLL_S = 2 * POLL_S


def _part(idx: tuple[int, ...], slow: bool = False) -> Callable:
    def tick(owner_v, admin: bool, shown: Optional[dict], chosen: Optional[int] = None, request: gr.Request = None):
        out, key = panel_and_slow_key(owner_v, admin, shown, chosen, request)   # one pass for both
        return [out[i] for i in idx] + ([json.dumps(key, sort_keys=True, default=str)] if slow else [])
    return tick


def live_panel(owner_v, admin: bool, shown: Optional[dict], chosen: Optional[int] = None, request: gr.Request = None):
    """One poll of the Train tab: the visitor's own newest run or one they chose; only what changed is resent."""
    return panel_and_slow_key(owner_v, admin, shown, chosen, request)[0]


def panel_and_slow_key(owner_v, admin: bool, shown: Optional[dict], chosen: Optional[int] = None,
                       request: gr.Request = None) -> tuple[list, dict]:
    """live_panel's outputs and the slow key (_slow), from one look at the run, the run list and the queue."""
    job, me = _job_for(owner_v, request, chosen)
    sig, watch_up, back_up = watch_update(me, job, shown, chosen)
    queue = studio.queue_rows(C.mgr, me)
    label = studio.queue_header(len(queue), C.mgr.max_concurrent).replace("**", "")   # a label is plain text
    queue_up = gr.update(**_table(queue), label=label) if queue else gr.update(value=None, visible=False)
    if job is None:   # no run to show: empty plots and grid; only the text while the page is as at the last tick
        msg, slow = studio.no_run_message(), _slow(sig, back_up, queue, None, False, False, chosen)
        out = [{**slow, "none": msg}, _head(msg, "", ""), *[None] * 6, "", "", "", gr.update(visible=False),
               *[gr.skip()] * 3, queue_up, *_controls(None, False), gr.skip(), gr.update(visible=False), watch_up, back_up]
        return ([v if i in TEXT else gr.skip() for i, v in enumerate(out)] if shown == out[0] else out), slow
    view = studio.view_cache().view(job)   # made once per new state, shared by every viewer (issue 22)
    snap = view.snap
    mine = job.can_control(me, bool(admin))
    key = {"job": snap.id, "n": view.curves.key[0], "sample": snap.sample_step, "status": snap.status,
           "steer": studio.can_steer(snap, mine), "watch": sig, "chosen": chosen,   # no steering while it loads
           "version": repr(view.version), "queue": [r["job"] for r in queue]}
    cont = studio.can_continue(snap, job.owner == me)
    slow = _slow(sig, back_up, queue, snap, mine, cont, chosen)
    new_job = not shown or shown.get("job") != snap.id
    changed = new_job or shown.get("n") != key["n"] or shown.get("status") != key["status"]
    who = studio.owner_label(job.owner == me, bool(admin))
    title = f"Run {Path(snap.run_dir).name} · {snap.status} · {who}"
    pct = min(max(snap.progress, 0.0), 1.0)
    prog = (f'<progress value="{pct:.4f}" max="1" style="width:100%;height:14px"></progress>'
            f'<div id="progress-text">{studio.progress_text(snap)}</div>')
    stats = _stat_cards([("Status", snap.status),
                         ("Step", f"{snap.step} / {snap.total_steps}" if snap.total_steps else str(snap.step)),
                         ("Images / s", f"{snap.img_per_s:.0f}"),
                         ("ETA", studio.format_duration(snap.eta) if snap.active else "-")])
    if snap.error:
        stats += f"<p><b>Error:</b> {snap.error}</p>"
    note = studio.end_note(snap, job.owner == me)   # "Stopped by the teacher at step 120."
    if note:
        stats += f'<p id="end-note"><b>{note}</b></p>'
    pending = studio.pending_text(snap)   # ended; the final quality figures are being computed
    if pending:
        stats += f'<p id="pending-note">{pending}</p>'
    if view.shortfall:   # a time-budget run that got too few steps says so
        stats += f'<p id="shortfall"><b>{view.shortfall}</b></p>'
    if job.owner != me and snap.active and not admin:
        stats += f"<p>{html.escape(studio.VIEW_ONLY)}</p>"
    groups = {g["title"]: g for g in view.groups}   # the live chart groups, made once per new history row
    if changed and snap.history:   # one plot per chart group, in the order of CHART_GROUPS (None: no such curves)
        plots = [C.plot_data(view, groups[g.title]) if g.title in groups else None for g in studio.CHART_GROUPS]
    else:
        plots = [None if changed else gr.skip()] * 5
    if view.grid_view is not None and (new_job or shown.get("sample") != snap.sample_step):
        grid = C.grid_file(view)   # one PNG file per new sample, shared
    else:
        grid = None if snap.sample is None and new_job else gr.skip()
    caption = view.grid_caption or studio.WAITING_FIRST_SAMPLE   # its own Markdown: no gr.update(label=...)
    notes = ("\n\n".join(g["help"] for g in groups.values() if g["main"]) if snap.history
             else studio.WAITING_FIRST_STEP)
    more = "\n\n".join([*(g["help"] for g in groups.values() if not g["main"]),
                         studio.metrics_markdown(snap.extras, C.METRICS_EVERY)])
    if key["steer"] and (new_job or not shown.get("steer")):
        s = studio.live_settings(snap)
        steer_vals = [s["lr_g"], s["lr_d"], s["n_critic"]]
    else:
        steer_vals = [gr.skip()] * 3
    # while a run trains the form folds away, so the curves and the grid sit near the top (once per change)
    fold = gr.update(open=False) if snap.active and (new_job or shown.get("status") not in ACTIVE) else gr.skip()
    out = [key, _head(title, prog, stats), *plots, grid, caption, notes, more, gr.update(visible=key["steer"]),
           *steer_vals, queue_up, *_controls(snap, mine), fold, gr.update(visible=cont), watch_up, back_up]
    # nothing changed: the text as it is (a plain string costs Gradio ~0.1 ms a session, a gr.skip() ~1 ms: it
    # remakes the component and its API schema), nothing else
    return ([v if i in TEXT else gr.skip() for i, v in enumerate(out)] if shown == key else out), slow


def build(ctx: Ctx) -> None:
    demo, owner, admin, private = ctx.demo, ctx.owner, ctx.admin, ctx.private
    init = studio.initial_form_values(studio.DEFAULT_PRESET)
    with gr.Accordion("Run configuration", open=True, elem_id="run-config") as config_box:
        with gr.Row():
            preset = gr.Dropdown([(p.title, k) for k, p in studio.PRESETS.items()], value=studio.DEFAULT_PRESET,
                                 label="Preset", scale=1, elem_id="preset",
                                 info="Fills sizes and the time budget; for tagged data also the "
                                      "recommended recipe (architecture, loss, optimiser).")
            preset_note_md = gr.Markdown(studio.PRESETS[studio.DEFAULT_PRESET].description, elem_id="preset-note")
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
            hf_gallery = gr.Gallery(columns=8, height=220, show_label=False, object_fit="contain", elem_id="hf-gallery")
            hf_table = gr.Dataframe(visible=False, interactive=False, label="Columns")
        form_check = gr.Markdown(elem_id="form-check")
    fields = [comps[k] for k in KEYS]
    with gr.Row():
        start_btn = gr.Button("Start training", variant="primary", elem_id="start")
        pause_btn = gr.Button("Pause", elem_id="pause")
        resume_btn = gr.Button("Resume", elem_id="resume")
        stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
        leave_btn = gr.Button("Leave the line", elem_id="leave")
    control_note = gr.Markdown(elem_id="control-note")
    start_msg = gr.Markdown(elem_id="start-msg", min_height=40)
    gr.Markdown(f"{C.mgr.max_concurrent} run(s) train at once on this machine (shared with the Streamlit app); "
                "a later **Start** waits in line and shows its place. Only the browser that started a run "
                f"(or the admin) can pause, steer or stop it; at most {C.mgr.max_per_visitor} per visitor.")
    queue_tbl = gr.Dataframe(visible=False, interactive=False, label="Queue")
    with gr.Row(equal_height=True):
        watch_dd = gr.Dropdown(label="Watch a run", choices=[], visible=False, elem_id="watch", scale=4,
                               info="Your own newest run stays here until you pick another; the Class board "
                                    "lists every run with its figures.")
        back_btn = gr.Button("Back to my run", visible=False, elem_id="back-to-mine", scale=1)
    run_head = gr.HTML(elem_id="run-head")   # title, progress and stats (one live output)
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
            # not "pixelated": enlarged by whole pixels already; a pixelated downscale drops the labels' letters
            grid = gr.Image(label="Sample grid", format="png", interactive=False, elem_id="train-grid",
                            buttons=["download"])
            grid_caption = gr.Markdown(studio.WAITING_FIRST_SAMPLE, elem_id="grid-caption")
    with gr.Accordion("More curves: gradient norms, learning rates, loss terms, quality metrics", open=False) as more_box:
        with gr.Row():
            p_grad = gr.Plot(label="Gradient norms", elem_id="plot-grad")
            p_lr = gr.Plot(label="Learning rates")
            p_terms = gr.Plot(label="Loss terms")
        more_notes = gr.Markdown()
    # what each tick last sent; the job id picked in "Watch a run" (None: my own newest run)
    shown, shown_slow, shown_more, chosen = gr.State(None), gr.State(None), gr.State(None), gr.State(None)
    # the slow key at the last tick: the slow outputs follow when it changes. Not a gr.State: a browser runs a
    # State's change event only after a queued event, and the tick skips the queue
    slow_seen = gr.Textbox(visible="hidden", elem_id="slow-key", container=False)
    timer = ctx.live(gr.Timer(POLL_S))   # ticking only while this tab is shown
    more_timer = gr.Timer(SLOW_POLL_S, active=False)   # only while "More curves" is open
    view_outputs = [*fields, arch_note, loss_note, form_check]
    demo.load(restore_form, owner, fields, **private).then(form_view, fields, view_outputs, **private)
    preset.input(apply_preset, [preset, *fields], [preset_note_md, *fields], **private).then(
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
    start_btn.click(lambda: ("Starting...", None), None, [start_msg, chosen], queue=False, **private)   # my new run
    # the job manager keeps the line (as on the Streamlit page): Start returns at once and the message says the
    # place in words, never Gradio's own overlay "queue: 1/1 | 6.2/163.7s" (#23 item 11)
    start_ev = start_btn.click(start_run, [owner, *fields], start_msg, concurrency_limit=None,
                               show_progress="hidden", **private)
    leave_btn.click(leave_line, owner, start_msg, cancels=[start_ev], **private)
    pause_btn.click(control("pause"), [owner, admin, chosen], None, **private)
    resume_btn.click(control("resume_training"), [owner, admin, chosen], None, **private)
    stop_btn.click(control("stop"), [owner, admin, chosen], None, **private)
    apply_btn.click(steer, [owner, admin, lr_g, lr_d, n_crit, chosen], None, **private)
    watch_dd.input(watch, watch_dd, chosen, **private)
    back_btn.click(lambda: None, None, chosen, **private)
    continue_btn.click(continue_run, [owner, more_steps, chosen], start_msg, concurrency_limit=None,
                       show_progress="hidden", **private)
    live_outputs = [shown, run_head, p_losses, p_outputs, p_grad, p_lr, p_terms, grid, grid_caption,
                    curve_notes, more_notes, steer_box, lr_g, lr_d, n_crit, queue_tbl, pause_btn, resume_btn,
                    stop_btn, control_note, config_box, continue_box, watch_dd, back_btn]
    assert len(live_outputs) == N_LIVE_OUTPUTS
    demo.load(preset_note, [preset, comps["data.dataset"]], preset_note_md, **private)
    demo.load(form_open, owner, config_box, **private)
    io = {p: ([owner, admin, st, chosen], [st] + [live_outputs[i] for i in p[1:]])
          for p, st in ((FAST, shown), (SLOW, shown_slow), (MORE, shown_more))}
    for trig, part in ((slow_seen.change, SLOW), (more_timer.tick, MORE)):
        trig(_part(part), *io[part], concurrency_limit=None, show_progress="hidden", **private)
    # the tick skips the queue: one POST instead of a queue join and an event stream (issue 22: 7-10 against
    # 10-13 ms of server CPU a tick, 30 viewers, 2-vCPU Xeon, 2026-12-03)
    timer.tick(_part(FAST, slow=True), io[FAST][0], io[FAST][1] + [slow_seen], queue=False,
               show_progress="hidden", **private)
    more_box.expand(lambda: gr.Timer(active=True), None, more_timer, queue=False, **private).then(
        _part(MORE), *io[MORE], concurrency_limit=None, show_progress="hidden", **private)
    more_box.collapse(lambda: gr.Timer(active=False), None, more_timer, queue=False, **private)


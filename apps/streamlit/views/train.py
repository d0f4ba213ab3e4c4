"""Train: widgets built from the core registries become a RunConfig; the process-wide job manager
trains it in the background and a polling fragment draws the job's snapshot (curves, grid, progress)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from gan_core import studio
from gan_core.config import ConfigError, RunConfig
from gan_core.jobs.manager import JobBusyError, NotOwnerError, get_manager
from gan_core.studio import board
from gan_core.studio.pages import PAGE
from apps import charts
from apps.streamlit.hf_preview import hf_preview_panel
from apps.streamlit.common import page_start, install_metrics, is_admin, owner_token, png_download

KEY = "tr."                                 # widget keys: "tr.<section>.<field>"
MAX_WIDGET_INT = 2**53 - 1                  # largest integer a browser's number input holds exactly
FIELDS = list(studio.flatten(RunConfig().to_dict()))
DEFAULT_PRESET = studio.DEFAULT_PRESET
POLL_S = 1.0
CHOSEN = "tr.chosen"                        # the job id a visitor chose to watch (None: their own run)

page_start()
mgr = get_manager()
me = owner_token()
admin = is_admin()
metrics_every = install_metrics()


# ---- form state ---------------------------------------------------------------------------------------
def _apply(values: dict[str, Any]) -> None:
    for k, v in values.items():
        st.session_state[KEY + k] = v


def _init_form() -> None:
    if st.session_state.get(KEY + "_init"):
        return
    # the preset's defaults, then (after a reload) my own newest run's settings: never another visitor's run
    _apply(studio.form_start_values(mgr, me, DEFAULT_PRESET, FIELDS))
    st.session_state[KEY + "_preset"] = DEFAULT_PRESET
    st.session_state[KEY + "_init"] = True


def _on_preset() -> None:
    """Sizes and time budget; for tagged data also the recommended tag-conditional recipe."""
    p = st.session_state.get(KEY + "_preset")
    if p in studio.PRESETS:
        _apply(studio.flatten(studio.preset_sections(p, st.session_state.get(KEY + "data.dataset", "faces"))))


def _on_loss() -> None:
    """Pre-fill the paper's optimiser settings for the chosen loss (the user can still change them)."""
    _apply({f"train.{k}": v for k, v in studio.optimizer_settings(st.session_state[KEY + "loss.name"]).items()})


def form_values() -> dict[str, Any]:
    return {f: st.session_state[KEY + f] for f in FIELDS if KEY + f in st.session_state}


def widget(fs: studio.FieldSpec, on_change=None) -> Any:
    """The Streamlit widget for one generated form field (label, help, range and step from its metadata)."""
    key = KEY + fs.key
    if fs.kind == "choice":
        return st.selectbox(fs.label, list(fs.choices), key=key, format_func=fs.display, help=fs.help or None,
                            on_change=on_change, persist_state="session")
    if fs.kind == "bool":
        return st.checkbox(fs.label, key=key, help=fs.help or None, persist_state="session")
    if fs.kind == "text":
        return st.text_input(fs.label, key=key, help=fs.help or None, placeholder="empty" if fs.optional else "off",
                             persist_state="session")
    hi = min(fs.hi, MAX_WIDGET_INT) if fs.kind == "int" else fs.hi   # the browser's numbers are doubles
    return st.number_input(fs.label, min_value=fs.lo, max_value=hi, step=fs.step, format=fs.fmt, key=key,
                           help=fs.help or None, persist_state="session")


def config_form(expanded: bool) -> None:
    with st.expander("Run configuration", expanded=expanded, icon=":material/tune:"):
        p1, p2 = st.columns([1, 2])
        with p1:
            st.selectbox("Preset", list(studio.PRESETS), key=KEY + "_preset", on_change=_on_preset,
                         format_func=lambda p: studio.PRESETS[p].title, persist_state="session",
                         help="Fills sizes and the time budget. For tagged data (faces, digits) it also picks "
                              "the recommended recipe: architecture, loss and optimiser.")
        with p2:
            st.caption(studio.PRESETS[st.session_state[KEY + "_preset"]].description)
            plan = _plan()
            st.fragment(_plan_note, run_every=2.0 if plan.verdict == "measuring" else None)()
        state = st.session_state
        dataset, arch, loss = state[KEY + "data.dataset"], state[KEY + "model.arch"], state[KEY + "loss.name"]
        fields = studio.form_fields(dataset, arch, loss)
        columns = dict(zip(studio.GROUPS, st.columns(len(studio.GROUPS), gap="medium")))
        for group, title in studio.GROUPS.items():
            with columns[group]:
                st.markdown(f"**{title}**")
                for fs in fields:
                    if fs.group == group and not fs.advanced:
                        widget(fs, on_change=_on_loss if fs.key == "loss.name" else None)
                        _notes_after(fs.key, dataset, arch, loss)
        with columns["train"]:
            with st.popover("Logging and samples", icon=":material/settings:"):
                for fs in fields:
                    if fs.advanced:
                        widget(fs)
        try:
            studio.config_from_flat(form_values())
        except (ConfigError, ValueError) as e:
            st.error(f"This configuration cannot train: {e}", icon=":material/error:")


def _plan() -> "studio.PresetPlan":
    """What the chosen time preset gives on this machine (probed once per server, in the background)."""
    state = st.session_state
    return studio.preset_plan(state[KEY + "_preset"], state.get(KEY + "data.dataset", "faces"),
                              busy_with=len(mgr.active_jobs()))


def _plan_note() -> None:
    """Before Start: steps expected here vs steps the preset needs, and what to do when it is not enough."""
    plan = _plan()
    st.markdown(studio.plan_markdown(plan), help=("Measured by timing a few training steps of these networks on "
                                                  "this server" + (f" ({plan.source})" if plan.source else "") +
                                                  ". The steps a preset needs are the ones its recipe needs to reach "
                                                  "its quality target."))


def _notes_after(key: str, dataset: str, arch: str, loss: str) -> None:
    """What a choice means, right under its widget: the arch's and the loss's descriptions, a link to the
    2D lab for toy2d data, and a preview of a Hugging Face dataset."""
    if key == "data.dataset" and dataset == "toy2d":  # 2D points: the 2D lab shows D's surface and G's gradients live
        st.page_link(PAGE["lab2d"].streamlit, label="Open the 2D lab for toy2d data", icon=PAGE["lab2d"].icon)
    elif key == "data.hf_label_columns":
        state = st.session_state
        hf_preview_panel(state.get(KEY + "data.path") or "", state[KEY + "data.hf_split"],
                         state[KEY + "data.hf_image_column"], state[KEY + "data.hf_label_columns"],
                         key="train.hf_preview", cache_dir=state.get(KEY + "data.cache_dir"))
    elif studio.field_note(key, dataset, arch, loss):
        st.caption(studio.field_note(key, dataset, arch, loss))


# ---- live view ---------------------------------------------------------------------------------------
def metrics_section(snap) -> None:
    """FID / KID / tag accuracy (with sample sizes) and mode-collapse alerts, as published by
    gan_core.metrics' listener in ``snap.extras``."""
    v = studio.metrics_view(snap.extras, metrics_every)
    for a in v["alerts"]:
        st.warning(a, icon=":material/warning:")
    if v["intro"]:
        st.caption(v["intro"])
    if not v["cards"]:
        return
    cols = st.columns(len(v["cards"]) + 1)
    for col, c in zip(cols, v["cards"]):
        col.metric(c["label"], c["value"], c["delta"], delta_color="inverse" if c["lower_is_better"] else "normal",
                   help=c["help"])
    st.caption(f"{v['summary']}. {v['help']}")
    if len(v["table"]) > 1:
        hist = st.expander(f"Metrics history ({len(v['table'])} evaluations)", key="tr.metrics_history",
                           on_change="rerun")
        if not hist.open:   # drawn only while open: nothing to send every poll for a closed box
            return
        with hist:
            st.plotly_chart(charts.metrics_figure(snap.extras.get("metrics") or [], [c["name"] for c in v["cards"]]),
                            key="chart_metrics", config={"displayModeBar": False})
            st.dataframe(v["table"], hide_index=True)


def live_panel(job_id: int, polling: bool) -> None:
    """Everything drawn from one snapshot: no locks held, no work besides plotting the history."""
    job = mgr.get(job_id)
    if job is None:
        return
    view = studio.view_cache().view(job)   # made once per new state, shared by every viewer (issue 22)
    snap = view.snap
    total = snap.total_steps
    m = st.columns(4)
    m[0].metric("Status", snap.status)
    m[1].metric("Step", f"{snap.step} / {total}" if total else str(snap.step))
    m[2].metric("Images / s", f"{snap.img_per_s:.0f}")
    m[3].metric("ETA", "-" if not snap.active else studio.format_duration(snap.eta))
    st.progress(view.progress, text=view.progress_text)
    note = studio.end_note(snap, job.owner == me)   # "Stopped by the teacher at step 120."
    if note and snap.stopped_by == "teacher":
        st.warning(note, icon=":material/front_hand:")
    elif note:
        st.info(note, icon=":material/stop_circle:")
    pending = studio.pending_text(snap)   # ended; the final quality figures are being computed
    if pending:
        st.info(pending, icon=":material/hourglass_top:")
    if snap.error:
        st.error(snap.error, icon=":material/error:")
    if view.shortfall:   # a time-budget run that got too few steps says so
        st.warning(view.shortfall, icon=":material/speed:")
    left, right = st.columns([3, 2], gap="medium")
    with left:
        if view.groups:
            for col, g in zip(st.columns(2), [g for g in view.groups if g["main"]]):
                with col:
                    _chart(view, g)
            more = st.expander(studio.MORE_CURVES, key="tr.more_curves", on_change="rerun")
            if more.open:   # drawn (and sent every poll) only while a visitor looks at them
                with more:
                    for g in view.groups:
                        if not g["main"]:
                            _chart(view, g)
        else:
            st.info(studio.WAITING_FIRST_STEP, icon=":material/hourglass_top:")
    with right:
        if view.grid_view is not None:   # labelled and encoded once per new sample, shared by every viewer
            st.image(view.grid_png, caption=view.grid_caption, output_format="PNG")
            if not snap.active:
                png_download(snap.sample, f"{view.run}_step{snap.sample_step}.png", "Download grid", key="dl_grid")
        else:
            st.info(studio.WAITING_FIRST_SAMPLE, icon=":material/image:")
    metrics_section(snap)
    if snap.notes:
        with st.expander(f"Notes ({len(snap.notes)})"):
            for n in snap.notes:
                st.text(n)
    if polling and not studio.needs_polling(snap):
        st.rerun()  # the run ended and its final evaluation is in: redraw controls once, which stops polling


def _chart(view, g: dict) -> None:
    """One live chart group (``view.groups``) with the text that explains it; the figure is made once per
    new history row and shared by every session of both fronts (the run's view, issue 22)."""
    st.plotly_chart(charts.live_figure(view, g), config={"displayModeBar": False},
                    key="chart_" + g["title"].lower().replace(" ", "_"))
    if g["help"]:
        st.caption(g["help"])


def watch_for_jobs(shown: int | None, shown_status: str | None = None) -> None:
    """While the shown run is not training: notice a run of mine started elsewhere (another tab), or the
    shown queued run starting, and redraw to show it."""
    j = studio.shown_run(mgr, me, st.session_state.get(CHOSEN))
    if j is not None and (j.id != shown or (shown_status == "queued" and not j.queued)):
        st.rerun()


def _queue_rows() -> None:
    queued = mgr.queued_jobs()
    if not queued:
        return
    with st.container(border=True):
        st.markdown(studio.queue_header(len(queued), mgr.max_concurrent))
        for row in studio.queue_rows(mgr, me):
            q = mgr.get(row["job"])
            c1, c2 = st.columns([4, 1], vertical_alignment="center")
            c1.markdown(studio.queue_row_text(row))
            if q is not None and q.can_control(me, admin) and c2.button("Cancel", key=f"cancel.{q.id}", icon=":material/close:"):
                try:
                    q.cancel(me, admin=admin)
                except NotOwnerError as e:
                    st.error(str(e))
                st.rerun()


def queue_section() -> None:
    """Queued runs with their position and expected start; their owners (or the admin) can cancel them.
    Polls while anything waits, and redraws the page once a queued run of mine has started."""
    note = st.session_state.get("_queued_note")
    if note is not None:
        j = mgr.get(note)
        if j is not None and j.queued:
            st.info(studio.queued_text(mgr.queue_position(j), mgr.expected_wait(j)), icon=":material/schedule:")
        else:
            st.session_state.pop("_queued_note", None)
    if mgr.queued_jobs():
        st.fragment(_queue_poll, run_every=2.0)()


def _queue_poll() -> None:
    _queue_rows()
    mine_waiting = [q.id for q in mgr.queued_jobs() if q.owner == me]
    key = "_queue_seen"
    if st.session_state.get(key) is not None and st.session_state[key] != mine_waiting:
        st.session_state[key] = mine_waiting
        st.rerun()  # one of my queued runs started (or left the queue): redraw the whole page
    st.session_state[key] = mine_waiting


# ---- page ---------------------------------------------------------------------------------------------
st.title("Train")
_init_form()

# the run I chose to watch, else my own newest (training, queued or finished), else the one training: another
# visitor's run never takes the place of mine
job = studio.shown_run(mgr, me, st.session_state.get(CHOSEN))
snap0 = job.snapshot() if job is not None else None
active = bool(snap0 and snap0.active)
mine = bool(job is not None and job.can_control(me, admin))
queue_section()

config_form(expanded=job is None)  # a visitor who only watches gets a light page: the form collapsed  # open for a visitor who has no run of their own

# actions
with st.container(horizontal=True, vertical_alignment="center"):
    start = st.button("Start training", type="primary", icon=":material/play_arrow:", key="btn_start",
                      help=f"{mgr.max_concurrent} run(s) train at once on this server; later ones wait in a "
                           f"queue (at most {mgr.max_per_visitor} per visitor).")
    if active and snap0.status == "paused":
        resume = st.button("Resume", icon=":material/play_circle:", disabled=not mine, key="btn_resume")
        pause = False
    else:
        pause = st.button("Pause", icon=":material/pause:", disabled=not (active and mine), key="btn_pause")
        resume = False
    stop = st.button("Stop", icon=":material/stop:", disabled=not (active and mine), key="btn_stop")


def _on_watch() -> None:
    picked = st.session_state["tr.watch"]
    if isinstance(picked, int):   # a job id (the options' values); anything else is ignored
        st.session_state[CHOSEN] = picked


def _back_to_mine() -> None:
    st.session_state.pop(CHOSEN, None)


others = studio.run_list(mgr, me, job, board.namer(board.BoardStore(mgr.runs_dir)))
if len(others) > 1:   # other runs are listed here, never shown in place of mine
    labels = {r["job"]: r["label"] for r in others}
    if job is not None and job.id in labels:
        st.session_state["tr.watch"] = job.id
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.selectbox("Watch a run", list(labels), format_func=labels.get, key="tr.watch", on_change=_on_watch,
                     help="Your own newest run stays on this page until you pick another here; the Class board "
                          "lists every run with its figures.")
        if st.session_state.get(CHOSEN) is not None and studio.own_run(mgr, me) is not None:
            st.button("Back to my run", icon=":material/undo:", key="btn_mine", on_click=_back_to_mine)
if job is not None and job.owner != me and not admin and not active:
    st.info("You are watching another visitor's run (view only).", icon=":material/visibility:")
if active and not mine:
    st.info(studio.VIEW_ONLY, icon=":material/visibility:")

if start:
    try:
        cfg = studio.config_from_flat(form_values())
        new = mgr.start(cfg, me)
        st.session_state.pop(CHOSEN, None)   # show my new run
        if new.queued:
            st.session_state["_queued_note"] = new.id
    except JobBusyError as e:
        st.error(f"Not started: {e}", icon=":material/block:")
    except (ConfigError, ValueError) as e:
        st.error(f"Not started: {e}", icon=":material/error:")
    else:
        st.rerun()
try:
    if pause and job is not None:
        job.pause(me, admin=admin)
        st.rerun()
    if resume and job is not None:
        job.resume_training(me, admin=admin)
        st.rerun()
    if stop and job is not None:
        job.stop(me, admin=admin)
        st.rerun()
except NotOwnerError as e:
    st.error(str(e), icon=":material/block:")

if job is not None:
    st.subheader(f"Run {Path(snap0.run_dir).name}")
    if studio.can_steer(snap0, mine):  # steer the running job (once it trains: not while it loads its data)
        now = studio.live_settings(snap0)   # the values the run uses now
        with st.container(border=True):
            cols = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
            live = {}
            for col, key in zip(cols, ("train.lr_g", "train.lr_d", "train.n_critic")):  # ranges from the config
                fs, name = studio.field_spec(key), key.split(".")[1]
                live[name] = col.number_input(f"{fs.label} (live)", fs.lo, fs.hi, now[name], fs.step, format=fs.fmt,
                                              key=f"steer.{job.id}.{name}")
            lr_g, lr_d, n_c = live["lr_g"], live["lr_d"], live["n_critic"]
            if cols[3].button("Apply to the running job", icon=":material/published_with_changes:", key="btn_apply"):
                try:
                    job.set_lr(me, lr_g=lr_g, lr_d=lr_d, admin=admin)
                    job.set_n_critic(me, int(n_c), admin=admin)
                    st.toast(f"Applied: lr G {lr_g:.1e}, lr D {lr_d:.1e}, n_critic {int(n_c)}")
                except (NotOwnerError, ValueError) as e:
                    st.error(str(e))
    polling = studio.needs_polling(snap0)   # training, or ended with its final evaluation still coming
    st.fragment(live_panel, run_every=POLL_S if polling else None)(job.id, polling)
    if studio.can_continue(snap0, mine):  # continue a finished or stopped run
        with st.container(border=True):
            c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
            more = c1.number_input("More steps", 1, 10_000_000, 200, 50, key="continue_steps")
            if c2.button("Continue this run from its last checkpoint", icon=":material/resume:", key="btn_continue"):
                try:
                    studio.continue_run(mgr, snap0, me, int(more))
                except (JobBusyError, ConfigError, ValueError) as e:
                    st.error(f"Not started: {e}")
                else:
                    st.rerun()
else:
    # e.g. after a server restart: the runs on disk are still there
    st.info(studio.no_run_message(), icon=":material/info:")
if snap0 is None or not studio.needs_polling(snap0):
    st.fragment(watch_for_jobs, run_every=3.0)(job.id if job is not None else None,
                                               snap0.status if snap0 is not None else None)

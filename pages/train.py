"""Train: widgets built from the core registries become a RunConfig; the process-wide job manager
trains it in the background and a polling fragment draws the job's snapshot (curves, grid, progress)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from gan_core import studio
from gan_core.config import (DATASETS, DEVICES, DIFFAUGMENT_OPS, D_NORMS, G_CONDS, OPTIMIZERS, TOY2D_SHAPES,
                             ConfigError, RunConfig)
from gan_core.jobs import JobBusyError, NotOwnerError, get_manager
from gan_core.losses import LOSSES
from gan_core.models import ARCHITECTURES
from ui import charts
from ui.common import ensure_navigation, install_metrics, is_admin, owner_token, png_download, show_image

K = "tr."                                   # widget keys: "tr.<section>.<field>"
FIELDS = list(studio.flatten(RunConfig().to_dict()))
DEFAULT_PRESET = studio.DEFAULT_PRESET
G_COND_LABELS = {"concat": "concat with z at the input", "cbn": "conditional BatchNorm", "both": "both"}
POLL_S = 1.0

ensure_navigation()  # a deep link on a fresh server: route through app.py's st.navigation
mgr = get_manager()
me = owner_token()
admin = is_admin()
metrics_every = install_metrics()


# ---- form state ---------------------------------------------------------------------------------------
def _apply(values: dict[str, Any]) -> None:
    for k, v in values.items():
        st.session_state[K + k] = v


def _init_form() -> None:
    if st.session_state.get(K + "_init"):
        return
    base = RunConfig()
    _apply(studio.flatten(base.to_dict()))
    _apply({f"train.{k}": v for k, v in studio.optimizer_settings(base.loss.name).items()})
    _apply(studio.flatten(studio.preset_sections(DEFAULT_PRESET, base.data.dataset)))
    st.session_state[K + "_preset"] = DEFAULT_PRESET
    last = mgr.latest(owner=me)  # after a reload: the running (or my last) run's settings, not the defaults
    if last is not None:
        flat = studio.flatten(last.cfg.to_dict())
        _apply({k: v for k, v in flat.items() if k in FIELDS})
    st.session_state[K + "_init"] = True


def _on_preset() -> None:
    """Sizes and time budget; for tagged data also the recommended tag-conditional recipe."""
    p = st.session_state.get(K + "_preset")
    if p in studio.PRESETS:
        _apply(studio.flatten(studio.preset_sections(p, st.session_state.get(K + "data.dataset", "faces"))))


def _on_loss() -> None:
    """Pre-fill the paper's optimiser settings for the chosen loss (the user can still change them)."""
    _apply({f"train.{k}": v for k, v in studio.optimizer_settings(st.session_state[K + "loss.name"]).items()})


def form_values() -> dict[str, Any]:
    return {f: st.session_state[K + f] for f in FIELDS if K + f in st.session_state}


def num(label: str, field: str, lo, hi, step, fmt=None, help=None, disabled: bool = False):
    return st.number_input(label, min_value=lo, max_value=hi, step=step, format=fmt, key=K + field, help=help,
                           disabled=disabled, persist_state="session")


def sel(label: str, field: str, options, fmt=str, help=None, on_change=None):
    return st.selectbox(label, list(options), key=K + field, format_func=fmt, help=help, on_change=on_change,
                        persist_state="session")


def chk(label: str, field: str, help=None):
    return st.checkbox(label, key=K + field, help=help, persist_state="session")


def config_form(expanded: bool) -> None:
    with st.expander("Run configuration", expanded=expanded, icon=":material/tune:"):
        p1, p2 = st.columns([1, 2])
        with p1:
            st.selectbox("Preset", list(studio.PRESETS), key=K + "_preset", on_change=_on_preset,
                         format_func=lambda p: studio.PRESETS[p].title, persist_state="session",
                         help="Fills sizes and the time budget. For tagged data (faces, digits) it also picks "
                              "the recommended recipe: architecture, loss and optimiser.")
        with p2:
            st.caption(studio.PRESETS[st.session_state[K + "_preset"]].description)
        ss = st.session_state
        dataset, arch, loss = ss[K + "data.dataset"], ss[K + "model.arch"], ss[K + "loss.name"]
        rel = studio.relevant_fields(dataset, arch, loss)
        c_data, c_model, c_loss, c_train = st.columns(4, gap="medium")
        with c_data:
            st.markdown("**Data**")
            sel("Dataset", "data.dataset", DATASETS)
            if ss[K + "data.dataset"] == "toy2d":  # 2D points: the 2D lab shows D's surface and G's gradients live
                st.page_link("pages/lab2d.py", label="Open the 2D lab for toy2d data", icon=":material/scatter_plot:")
            if "data.path" in rel:
                st.text_input("Image folder or .zip", key=K + "data.path", persist_state="session",
                              help="A folder (searched recursively) or a .zip of images on the server.")
                st.text_input("Tags CSV (optional)", key=K + "data.tags_csv", persist_state="session",
                              help="'filename,tags' lines such as 'a.png,blue hair red eyes'.")
            if "data.image_size" in rel:
                sel("Image size (px)", "data.image_size", (16, 32, 64))
            if "data.toy_shape" in rel:
                sel("2D shape", "data.toy_shape", TOY2D_SHAPES)
            if "data.num_samples" in rel:
                num("Samples to draw", "data.num_samples", 16, 1_000_000, 256,
                    help="Size of the procedurally made set.")
            if "data.max_images" in rel:
                num("Use at most N images (0 = all)", "data.max_images", 0, 10_000_000, 1000)
            if "data.augment_flip" in rel:
                chk("Random horizontal flips", "data.augment_flip")
                num("Random rotation (degrees)", "data.augment_rotate", 0.0, 30.0, 1.0)
            if "data.diffaugment" in rel:
                st.text_input("DiffAugment for D", key=K + "data.diffaugment", persist_state="session",
                              placeholder="off", help="Comma list of " + ", ".join(DIFFAUGMENT_OPS) + ": "
                              "differentiable augmentation of real and fake images before D (Zhao et al. "
                              "2020). Helps a small folder (a few hundred images) that D would memorise.")
        with c_model:
            st.markdown("**Model**")
            sel("Architecture", "model.arch", ARCHITECTURES)
            st.caption(ARCHITECTURES[arch].description)
            num("z dimension", "model.z_dim", 1, 4096, 8)
            if "model.g_width" in rel:
                num("G width (ngf)", "model.g_width", 4, 1024, 4)
                num("D width (ndf)", "model.d_width", 4, 1024, 4)
                sel("D normalisation", "model.d_norm", D_NORMS,
                    help="auto: batch norm, none for gradient-penalty losses.")
                chk("Spectral norm on D", "model.spectral_norm")
                num("G dropout", "model.g_dropout", 0.0, 0.9, 0.05)
            if "model.res_blocks" in rel:
                num("Residual blocks", "model.res_blocks", 1, 32, 1)
            if "model.mlp_hidden" in rel:
                num("MLP hidden width", "model.mlp_hidden", 8, 4096, 16)
            if "model.embed_dim" in rel:
                num("Label embedding size", "model.embed_dim", 1, 1024, 4)
            if "model.g_cond" in rel:
                sel("How tags enter G", "model.g_cond", G_CONDS, fmt=lambda v: G_COND_LABELS[v],
                    help="concat: tags join z at G's input. Conditional BN: the tags set every BatchNorm's "
                         "gain and bias, so they steer each layer and z keeps the input to itself.")
        with c_loss:
            st.markdown("**Loss**")
            sel("Loss", "loss.name", LOSSES, on_change=_on_loss,
                help="Choosing a loss fills in the optimiser settings its paper recommends.")
            spec = LOSSES[loss]
            st.caption(f"**{spec.title}.** {spec.explanation}")
            no_t = not spec.uses_targets
            why = " (not used by this loss: it has no real/fake targets)" if no_t else ""
            num("Real label (soft labels)", "loss.real_label", 0.0, 1.0, 0.05, disabled=no_t,
                help="Target for real images, e.g. 0.9 for one-sided label smoothing" + why)
            num("Fake label", "loss.fake_label", 0.0, 1.0, 0.05, disabled=no_t, help="Target for fakes" + why)
            num("Label noise (flip probability)", "loss.label_noise", 0.0, 0.5, 0.01, disabled=no_t,
                help="Probability of swapping each sample's real/fake target" + why)
            if "loss.lsgan_a" in rel:
                num("LSGAN a (fake target)", "loss.lsgan_a", -10.0, 10.0, 0.1)
                num("LSGAN b (real target)", "loss.lsgan_b", -10.0, 10.0, 0.1)
                num("LSGAN c (G's target)", "loss.lsgan_c", -10.0, 10.0, 0.1)
            if "loss.gp_lambda" in rel:
                num("Penalty weight (lambda)", "loss.gp_lambda", 0.0, 1000.0, 1.0)
            if "loss.dragan_c" in rel:
                num("DRAGAN perturbation c", "loss.dragan_c", 0.0, 10.0, 0.1)
            if "loss.clip_value" in rel:
                num("Weight clipping c", "loss.clip_value", 1e-6, 10.0, 0.005, fmt="%.4f")
            if "loss.aux_weight" in rel:
                num("ACGAN aux weight", "loss.aux_weight", 0.0, 100.0, 0.1)
            if "loss.ms_weight" in rel:
                num("Mode-seeking weight (MSGAN)", "loss.ms_weight", 0.0, 100.0, 0.5,
                    help="Adds weight / (|G(z1) - G(z2)| / |z1 - z2|) to G's loss for pairs with the same "
                         "tags: G is pushed to make different z give different images. Its curve "
                         "('ms' under Loss terms) is that ratio: it should rise, not sink to 0.")
        with c_train:
            st.markdown("**Optimisation**")
            sel("Optimiser", "train.optimizer", OPTIMIZERS)
            a, b = st.columns(2)
            with a:
                num("lr G", "train.lr_g", 1e-8, 1.0, 1e-5, fmt="%.1e")
                num("beta1", "train.beta1", 0.0, 0.9999, 0.1, disabled=ss[K + "train.optimizer"] != "adam")
            with b:
                num("lr D", "train.lr_d", 1e-8, 1.0, 1e-5, fmt="%.1e")
                num("beta2", "train.beta2", 0.0, 0.99999, 0.001, fmt="%.3f",
                    disabled=ss[K + "train.optimizer"] != "adam")
            a, b = st.columns(2)
            with a:
                num("n_critic", "train.n_critic", 1, 100, 1, help="D steps per G step")
                num("Steps", "train.steps", 0, 100_000_000, 100, help="G steps (0 = until the time limit)")
                num("Seed", "train.seed", 0, 2**31 - 1, 1)
            with b:
                num("Batch size", "train.batch_size", 1, 65536, 8)
                num("Time limit (s)", "train.seconds", 0.0, 1e7, 30.0, fmt="%.0f", help="0 = no limit")
                sel("Device", "train.device", DEVICES)
            num("EMA of G (0 = off)", "train.ema_decay", 0.0, 0.99999, 0.001, fmt="%.3f")
            with st.popover("Logging and samples", icon=":material/settings:"):
                num("Log every N steps", "train.log_every", 1, 10**6, 1)
                num("Sample grid every N steps (0 = end only)", "train.sample_every", 0, 10**7, 5)
                num("... and every N seconds (0 = off)", "train.sample_seconds", 0.0, 1e6, 1.0, fmt="%.0f")
                num("Checkpoint every N steps (0 = end only)", "train.checkpoint_every", 0, 10**7, 50)
                num("... and every N seconds (0 = off)", "train.checkpoint_seconds", 0.0, 1e7, 10.0, fmt="%.0f")
                num("Images in the sample grid", "train.grid_size", 1, 256, 1)
        try:
            studio.config_from_flat(form_values())
        except (ConfigError, ValueError) as e:
            st.error(f"This configuration cannot train: {e}", icon=":material/error:")


# ---- live view ---------------------------------------------------------------------------------------
def metrics_section(snap) -> None:
    """FID / KID / tag accuracy (with sample sizes) and mode-collapse alerts, as published by
    gan_core.metrics' listener in ``snap.extras``."""
    ov = studio.metrics_overview(snap.extras)
    for a in ov["alerts"][-3:]:
        st.warning(f"**Step {a.get('step', '?')}:** {a['message']}", icon=":material/warning:")
    latest = ov["latest"]
    if latest is None:
        if ov["status"]:
            st.caption(f"Quality metrics: {ov['status']}")
        elif metrics_every:
            st.caption(f"Quality metrics (FID, KID, tag accuracy) are computed at checkpoints, at most every "
                       f"{metrics_every} steps, and at the end of the run.")
        return
    prev = ov["previous"] or {}
    cols = st.columns(max(1, len(ov["series"][:4])) + 1)
    for col, name in zip(cols, ov["series"][:4]):
        delta = None
        if isinstance(prev.get(name), (int, float)) and isinstance(latest.get(name), (int, float)):
            d = latest[name] - prev[name]
            delta = f"{d * 100:+.1f} pts" if name == "tag_accuracy" else f"{d:+.4g}"
        col.metric(studio.METRIC_NAMES[name], studio.format_metric(name, latest.get(name)), delta,
                   delta_color="inverse" if name in studio.LOWER_IS_BETTER else "normal",
                   help=f"{studio.METRIC_HELP.get(name, '')}. At step {latest.get('step')}: "
                        f"{latest.get('n_real')} real vs {latest.get('n_fake')} generated images, "
                        f"{latest.get('features')} features.")
    st.caption(f"Quality at step {latest.get('step')}: {latest.get('label', '')}. " + " ".join(
        f"**{studio.METRIC_NAMES[k]}**: {h}." for k, h in studio.METRIC_HELP.items() if k in ov["series"]))
    if len(ov["table"]) > 1:
        with st.expander(f"Metrics history ({len(ov['table'])} evaluations)"):
            st.plotly_chart(charts.metrics_figure(snap.extras.get("metrics") or [], ov["series"][:4]),
                            key="chart_metrics", config={"displayModeBar": False})
            st.dataframe(ov["table"], hide_index=True)


def live_panel(job_id: int, polling: bool) -> None:
    """Everything drawn from one snapshot: no locks held, no work besides plotting the history."""
    job = mgr.get(job_id)
    if job is None:
        return
    snap = job.snapshot()
    cfg = snap.config
    total = snap.total_steps
    m = st.columns(4)
    m[0].metric("Status", snap.status)
    m[1].metric("Step", f"{snap.step} / {total}" if total else str(snap.step))
    m[2].metric("Images / s", f"{snap.img_per_s:.0f}")
    m[3].metric("ETA", "-" if not snap.active else studio.format_duration(snap.eta))
    tail = f"ETA {studio.format_duration(snap.eta)}" if snap.active else snap.status
    st.progress(min(max(snap.progress, 0.0), 1.0),
                text=f"{snap.progress:.0%} · {snap.img_per_s:.0f} img/s · {tail}")
    if snap.error:
        st.error(snap.error, icon=":material/error:")
    help_ = studio.curve_help(cfg["loss"]["name"], cfg["model"]["arch"])
    left, right = st.columns([3, 2], gap="medium")
    with left:
        if snap.history:
            c1, c2 = st.columns(2)
            with c1:
                st.plotly_chart(charts.curves_figure(snap.history, ["d_loss", "g_loss"], "Losses"),
                                key="chart_losses", config={"displayModeBar": False})
                st.caption(help_["losses"])
            with c2:
                st.plotly_chart(charts.curves_figure(snap.history, ["d_real", "d_fake"], "D outputs"),
                                key="chart_outputs", config={"displayModeBar": False})
                st.caption(help_["outputs"])
            with st.expander("More curves: gradient norms, learning rates, penalty and aux terms"):
                extra = [k for k in studio.history_keys(snap.history) if k.startswith("extra.")]
                st.plotly_chart(charts.curves_figure(snap.history, ["grad_norm_d", "grad_norm_g"], "Gradient norms"),
                                key="chart_grad", config={"displayModeBar": False})
                st.caption(help_["grad_norm"])
                st.plotly_chart(charts.curves_figure(snap.history, ["lr_d", "lr_g"], "Learning rates"),
                                key="chart_lr", config={"displayModeBar": False})
                if extra:
                    st.plotly_chart(charts.curves_figure(snap.history, extra, "Loss terms"), key="chart_extra",
                                    config={"displayModeBar": False})
                    st.caption(help_["terms"])
        else:
            st.info("Waiting for the first logged step...", icon=":material/hourglass_top:")
    with right:
        if snap.sample is not None:
            show_image(snap.sample, caption=f"Fixed-noise samples at step {snap.sample_step}", min_size=384)
            if not snap.active:
                png_download(snap.sample, f"{Path(snap.run_dir).name}_step{snap.sample_step}.png",
                             "Download grid", key="dl_grid")
        else:
            st.info("The sample grid appears after the first sample.", icon=":material/image:")
    metrics_section(snap)
    if snap.notes:
        with st.expander(f"Notes ({len(snap.notes)})"):
            for n in snap.notes:
                st.text(n)
    if polling and not snap.active:
        st.rerun()  # the run ended: redraw controls once, which also stops polling


def watch_for_jobs(shown: int | None, shown_status: str | None = None) -> None:
    """While the shown run is not training: notice a run started elsewhere (another tab), or the shown
    queued run starting, and redraw to show it."""
    j = mgr.latest(owner=me)
    if j is not None and (j.id != shown or (shown_status == "queued" and not j.queued)):
        st.rerun()


def _queue_rows() -> None:
    queued = mgr.queued_jobs()
    if not queued:
        return
    with st.container(border=True):
        st.markdown(f"**Queue** · {len(queued)} waiting · {mgr.max_concurrent} run(s) train at once")
        for q in queued:
            qs = q.snapshot()
            wait = mgr.expected_wait(q)
            when = "next" if not wait else f"in about {studio.format_duration(wait)}"
            who = "your run" if q.owner == me else "another visitor's run"
            c1, c2 = st.columns([4, 1], vertical_alignment="center")
            c1.markdown(f"**#{mgr.queue_position(q)}** · {who} · {qs.config['data']['dataset']} · "
                        f"{qs.config['model']['arch']} · {qs.config['loss']['name']} · "
                        f"{qs.total_steps or '-'} steps · expected start {when}")
            if q.can_control(me, admin) and c2.button("Cancel", key=f"cancel.{q.id}", icon=":material/close:"):
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
            st.info(f"Queued: your run starts when a training slot is free (position {mgr.queue_position(j)}).",
                    icon=":material/schedule:")
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

job = mgr.latest(owner=me)  # my running or queued run, else the one training, else the newest
snap0 = job.snapshot() if job is not None else None
active = bool(snap0 and snap0.active)
mine = bool(job is not None and job.can_control(me, admin))
queue_section()

config_form(expanded=job is None or job.owner != me)  # open for a visitor who has no run of their own

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
if active and not mine:
    st.info("View only: this run was started in another browser session. You can watch it, but only that "
            "browser (or the admin) can pause, stop or change it; a copied link never gives control.",
            icon=":material/visibility:")

if start:
    try:
        cfg = studio.config_from_flat(form_values())
        new = mgr.start(cfg, me)
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
    if active and mine:  # steer the running job
        hist = snap0.history[-1] if snap0.history else {}
        tc = snap0.config["train"]
        with st.container(border=True):
            s1, s2, s3, s4 = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
            lr_g = s1.number_input("lr G (live)", 1e-8, 1.0, float(hist.get("lr_g", tc["lr_g"])), 1e-5,
                                   format="%.1e", key=f"steer.{job.id}.lr_g")
            lr_d = s2.number_input("lr D (live)", 1e-8, 1.0, float(hist.get("lr_d", tc["lr_d"])), 1e-5,
                                   format="%.1e", key=f"steer.{job.id}.lr_d")
            n_c = s3.number_input("n_critic (live)", 1, 100, int(hist.get("n_critic", tc["n_critic"])), 1,
                                  key=f"steer.{job.id}.n_critic")
            if s4.button("Apply to the running job", icon=":material/published_with_changes:", key="btn_apply"):
                try:
                    job.set_lr(me, lr_g=lr_g, lr_d=lr_d, admin=admin)
                    job.set_n_critic(me, int(n_c), admin=admin)
                    st.toast(f"Applied: lr G {lr_g:.1e}, lr D {lr_d:.1e}, n_critic {int(n_c)}")
                except (NotOwnerError, ValueError) as e:
                    st.error(str(e))
    st.fragment(live_panel, run_every=POLL_S if active else None)(job.id, active)
    if not active and mine and snap0.checkpoints:  # continue a finished or stopped run
        with st.container(border=True):
            c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
            more = c1.number_input("More steps", 1, 10_000_000, 200, 50, key="continue_steps")
            if c2.button("Continue this run from its last checkpoint", icon=":material/resume:", key="btn_continue"):
                cfg = RunConfig.from_dict(snap0.config).replace(train={"steps": snap0.step + int(more),
                                                                       "seconds": 0.0})
                last = str(Path(snap0.run_dir) / "last.pt")
                try:
                    mgr.start(cfg, me, run_dir=snap0.run_dir, resume=last)
                except (JobBusyError, ConfigError, ValueError) as e:
                    st.error(f"Not started: {e}")
                else:
                    st.rerun()
else:
    finished = studio.list_runs()
    if finished:  # e.g. after a server restart: the runs on disk are still there
        st.info(f"No run is training. {len(finished)} earlier run(s) are in `{studio.runs_dir()}` (newest: "
                f"{finished[0].name}): see them on **Compare**, or start a new one above.", icon=":material/info:")
    else:
        st.info("No run yet. Choose a preset or your own settings above and press **Start training**.",
                icon=":material/info:")
if not active:
    st.fragment(watch_for_jobs, run_every=3.0)(job.id if job is not None else None,
                                               snap0.status if snap0 is not None else None)

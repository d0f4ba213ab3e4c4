"""2D lab: a tiny GAN on 2D points with D's decision surface and G's gradient arrows, live (GAN Lab
style). Widgets -> gan_core.lab2d.LabConfig / live updates; a fragment polls the runner's latest frame
(small arrays) about three times a second and draws it with plotly."""
from __future__ import annotations

import streamlit as st

from gan_core import lab2d, studio
from gan_core.config import OPTIMIZERS, ConfigError
from gan_core.lab2d import DRAWN, LAB_PRESETS, LAB_SHAPES, LabBusyError, LabConfig, get_lab_manager
from gan_core.losses import LOSSES
from apps import charts
from apps.streamlit.common import page_start, owner_token
from apps.lab2d_view import drawing_figure, freeze_gc_once, lab_figure, strip_figure

K = "lab."
POLL_S = 0.4   # the plane's period: >= 2 refreshes/s seen in the browser, including the rerun's own time
CURVES_S = 2.0  # the curves' period
SHAPE_NAMES = studio.shape_names("streamlit")
WIDGETS = studio.LAB_WIDGETS   # widget -> dotted LabConfig field (all live: they apply to a running lab at once)

page_start()
mgr = get_lab_manager()
me = owner_token()
ss = st.session_state


def _set_form(cfg: LabConfig) -> None:
    for w, v in studio.lab_form_values(cfg).items():
        ss[K + w] = v
    ss[K + "drawn"] = [list(p) for p in cfg.drawn]


if K + "shape" not in ss:
    _set_form(LAB_PRESETS["ns-collapse"].config())
    ss[K + "preset"] = "ns-collapse"
ss.setdefault(K + "drawn", [])


def form_config() -> LabConfig:
    """The LabConfig the widgets describe (on top of the chosen preset's model settings)."""
    return studio.lab_form_config(ss.get(K + "preset"), {w: ss[K + w] for w in WIDGETS}, ss[K + "drawn"])


def runner():
    return mgr.get(me)


def _live(widget: str) -> None:
    """A widget changed: apply it to the running lab at once (validated in gan_core)."""
    r = runner()
    if r is None or not r.active:
        return
    field = WIDGETS[widget]
    try:
        if field == "shape" and ss[K + "shape"] == DRAWN:
            if not ss[K + "drawn"]:
                ss["lab._msg"] = "Click a few points on the drawing pad first; the lab keeps the old shape until then."
                return
            r.update(shape=DRAWN, drawn=[tuple(v) for v in ss[K + "drawn"]])
        else:
            r.update(**{field: ss[K + widget]})
    except ConfigError as e:
        ss["lab._msg"] = f"Not applied: {e}"


def _on_preset() -> None:
    p = LAB_PRESETS.get(ss[K + "preset"])
    _set_form(p.config() if p is not None else LabConfig())   # Custom starts from the lab's defaults


def start(cfg: LabConfig) -> None:
    try:
        mgr.start(me, cfg)
    except (ConfigError, LabBusyError) as e:
        st.error(f"Not started: {e}", icon=":material/error:")


st.title("2D lab")
st.caption("A tiny MLP GAN on points in the plane. The background is D's output over the plane, black dots are "
           "real data, orange dots are G's samples, and green arrows show where G's loss pushes each sample "
           "(-dL_G/dx). Every setting below applies to the running lab at once.")

c_pre, c_note = st.columns([2, 3])   # wide enough for the presets' titles at 1280 px (#23 item 18)
with c_pre:
    titles = {k: t for t, k in studio.lab_preset_choices()}
    st.selectbox("Preset", list(titles), key=K + "preset", on_change=_on_preset, format_func=titles.get)
with c_note:
    if ss[K + "preset"] in LAB_PRESETS:
        st.info(studio.lab_preset_note(ss[K + "preset"]), icon=":material/school:")

controls, view = st.columns([1, 3], gap="medium")
with controls:
    st.selectbox("Data shape", LAB_SHAPES, key=K + "shape", format_func=SHAPE_NAMES.get,
                 on_change=_live, args=("shape",))
    st.selectbox("Loss", list(LOSSES), key=K + "loss", format_func=lambda k: LOSSES[k].title,
                 on_change=_live, args=("loss",))
    a, b = st.columns(2)
    a.number_input("lr G", 1e-8, 1.0, step=1e-4, format="%.1e", key=K + "lr_g", on_change=_live, args=("lr_g",))
    b.number_input("lr D", 1e-8, 1.0, step=1e-4, format="%.1e", key=K + "lr_d", on_change=_live, args=("lr_d",))
    a.number_input("n_critic", 1, 100, step=1, key=K + "n_critic", on_change=_live, args=("n_critic",),
                   help="D steps per G step")
    b.number_input("Batch size", 1, 65536, step=32, key=K + "batch", on_change=_live, args=("batch",))
    st.selectbox("Optimiser", OPTIMIZERS, key=K + "optimizer", on_change=_live, args=("optimizer",))
    show_arrows = st.toggle("Gradient arrows", value=True, key=K + "arrows")
    r = runner()
    active = r is not None and r.active
    b1 = st.container()      # its own row: "Restart" was cut to "Res..." beside two others (#23 item 18)
    b2, b3 = st.columns(2)
    if b1.button("Start" if not active else "Restart", type="primary", key="lab_start", width="stretch",
                 icon=":material/play_arrow:" if not active else ":material/restart_alt:"):
        try:
            start(form_config())
        except ConfigError as e:
            st.error(f"Not started: {e}", icon=":material/error:")
        st.rerun()
    paused = active and r.status == "paused"
    if b2.button("Resume" if paused else "Pause", disabled=not active, key="lab_pause", width="stretch"):
        r.resume() if paused else r.pause()
        st.rerun()
    if b3.button("Stop", disabled=not active, key="lab_stop", width="stretch"):
        r.stop()
        st.rerun()
    if ss.get("lab._msg"):
        st.warning(ss.pop("lab._msg"), icon=":material/warning:")
    st.markdown(f"**{LOSSES[ss[K + 'loss']].title}.** {lab2d.teaching_note(ss[K + 'loss'])}")

if ss[K + "shape"] == DRAWN:
    with st.expander("Drawing pad: click to add points (each becomes a small Gaussian)", expanded=True):
        ev = st.plotly_chart(drawing_figure(ss[K + "drawn"], LabConfig().extent), key="lab_pad", on_select="rerun",
                             selection_mode="points", config={"displayModeBar": False})
        picked = [(round(float(pt["x"]), 3), round(float(pt["y"]), 3))
                  for pt in (ev.selection.points if ev and ev.selection else []) if pt.get("curve_number") == 0]
        new = [list(p) for p in picked if list(p) not in ss[K + "drawn"]]
        if new:
            ss[K + "drawn"] = ss[K + "drawn"] + new
            _live("shape")
            st.rerun()
        c1, c2 = st.columns([1, 3])
        if c1.button("Clear points", key="lab_clear"):
            ss[K + "drawn"] = []
            st.rerun()
        c2.caption(f"{len(ss[K + 'drawn'])} points drawn.")


def plane_view(polling: bool) -> None:
    """The metrics and the plane (surface, points, arrows): redrawn every POLL_S seconds."""
    r = runner()
    fr = r.frame() if r is not None else None
    if fr is None:
        st.info("Press **Start** to train. Pick a preset above for a classic picture.", icon=":material/info:")
        return
    m = [*st.columns(3), *st.columns(2)]   # two rows: the plane's column is too narrow for five
    m[0].metric("Status", r.status)
    m[1].metric("Step", f"{fr.step}")
    m[2].metric("Steps / s", f"{fr.steps_per_s:.0f}")
    if fr.coverage is not None:
        m[3].metric("Modes covered", f"{fr.coverage.modes_covered} / {fr.coverage.n_modes}",
                    help=f"Modes with >= {fr.coverage.min_count} of {fr.coverage.n_samples} samples within "
                         f"{fr.coverage.n_sigma:g} std of their centre.")
        m[4].metric("High-quality samples", f"{fr.coverage.high_quality:.0%}",
                    help="Share of generated samples within 3 std of a mode (unrolled-GAN / VEEGAN metric).")
    else:
        m[3].metric("Modes covered", "-", help="Only for Gaussian-mixture shapes (8 / 25 Gaussians, your points).")
        m[4].metric("Mean |dL_G/dx|", f"{fr.grad_norm:.3g}")
    if fr.error:
        st.error(fr.error, icon=":material/error:")
    st.plotly_chart(lab_figure(fr, show_arrows=show_arrows, drawn=r.cfg.drawn if fr.shape == DRAWN else None),
                    key="lab_plane", config={"displayModeBar": False})
    st.caption(f"{lab2d.SCALE_NOTES[fr.scale]} Arrows: {lab2d.ARROW_SCALE_NOTE}; mean |dL_G/dx| = "
               f"{fr.grad_norm:.3g} (near 0 = G gets no signal: no arrows).")
    strip = strip_figure(fr)
    if strip is not None:
        st.markdown("**Earlier frames** (the generated points the run kept on the way)")
        st.plotly_chart(strip, key="lab_strip", config={"displayModeBar": False, "staticPlot": True})
    freeze_gc_once()   # after the first figures: plotly's lazily imported classes are loaded by now
    if polling and not r.active:
        st.rerun()  # finished: redraw the buttons and the curves once, which also stops polling


def curves_view() -> None:
    """The loss and D-output curves: redrawn every CURVES_S seconds (they change slowly; each redraw
    costs the browser as much as the plane)."""
    r = runner()
    fr = r.frame() if r is not None else None
    if fr is None:
        return
    if fr.history:
        st.plotly_chart(charts.curves_figure(fr.history, ["d_loss", "g_loss"], "Losses", max_points=300),
                        key="lab_losses", config={"displayModeBar": False})
        st.plotly_chart(charts.curves_figure(fr.history, ["d_real", "d_fake"], "D outputs", max_points=300),
                        key="lab_outputs", config={"displayModeBar": False})
    s = fr.settings
    st.caption(f"Now: {LOSSES[s['loss']].title}, lr G {s['lr_g']:.1e}, lr D {s['lr_d']:.1e}, "
               f"n_critic {s['n_critic']}, batch {s['batch_size']}, {SHAPE_NAMES.get(s['shape'], s['shape'])}. "
               f"Curves refresh every {CURVES_S:g} s.")


with view:
    r = runner()
    active = r is not None and r.active
    left, right = st.columns([3, 2], gap="small")
    with left:
        st.fragment(plane_view, run_every=POLL_S if active else None)(active)
    with right:
        st.fragment(curves_view, run_every=CURVES_S if active else None)()

"""Compare: overlay the curves of several runs, their final sample grids, and what differs in their configs."""
from __future__ import annotations

import streamlit as st

from apps.streamlit.common import page_start

from gan_core import studio
from gan_core.losses import LOSSES
from apps import charts

page_start()
st.title("Compare runs")
runs = studio.list_runs()
if not runs:
    st.info(f"No runs in `{studio.runs_dir()}` yet. Train a few on the **Train** page, e.g. the same preset "
            "and seed with the non-saturating, least-squares and WGAN-GP losses, then compare them here.")
    st.stop()

by_name = {r.name: r for r in runs}
picked = st.multiselect("Runs", list(by_name), default=list(by_name)[:3], key="cmp.runs",
                        format_func=lambda n: by_name[n].label, persist_state="session",
                        help="Newest first. Pick two or more to compare.")
if not picked:
    st.info("Pick at least one run.")
    st.stop()
sel = [by_name[n] for n in picked]
histories = {r.name: studio.load_metrics(r.path) for r in sel}
keys = studio.history_keys([h for hist in histories.values() for h in hist[-1:]]) or ["d_loss", "g_loss"]

c1, c2, c3 = st.columns([2, 1, 1])
with c1:
    curves = st.multiselect("Curves", keys, default=[k for k in ("d_loss", "g_loss") if k in keys],
                            format_func=studio.curve_label, key="cmp.curves")
with c2:
    smoothing = st.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="cmp.smooth", persist_state="session",
                          help="Exponential moving average, as in TensorBoard.")
with c3:
    log_y = st.toggle("Log y axis", False, key="cmp.log", persist_state="session")

if not any(histories.values()):
    st.warning("These runs have no logged steps yet (metrics.jsonl is empty).")
cols = st.columns(2)
for i, k in enumerate(curves):
    with cols[i % 2]:
        st.plotly_chart(charts.compare_figure(histories, k, smoothing=smoothing,
                                              log_y=log_y and k not in ("d_real", "d_fake")),
                        key=f"cmp_chart_{k}", config={"displayModeBar": False})
        losses = {(r.config or {}).get("loss", {}).get("name") for r in sel} - {None}
        if k == "d_loss" and losses:
            st.caption(" ".join(f"**{n}**: {studio.curve_help(n)['losses']}" for n in sorted(losses)
                                if n in LOSSES))

st.subheader("Final sample grids")
gcols = st.columns(min(4, len(sel)))
for i, r in enumerate(sel):
    with gcols[i % len(gcols)]:
        img = r.sample_image()
        if img is not None:
            st.image(studio.upscale(img, min_size=256), caption=f"{r.name} · step {r.sample_step if r.sample_step is not None else r.sample.stem}", output_format="PNG")
        else:
            st.caption(f"{r.name}: no sample grid yet")

st.subheader("Summary")
st.dataframe(studio.run_summary_rows(sel), hide_index=True)

st.subheader("Quality")
quality = studio.quality_rows(sel)
if any(q.get("evaluated at step") is not None for q in quality):
    import pandas as pd

    # a static table wraps its headers: the data grid cut "samples (real / gen..." at 1280 px (#23 item 18)
    st.table(pd.DataFrame(quality).set_index("run"), border="horizontal")
    st.caption(studio.quality_caption(quality))
else:
    st.caption("No quality metrics for these runs (they are computed while a run trains in the app, on "
               "faces and digits).")

st.subheader("Config differences")
if len(sel) < 2:
    st.caption("Pick two or more runs to see what differs.")
else:
    diff = studio.config_differences({r.name: r.config for r in sel})
    if diff:
        st.dataframe([{k: (str(v) if v is not None else "") for k, v in row.items()} for row in diff],
                     hide_index=True)
    else:
        st.caption("The configs are identical.")

st.subheader("Changed while training")
changes = studio.changed_while_training(sel, histories)   # from each run's config: early changes too
if changes:
    st.dataframe(changes, hide_index=True)
    st.caption("lr and n_critic changed on the Train page while a run trained (the configs above hold the "
               "starting values).")
else:
    st.caption("No lr or n_critic changes while these runs trained.")

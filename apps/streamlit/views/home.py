"""Home: what the studio does, where its files are, and the run that is training now."""
from __future__ import annotations

import streamlit as st

from apps.streamlit.common import page_start

from gan_core import studio
from gan_core.jobs.manager import get_manager
from gan_core.losses import LOSSES
from gan_core.models import ARCHITECTURES
from gan_core.studio.pages import PAGES

page_start()
st.title("GAN Studio")
st.markdown(
    "Train generative adversarial networks in the browser and explore what they learned. "
    "Pick a loss and an architecture, start a short run on CPU or GPU, watch the loss curves and a "
    "fixed-noise sample grid update live, then change the hair and eye tags of a conditional "
    "generator, walk through its latent space, and compare runs side by side."
)

job = get_manager().active_job()
if job is not None:
    snap = job.snapshot()
    st.info(f"A run is training now: **{snap.run_dir.split('/')[-1]}**, {snap.status}, "
            f"step {snap.step}/{snap.total_steps or '?'}. Watch it on the Train page.", icon=":material/sync:")

for row in range(0, len(PAGES), 3):  # one card per page of gan_core.studio.pages, three to a row
    for col, p in zip(st.columns(3), PAGES[row:row + 3]):
        with col:
            st.subheader(p.title)
            st.markdown(p.blurb)
            st.page_link(p.streamlit, label=f"Open {p.title}", icon=p.icon)

with st.expander("Losses and architectures in this studio"):
    st.markdown("\n".join(f"- **{s.title}** (`{k}`): {s.curve_help}" for k, s in LOSSES.items()))
    st.markdown("\n".join(f"- **`{k}`**: {s.description}" for k, s in ARCHITECTURES.items()))

st.caption(f"Checkpoints folder: `{studio.checkpoints_dir()}` (env `{studio.CHECKPOINTS_ENV}`) · "
           f"runs folder: `{studio.runs_dir()}` (env `GAN_STUDIO_RUNS`). One run trains at a time per "
           "server; only the browser tab that started it can steer it.")

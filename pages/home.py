"""Home: what the studio does, where its files are, and the run that is training now."""
from __future__ import annotations

import streamlit as st

from ui.common import ensure_navigation

from gan_core import studio
from gan_core.jobs import get_manager
from gan_core.losses import LOSSES
from gan_core.models import ARCHITECTURES

ensure_navigation()  # a deep link on a fresh server: route through app.py's st.navigation
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

cols = st.columns(3)
with cols[0]:
    st.subheader("Train")
    st.markdown("Dataset, architecture, loss and optimiser; live curves, samples, pause/stop, "
                "learning rate and n_critic changes while it runs.")
    st.page_link("pages/train.py", label="Open Train", icon=":material/model_training:")
    st.subheader("Compare")
    st.markdown("Overlay the curves and final grids of several runs, e.g. NS vs LSGAN vs WGAN-GP.")
    st.page_link("pages/compare.py", label="Open Compare", icon=":material/compare:")
with cols[1]:
    st.subheader("Generate")
    st.markdown("Sample grids from any checkpoint by seed; pick hair/eye tags; see the same z "
                "with every tag; download PNGs.")
    st.page_link("pages/generate.py", label="Open Generate", icon=":material/grid_view:")
    st.subheader("Interpolate")
    st.markdown("Walk between two seeds or tag sets (lerp/slerp), download an animated GIF; "
                "latent arithmetic z1 - z2 + z3.")
    st.page_link("pages/interpolate.py", label="Open Interpolate", icon=":material/animation:")
with cols[2]:
    st.subheader("Checkpoints")
    st.markdown("List, download, upload (validated, never unpickled) and delete checkpoint files.")
    st.page_link("pages/checkpoints.py", label="Open Checkpoints", icon=":material/folder_open:")
    st.page_link("pages/lab2d.py", label="Open the 2D lab: D's surface and G's gradients on 2D points, live", icon=":material/scatter_plot:")

with st.expander("Losses and architectures in this studio"):
    st.markdown("\n".join(f"- **{s.title}** (`{k}`): {s.curve_help}" for k, s in LOSSES.items()))
    st.markdown("\n".join(f"- **`{k}`**: {s.description}" for k, s in ARCHITECTURES.items()))

st.caption(f"Checkpoints folder: `{studio.checkpoints_dir()}` (env `{studio.CHECKPOINTS_ENV}`) · "
           f"runs folder: `{studio.runs_dir()}` (env `GAN_STUDIO_RUNS`). One run trains at a time per "
           "server; only the browser tab that started it can steer it.")

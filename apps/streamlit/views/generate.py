"""Generate: a sample grid from any checkpoint by seed and tags, and the "same z, other tag" grid."""
from __future__ import annotations

import streamlit as st

from gan_core import studio
from gan_core.config.arguments import arg_spec
from apps.streamlit.common import generator_page, png_download, seed_input, show_image, tag_selectors

_, G, cfg, spec, groups, stem = generator_page("Generate")

c1, c2, c3 = st.columns(3)
with c1:
    seed = seed_input("Seed", "gen.seed", help="Same seed, same z: the grid is reproducible.")
n, nrow = 512, None  # 2D toy models: a scatter plot of 512 points
if spec.kind == "image":
    with c2:
        n = st.slider("Images", arg_spec("n").lo, arg_spec("n").hi, 64, key="gen.n", persist_state="session")
    with c3:
        nrow = st.slider("Images per row", 1, 32, 8, key="gen.nrow", persist_state="session")

tags = None
if groups:
    st.markdown("**Tags**")
    tags = tag_selectors(groups, "gen.tag")
else:
    st.caption("This generator is unconditional: it has no tags to choose. Train a conditional architecture "
               "(e.g. one with tag classifiers or label embeddings) on labelled data to pick tags.")

try:
    grid = studio.sample_grid(G, cfg, spec, n=n, seed=seed, tags=tags, nrow=nrow)
except ValueError as e:
    st.error(str(e))
    st.stop()
tag_txt = studio.tags_caption(groups, tags)
show_image(grid, caption=f"seed {seed}" + (f" · {tag_txt}" if tag_txt else ""), min_size=512)
png_download(grid, f"{stem}_seed{seed}.png", key="dl_gen")

if groups:
    st.divider()
    st.subheader(studio.SWEEP_TITLE)
    st.caption(studio.SWEEP_NOTE)
    s1, s2 = st.columns(2)
    with s1:
        group = st.selectbox("Tag to vary", range(len(groups)), format_func=lambda i: groups[i][0],
                             key="gen.sweep_group", persist_state="session")
    with s2:
        rows = st.slider("Rows (different z)", 1, 8, 4, key="gen.sweep_rows", persist_state="session")
    base = [t if t is not None else 0 for t in tags]
    sweep, classes = studio.tag_sweep(G, cfg, spec, group, rows=rows, seed=seed, base=base)
    img = studio.annotate_columns(studio.upscale(sweep, min_size=rows * 64, max_factor=8), list(classes), header=18)
    st.image(img, caption=studio.sweep_caption(seed, groups[group][0]), output_format="PNG")
    png_download(img, f"{stem}_seed{seed}_{groups[group][0]}_sweep.png", key="dl_sweep")

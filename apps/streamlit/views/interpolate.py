"""Interpolate: walk from one seed (and tag set) to another, as a frame strip and an animated GIF;
latent arithmetic z1 - z2 + z3."""
from __future__ import annotations

import streamlit as st

from gan_core import studio
from gan_core.config.arguments import arg_spec
from apps.streamlit.common import generator_page, png_download, seed_input, show_image, tag_selectors

_, G, cfg, spec, groups, stem = generator_page("Interpolate")
# open on seeds whose faces differ visibly (seeds 0 and 1 can be nearly the same face); cached per generator
pair, three = studio.distinct_seeds(G, cfg, spec, 2), studio.distinct_seeds(G, cfg, spec, 3)

st.subheader("Walk between two points")
c1, c2, c3, c4 = st.columns(4)
with c1:
    seed_a = seed_input("Start seed", "int.seed_a", pair[0])
with c2:
    seed_b = seed_input("End seed", "int.seed_b", pair[1], help="Use the start seed again to change only the tags.")
with c3:
    method = st.radio("Path", ["slerp", "lerp"], horizontal=True, key="int.method", persist_state="session",
                      help="slerp follows the sphere where Gaussian z's live; lerp is a straight line "
                           "(its middle frames have smaller norm and often look washed out).")
with c4:
    fr_spec = arg_spec("frames")
    steps = st.slider(fr_spec.label, fr_spec.lo, fr_spec.hi, fr_spec.default, key="int.steps", persist_state="session")

tags_a = tags_b = None
if groups:
    st.markdown("**Start tags**")
    tags_a = tag_selectors(groups, "int.tags_a", allow_random=False)
    st.markdown("**End tags**")
    tags_b = tag_selectors(groups, "int.tags_b", allow_random=False, default=tags_a)
    st.caption("Tags are discrete: they switch from the start set to the end set half way along the path.")

frames = studio.interpolation_frames(G, cfg, spec, seed_a, seed_b, steps=steps, method=method,
                                     tags_a=tags_a, tags_b=tags_b)
strip = studio.frames_strip(frames, per_row=min(8, len(frames)))
left, right = st.columns([3, 1], vertical_alignment="top")
with left:
    show_image(strip, caption=f"{len(frames)} frames, {method}, seed {seed_a} -> {seed_b}", min_size=320)
    png_download(strip, f"{stem}_{method}_{seed_a}-{seed_b}.png", "Download frames (PNG)", key="dl_strip")
with right:
    fps_spec = arg_spec("fps")
    fps = st.slider(fps_spec.label, int(fps_spec.lo), int(fps_spec.hi), int(fps_spec.default), key="int.fps",
                    persist_state="session")
    boomerang = st.toggle("Back and forth", True, key="int.boomerang", persist_state="session")
    gif = studio.frames_to_gif(frames, fps=fps, boomerang=boomerang, min_size=192)
    st.image(gif, caption="Animated GIF")
    st.download_button("Download GIF", gif, file_name=f"{stem}_{method}_{seed_a}-{seed_b}.gif", mime="image/gif",
                       icon=":material/download:", key="dl_gif", on_click="ignore")

st.divider()
st.subheader("Latent arithmetic: z1 - z2 + z3")
st.caption("Vector arithmetic on noise vectors (Radford et al. 2015): e.g. z1 a face with some feature, z2 one "
           "with a related feature, z3 a third face; z1 - z2 + z3 tends to carry z1's difference from z2 onto z3.")
a1, a2, a3 = st.columns(3)
with a1:
    s1 = seed_input("z1 seed", "int.ar1", three[0])
with a2:
    s2 = seed_input("z2 seed", "int.ar2", three[1])
with a3:
    s3 = seed_input("z3 seed", "int.ar3", three[2])
ar_tags = None
if groups:
    ar_tags = tag_selectors(groups, "int.ar_tags", allow_random=False)
imgs = studio.arithmetic_images(G, cfg, spec, (s1, s2, s3), tags=ar_tags)
cols = st.columns(4)
for col, img, cap in zip(cols, imgs, ["z1", "z2", "z3", "z1 - z2 + z3"]):
    with col:
        show_image(img, caption=cap, min_size=160)

st.divider()
st.subheader("A loop through several seeds")
st.caption("The seeds whose faces differ most, one after the other and back to the first (with the arithmetic's "
           "tags): how much the noise vector alone changes.")
lk = arg_spec("loop_seeds")
k = st.slider(lk.label, lk.lo, lk.hi, lk.default, key="int.loop_k", help=lk.help, persist_state="session")
loop_seeds = studio.distinct_seeds(G, cfg, spec, k)
loop = studio.seed_loop_frames(G, cfg, spec, loop_seeds, steps=8, tags=ar_tags)
st.image(studio.frames_to_gif(loop, fps=fps, min_size=192),
         caption=f"{len(loop)} frames through seeds {' -> '.join(map(str, loop_seeds))} -> {loop_seeds[0]}")

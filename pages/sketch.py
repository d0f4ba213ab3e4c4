"""Sketch: draw edges in the browser and see the face a pix2pix generator makes of them, live.

The canvas (streamlit-drawable-canvas) starts from the edges of a random procedural face; black strokes
draw, white strokes erase. An uploaded edge drawing (or a photo, whose edges are computed) replaces the
canvas. All picture work is in gan_core.translate (sketch_view, compose_drawing, random_face_edges)."""
from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from gan_core import translate as T
from ui.common import checkpoint_picker, ensure_navigation, png_download, show_image

K = "sketch."
CANVAS = 256          # canvas side in screen pixels
DRAW, UPLOAD = "Draw on the canvas", "Upload a drawing or a photo"

ensure_navigation()
ss = st.session_state

st.title("Sketch to face")
st.caption("pix2pix (Isola et al. 2017): a U-Net generator turns an edge drawing into a picture. It was "
           "trained on pairs of procedural faces and their Canny edges; draw black lines on white, and the "
           "face on the right follows as you draw.")

picked = checkpoint_picker("pix2pix generator", key=K + "checkpoint", translators=True)
if picked is None:
    st.stop()
entry, G, cfg, spec = picked
size = int(G.image_size)
scale = max(1, CANVAS // size)

source = st.radio("Input", [DRAW, UPLOAD], key=K + "source", horizontal=True)
left, right = st.columns(2)
drawing = None
with left:
    if source == DRAW:
        c1, c2 = st.columns([1, 1])
        c2.button("Edges of a random face", key=K + "random", icon=":material/casino:",
                  on_click=lambda: ss.__setitem__(K + "seed_in", int(np.random.default_rng().integers(0, 100_000))))
        seed = int(c1.number_input("Face seed", 0, 2**31 - 1, key=K + "seed_in",
                                   help="The starting point: the edges of this procedural face."))
        tool = st.radio("Pen", ["draw (black)", "erase (white)"], key=K + "tool", horizontal=True)
        width = st.slider("Pen width", 1, 12, 3, key=K + "width")
        face, edges = T.random_face_edges(seed, size)
        background = T.enlarge(edges, scale)
        try:
            from streamlit_drawable_canvas import st_canvas
        except Exception as e:  # noqa: BLE001 - the component did not install or does not fit this Streamlit
            st.warning(f"The drawing canvas is not available here ({type(e).__name__}: {e}); showing the "
                       "face's edges: upload a drawing instead to change them.")
            drawing = background
        else:
            result = st_canvas(stroke_width=width, stroke_color="#000000" if tool.startswith("draw") else "#ffffff",
                               background_image=Image.fromarray(background), update_streamlit=True,
                               height=CANVAS, width=CANVAS, drawing_mode="freedraw", return_image_data=True,
                               key=f"{K}canvas.{seed}")
            strokes = getattr(result, "image_data", None) if result is not None else None
            drawing = T.compose_drawing(background, strokes if strokes is not None and strokes.size else None)
        st.caption(f"Canvas {CANVAS}x{CANVAS}, shrunk to the generator's {size}x{size} px ({scale}x{scale} "
                   f"screen pixels each): a line at least {scale // 4 + 1} screen pixels wide marks every pixel "
                   "it crosses as an edge.")
    else:
        up = st.file_uploader("Edge drawing or photo (PNG, JPEG, WebP)", type=["png", "jpg", "jpeg", "webp", "bmp"],
                              key=K + "upload")
        photo = st.checkbox("It is a photo: compute its edges (Canny)", key=K + "photo")
        if up is not None:
            try:
                with Image.open(up) as im:
                    im.load()
                    pic = im.convert("RGB")
            except Exception as e:  # noqa: BLE001 - any undecodable upload
                st.error(f"{up.name} is not a readable picture: {e}")
                st.stop()
            drawing = T.enlarge(T.edges_of_photo(pic, size), scale) if photo else np.asarray(pic)
            show_image(np.asarray(pic), caption="uploaded", min_size=CANVAS)
        else:
            st.info("Upload an edge drawing (dark lines on white), or a photo with the box ticked.")

with right:
    if drawing is not None:
        view = T.sketch_view(G, drawing, seed=0, scale=scale)
        st.image(view["picture_big"], caption="pix2pix output", width=CANVAS)
        st.image(view["edges_big"], caption=f"what the generator sees ({size}x{size} edges)", width=CANVAS)
        d1, d2 = st.columns(2)
        with d1:
            png_download(view["picture"], f"{entry.path.stem}_sketch.png", "Download picture", key=K + "dl_pic")
        with d2:
            png_download(view["edges"], f"{entry.path.stem}_edges.png", "Download edges", key=K + "dl_edges")

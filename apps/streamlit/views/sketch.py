"""Sketch: draw edges in the browser and see the face a pix2pix generator makes of them, live.

The canvas (streamlit-drawable-canvas) starts from the edges of a random procedural face; black strokes
draw, white strokes erase, and for a generator trained with colour hints, strokes in a colour are dabs
that tell it the colours there (the random face can come with a few dabs of its true colours). An uploaded
edge drawing (or a photo, whose edges are computed), with its own coloured dabs or a separate hint picture,
replaces the canvas. All picture work is in gan_core.img2img.translate (sketch_view, random_face_edges, face_hints)."""
from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from gan_core import studio
from gan_core.img2img import translate as T
from gan_core.config.arguments import arg_spec
from apps.streamlit.common import checkpoint_picker, page_start, png_download, show_image, tag_selectors

K = "sketch."


def _read_picture(upload, mode: str) -> Image.Image:
    """An uploaded picture in ``mode``; an undecodable file stops the page with one line that says so."""
    try:
        with Image.open(upload) as im:
            im.load()
            return im.convert(mode)
    except Exception as e:  # noqa: BLE001 - any undecodable upload
        st.error(f"{upload.name} is not a readable picture: {e}")
        st.stop()
CANVAS = 256          # canvas side in screen pixels
DRAW, UPLOAD = "Draw on the canvas", "Upload a drawing or a photo"

page_start()
ss = st.session_state

st.title("Sketch to face")
st.caption("pix2pix (Isola et al. 2017): a U-Net generator turns an edge drawing into a picture. It was "
           "trained on pairs of procedural faces and their Canny edges; draw black lines on white, and the "
           "face on the right follows as you draw. A generator trained with colour hints also takes dabs of "
           "colour (as in Scribbler, Sangkloy et al. 2017): a few dabs pick the hair, skin, eye and "
           "background colours that edges cannot show.")

picked = checkpoint_picker("pix2pix generator", key=K + "checkpoint", translators=True)
if picked is None:
    st.stop()
entry, G, cfg, spec = picked
size = int(G.image_size)
scale = max(1, CANVAS // size)
hinted = T.takes_hints(G)
groups = studio.label_groups(cfg, spec)      # hair and eye for a generator that takes tags (pix2pix-tags)
tags = None
if groups:
    st.caption("This generator also takes the tags: pick the hair and eye colours as on Generate (random: a "
               "random pick); the picture follows them.")
    tags = tag_selectors(groups, K + "tag")
if not hinted:
    st.caption("This generator was trained on edges alone: it takes no colour hints, so its colours are its own "
               "guess.")

source = st.radio("Input", [DRAW, UPLOAD], key=K + "source", horizontal=True)
left, right = st.columns(2)
drawing = strokes = hint_pic = None
true_dabs = 0
with left:
    if source == DRAW:
        c1, c2 = st.columns([1, 1])
        c2.button("Edges of a random face", key=K + "random", icon=":material/casino:",
                  on_click=lambda: ss.__setitem__(K + "seed_in", int(np.random.default_rng().integers(0, 100_000))))
        seed = int(c1.number_input("Face seed", 0, arg_spec("seed").hi, key=K + "seed_in",
                                   help="The starting point: the edges of this procedural face."))
        tools = ["draw (black)", "erase (white)"] + (["colour dab"] if hinted else [])
        tool = st.radio("Pen", tools, key=K + "tool", horizontal=True)
        if hinted:
            t1, t2 = st.columns([1, 2])
            dab_colour = t1.color_picker("Dab colour", "#d81e28", key=K + "dab_colour",
                                         help="Strokes in a colour are dabs: the generator paints that area in "
                                              "about this colour. Black, grey and white are lines and paper.")
            true_dabs = int(t2.slider("Dabs of the face's true colours", 0, 16, 0, key=K + "true_dabs",
                                      help="Start with this many small dabs of the random face's own colours."))
        width = st.slider("Pen width", 1, 24, 3, key=K + "width")
        start = studio.sketch_start(G, seed, true_dabs, scale)   # the dabs travel apart from the lines
        lines, background, hint_pic = start["lines"], start["shown"], start["hints"]
        colour = {"draw (black)": "#000000", "erase (white)": "#ffffff"}.get(tool) or dab_colour
        try:
            from streamlit_drawable_canvas import st_canvas
        except Exception as e:  # noqa: BLE001 - the component did not install or does not fit this Streamlit
            st.warning(f"The drawing canvas is not available here ({type(e).__name__}: {e}); showing the "
                       "face's edges: upload a drawing instead to change them.")
            drawing = lines
        else:
            result = st_canvas(stroke_width=width, stroke_color=colour,
                               background_image=Image.fromarray(background), update_streamlit=True,
                               height=CANVAS, width=CANVAS, drawing_mode="freedraw", return_image_data=True,
                               key=f"{K}canvas.{seed}")   # not the dab count: moving its slider keeps the drawing (#23.7)
            strokes = getattr(result, "image_data", None) if result is not None else None
            strokes = strokes if strokes is not None and strokes.size else None
            drawing = lines
        st.caption(f"Canvas {CANVAS}x{CANVAS}, shrunk to the generator's {size}x{size} px ({scale}x{scale} "
                   f"screen pixels each): a line at least {scale // 4 + 1} screen pixels wide marks every pixel "
                   "it crosses as an edge.")
    else:
        up = st.file_uploader(studio.SKETCH_UPLOAD_LABEL, type=["png", "jpg", "jpeg", "webp", "bmp"],
                              key=K + "upload")
        photo = st.checkbox(studio.SKETCH_PHOTO_LABEL, key=K + "photo", help=studio.SKETCH_PHOTO_HELP)
        hint_up = st.file_uploader("Colour hints (optional): coloured dabs on white or transparent paper",
                                   type=["png", "webp"], key=K + "hint_upload") if hinted else None
        if up is not None:
            pic = _read_picture(up, "RGB")
            # a photo-like upload is read as a photo even unticked (its colours would be dabs: noise out)
            drawing, _, photo_note = T.upload_drawing(pic, size, scale, photo=photo)
            if photo_note:
                st.info(photo_note, icon=":material/photo_camera:")
            show_image(np.asarray(pic), caption="uploaded", min_size=CANVAS)
            if hint_up is not None:
                hint_pic = _read_picture(hint_up, "RGBA")
        else:
            st.info("Upload an edge drawing (dark lines on white), or a photo with the box ticked.")

with right:
    if drawing is not None:
        view = T.sketch_view(G, drawing, seed=0, scale=scale, strokes=strokes, hints=hint_pic, tags=tags)
        st.image(view["picture_big"], caption="pix2pix output", width=CANVAS)
        dabs = f" and {view['dabs']} pixels of colour dabs" if hinted else ""
        st.image(view["seen_big"], caption=f"what the generator sees ({size}x{size} edges{dabs})", width=CANVAS)
        if view["note"]:
            st.info(view["note"])
        d1, d2 = st.columns(2)
        with d1:
            png_download(view["picture"], f"{entry.path.stem}_sketch.png", "Download picture", key=K + "dl_pic")
        with d2:
            png_download(view["edges"], f"{entry.path.stem}_edges.png", "Download edges", key=K + "dl_edges")

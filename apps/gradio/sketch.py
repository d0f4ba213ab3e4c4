"""The Sketch tab: pix2pix "sketch to face" on a gr.Sketchpad, with colour dabs, or from an uploaded edge
drawing or photo."""
from __future__ import annotations

from typing import Any, Optional

import gradio as gr
import numpy as np

from gan_core import studio
from gan_core.jobs import zerogpu
from gan_core.storage.checkpoint import CheckpointError
from .common import Ctx, picked_tags, tag_dropdowns, tag_updates
from .gpu import on_gpu


SKETCH_PX = 256          # the drawing pad's size on screen


def translator_choices() -> tuple[list[tuple[str, str]], Optional[str]]:
    entries = studio.list_generators(translators=True)
    return [(e.label, studio.generator_key(e)) for e in entries], (studio.generator_key(entries[0]) if entries else None)


def _translator(name: str, with_groups: bool = False):
    """The generator of ``name`` (with ``with_groups``: and its tag groups, [] when it takes no tags)."""
    if not name:
        raise gr.Error("no image-to-image (pix2pix) generator yet: the shipped faces_pix2pix.safetensors is missing; "
                       "train one with --arch pix2pix --dataset faces-edges")
    try:
        entry = studio.find_generator(name, studio.list_generators(translators=True))
        G, cfg, spec = studio.load_generator_cached(entry.path, zerogpu.tool_device())
        return (G, studio.label_groups(cfg, spec)) if with_groups else G
    except (ValueError, CheckpointError, OSError) as e:
        raise gr.Error(str(e)) from None


SKETCH_COLOURS = ["#000000", "#ffffff",      # the pen (lines) and the eraser; any other colour is a colour dab
                  "#d81e28", "#ff8700", "#f8da55", "#23a537", "#00d7d7", "#1e46e1", "#7d2db9", "#ff73be",
                  "#73411a", "#ffe6d4"]


def sketch_tags(name: str):
    """The hair and eye pickers (as on Generate, with "random") for a generator that takes tags; hidden otherwise."""
    if not name:
        return tag_updates([], True)
    return tag_updates(_translator(name, with_groups=True)[1], True)


def _picked(groups, tags) -> Optional[list]:
    """The pickers' values as sketch_view's tags (None = random, from the seed); None without pickers."""
    return picked_tags(groups, tags) if groups and len(tags) >= len(groups) else None


def sketch_start(name: str, seed: float, dabs: float = 0, *tags):
    """The pad starts from the edges of a procedural face (with ``dabs`` dabs of its true colours for a
    generator that takes colour hints); the output is drawn at once. Returns (pad, picture, what G sees,
    start), ``start`` the lines and dabs the pad started from (kept in a gr.State for ``sketch_draw``)."""
    G = _translator(name)
    s = studio.sketch_start(G, int(seed or 0), int(dabs or 0), SKETCH_PX // int(getattr(G, "image_size", 32)))
    start: dict[str, Any] = {"lines": s["lines"], "hints": s["hints"]}
    pad = {"background": s["shown"], "layers": [], "composite": s["shown"]}
    return (pad,) + sketch_draw(name, pad, seed, start, *tags) + (start,)


def sketch_draw(name: str, value: Optional[dict], seed: float, start: Optional[dict] = None, *tags):
    """What G draws from the pad as it is now: (picture, what G sees: edges with colour dabs), both enlarged.
    With ``start`` (from ``sketch_start``) the pad's stroke layers go over its lines and dabs, so a coloured
    stroke is a dab and leaves the lines beneath it; without, the pad's composite picture is read alone.
    ``tags``: the hair and eye pickers' values for a generator that takes tags (random: drawn from the seed)."""
    from gan_core.img2img import translate

    drawing = (value or {}).get("composite")
    if drawing is None:
        return None, None
    G, groups = _translator(name, with_groups=True)
    t = _picked(groups, tags)
    seed = int(seed or 0)
    if start and start.get("lines") is not None and np.asarray(start["lines"]).shape[:2] == drawing.shape[:2]:
        strokes = translate.merge_layers((value or {}).get("layers"))
        view = translate.sketch_view(G, start["lines"], seed=seed, scale=8, strokes=strokes, hints=start.get("hints"),
                                     tags=t)
    else:
        rgb = translate.compose_drawing(None, drawing) if drawing.shape[-1] == 4 else drawing
        view = translate.sketch_view(G, rgb, seed=seed, scale=8, tags=t)
    if view["note"]:
        gr.Info(view["note"])
    return view["picture_big"], view["seen_big"]


def sketch_upload(name: str, picture, photo: bool, seed: float, *tags):
    """An uploaded edge drawing or photo onto the pad, read as the Streamlit page reads it
    (:func:`~gan_core.img2img.translate.upload_drawing`): a photo (ticked, or photo-like even unticked) gives
    its edges found at 4x the generator's size and thinned; a drawing is fitted to the pad, its coloured
    strokes are dabs. Returns (pad, picture, what G sees, start, note); the note says when a photo-like upload
    was read as a photo. No picture (the upload cleared): nothing changes."""
    from gan_core.img2img import translate

    if picture is None:
        return gr.update(), gr.update(), gr.update(), gr.update(), ""
    G = _translator(name)
    size = int(getattr(G, "image_size", 32))
    try:
        drawing, as_photo, note = translate.upload_drawing(picture, size, max(1, SKETCH_PX // size),
                                                           photo=bool(photo), fit=True)
    except ValueError as e:
        raise gr.Error(f"the upload is not a picture this page can read: {e}") from None
    start: dict[str, Any] = {"lines": drawing, "hints": None}
    pad = {"background": drawing, "layers": [], "composite": drawing}
    if note:
        gr.Info(note)
    if as_photo:
        d = size * translate.PHOTO_DETAIL
        shown = (f"**Read as a photo.** {note} " if note else "**Read as a photo.** ") + (
            f"Its edges were found at {d}x{d} px ({translate.PHOTO_DETAIL}x the generator's {size}) and thinned "
            f"to one-pixel lines at {size}x{size}; small eyes can merge into one blob: draw them in on the pad.")
    else:
        shown = "**Read as an edge drawing:** dark lines are edges" + (
            ", coloured strokes are colour dabs." if translate.takes_hints(G) else ".")
    return (pad,) + sketch_draw(name, pad, seed, start, *tags) + (start, shown)


def _pad_pixels(name: str, *_: Any) -> int:
    """The work of one Sketch call: one picture of the generator's size (small: the CPU draws it)."""
    try:
        return int(getattr(_translator(name), "image_size", 32)) ** 2
    except gr.Error:
        return 0


def build(ctx: Ctx) -> None:
    demo, owner, admin, private = ctx.demo, ctx.owner, ctx.admin, ctx.private
    t_choices, t_default = translator_choices()
    gr.Markdown("Draw edges and see the face a pix2pix generator (U-Net G, PatchGAN D) makes of them. "
                "Start from the edges of a random face, then draw dark lines (black pen) or erase (white). "
                "A generator trained with colour hints also takes dabs of colour: strokes in any other "
                "colour of the brush tell it the colours there (hair, skin, eyes, background), which edges "
                "cannot show (as in Scribbler, Sangkloy et al. 2017). A generator trained with the tags "
                "(arch pix2pix-tags) also shows the hair and eye pickers of Generate: the picture follows them. "
                "Or upload an edge drawing or a photo below the pad.")
    with gr.Row():
        k_ckpt = gr.Dropdown(t_choices, value=t_default, label="Image-to-image generator", scale=3)
        k_seed = gr.Number(0, label="Face seed (and G's dropout noise)", precision=0, minimum=0, scale=1)
        k_dabs = gr.Slider(0, 16, 0, step=1, label="Dabs of the face's true colours (hint generators)", scale=1,
                           elem_id="sketch-dabs")
        k_new = gr.Button("Edges of a random face", scale=1, elem_id="sketch-new")
    k_tags = tag_dropdowns("sketch")     # hair and eye, as on Generate: shown for a generator that takes tags
    k_start = gr.State(None)
    with gr.Row():
        k_pad = gr.Sketchpad(label="Your edges and colour dabs", type="numpy", image_mode="RGBA",
                             canvas_size=(SKETCH_PX, SKETCH_PX),
                             brush=gr.Brush(colors=SKETCH_COLOURS, default_color="#000000", default_size=3),
                             elem_id="sketch-pad")
        k_out = gr.Image(label="The generator's picture", format="png", interactive=False,
                         elem_classes="pixelated", elem_id="sketch-out")
        k_edges = gr.Image(label="What G sees: edges and colour dabs", format="png", interactive=False,
                           elem_classes="pixelated")
    with gr.Row():   # or start from an upload: an edge drawing, or a photo whose edges are computed
        k_up = gr.Image(label=studio.SKETCH_UPLOAD_LABEL, type="pil", image_mode=None, sources=["upload"],
                        height=160, elem_id="sketch-upload", scale=1)
        with gr.Column(scale=2):
            k_photo = gr.Checkbox(False, label=studio.SKETCH_PHOTO_LABEL, info=studio.SKETCH_PHOTO_HELP,
                                  elem_id="sketch-photo")
            k_note = gr.Markdown("", elem_id="sketch-upload-note")
    start = on_gpu(sketch_start, "sketch", work=_pad_pixels)   # ZeroGPU: a GPU call only for big generators
    draw = on_gpu(sketch_draw, "sketch", work=_pad_pixels)
    upload = on_gpu(sketch_upload, "sketch", work=_pad_pixels)
    start_in, start_out = [k_ckpt, k_seed, k_dabs, *k_tags], [k_pad, k_out, k_edges, k_start]
    k_new.click(start, start_in, start_out, **private).then(lambda: "", None, k_note, **private)
    up_in, up_out = [k_ckpt, k_up, k_photo, k_seed, *k_tags], [k_pad, k_out, k_edges, k_start, k_note]
    k_up.upload(upload, up_in, up_out, **private)
    k_photo.input(upload, up_in, up_out, **private)
    k_pad.change(draw, [k_ckpt, k_pad, k_seed, k_start, *k_tags], [k_out, k_edges], show_progress="hidden",
                 trigger_mode="always_last", **private)
    for dd in k_tags:           # the picture follows the pickers live
        dd.input(draw, [k_ckpt, k_pad, k_seed, k_start, *k_tags], [k_out, k_edges], show_progress="hidden",
                 trigger_mode="always_last", **private)
    k_ckpt.input(sketch_tags, k_ckpt, k_tags, **private).then(start, start_in, start_out, **private)
    if t_default is not None:   # without a generator the tab says so; no error at every page load
        demo.load(sketch_tags, k_ckpt, k_tags, **private).then(start, start_in, start_out, **private)
    else:
        gr.Markdown("**No image-to-image generator here yet:** the shipped `faces_pix2pix.safetensors` is "
                    "missing from the checkpoints folder. Train one (`python -m gan_core train --dataset "
                    "faces-edges --arch pix2pix`) and export it, or upload one on **Checkpoints**.",
                    elem_id="sketch-missing")

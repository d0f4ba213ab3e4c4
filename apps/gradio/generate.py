"""The Generate tab: sample grids by seed and tags, and the same z with every class of one tag."""
from __future__ import annotations

from typing import Any

import gradio as gr

from gan_core import studio
from gan_core.config.arguments import arg_spec, check_args
from .common import Ctx, _png, _safe, _stem, generator_choices, load, picked_tags, tag_dropdowns, tag_updates
from .gpu import image_pixels, on_gpu


def on_generator(name: str):
    entry, G, cfg, spec, groups = load(name)
    sweep = gr.update(choices=[(g, i) for i, (g, _) in enumerate(groups)], value=0 if groups else None,
                      visible=bool(groups))
    note = ("" if groups else " This generator is unconditional: it has no tags to choose. Train a conditional "
            "architecture on labelled data to pick tags.")
    return [studio.generator_caption(cfg, spec) + note, *tag_updates(groups, True), sweep,
            gr.update(visible=bool(groups))]


def generate(name: str, seed: float, n: float, nrow: float, *tags):
    entry, G, cfg, spec, groups = load(name)
    try:   # the checks and messages of gan_core.config.arguments (the API's too)
        a = check_args(seed=seed or 0, n=n or 64, nrow=nrow or 8)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    seed, n, nrow = a["seed"], a["n"], a["nrow"]
    t = picked_tags(groups, tags)
    try:
        grid = studio.sample_grid(G, cfg, spec, n=n, seed=seed, tags=t, nrow=nrow)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    txt = studio.tags_caption(groups, t)
    caption = f"seed {seed}" + (f" · {txt}" if txt else "")
    return (studio.upscale(grid, min_size=512), caption, _png(grid, f"{_safe(_stem(entry))}_seed{seed}.png"))


def sweep(name: str, seed: float, group: Any, rows: float, *tags):
    entry, G, cfg, spec, groups = load(name)
    if not groups:
        return None, "", None
    seed, rows, group = int(seed or 0), int(rows or 4), int(group or 0)
    base = [v if v is not None else 0 for v in picked_tags(groups, tags)]
    try:
        img, classes = studio.tag_sweep(G, cfg, spec, group, rows=rows, seed=seed, base=base)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    img = studio.annotate_columns(studio.upscale(img, min_size=rows * 64, max_factor=8), list(classes), header=18)
    gname = groups[group][0]
    return (img, studio.sweep_caption(seed, gname),
            _png(img, f"{_safe(_stem(entry))}_seed{seed}_{_safe(gname)}_sweep.png"))



def build(ctx: Ctx) -> None:
    demo, owner, admin, private = ctx.demo, ctx.owner, ctx.admin, ctx.private
    gen_choices, gen_default = ctx.gen_choices, ctx.gen_default
    with gr.Row():
        g_ckpt = gr.Dropdown(gen_choices, value=gen_default, label="Generator checkpoint", scale=4,
                             elem_id="gen-ckpt", info="Shipped/uploaded files from the checkpoints folder; "
                                                      "trained runs' last.pt from the runs folder.")
        g_refresh = gr.Button("Refresh list", scale=1)
    g_info = gr.Markdown()
    with gr.Row():
        g_seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=arg_spec("seed").hi,
                           info="Same seed, same z: the grid is reproducible.", elem_id="gen-seed")
        g_n = gr.Slider(arg_spec("n").lo, arg_spec("n").hi, 64, step=1, label="Images")
        g_nrow = gr.Slider(1, 32, 8, step=1, label="Images per row")
    g_tags = tag_dropdowns("gen")
    g_btn = gr.Button("Generate", variant="primary", elem_id="gen-btn")
    g_img = gr.Image(label="Samples", format="png", interactive=False, elem_classes="pixelated", elem_id="gen-img")
    with gr.Row():
        g_cap = gr.Markdown(elem_id="gen-caption")
        g_dl = gr.DownloadButton("Download PNG", elem_id="gen-dl")
    with gr.Group(visible=False) as g_sweep_box:
        gr.Markdown(f"### {studio.SWEEP_TITLE}\n{studio.SWEEP_NOTE}")
        with gr.Row():
            g_group = gr.Dropdown(label="Tag to vary", choices=[], interactive=True)
            g_rows = gr.Slider(1, 8, 4, step=1, label="Rows (different z)")
            g_sweep_btn = gr.Button("Show the sweep")
        g_sweep = gr.Image(label="Tag sweep", format="png", interactive=False, elem_classes="pixelated")
        with gr.Row():
            g_sweep_cap = gr.Markdown()
            g_sweep_dl = gr.DownloadButton("Download sweep PNG")

    # ---- events: Generate ----
    g_info_out = [g_info, *g_tags, g_group, g_sweep_box]
    g_inputs = [g_ckpt, g_seed, g_n, g_nrow, *g_tags]
    g_outputs = [g_img, g_cap, g_dl]
    # ZeroGPU: a GPU call when the grid is large (images x pixels), else the CPU
    gen = on_gpu(generate, "generate", work=lambda name, seed, n, *_: int(n or 64) * image_pixels(name))
    g_ckpt.input(on_generator, g_ckpt, g_info_out, **private).then(gen, g_inputs, g_outputs, **private)
    demo.load(on_generator, g_ckpt, g_info_out, **private).then(gen, g_inputs, g_outputs, **private)
    g_btn.click(gen, g_inputs, g_outputs, concurrency_id="pictures", concurrency_limit=2, **private)
    g_refresh.click(lambda: gr.update(choices=generator_choices()[0]), None, g_ckpt, **private)
    g_sweep_btn.click(on_gpu(sweep, "generate", work=lambda name, seed, group, rows, *_: 16 * int(rows or 4)
                             * image_pixels(name)), [g_ckpt, g_seed, g_group, g_rows, *g_tags], [g_sweep, g_sweep_cap, g_sweep_dl],
                      concurrency_id="pictures", concurrency_limit=2, **private)


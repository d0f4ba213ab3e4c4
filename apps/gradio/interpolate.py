"""The Interpolate tab: walks between two seeds or tag sets (frames and a GIF), and latent arithmetic."""
from __future__ import annotations


import gradio as gr

from gan_core import studio
from .common import Ctx, MAX_TAG_GROUPS, _file, _png, _safe, _stem, load, picked_tags, tag_dropdowns, tag_updates


def on_generator_interp(name: str):
    entry, G, cfg, spec, groups = load(name)
    note = "" if groups else " Unconditional: only the seeds move."
    return [studio.generator_caption(cfg, spec) + note, *tag_updates(groups, False, "start "),
            *tag_updates(groups, False, "end "), *tag_updates(groups, False)]


def interpolate(name, seed_a, seed_b, method, steps, fps, boomerang, *tags):
    entry, G, cfg, spec, groups = load(name)
    ta, tb = picked_tags(groups, tags[:MAX_TAG_GROUPS]), picked_tags(groups, tags[MAX_TAG_GROUPS:])
    seed_a, seed_b, steps = int(seed_a or 0), int(seed_b or 0), int(steps or 16)
    try:
        frames = studio.interpolation_frames(G, cfg, spec, seed_a, seed_b, steps=steps, method=method, tags_a=ta,
                                             tags_b=tb)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    strip = studio.frames_strip(frames, per_row=min(8, len(frames)))
    stem = f"{_safe(_stem(entry))}_{method}_{seed_a}-{seed_b}"
    gif = _file(studio.frames_to_gif(frames, fps=float(fps or 10), boomerang=bool(boomerang), min_size=192),
                stem + ".gif")
    return (studio.upscale(strip, min_size=320), f"{len(frames)} frames, {method}, seed {seed_a} -> {seed_b}",
            _png(strip, stem + ".png"), gif, gif)


def arithmetic(name, s1, s2, s3, *tags):
    entry, G, cfg, spec, groups = load(name)
    seeds = (int(s1 or 0), int(s2 or 0), int(s3 or 0))
    t = picked_tags(groups, tags)
    try:
        imgs = studio.arithmetic_images(G, cfg, spec, seeds, tags=t)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    caps = [f"z1 (seed {seeds[0]})", f"z2 (seed {seeds[1]})", f"z3 (seed {seeds[2]})", "z1 - z2 + z3"]
    return [(studio.upscale(im, min_size=160), c) for im, c in zip(imgs, caps)]



def build(ctx: Ctx) -> None:
    demo, owner, admin, private = ctx.demo, ctx.owner, ctx.admin, ctx.private
    gen_choices, gen_default = ctx.gen_choices, ctx.gen_default
    i_ckpt = gr.Dropdown(gen_choices, value=gen_default, label="Generator checkpoint", elem_id="int-ckpt")
    i_info = gr.Markdown()
    gr.Markdown("### Walk between two points")
    with gr.Row():
        i_sa = gr.Number(0, label="Start seed", precision=0, minimum=0, maximum=2**31 - 1)
        i_sb = gr.Number(1, label="End seed", precision=0, minimum=0, maximum=2**31 - 1,
                         info="The start seed again changes only the tags.")
        i_method = gr.Radio(["slerp", "lerp"], value="slerp", label="Path",
                            info="slerp follows the sphere where Gaussian z's live; lerp is a straight line.")
        i_steps = gr.Slider(2, 64, 16, step=1, label="Frames", elem_id="int-steps")
    gr.Markdown("Start tags / end tags (tags are discrete: they switch half way along the path)")
    i_ta = tag_dropdowns("int-a")
    i_tb = tag_dropdowns("int-b")
    with gr.Row():
        i_fps = gr.Slider(1, 30, 10, step=1, label="GIF frames / s")
        i_boom = gr.Checkbox(True, label="Back and forth")
        i_btn = gr.Button("Interpolate", variant="primary", elem_id="int-btn")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            i_strip = gr.Image(label="Frames", format="png", interactive=False, elem_classes="pixelated")
            i_cap = gr.Markdown()
            i_strip_dl = gr.DownloadButton("Download frames (PNG)")
        with gr.Column(scale=1):
            i_gif = gr.Image(label="Animated GIF", type="filepath", interactive=False, elem_id="int-gif")
            i_gif_dl = gr.DownloadButton("Download GIF")
    gr.Markdown("### Latent arithmetic: z1 - z2 + z3\nVector arithmetic on noise vectors (Radford et al. "
                "2015): z1 - z2 + z3 tends to carry z1's difference from z2 onto z3.")
    with gr.Row():
        a_s1 = gr.Number(10, label="z1 seed", precision=0, minimum=0)
        a_s2 = gr.Number(11, label="z2 seed", precision=0, minimum=0)
        a_s3 = gr.Number(12, label="z3 seed", precision=0, minimum=0)
        a_btn = gr.Button("Compute")
    a_tags = tag_dropdowns("arith")
    a_gallery = gr.Gallery(label="z1, z2, z3, z1 - z2 + z3", columns=4, height="auto", object_fit="contain")


    # ---- events: Interpolate ----
    i_info_out = [i_info, *i_ta, *i_tb, *a_tags]
    i_ckpt.input(on_generator_interp, i_ckpt, i_info_out, **private)
    demo.load(on_generator_interp, i_ckpt, i_info_out, **private)
    i_btn.click(interpolate, [i_ckpt, i_sa, i_sb, i_method, i_steps, i_fps, i_boom, *i_ta, *i_tb],
                [i_strip, i_cap, i_strip_dl, i_gif, i_gif_dl], concurrency_id="pictures", concurrency_limit=2,
                **private)
    a_btn.click(arithmetic, [i_ckpt, a_s1, a_s2, a_s3, *a_tags], a_gallery, concurrency_id="pictures",
                concurrency_limit=2, **private)


"""The Interpolate tab: walks between two seeds or tag sets (frames and a GIF), and latent arithmetic."""
from __future__ import annotations


import gradio as gr

from gan_core import studio
from gan_core.config.arguments import arg_spec, check_args
from .common import Ctx, MAX_TAG_GROUPS, _file, _png, _safe, _stem, load, picked_tags, tag_dropdowns, tag_updates
from .gpu import image_pixels, on_gpu


def on_generator_interp(name: str):
    """The caption and tags of a generator, and seeds whose faces differ visibly (studio.distinct_seeds):
    the walk's two ends and the arithmetic's three seeds (seeds 0 and 1 can be nearly the same face)."""
    entry, G, cfg, spec, groups = load(name)
    note = "" if groups else " Unconditional: only the seeds move."
    pair, three = studio.distinct_seeds(G, cfg, spec, 2), studio.distinct_seeds(G, cfg, spec, 3)
    return [studio.generator_caption(cfg, spec) + note, *tag_updates(groups, False, "start "),
            *tag_updates(groups, False, "end "), *tag_updates(groups, False), *pair, *three]


def interpolate(name, seed_a, seed_b, method, steps, fps, boomerang, *tags):
    entry, G, cfg, spec, groups = load(name)
    ta, tb = picked_tags(groups, tags[:MAX_TAG_GROUPS]), picked_tags(groups, tags[MAX_TAG_GROUPS:])
    try:   # the checks and messages of gan_core.config.arguments (the API's too)
        a = check_args(seed_a=seed_a or 0, seed_b=seed_b or 0, frames=steps or 16, fps=fps or 10, method=method)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    seed_a, seed_b, steps, fps = a["seed_a"], a["seed_b"], a["frames"], a["fps"]
    try:
        frames = studio.interpolation_frames(G, cfg, spec, seed_a, seed_b, steps=steps, method=method, tags_a=ta,
                                             tags_b=tb)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    strip = studio.frames_strip(frames, per_row=min(8, len(frames)))
    stem = f"{_safe(_stem(entry))}_{method}_{seed_a}-{seed_b}"
    gif = _file(studio.frames_to_gif(frames, fps=fps, boomerang=bool(boomerang), min_size=192),
                stem + ".gif")
    return (studio.upscale(strip, min_size=320), f"{len(frames)} frames, {method}, seed {seed_a} -> {seed_b}",
            _png(strip, stem + ".png"), gif, gif)


def arithmetic(name, s1, s2, s3, *tags):
    entry, G, cfg, spec, groups = load(name)
    t = picked_tags(groups, tags)
    try:
        a = check_args(seed1=s1 or 0, seed2=s2 or 0, seed3=s3 or 0)
        seeds = (a["seed1"], a["seed2"], a["seed3"])
        imgs = studio.arithmetic_images(G, cfg, spec, seeds, tags=t)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    caps = [f"z1 (seed {seeds[0]})", f"z2 (seed {seeds[1]})", f"z3 (seed {seeds[2]})", "z1 - z2 + z3"]
    return [(studio.upscale(im, min_size=160), c) for im, c in zip(imgs, caps)]


def seed_loop(name, k, fps, *tags):
    """A GIF looping through ``k`` seeds whose faces differ most (and back to the first), one tag set."""
    entry, G, cfg, spec, groups = load(name)
    try:
        a = check_args(loop_seeds=k or 4, fps=fps or 10)
        seeds = studio.distinct_seeds(G, cfg, spec, a["loop_seeds"])
        frames = studio.seed_loop_frames(G, cfg, spec, seeds, steps=8, tags=picked_tags(groups, tags))
    except ValueError as e:
        raise gr.Error(str(e)) from None
    gif = _file(studio.frames_to_gif(frames, fps=a["fps"], min_size=192),
                f"{_safe(_stem(entry))}_loop_{'-'.join(map(str, seeds))}.gif")
    return gif, f"{len(frames)} frames through seeds {' -> '.join(map(str, seeds))} -> {seeds[0]}"



def build(ctx: Ctx) -> None:
    demo, owner, admin, private = ctx.demo, ctx.owner, ctx.admin, ctx.private
    gen_choices, gen_default = ctx.gen_choices, ctx.gen_default
    i_ckpt = gr.Dropdown(gen_choices, value=gen_default, label="Generator checkpoint", elem_id="int-ckpt")
    i_info = gr.Markdown()
    gr.Markdown("### Walk between two points")
    with gr.Row():
        i_sa = gr.Number(0, label="Start seed", precision=0, minimum=0, maximum=arg_spec("seed").hi)
        i_sb = gr.Number(1, label="End seed", precision=0, minimum=0, maximum=arg_spec("seed").hi,
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
        a_s1 = gr.Number(10, label="z1 seed", precision=0, minimum=0, maximum=arg_spec("seed").hi)
        a_s2 = gr.Number(11, label="z2 seed", precision=0, minimum=0, maximum=arg_spec("seed").hi)
        a_s3 = gr.Number(12, label="z3 seed", precision=0, minimum=0, maximum=arg_spec("seed").hi)
        a_btn = gr.Button("Compute")
    a_tags = tag_dropdowns("arith")
    a_gallery = gr.Gallery(label="z1, z2, z3, z1 - z2 + z3", columns=4, height="auto", object_fit="contain")
    gr.Markdown("### A loop through several seeds\nThe seeds whose faces differ most, one after the other and "
                "back to the first (the arithmetic's tags).")
    with gr.Row():
        lk = arg_spec("loop_seeds")
        l_k = gr.Slider(lk.lo, lk.hi, lk.default, step=1, label=lk.label, info=lk.help)
        l_btn = gr.Button("Make the loop", elem_id="loop-btn")
    l_gif = gr.Image(label="Loop through seeds", type="filepath", interactive=False, elem_id="loop-gif")
    l_cap = gr.Markdown()


    # ---- events: Interpolate ----
    i_info_out = [i_info, *i_ta, *i_tb, *a_tags, i_sa, i_sb, a_s1, a_s2, a_s3]
    i_ckpt.input(on_generator_interp, i_ckpt, i_info_out, **private)
    demo.load(on_generator_interp, i_ckpt, i_info_out, **private)
    walk = on_gpu(interpolate, "interpolate", work=lambda name, sa, sb, method, steps, *_: int(steps or 16)
                  * image_pixels(name))   # ZeroGPU: a GPU call for long walks of big generators
    i_btn.click(walk, [i_ckpt, i_sa, i_sb, i_method, i_steps, i_fps, i_boom, *i_ta, *i_tb],
                [i_strip, i_cap, i_strip_dl, i_gif, i_gif_dl], concurrency_id="pictures", concurrency_limit=2,
                **private)
    a_btn.click(on_gpu(arithmetic, "interpolate", work=lambda name, *_: 4 * image_pixels(name)), [i_ckpt, a_s1, a_s2, a_s3, *a_tags], a_gallery, concurrency_id="pictures",
                concurrency_limit=2, **private)
    l_btn.click(seed_loop, [i_ckpt, l_k, i_fps, *a_tags], [l_gif, l_cap], concurrency_id="pictures",
                concurrency_limit=2, **private)


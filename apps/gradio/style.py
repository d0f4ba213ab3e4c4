"""The Style tab: neural style transfer (Gatys et al. 2016) with VGG19."""
from __future__ import annotations

import html

import gradio as gr

from gan_core import studio
from gan_core.jobs import zerogpu
from .common import Ctx
from .gpu import on_gpu



def _vgg():
    """VGG19 from studio.VGG (one behaviour for both fronts); why it cannot be had, escaped: the reason holds
    text such as "<urlopen error ...>" that would be read as an HTML tag and vanish."""
    from gan_core.img2img import style as S

    try:
        return studio.VGG.network()
    except S.StyleError as e:
        raise gr.Error(html.escape(str(e)), duration=None) from None


def style_notice() -> str:
    """What the tab says before Stylize is pressed: that VGG19 will be downloaded, or why it cannot be had."""
    n = studio.VGG.notice()
    if n is None:
        return ""
    return ("**Style transfer cannot run here:** " if n[0] == "error" else "") + html.escape(n[1])


def style_example():
    from gan_core.img2img import style as S

    return S.example_pair(size=128)


def style_run(content, style_img, steps, size, alpha, beta, optimizer):
    """Stream (picture, message, notice) while the image is optimised, then the result; without VGG19 the
    tab's notice says why (from then on, before the button is pressed) and the error toast too."""
    from gan_core.img2img import style as S

    if content is None or style_img is None:
        raise gr.Error("give a content and a style picture (or press 'Use the example pair')")
    try:
        cfg = S.StyleConfig(steps=int(steps), image_size=int(size), alpha=float(alpha), beta=float(beta),
                            optimizer=optimizer, preview_every=max(1, int(steps) // 10),
                            device=zerogpu.tool_device()).validate()   # cuda inside a ZeroGPU call
        try:
            net = _vgg()
        except gr.Error:
            yield gr.skip(), gr.skip(), style_notice()
            raise
        for ev in S.stylize(content, style_img, cfg, net=net):
            if isinstance(ev, S.StylePreview):
                yield ev.image, f"step {ev.step} / {cfg.steps}", gr.skip()
            elif isinstance(ev, S.StyleDone):
                yield ev.image, (f"done: {ev.steps} steps in {ev.seconds:.1f} s; loss {ev.first_loss:.3g} -> "
                                 f"{ev.loss:.3g}"), gr.skip()
    except S.StyleError as e:
        raise gr.Error(html.escape(str(e))) from None



def build(ctx: Ctx) -> None:
    demo, owner, admin, private = ctx.demo, ctx.owner, ctx.admin, ctx.private
    gr.Markdown("Neural style transfer (Gatys et al. 2016): an image is optimised so that VGG19's features match "
                "the content picture and their Gram matrices match the style picture. VGG19's weights come "
                "from `GAN_STUDIO_VGG19` or torchvision's download; without either, the tab says so.")
    with gr.Row():
        y_content = gr.Image(label="Content", type="numpy", image_mode="RGB")
        y_style = gr.Image(label="Style", type="numpy", image_mode="RGB")
        y_out = gr.Image(label="Result", format="png", interactive=False)
    with gr.Row():
        y_example = gr.Button("Use the example pair")
        y_steps = gr.Slider(10, 500, 100, step=10, label="Steps")
        y_size = gr.Slider(64, 512, 192, step=32, label="Size (px)")
        y_alpha = gr.Number(1.0, label="Content weight (alpha)")
        y_beta = gr.Number(1000.0, label="Style weight (beta)")
        y_opt = gr.Dropdown(["lbfgs", "adam"], value="lbfgs", label="Optimiser")
    y_notice = gr.Markdown(style_notice(), elem_id="style-notice")
    y_run = gr.Button("Stylize", variant="primary", elem_id="style-run")
    y_msg = gr.Markdown()
    y_example.click(style_example, None, [y_content, y_style], **private)
    # ZeroGPU: always a GPU call (VGG19 optimisation), as long as the steps and size need
    run = on_gpu(style_run, "style", seconds=lambda c, s, steps, size, *_: zerogpu.style_seconds(steps, size))
    y_run.click(run, [y_content, y_style, y_steps, y_size, y_alpha, y_beta, y_opt], [y_out, y_msg, y_notice],
                concurrency_limit=1, **private)
    demo.load(style_notice, None, y_notice, **private)

"""The 2D lab tab: a tiny MLP GAN on points in the plane, D's surface and G's gradients, live."""
from __future__ import annotations

from typing import Any, Optional

import gradio as gr
import numpy as np

from gan_core import studio
from gan_core.config import ConfigError
from gan_core.losses import LOSSES
from .common import Ctx, LAB_POLL_S, _stat_cards, curves_plot, owner_of


def _lab():
    try:
        from gan_core import lab2d
        from apps.lab2d_view import lab_figure
    except ImportError:  # pragma: no cover - the lab is being reworked
        return None
    return lab2d, lab_figure


LAB_WIDGETS = studio.LAB_WIDGETS
SHAPE_NAMES = studio.shape_names("gradio")
PAD_PX = 360   # the drawing pad's side in pixels


def pad_image(drawn: list, extent: float) -> np.ndarray:
    """The 2D lab's drawing pad: the plane [-extent, extent]^2 with a unit grid and the drawn points."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (PAD_PX, PAD_PX), (250, 250, 252))
    d = ImageDraw.Draw(img)
    to_px = lambda v: (v / extent + 1) / 2 * (PAD_PX - 1)  # noqa: E731
    for k in range(-int(extent), int(extent) + 1):
        c = (150, 150, 160) if k == 0 else (222, 222, 230)
        d.line([(to_px(k), 0), (to_px(k), PAD_PX)], fill=c)
        d.line([(0, to_px(-k)), (PAD_PX, to_px(-k))], fill=c)
    for x, y in drawn:
        cx, cy = to_px(x), to_px(-y)
        d.ellipse([cx - 5, cy - 5, cx + 5, cy + 5], fill=(230, 110, 20), outline=(60, 30, 10))
    return np.asarray(img)


def pad_point(index: Any, extent: float) -> tuple[float, float]:
    """Plane coordinates of a click at pixel ``index`` = (x, y) of the pad (y grows downwards)."""
    px, py = float(index[0]), float(index[1])
    f = lambda v: round(max(-extent, min(extent, (v / (PAD_PX - 1) * 2 - 1) * extent)), 3)  # noqa: E731
    return f(px), -f(py)


def lab_pad_click(owner_v, shape: str, drawn: list, evt: gr.SelectData, request: gr.Request = None):
    """A click on the pad adds a point (each becomes a small Gaussian); a running lab on "Your points"
    takes the new set at once."""
    lab2d, _ = _lab()
    extent = lab2d.LabConfig().extent
    pt = list(pad_point(evt.index, extent))
    drawn = list(drawn or [])
    if pt not in drawn and len(drawn) < lab2d.MAX_DRAWN:
        drawn.append(pt)
    if shape == lab2d.DRAWN:
        _lab_update(owner_v, request, shape=lab2d.DRAWN, drawn=[tuple(v) for v in drawn])
    return pad_image(drawn, extent), drawn, f"{len(drawn)} point(s) drawn."


def lab_pad_clear():
    lab2d, _ = _lab()
    return pad_image([], lab2d.LabConfig().extent), [], "0 points drawn: click the pad to add some."


def _my_lab(owner_v, request) -> Any:
    """This visitor's 2D lab runner, or None."""
    lab2d, _ = _lab()
    return lab2d.get_lab_manager().get(owner_of(owner_v, request))


def _lab_update(owner_v, request, **changes) -> None:
    r = _my_lab(owner_v, request)
    if r is None or not r.active:
        return
    try:
        r.update(**changes)
    except (ConfigError, ValueError, TypeError) as e:
        gr.Warning(f"Not applied: {e}")


def lab_values(cfg) -> list[Any]:
    return list(studio.lab_form_values(cfg).values())


def lab_preset(preset: str):
    lab2d, _ = _lab()
    p = lab2d.LAB_PRESETS.get(preset)
    if p is None:
        return [studio.lab_preset_note(preset), *[gr.skip()] * len(LAB_WIDGETS)]
    return [studio.lab_preset_note(preset), *lab_values(p.config())]


def lab_config(preset: str, values, drawn: Optional[list] = None) -> Any:
    return studio.lab_form_config(preset, dict(zip(LAB_WIDGETS, values)), drawn or ())


_lab_coerce = studio.lab_coerce


def lab_start(owner_v, preset, drawn, *values, request: gr.Request = None):
    lab2d, _ = _lab()
    try:
        lab2d.get_lab_manager().start(owner_of(owner_v, request), lab_config(preset, values, drawn))
    except (ConfigError, lab2d.LabBusyError, ValueError, TypeError) as e:
        gr.Warning(f"Not started: {e}")
        return gr.Timer(active=False)
    return gr.Timer(active=True)


def lab_control(action: str):
    def fn(owner_v, request: gr.Request = None):
        r = _my_lab(owner_v, request)
        if r is None or not r.active:
            return
        if action == "pause":
            r.resume() if r.status == "paused" else r.pause()
        else:
            r.stop()
    return fn


def lab_live(widget: str):
    field = LAB_WIDGETS[widget]

    def fn(owner_v, value, drawn, request: gr.Request = None):
        lab2d, _ = _lab()
        if field == "shape" and value == lab2d.DRAWN:
            if not drawn:
                gr.Warning("Click a few points on the drawing pad first; the lab keeps the old shape until then.")
                return
            _lab_update(owner_v, request, shape=value, drawn=[tuple(v) for v in drawn])
            return
        try:
            value = _lab_coerce(field, value)
        except (ValueError, TypeError) as e:
            gr.Warning(f"Not applied: {e}")
            return
        _lab_update(owner_v, request, **{field: value})
    return fn


def lab_tick(owner_v, arrows: bool, request: gr.Request = None):
    lab2d, lab_figure = _lab()
    r = _my_lab(owner_v, request)
    # "active" before the status and the frame: a Stop landing between the reads then shows "stopped" with the
    # timer still on for one more tick, never "running" with the timer off (a page stuck on "running")
    active = r is not None and r.active
    fr = r.frame() if r is not None else None
    if fr is None:
        return ["Press **Start** to train. Pick a preset for a classic picture.", gr.skip(), gr.skip(), gr.skip(),
                gr.skip(), gr.Timer(active=False)]
    cov = (f"{fr.coverage.modes_covered} / {fr.coverage.n_modes} modes · {fr.coverage.high_quality:.0%} high-quality"
           if fr.coverage is not None else "-")
    stats = _stat_cards([("Status", r.status), ("Step", str(fr.step)), ("Steps / s", f"{fr.steps_per_s:.0f}"),
                         ("Modes covered", cov), ("Mean |dL_G/dx|", f"{fr.grad_norm:.3g}")])
    if fr.error:
        stats += f"\n\n**Error:** {fr.error}"
    s = fr.settings
    stats += (f"\n\nNow: {LOSSES[s['loss']].title}, lr G {s['lr_g']:.1e}, lr D {s['lr_d']:.1e}, n_critic "
              f"{s['n_critic']}, batch {s['batch_size']}, {SHAPE_NAMES.get(s['shape'], s['shape'])}. "
              f"{lab2d.SCALE_NOTES[fr.scale]} {lab2d.teaching_note(s['loss'])}")
    plane = lab_figure(fr, show_arrows=bool(arrows), height=520)
    from apps.lab2d_view import strip_figure

    strip = strip_figure(fr)   # the earlier frames a preset keeps (NS collapse happens mid-run)
    strip_up = gr.update(value=strip, visible=True) if strip is not None else gr.update(visible=False)
    losses = curves_plot(fr.history, ["d_loss", "g_loss"], "Losses", max_points=300) if fr.history else None
    outs = curves_plot(fr.history, ["d_real", "d_fake"], "D outputs", max_points=300) if fr.history else None
    return [stats, plane, strip_up, losses, outs, gr.Timer(active=active)]



def build(ctx: Ctx) -> None:
    demo, owner, admin, private = ctx.demo, ctx.owner, ctx.admin, ctx.private
    lab = _lab()
    if lab is None:
        gr.Markdown("The 2D lab's core is not available in this build: use the Streamlit app's **2D lab** page.")
    else:
        lab2d, _ = lab
        first = lab2d.LAB_PRESETS["ns-collapse"]
        gr.Markdown("A tiny MLP GAN on points in the plane. The background is D's output over the plane, "
                    "black dots are real data, orange dots G's samples, green arrows where G's loss pushes "
                    "each sample (-dL_G/dx). The settings apply to the running lab at once. For your own "
                    "data, choose **Your points** and click the drawing pad.")
        with gr.Row():
            l_preset = gr.Dropdown(studio.lab_preset_choices(), value=first.name, label="Preset")
            l_note = gr.Markdown(lab_preset(first.name)[0])
        cfg0 = first.config()
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=240):
                l_w = {
                    "shape": gr.Dropdown([(SHAPE_NAMES.get(s, s), s) for s in lab2d.LAB_SHAPES],
                                         value=cfg0.shape, label="Data shape", elem_id="lab-shape"),
                    "loss": gr.Dropdown([(spec.title, k) for k, spec in LOSSES.items()], value=cfg0.loss.name,
                                        label="Loss"),
                    "lr_g": gr.Number(cfg0.train.lr_g, label="lr G", minimum=1e-8, maximum=1.0, step=1e-4),
                    "lr_d": gr.Number(cfg0.train.lr_d, label="lr D", minimum=1e-8, maximum=1.0, step=1e-4),
                    "n_critic": gr.Number(cfg0.train.n_critic, label="n_critic", minimum=1, maximum=100,
                                          precision=0),
                    "batch": gr.Number(cfg0.train.batch_size, label="Batch size", minimum=1, maximum=65536,
                                       precision=0),
                    "optimizer": gr.Dropdown(list(studio.field_spec("train.optimizer").choices),
                                             value=cfg0.train.optimizer, label="Optimiser"),
                }
                l_arrows = gr.Checkbox(True, label="Gradient arrows")
                with gr.Accordion("Drawing pad: click to add points (each becomes a small Gaussian)",
                                  open=False):
                    l_pad = gr.Image(pad_image([], cfg0.extent), interactive=False, show_label=False,
                                     elem_id="lab-pad", buttons=[], height=PAD_PX, width=PAD_PX)
                    with gr.Row():
                        l_pad_note = gr.Markdown("0 points drawn: click the pad to add some.",
                                                 elem_id="lab-pad-note")
                        l_clear = gr.Button("Clear points", size="sm")
                    l_drawn = gr.State([])
                l_start = gr.Button("Start / restart", variant="primary", elem_id="lab-start")
                with gr.Row():   # two to a row: three in this column cut their labels (#23 item 18)
                    l_pause = gr.Button("Pause / resume", scale=2, min_width=120)
                    l_stop = gr.Button("Stop", elem_id="lab-stop", scale=1, min_width=60)
            with gr.Column(scale=3):
                l_stats = gr.Markdown("Press **Start** to train. Pick a preset for a classic picture.", elem_id="lab-stats")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        l_plane = gr.Plot(label="The plane")
                        l_strip = gr.Plot(label="Earlier frames (generated points kept on the way)", visible=False,
                                          elem_id="lab-strip")
                    with gr.Column(scale=2):
                        l_losses = gr.Plot(label="Losses", elem_id="lab-losses")
                        l_outs = gr.Plot(label="D outputs")
        l_timer = gr.Timer(LAB_POLL_S, active=False)

    # ---- events: 2D lab ----
    if lab is not None:
        l_vals = list(l_w.values())
        l_preset.input(lab_preset, l_preset, [l_note, *l_vals], **private)
        l_start.click(lab_start, [owner, l_preset, l_drawn, *l_vals], l_timer, **private)
        l_pad.select(lab_pad_click, [owner, l_w["shape"], l_drawn], [l_pad, l_drawn, l_pad_note], **private)
        l_clear.click(lab_pad_clear, None, [l_pad, l_drawn, l_pad_note], **private)
        l_pause.click(lab_control("pause"), owner, None, **private)
        l_stop.click(lab_control("stop"), owner, None, **private)
        for w, comp in l_w.items():
            comp.input(lab_live(w), [owner, comp, l_drawn], None, **private)
        l_timer.tick(lab_tick, [owner, l_arrows], [l_stats, l_plane, l_strip, l_losses, l_outs, l_timer],
                     concurrency_limit=None, show_progress="hidden", **private)

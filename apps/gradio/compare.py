"""The Compare tab: the curves, final grids, quality and config differences of several runs."""
from __future__ import annotations


import gradio as gr

from gan_core import studio
from gan_core.losses import LOSSES
from apps import charts
from .common import Ctx, _table


def compare_choices():
    runs = studio.list_runs()
    return gr.update(choices=[(r.label, r.name) for r in runs], value=[r.name for r in runs[:3]])


def compare_curves(picked: list[str]):
    runs = {r.name: r for r in studio.list_runs()}
    hist = [h for n in picked or [] if n in runs for h in studio.load_metrics(runs[n].path)[-1:]]
    keys = studio.history_keys(hist) or ["d_loss", "g_loss"]
    return gr.update(choices=[(studio.curve_label(k), k) for k in keys],
                     value=[k for k in ("d_loss", "g_loss") if k in keys])


N_COMPARE_PLOTS = 4


def compare(picked: list[str], curves: list[str], smoothing: float, log_y: bool):
    runs = {r.name: r for r in studio.list_runs()}
    sel = [runs[n] for n in picked or [] if n in runs]
    if not sel:
        msg = (f"No runs in `{studio.runs_dir()}` yet: train a few on **Train** (e.g. the same preset and seed "
               "with the ns, lsgan and wgan-gp losses), then compare them here." if not runs else "Pick at least one run.")
        return [msg, *[gr.update(value=None, visible=False)] * N_COMPARE_PLOTS, None, *[gr.update(visible=False)] * 4]
    histories = {r.name: studio.load_metrics(r.path) for r in sel}
    plots = []
    for i in range(N_COMPARE_PLOTS):
        if i < len(curves or []):
            k = curves[i]
            plots.append(gr.update(value=charts.compare_figure(histories, k, smoothing=float(smoothing),
                                                               log_y=bool(log_y) and k not in ("d_real", "d_fake")),
                                   visible=True))
        else:
            plots.append(gr.update(value=None, visible=False))
    losses = sorted({(r.config or {}).get("loss", {}).get("name") for r in sel} - {None})
    msg = " ".join(f"**{n}**: {studio.curve_help(n)['losses']}" for n in losses if n in LOSSES)
    if len(curves or []) > N_COMPARE_PLOTS:
        msg += f"\n\n(The first {N_COMPARE_PLOTS} curves are drawn.)"
    gallery = []
    for r in sel:
        img = r.sample_image()
        if img is not None:
            gallery.append((studio.upscale(img, min_size=256), f"{r.name} · step {r.sample_step}"))
    diff = studio.config_differences({r.name: r.config for r in sel}) if len(sel) > 1 else []
    changes = studio.changed_while_training(sel, histories)   # from each run's config: early changes too
    quality = studio.quality_rows(sel)
    has_q = any(q.get("evaluated at step") is not None for q in quality)
    str_rows = lambda rows: [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in rows]  # noqa: E731
    return [msg, *plots, gallery, _table(studio.run_summary_rows(sel)),
            _table(quality) if has_q else gr.update(visible=False),
            _table(str_rows(diff)) if diff else gr.update(visible=False),
            _table(str_rows(changes)) if changes else gr.update(visible=False)]



def build(ctx: Ctx) -> None:
    demo, owner, admin, private = ctx.demo, ctx.owner, ctx.admin, ctx.private
    with gr.Row():
        c_runs = gr.Dropdown([], multiselect=True, label="Runs", scale=4, info="Newest first; pick two or more.")
        c_refresh = gr.Button("Refresh runs", scale=1)
    with gr.Row():
        c_curves = gr.Dropdown([], multiselect=True, label="Curves", scale=3)
        c_smooth = gr.Slider(0.0, 0.99, 0.6, step=0.01, label="Smoothing", info="Exponential moving average.")
        c_log = gr.Checkbox(False, label="Log y axis")
    c_msg = gr.Markdown()
    with gr.Row():
        c_plots = [gr.Plot(visible=False) for _ in range(N_COMPARE_PLOTS)]
    c_gallery = gr.Gallery(label="Final sample grids", columns=4, height=420, object_fit="contain")
    gr.Markdown("### Summary")
    c_summary = gr.Dataframe(interactive=False, visible=False, elem_id="compare-summary")
    gr.Markdown("### Quality (newest evaluation of each run) · config differences · changed while training")
    c_quality = gr.Dataframe(interactive=False, visible=False, label="Quality", wrap=True,   # no cut-off column at
                             elem_id="compare-quality")                                      # 1280 px (#23 item 18)
    c_diff = gr.Dataframe(interactive=False, visible=False, label="Config differences")
    c_changes = gr.Dataframe(interactive=False, visible=False, label="lr / n_critic changed while training")


    # ---- events: Compare ----
    c_out = [c_msg, *c_plots, c_gallery, c_summary, c_quality, c_diff, c_changes]
    c_in = [c_runs, c_curves, c_smooth, c_log]
    for trig in (c_refresh.click, demo.load):
        trig(compare_choices, None, c_runs, **private).then(compare_curves, c_runs, c_curves, **private).then(
            compare, c_in, c_out, **private)
    c_runs.input(compare_curves, c_runs, c_curves, **private).then(compare, c_in, c_out, **private)
    gr.on([c_curves.input, c_smooth.release, c_log.input], compare, c_in, c_out, **private)


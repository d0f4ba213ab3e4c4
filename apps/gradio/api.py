"""The API for scripts (listed on Gradio's "Use via API" page): /generate (PNG grid), /interpolate (GIF),
/train (start a run and stream its status), /train_status, /train_stop."""
from __future__ import annotations

import secrets
from typing import Iterator

import gradio as gr

from gan_core import studio
from gan_core.config.arguments import check_args
from gan_core.config import ConfigError
from gan_core.jobs.manager import NotOwnerError
from . import common as C
from .common import Ctx, TOKEN_RE, _file, _png, _safe, _stem, load
from .gpu import image_pixels, on_gpu
from .train import SPEC, run_training


# ---- the API for scripts -----------------------------------------------------------------------------------
def api_generate(checkpoint: str, tags: str, seed: float, n: float) -> str:
    """A PNG grid of n (1-64) samples of checkpoint (a file name in the checkpoints folder, e.g.
    "faces.safetensors", or "<run>/last.pt"; empty = the shipped faces generator) for tags ("blue
    hair, red eyes"; empty = random tags, or an unconditional model) and seed (0 to 2^63 - 1): the same
    arguments give the same image."""
    entry, G, cfg, spec, groups = load(checkpoint)
    try:   # the ranges and messages of the UI's fields, from one declaration (gan_core.config.arguments)
        a = check_args(seed=seed, n=n)
        t = studio.parse_tag_text(groups, tags)
        grid = studio.sample_grid(G, cfg, spec, n=a["n"], seed=a["seed"], tags=t)
    except (ValueError, TypeError) as e:
        raise gr.Error(str(e)) from None
    return _png(grid, f"{_safe(_stem(entry))}_seed{a['seed']}_n{a['n']}.png")


def api_interpolate(checkpoint: str, seed_a: float, seed_b: float, frames: float, method: str, tags_a: str,
                    tags_b: str, fps: float) -> str:
    """An animated GIF walking from z(seed_a) to z(seed_b) (method "slerp" or "lerp", 2-64 frames, 1-30
    fps); for conditional generators the tags switch from tags_a to tags_b (default: the same)
    half way."""
    entry, G, cfg, spec, groups = load(checkpoint)
    try:
        a = check_args(seed_a=seed_a, seed_b=seed_b, frames=frames, method=method, fps=fps)
        ta = studio.parse_tag_text(groups, tags_a)
        tb = studio.parse_tag_text(groups, tags_b) if (tags_b or "").strip() else ta
        if ta is not None:  # a path needs fixed tags: a group left out takes the seed's random class
            base = studio.make_labels(cfg, spec, 1, ta, a["seed_a"])[0].tolist()
            ta = [b if t is None else t for t, b in zip(ta, base)]
            tb = [x if t is None else t for t, x in zip(tb, ta)]
        fr = studio.interpolation_frames(G, cfg, spec, a["seed_a"], a["seed_b"], steps=a["frames"],
                                         method=a["method"], tags_a=ta, tags_b=tb)
        gif = studio.frames_to_gif(fr, fps=a["fps"], boomerang=False, min_size=128)
    except (ValueError, TypeError) as e:
        raise gr.Error(str(e)) from None
    return _file(gif, f"{_safe(_stem(entry))}_{a['method']}_{a['seed_a']}-{a['seed_b']}.gif")


def api_train(settings: dict, preset: str = "tiny", owner_key: str = "", request: gr.Request = None) -> Iterator[dict]:
    """Start a training run and stream its status until it ends (it waits in line like the Start button).

    settings: {"section.field": value} over the form's defaults and preset (e.g.
    {"train.steps": 50, "data.dataset": "digits"}). owner_key: a secret of 16-64 letters, digits,
    "-" or "_" that controls the run (for /train_stop); empty = a new one, returned as owner_key."""
    me = owner_key if TOKEN_RE.match(owner_key or "") else secrets.token_urlsafe(24)
    try:
        if preset not in studio.PRESETS:
            raise ValueError(f"preset must be one of {', '.join(studio.PRESETS)}, got {preset!r}")
        flat = studio.initial_form_values(preset, (settings or {}).get("data.dataset"))
        flat.update(settings or {})
        cfg = studio.config_from_flat({k: v for k, v in flat.items() if k in SPEC or k in (settings or {})})
    except (ConfigError, ValueError, TypeError, AttributeError) as e:
        raise gr.Error(f"Not started: {e}") from None
    for job, msg in run_training(cfg, me):
        out = studio.job_status(job.snapshot(), C.mgr.queue_position(job), C.mgr.expected_wait(job)) if job else {}
        yield {**out, "message": msg, "owner_key": me}


def api_train_status(job: int = 0) -> dict:
    """The status of run job (0: the run training now, else the newest): step, total steps,
    progress, img/s, ETA, the newest losses and its logged D/G losses; queue lists the waiting runs."""
    j = C.mgr.get(int(job)) if job else (C.mgr.active_job() or C.mgr.latest())
    if j is None:
        return {"status": "none", "message": "no run yet", "queue": [], "max_concurrent": C.mgr.max_concurrent}
    out = studio.job_status(j.snapshot(), C.mgr.queue_position(j), C.mgr.expected_wait(j), include_history=True)
    out["queue"] = [{k: v for k, v in r.items() if k != "whose"} for r in studio.queue_rows(C.mgr, None)]
    out["max_concurrent"] = C.mgr.max_concurrent
    return out


def api_train_stop(job: int, owner_key: str) -> str:
    """Stop (or take out of the queue) run job started with owner_key."""
    j = C.mgr.get(int(job))
    if j is None:
        raise gr.Error(f"no run {job}")
    try:
        j.stop(owner_key or "")
    except NotOwnerError as e:
        raise gr.Error(str(e)) from None
    return j.snapshot().status



def build(ctx: Ctx) -> None:
    """The hidden components of the file endpoints and the API routes (after the tabs)."""
    gen_default = ctx.gen_default
    with gr.Column(visible=False):
        api_ckpt = gr.Textbox(gen_default or "faces.safetensors", label="checkpoint")
        api_tags = gr.Textbox("", label="tags")
        # plain numbers: the handlers check them as the UI does (a rounding precision would cut n=2.5 to 2)
        api_seed = gr.Number(0, label="seed")
        api_n = gr.Number(16, label="n")
        api_png = gr.File(label="PNG grid")
        api_sa = gr.Number(0, label="seed_a")
        api_sb = gr.Number(1, label="seed_b")
        api_frames = gr.Number(16, label="frames")
        api_method = gr.Textbox("slerp", label="method")
        api_ta = gr.Textbox("", label="tags_a")
        api_tb = gr.Textbox("", label="tags_b")
        api_fps = gr.Number(10, label="fps")
        api_gif = gr.File(label="GIF")
        api_btn1 = gr.Button("generate")
        api_btn2 = gr.Button("interpolate")
    api_btn1.click(on_gpu(api_generate, "generate", work=lambda name, tags, seed, n: int(n or 16) * image_pixels(name)),
                   [api_ckpt, api_tags, api_seed, api_n], api_png, api_name="generate",
                   concurrency_id="pictures", concurrency_limit=2)
    api_btn2.click(on_gpu(api_interpolate, "interpolate", work=lambda name, sa, sb, frames, *_: int(frames or 16)
                          * image_pixels(name)), [api_ckpt, api_sa, api_sb, api_frames, api_method, api_ta, api_tb, api_fps],
                   api_gif, api_name="interpolate", concurrency_id="pictures", concurrency_limit=2)
    gr.api(api_train, api_name="train", concurrency_id="training", concurrency_limit=C.mgr.max_concurrent)
    gr.api(api_train_status, api_name="train_status", concurrency_limit=None, queue=False)
    gr.api(api_train_stop, api_name="train_stop", concurrency_limit=None)


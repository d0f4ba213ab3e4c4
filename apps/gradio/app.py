"""The Gradio Blocks: the header and admin box, one tab per page of ``gan_core.studio.pages`` (each tab's
module in this package builds and wires its own components), then the API routes; and ``main`` (launch)."""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import gradio as gr

from gan_core.config import envvars
from gan_core.config.envvars import env_number
from gan_core.jobs import sharing
from gan_core import studio
from gan_core.studio.pages import PAGE, PAGES
from . import api, gpu
from . import common as C
from .common import CSS, PORT_ENV, TITLE, Ctx, admin_sign_in, generator_choices, init_owner

# the Gradio tabs' order (the Streamlit sidebar keeps the registry's); every page with a Gradio tab is here
TAB_ORDER = ("train", "generate", "interpolate", "compare", "board", "checkpoints", "sketch", "style", "lab2d")
# dismiss the toasts of the tab left behind (an error without a time limit would follow the visitor)
CLEAR_TOASTS = "() => { document.querySelectorAll('.toast-close').forEach((b) => b.click()); }"
FAVICON = Path(__file__).resolve().parents[1] / "favicon.png"
assert set(TAB_ORDER) == {p.key for p in PAGES if p.gradio}


def build_demo() -> gr.Blocks:
    zero_note = gpu.install()   # ZeroGPU: spaces.GPU handed to gan_core before the app launches
    C.METRICS_EVERY = studio.install_metrics(C.mgr)
    gen_choices, gen_default = generator_choices()
    private = dict(api_visibility="private")
    with gr.Blocks(title=TITLE) as demo:
        owner = gr.BrowserState(None, storage_key="gan_studio_owner")
        admin = gr.State(False)
        gr.Markdown(f"# {TITLE}\nTrain and explore GANs: pick a loss and an architecture, start a short run, watch "
                    "the curves and samples live, change tags, interpolate and compare runs."
                    + (f"\n\n*{zero_note}*" if zero_note else ""))
        if studio.admin_token_configured():
            with gr.Accordion("Admin", open=False):
                with gr.Row():
                    admin_tok = gr.Textbox(label="Admin token", type="password", scale=3)
                    admin_btn = gr.Button("Sign in", scale=1)
                admin_msg = gr.Markdown()
                admin_btn.click(admin_sign_in, admin_tok, [admin, admin_msg], **private).then(
                    lambda: "", None, admin_tok, **private)
        demo.load(init_owner, owner, owner, **private)
        ctx = Ctx(demo, owner, admin, private, gen_choices, gen_default)
        # the API first: its routes keep the names /generate and /interpolate (Gradio numbers a later event of
        # a function with the same name, e.g. the Generate tab's button, as generate_2); its components are hidden
        api.build(ctx)
        tabs = {}
        for key in TAB_ORDER:
            page = PAGE[key]
            with gr.Tab(page.title, id=page.key) as tabs[key]:
                ctx.tab = key
                importlib.import_module(f"{__package__}.{page.gradio}").build(ctx)
            tabs[key].select(None, None, None, js=CLEAR_TOASTS, queue=False, **private)   # a tab's error stays with it
        # the live timers tick only on the tab shown (the first one at load): one tab's polling per open page
        timers = [(k, t) for k, ts in ctx.timers.items() for t in ts]
        for k, t in timers:
            t.active = k == TAB_ORDER[0]
        for key, tab in tabs.items():
            tab.select(lambda key=key: [gr.Timer(active=k == key) for k, _ in timers], None, [t for _, t in timers],
                       queue=False, **private)
    return demo


# Two costs of Gradio's queue that a class pays for nothing (py-spy and the OS's CPU counts, 30 viewers ticking each
# second, 2-vCPU Xeon, 2026-12-03): after every event it summarises its last GRADIO_ANALYTICS_MAX_EVENTS (10,000)
# events in a pandas frame for its monitoring page, 2-3 ms of a 14 ms event; and while idle it looks for work
# every millisecond, 0.04 cores with nobody on the page. A summary per 500 events of the last 2,000 is plenty
# for that page (an operator's own values win), and 10 ms between looks delays an event's start by 5 ms on average.
QUEUE_ANALYTICS = {"GRADIO_ANALYTICS_MAX_EVENTS": "2000", "GRADIO_ANALYTICS_CACHE_FREQUENCY": "500"}
QUEUE_IDLE_POLL_S = 0.01


def light_queue(demo: gr.Blocks, **queue_kwargs) -> gr.Blocks:
    """``demo.queue(**queue_kwargs)`` with QUEUE_ANALYTICS (read when the queue is made) and QUEUE_IDLE_POLL_S."""
    for k, v in QUEUE_ANALYTICS.items():
        os.environ.setdefault(k, v)
    demo.queue(**queue_kwargs)
    demo._queue.sleep_when_free = max(demo._queue.sleep_when_free, QUEUE_IDLE_POLL_S)   # no public setting
    return demo


def main() -> None:
    studio.prepare_server()   # once: serve below training priority, make the faces pool, probe the speed
    demo = build_demo()
    folders = [str(Path(p).resolve()) for p in (studio.checkpoints_dir(),)]
    light_queue(demo, default_concurrency_limit=1,
                max_size=int(env_number(envvars.GRADIO_MAX_QUEUE.name, 100, 1, 100_000)))
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
                server_port=int(os.environ.get(PORT_ENV, "7860")), allowed_paths=folders,
                max_file_size=sharing.max_upload_bytes(), css=CSS, show_error=True, favicon_path=str(FAVICON))

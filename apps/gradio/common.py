"""The Gradio front end's shared pieces: the visitor's owner secret and admin sign-in, files handed to
Gradio, tables and stat cards, the generator list and the tag dropdowns every picture tab uses."""
from __future__ import annotations

from dataclasses import dataclass, field

import hashlib
import html
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any, Optional

import gradio as gr
import numpy as np

from gan_core import studio
from gan_core.jobs import zerogpu
from gan_core.storage.checkpoint import CheckpointError
from gan_core.jobs.manager import get_manager
from apps import charts

TITLE = "GAN Studio"
PORT_ENV = "GRADIO_SERVER_PORT"
MAX_TAG_GROUPS = 4              # tag dropdowns per picker (faces: hair + eye; Hub data: its label columns)
# the Train tab's live panel: one tick per page and POLL_S, outside Gradio's queue (7-10 ms of server CPU a tick).
# With 30 viewers and a run training, 1 s ticks gave longest gaps of 1.5-1.8 s against 2.1-2.9 s at 1.5 s, for
# 0.20-0.24 against 0.17-0.20 server cores (3 alternating windows each, 2-vCPU Xeon, 2026-12-03,
# bench/RESULTS_class.md). Through the queue (10-13 ms a tick) 1.5 s had been the better of the two.
POLL_S = 1.0
LAB_POLL_S = 0.5                # the 2D lab's picture
RANDOM = -1                     # a tag dropdown's "random per image" value
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CSS = """
.pixelated img { image-rendering: pixelated; }
.stat-cards { display: flex; gap: 12px; flex-wrap: wrap; }
.stat-cards div { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 12px; min-width: 120px; }
.stat-cards b { display: block; font-size: 1.3em; }
"""

mgr = get_manager()
_OUT = Path(tempfile.mkdtemp(prefix="gan-studio-gradio-"))   # files handed to Gradio (it copies them to its cache)
METRICS_EVERY = 0   # the metrics evaluator's interval (set by build_demo)


# ---- who is asking ----------------------------------------------------------------------------------------
def owner_of(value: Any, request: Optional[gr.Request] = None) -> str:
    """The visitor's owner secret: the browser's (kept in localStorage by gr.BrowserState), else one tied
    to this connection (an API client that gave none, or an event before the page finished loading)."""
    if isinstance(value, str) and TOKEN_RE.match(value):
        return value
    session = getattr(request, "session_hash", None) or secrets.token_hex(16)
    return "session-" + hashlib.sha256(("gan-studio-gradio:" + session).encode()).hexdigest()[:40]


def init_owner(value: Any) -> str:
    """Page load: keep this browser's secret, or draw one (stored in its localStorage)."""
    return value if isinstance(value, str) and TOKEN_RE.match(value) else secrets.token_urlsafe(24)


def admin_sign_in(token: str) -> tuple[bool, str]:
    if studio.check_admin_token(token):
        return True, "Admin: you can stop any run and delete any upload (this browser tab only)."
    return False, "Wrong admin token."


# ---- small helpers ------------------------------------------------------------------------------------------
def _file(data: bytes, name: str) -> str:
    """Write bytes to a fresh file for Gradio to serve; returns its path."""
    d = Path(tempfile.mkdtemp(dir=_OUT))
    p = d / name
    p.write_bytes(data)
    return str(p)


def _png(img: np.ndarray, name: str) -> str:
    return _file(studio.png_bytes(img, compress_level=6), name)


def grid_file(view: Any) -> Optional[str]:
    """A run view's grid PNG (studio.live: labelled and encoded once per new sample) as a file in Gradio's
    cache, written once per grid and shared by every session: gr.Image serves a path in its cache as it is,
    where a numpy array would be PNG-encoded again for each viewer (issue 22)."""
    g = view.grid_view
    if g is None:
        return None

    def write() -> Path:
        from gradio.utils import get_upload_folder

        d = Path(get_upload_folder()) / hashlib.sha256(g.png).hexdigest()
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{_safe(view.run)}_step{g.step}.png"

    path = g.memo("gradio-file", write)
    if not path.exists():   # first use, or Gradio's cache was cleaned since
        tmp = path.with_name(f".{secrets.token_hex(4)}.tmp")
        tmp.write_bytes(g.png)
        tmp.replace(path)
    return str(path)


def plot_json(text: str) -> Any:
    """Plotly JSON as Gradio's plot payload: gr.Plot passes a PlotData through as it is, where a plotly figure
    is validated and turned into JSON again for each session's tick."""
    from gradio.components.plot import PlotData

    return PlotData(type="plotly", plot=text)


def plot_data(view: Any, group: Any) -> Any:
    """A live chart group of a run view as Gradio's plot payload (the figure's JSON), made once per new history
    row and shared by every session (issue 22)."""
    return view.curves.memo(("gradio-plot", group["title"]), lambda: plot_json(charts.live_json(view, group)))


def curves_plot(history: Any, keys: list[str], title: str, max_points: int = 1500) -> Any:
    """charts.curves_spec as Gradio's plot payload, without building a plotly figure (issue 22)."""
    return plot_json(charts.spec_json(charts.curves_spec(history, keys, title, max_points)))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80] or "image"


def _table(rows: list[dict[str, Any]], empty: str = "-") -> Any:
    cols, values = studio.rows_to_table(rows)
    if not cols:
        return gr.update(value=None, visible=False)
    cell = lambda v: "" if v is None else (round(v, 4) if isinstance(v, float) else v)  # noqa: E731
    return gr.update(value={"headers": cols, "data": [[cell(v) for v in r] for r in values]},
                     visible=True)


def _head(title: str, prog: str, stats: str) -> str:
    """The Train tab's run title, progress bar and stat cards as one HTML output (one live component, not three)."""
    t = re.sub(r"`([^`]*)`", r"<code>\1</code>", re.sub(r"\*\*([^*]*)\*\*", r"<b>\1</b>", html.escape(title)))
    return f'<h3 id="run-title">{t}</h3><div id="progress">{prog}</div><div id="stats">{stats}</div>'


def _controls(snap: Any, mine: bool) -> list[Any]:
    """Pause / Resume / Stop: usable only by the run's owner (or the admin) while it trains; the reason
    shows beside them otherwise (#23 item 10)."""
    active = bool(snap is not None and snap.active)
    note = studio.CONTROL_DISABLED if active and not mine else ""
    return [gr.update(interactive=active and mine and snap.status != "paused"),
            gr.update(interactive=active and mine and snap.status == "paused"),
            gr.update(interactive=active and mine), note]


def _stat_cards(items: list[tuple[str, str]]) -> str:
    return '<div class="stat-cards">' + "".join(f"<div>{k}<b>{v}</b></div>" for k, v in items) + "</div>"


# ---- generators and tags ------------------------------------------------------------------------------------
def generator_choices() -> tuple[list[tuple[str, str]], Optional[str]]:
    entries = studio.list_generators()
    d = studio.default_generator(entries)
    return [(e.label, studio.generator_key(e)) for e in entries], (studio.generator_key(d) if d else None)


def load(name: str):
    """(entry, G, cfg, spec, groups) for a generator name; gr.Error with the reason otherwise."""
    try:
        entry = studio.find_generator(name)
        G, cfg, spec = studio.load_generator_cached(entry.path, zerogpu.tool_device())   # cuda in a GPU call
    except (ValueError, CheckpointError, OSError) as e:
        raise gr.Error(str(e)) from None
    return entry, G, cfg, spec, studio.label_groups(cfg, spec)


def _stem(entry) -> str:
    return entry.path.stem if entry.source == "checkpoints" else str(entry.run)


def tag_updates(groups, allow_random: bool, prefix: str = "") -> list[Any]:
    """Updates for MAX_TAG_GROUPS tag dropdowns: one per group of the generator, the rest hidden."""
    out = []
    for i in range(MAX_TAG_GROUPS):
        if i < len(groups):
            name, classes = groups[i]
            choices = ([(f"random {name}", RANDOM)] if allow_random else []) + [(c, j) for j, c in enumerate(classes)]
            out.append(gr.update(choices=choices, value=RANDOM if allow_random else 0, label=f"{prefix}{name} tag".capitalize(),
                                 visible=True))
        else:
            out.append(gr.update(choices=[("-", RANDOM)], value=RANDOM, visible=False))
    return out


def picked_tags(groups, values) -> Optional[list[Optional[int]]]:
    if not groups:
        return None
    out = []
    for (name, classes), v in zip(groups, values):
        v = RANDOM if v is None else int(v)
        out.append(None if v == RANDOM or not 0 <= v < len(classes) else v)
    return out


def tag_dropdowns(prefix: str) -> list[gr.Dropdown]:
    with gr.Row():
        return [gr.Dropdown(choices=[("-", RANDOM)], value=RANDOM, label=f"Tag {i + 1}", visible=False, interactive=True,
                            elem_id=f"{prefix}-tag-{i}") for i in range(MAX_TAG_GROUPS)]



@dataclass
class Ctx:
    """What every tab's ``build`` needs from the app: the Blocks, the visitor's owner secret and admin state,
    the event options of the private (UI-only) events and the generator list at start."""
    demo: gr.Blocks
    owner: Any
    admin: Any
    private: dict
    gen_choices: list
    gen_default: Optional[str]
    tab: str = ""   # the tab being built
    timers: dict = field(default_factory=dict)   # tab key -> its live gr.Timers (ticking only while it is shown)

    def live(self, timer: Any) -> Any:
        """A timer of the tab being built: the app makes it tick only while that tab is shown, so an open page
        polls for one tab, not for every tab at once (issue 22: 30 visitors on one server)."""
        self.timers.setdefault(self.tab, []).append(timer)
        return timer


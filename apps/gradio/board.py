"""The Class board tab: every run on this server (gan_core.studio.board's rows) as a table with grid
thumbnails, sortable, refreshed every 2 s; the teacher (admin) pins runs for the projector view and stops
or deletes any run. Students only watch (the controls are not shown to them, a line says why)."""
from __future__ import annotations

import base64
import html
from typing import Any, Optional

import gradio as gr

from gan_core.jobs.manager import JobBusyError, NotOwnerError
from gan_core.jobs.sharing import PermissionDenied
from gan_core.studio import board
from . import common as C
from .common import Ctx, owner_of

POLL_S = 2.0
COLUMNS = ("visitor", "status", "loss", "architecture", "preset", "dataset", "steps", "tag accuracy",
           "same-tag diversity", "evaluated", "pinned")
CSS = """
.class-board table { width: 100%; border-collapse: collapse; }
.class-board td, .class-board th { border-bottom: 1px solid var(--border-color-primary); padding: 4px 8px; text-align: left; }
.class-board img, .projector img { image-rendering: pixelated; }
.projector { display: flex; gap: 16px; flex-wrap: wrap; }
.projector .card { flex: 1 1 0; min-width: 280px; max-width: 640px; border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px; }
.projector .card img { width: 100%; }
.projector .card b { font-size: 1.4em; }
"""


def _store() -> board.BoardStore:
    return board.BoardStore(C.mgr.runs_dir)


def _img(png: Optional[bytes], width: Optional[int] = None) -> str:
    if png is None:
        return "<i>no grid yet</i>"
    w = f' width="{width}"' if width else ""
    return f'<img alt="sample grid" src="data:image/png;base64,{base64.b64encode(png).decode()}"{w}>'


def table_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>No run on this server yet: runs appear here as soon as someone presses Start on Train.</p>"
    head = "<tr><th>grid</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS) + "</tr>"
    body = []
    for r in rows:
        c = board.cells(r)
        body.append(f'<tr data-run="{html.escape(r["run"])}"><td>{_img(board.grid_png(r), 96)}</td>'
                    + "".join(f"<td>{html.escape(str(c[k]))}</td>" for k in COLUMNS) + "</tr>")
    return f'<div class="class-board"><h3>All runs ({len(rows)})</h3><table>{head}{"".join(body)}</table></div>'


def projector_html(rows: list[dict[str, Any]], admin: bool) -> str:
    cards = board.projector_cards(rows)
    if not cards:
        return "<p><i>Pin runs (Run, then Pin / unpin) to show them side by side here, for the projector.</i></p>" \
            if admin else ""
    out = []
    for c in cards:
        png = board.grid_png({"run": c["run"], "grid": c["grid"], "grid_step": c["grid_step"]}, min_size=384)
        figs = "".join(f"<div>{html.escape(k)}: <b>{html.escape(str(v))}</b></div>" for k, v in c["figures"])
        out.append(f'<div class="card"><h3>{html.escape(c["title"])}</h3>{_img(png)}{figs}</div>')
    return f'<h2>Pinned runs, side by side</h2><div class="projector">{"".join(out)}</div>'


def refresh(owner_v, admin: bool, by: str, reverse: bool, picked: Optional[str], sig: Optional[list],
            request: gr.Request = None):
    """One poll of the board: the rows (sorted), the pinned runs, and for the teacher the run picker, whose
    choices are resent only when a run came, went or changed status (so a pick is never undone)."""
    me = owner_of(owner_v, request)
    admin = bool(admin)
    rows = board.board_rows(C.mgr, me, _store())
    order = board.sort_rows(rows, by or "newest", (not board.SORT_KEYS[by or "newest"][1]) if reverse else None)
    perm = board.permissions(admin)
    choices = [[f"{r['visitor']} · {r['loss']} · {r['arch']} · {r['status']}", r["run"]] for r in rows]
    names = [v for _, v in choices]
    if not perm["pin"] or (choices == sig and picked in names):
        run_up = gr.skip()
    else:
        run_up = gr.update(choices=[tuple(c) for c in choices],
                           value=picked if picked in names else (names[0] if names else None))
    return [f"**{perm['reason']}**" if perm["reason"] else "Teacher: pick a run to pin, stop or delete.",
            gr.update(visible=perm["pin"]), run_up, choices, projector_html(rows, admin), table_html(order)]


def save_name(owner_v, name: str, request: gr.Request = None) -> str:
    try:
        saved = _store().set_name(owner_of(owner_v, request), name or "")
    except (ValueError, OSError) as e:
        return f"**Not saved:** {e}"
    return f"On the board you are now **{html.escape(saved)}**." if saved else "On the board you are anonymous."


def own_name(owner_v, request: gr.Request = None) -> str:
    return _store().own_name(owner_of(owner_v, request))


def action(what: str):
    def fn(owner_v, admin: bool, run: Optional[str], request: gr.Request = None) -> str:
        me = owner_of(owner_v, request)
        row = next((r for r in board.board_rows(C.mgr, me, _store()) if r["run"] == run), None)
        if row is None:
            return "Pick a run first."
        try:
            if what == "pin":
                board.set_pinned(_store(), run, not row["pinned"], bool(admin))
                return f"{'Unpinned' if row['pinned'] else 'Pinned'} {run}."
            if what == "stop":
                if row["job"] is None or not row["active"]:
                    return f"{run} is not training."
                board.stop_run(C.mgr, row["job"], me, bool(admin))
                return f"Stopping {run}: its owner's page says the teacher stopped it."
            board.delete_run(C.mgr, run, bool(admin), _store())
            return f"Deleted {run}."
        except (PermissionDenied, NotOwnerError, JobBusyError, ValueError, OSError) as e:
            return f"**Not done:** {e}"
    return fn


def build(ctx: Ctx) -> None:
    demo, owner, admin, private = ctx.demo, ctx.owner, ctx.admin, ctx.private
    gr.HTML(f"<style>{CSS}</style>", padding=False)
    gr.Markdown("Every run on this server. Sort by any figure; the table refreshes by itself. Tag accuracy and "
                "same-tag diversity come from each run's newest evaluation.")
    with gr.Row(equal_height=True):
        name = gr.Textbox(label="Your name on the board", placeholder="anonymous", max_length=board.MAX_NAME,
                          elem_id="board-name", scale=2)
        save = gr.Button("Save name", elem_id="board-save-name", scale=1)
        by = gr.Dropdown(list(board.SORT_KEYS), value="newest", label="Sort by", elem_id="board-sort", scale=2)
        reverse = gr.Checkbox(label="Reverse order", value=False, elem_id="board-reverse", scale=1)
    name_msg = gr.Markdown(elem_id="board-name-msg")
    perm_md = gr.Markdown(elem_id="board-permissions")
    with gr.Group(visible=False) as admin_box:
        with gr.Row(equal_height=True):
            run = gr.Dropdown(label="Run", choices=[], elem_id="board-run", scale=4)
            pin_btn = gr.Button("Pin / unpin", elem_id="board-pin", scale=1)
            stop_btn = gr.Button("Stop", variant="stop", elem_id="board-stop", scale=1)
            del_btn = gr.Button("Delete", elem_id="board-delete", scale=1)
        act_msg = gr.Markdown(elem_id="board-action-msg")
    projector = gr.HTML(elem_id="board-projector")
    table = gr.HTML(elem_id="board-table")
    timer = ctx.live(gr.Timer(POLL_S))   # ticking only while the Board tab is shown

    sig = gr.State(None)   # the run picker's choices last sent
    outputs = [perm_md, admin_box, run, sig, projector, table]
    inputs = [owner, admin, by, reverse, run, sig]
    demo.load(own_name, owner, name, **private)
    save.click(save_name, [owner, name], name_msg, **private)
    for trig in (by.input, reverse.input, timer.tick):
        trig(refresh, inputs, outputs, concurrency_limit=None, show_progress="hidden", **private)
    for btn, what in ((pin_btn, "pin"), (stop_btn, "stop"), (del_btn, "delete")):
        btn.click(action(what), [owner, admin, run], act_msg, **private).then(refresh, inputs, outputs,
                                                                              show_progress="hidden", **private)

"""Class board: every run on this server (gan_core.studio.board's rows), sortable and refreshed live; the
teacher (admin) pins runs for the projector and stops or deletes any run. Students only watch."""
from __future__ import annotations

import re

import streamlit as st

from gan_core.jobs.manager import JobBusyError, NotOwnerError, get_manager
from gan_core.jobs.sharing import PermissionDenied
from gan_core.studio import board
from apps.streamlit.common import is_admin, owner_token, page_start

POLL_S = 2.0

page_start()
mgr = get_manager()
me = owner_token()
admin = is_admin()
store = board.BoardStore(mgr.runs_dir)
perm = board.permissions(admin)

st.title("Class board")
st.caption("Every run on this server. Sort by any figure; the table refreshes by itself. "
           "Tag accuracy and same-tag diversity come from each run's newest evaluation.")

with st.container(horizontal=True, vertical_alignment="bottom"):
    name = st.text_input("Your name on the board", value=store.own_name(me), max_chars=board.MAX_NAME, placeholder="anonymous", key="board.name",
                         help="Shown next to your runs on this server; leave empty to stay anonymous.")
    if st.button("Save name", key="board.save_name", icon=":material/badge:"):
        try:
            saved = store.set_name(me, name)
            st.toast(f"On the board you are now {saved or 'anonymous'}.")
        except (ValueError, OSError) as e:
            st.error(str(e), icon=":material/error:")
    by = st.selectbox("Sort by", list(board.SORT_KEYS), key="board.sort", persist_state="session")
    flip = st.toggle("Reverse order", key="board.reverse", persist_state="session")

if perm["reason"]:
    st.info(perm["reason"], icon=":material/visibility:")


def _act(fn, *args) -> None:
    try:
        fn(*args)
    except (PermissionDenied, NotOwnerError, JobBusyError, ValueError, OSError) as e:
        st.session_state["board.error"] = str(e)


def projector(rows) -> None:
    cards = board.projector_cards(rows)
    if not cards:
        if admin:
            st.caption("Pin runs below to show them side by side here (for the projector).")
        return
    st.subheader("Pinned runs, side by side")
    for col, c in zip(st.columns(max(2, len(cards)), gap="medium"), cards):   # one pin: half the width
        with col.container(border=True):
            st.markdown(f"**{c['title']}**")
            png = board.grid_png({"run": c["run"], "grid": c["grid"], "grid_step": c["grid_step"]}, min_size=384)
            if png is not None:
                st.image(png, caption=f"grid at step {c['grid_step']}", width="stretch")
            else:
                st.info("No grid yet.", icon=":material/image:")
            figs = st.columns(2)
            numbers = [(k, v) for k, v in c["figures"] if k != "status"]
            for i, (label, value) in enumerate(numbers):
                figs[i % 2].metric(label, value)
            st.markdown(f"**{dict(c['figures'])['status'].capitalize()}**")   # a sentence: not cut like a metric


def table() -> None:
    rows = board.board_rows(mgr, me, store)
    err = st.session_state.pop("board.error", None)
    if err:
        st.error(err, icon=":material/block:")
    projector(rows)
    st.subheader(f"All runs ({len(rows)})")
    if not rows:
        st.info("No run on this server yet: runs appear here as soon as someone presses Start on Train.",
                icon=":material/info:")
        return
    for r in board.sort_rows(rows, by, (not board.SORT_KEYS[by][1]) if flip else None):
        c = board.cells(r)
        with st.container(border=True, key="boardrow-" + re.sub(r"[^A-Za-z0-9_-]", "_", r["run"])):
            cols = st.columns([1, 5, 2] if admin else [1, 7], vertical_alignment="center")
            png = board.grid_png(r)
            if png is not None:
                cols[0].image(png, width=96)
            else:
                cols[0].caption("no grid yet")
            cols[1].markdown(f"**{c['visitor']}** · {c['status']}  \n"
                             f"{c['loss']} · {c['architecture']} · preset {c['preset']} · {c['dataset']} · "
                             f"steps {c['steps']}  \n"
                             f"tag accuracy **{c['tag accuracy']}** · same-tag diversity **{c['same-tag diversity']}** "
                             f"· evaluated {c['evaluated']}" + (" · :material/push_pin: pinned" if r["pinned"] else ""))
            if admin:
                with cols[2].container(horizontal=True):
                    key = r["run"]
                    if st.button("Unpin" if r["pinned"] else "Pin", key=f"pin.{key}", icon=":material/push_pin:"):
                        _act(board.set_pinned, store, key, not r["pinned"], admin)
                        st.rerun(scope="fragment")
                    if r["job"] is not None and r["active"] and st.button("Stop", key=f"stop.{key}",
                                                                           icon=":material/stop:"):
                        _act(board.stop_run, mgr, r["job"], me, admin)
                        st.rerun(scope="fragment")
                    if not r["active"] and st.button("Delete", key=f"del.{key}", icon=":material/delete:"):
                        _act(board.delete_run, mgr, key, admin, store)
                        st.rerun(scope="fragment")


st.fragment(table, run_every=POLL_S)()

"""Checkpoints: list, inspect, download, upload (validated, never unpickled), export and delete."""
from __future__ import annotations

import streamlit as st

from apps.streamlit.common import page_start, is_admin, owner_token

from gan_core.jobs import sharing
from gan_core import studio
from gan_core.storage.checkpoint import CheckpointError
from gan_core.storage.fileio import remove_stale_temp_files

page_start()
st.title("Checkpoints")
folder = studio.checkpoints_dir()
me, admin = owner_token(), is_admin()
remove_stale_temp_files(folder, min_age_s=3600)  # of uploads/exports killed mid-write
st.caption(f"Folder: `{folder}` (set `{studio.CHECKPOINTS_ENV}` to use another). Full training checkpoints "
           "(`.pt`) and generator exports (`.safetensors`) both work on the Generate and Interpolate pages.")


files = studio.list_checkpoints(folder)
if files:
    st.dataframe(studio.checkpoint_rows(files, folder, me), hide_index=True)

    by_name = {f.name: f for f in files}
    name = st.selectbox("Checkpoint", list(by_name), key="ck.pick")
    f = by_name[name]
    c1, c2 = st.columns(2)
    with c1:
        # read lazily: the bytes are only produced when this file is picked
        st.download_button(f"Download {name}", f.path.read_bytes(), file_name=name,
                           mime="application/octet-stream", icon=":material/download:", key="ck.download",
                           on_click="ignore")
    with c2:
        may_delete, why = sharing.can_delete(folder, name, me, admin)
        if not may_delete:
            st.caption(f":material/lock: {why}.")
        else:
            with st.popover("Delete", icon=":material/delete:"):
                st.write(f"Delete **{name}** from `{folder}`? This cannot be undone.")
                if st.button("Delete permanently", type="primary", key="ck.delete"):
                    try:
                        sharing.delete_checkpoint_as(name, me, admin, folder)
                    except (studio.UploadError, sharing.PermissionDenied) as e:
                        st.error(str(e))
                    else:
                        st.session_state["ck.flash"] = f"Deleted {name}."
                        st.rerun()
else:
    st.info("No checkpoint files here yet: upload one below or export a trained run.")

if msg := st.session_state.pop("ck.flash", None):
    st.success(msg, icon=":material/check_circle:")

st.subheader("Upload")
limit_mb = sharing.max_upload_bytes() >> 20
up = st.file_uploader(f"A GAN Studio checkpoint (.pt or .safetensors, at most {limit_mb} MB)",
                      type=["pt", "safetensors"], key="ck.upload", max_upload_size=limit_mb)
if up is not None:
    token = f"{up.file_id}:{up.name}:{up.size}"
    if st.session_state.get("ck.last_upload") != token:  # handle each upload once
        st.session_state["ck.last_upload"] = token
        try:
            dest, summary = sharing.save_upload_as(up.name, up.getvalue(), me, folder)
        except (studio.UploadError, sharing.PermissionDenied) as e:
            st.session_state["ck.upload_result"] = ("error", str(e))
        else:
            st.session_state["ck.upload_result"] = (
                "ok", f"Saved {dest.name}: {summary['dataset']} · {summary['arch']} · {summary['loss']} · "
                      f"step {summary['step']}.")
            st.rerun()
else:
    st.session_state.pop("ck.upload_result", None)
    st.session_state.pop("ck.last_upload", None)
result = st.session_state.get("ck.upload_result")
if result:
    (st.error if result[0] == "error" else st.success)(result[1])
st.caption("Uploads are checked before they are saved: `.pt` files are loaded with `weights_only` (a file "
           "with pickled code is refused and never written), and the generator must rebuild from the "
           "file's own config. File names are cleaned up; an existing file is never overwritten. Shipped "
           "files are read-only; an upload can be deleted by whoever uploaded it (or the admin).")

st.subheader("Export a trained run")
runs = studio.list_run_checkpoints()
if runs:
    by_run = {r.run: r for r in runs}
    e1, e2, e3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    run = e1.selectbox("Run", list(by_run), key="ck.export_run")
    out_name = e2.text_input("Save as", value=run, key=f"ck.export_name.{run}")
    if e3.button("Export generator", icon=":material/output:", key="ck.export"):
        try:
            p = studio.export_generator_as(by_run[run].path, out_name or run, folder, me)
        except (studio.UploadError, CheckpointError, OSError) as e:
            st.error(str(e))
        else:
            st.session_state["ck.flash"] = f"Exported {p.name}."
            st.rerun()
    st.caption("Writes the run's generator (EMA weights when present) as a small `.safetensors` file here.")
else:
    st.caption(f"No trained runs in `{studio.runs_dir()}` yet.")

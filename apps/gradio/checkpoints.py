"""The Checkpoints tab: list, download, upload (validated), delete and export checkpoint files."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import gradio as gr

from gan_core.jobs import sharing
from gan_core import studio
from gan_core.storage.checkpoint import CheckpointError
from gan_core.storage.fileio import remove_stale_temp_files
from .common import Ctx, _table, owner_of


def checkpoints_view(owner_v, request: gr.Request = None):
    me = owner_of(owner_v, request)
    folder = studio.checkpoints_dir()
    remove_stale_temp_files(folder, min_age_s=3600)
    files = studio.list_checkpoints(folder)
    runs = studio.list_run_checkpoints()
    names = [f.name for f in files]
    table = _table(studio.checkpoint_rows(files, folder, me)) if files else gr.update(visible=False)
    return [table, gr.update(choices=names, value=names[0] if names else None),
            gr.update(choices=[r.run for r in runs], value=runs[0].run if runs else None)]


def checkpoint_pick(name: Optional[str], owner_v, admin: bool, request: gr.Request = None):
    me = owner_of(owner_v, request)
    folder = studio.checkpoints_dir()
    if not name:
        return gr.update(value=None, visible=False), "", gr.update(interactive=False)
    p = folder / Path(name).name
    ok, why = sharing.can_delete(folder, p.name, me, bool(admin))
    return (gr.update(value=str(p.resolve()) if p.is_file() else None, label=f"Download {p.name}", visible=p.is_file()),
            "" if ok else f"Read-only for you: {why}.", gr.update(interactive=ok))


def checkpoint_delete(name: Optional[str], sure: bool, owner_v, admin: bool, request: gr.Request = None) -> str:
    if not name:
        return "Pick a checkpoint."
    if not sure:
        return "Tick *I am sure* first: deleting cannot be undone."
    try:
        sharing.delete_checkpoint_as(name, owner_of(owner_v, request), bool(admin), studio.checkpoints_dir())
    except (studio.UploadError, sharing.PermissionDenied) as e:
        return f"**Refused:** {e}"
    return f"Deleted {name}."


def checkpoint_upload(path: Optional[str], owner_v, request: gr.Request = None) -> str:
    if not path:
        return ""
    p = Path(path)
    try:
        size = p.stat().st_size
        sharing.check_upload_room(studio.checkpoints_dir(), size)  # before reading a big file into memory
        dest, s = sharing.save_upload_as(p.name, p.read_bytes(), owner_of(owner_v, request), studio.checkpoints_dir())
    except (studio.UploadError, sharing.PermissionDenied, OSError) as e:
        return f"**Refused:** {e}"
    return f"Saved {dest.name}: {s['dataset']} · {s['arch']} · {s['loss']} · step {s['step']}."


def checkpoint_export(run: Optional[str], out_name: str, owner_v, request: gr.Request = None) -> str:
    runs = {r.run: r for r in studio.list_run_checkpoints()}
    if not run or run not in runs:
        return "Pick a trained run."
    folder = studio.checkpoints_dir()
    try:
        p = studio.export_generator_as(runs[run].path, (out_name or run).strip() or run, folder,
                                       owner_of(owner_v, request))
    except (studio.UploadError, CheckpointError, OSError) as e:
        return f"**Refused:** {e}"
    return f"Exported {p.name}."



def build(ctx: Ctx) -> None:
    demo, owner, admin, private = ctx.demo, ctx.owner, ctx.admin, ctx.private
    gr.Markdown(f"Folder: `{studio.checkpoints_dir()}` (set `{studio.CHECKPOINTS_ENV}` to use another). "
                "Full training checkpoints (`.pt`) and generator exports (`.safetensors`) both work on "
                "Generate and Interpolate.")
    k_table = gr.Dataframe(interactive=False, visible=False, label="Checkpoints", elem_id="ck-table")
    with gr.Row():
        k_pick = gr.Dropdown([], label="Checkpoint", scale=2)
        k_dl = gr.DownloadButton("Download", visible=False, scale=1)
    with gr.Row():
        k_sure = gr.Checkbox(False, label="I am sure (deleting cannot be undone)")
        k_del = gr.Button("Delete", variant="stop", interactive=False, elem_id="ck-delete")
    k_why = gr.Markdown(elem_id="ck-why")
    k_msg = gr.Markdown()
    limit_mb = sharing.max_upload_bytes() >> 20
    gr.Markdown(f"### Upload\nA GAN Studio checkpoint (`.pt` or `.safetensors`, at most {limit_mb} MB). "
                "Uploads are checked before they are saved: `.pt` files are loaded with `weights_only` (a file "
                "with pickled code is refused and never written) and the generator must rebuild from the file's "
                "own config. Shipped files are read-only; an upload can be deleted by its uploader or the admin.")
    k_up = gr.File(label="Upload a checkpoint", file_types=[".pt", ".safetensors"], type="filepath")
    k_up_msg = gr.Markdown()
    gr.Markdown("### Export a trained run\nWrites the run's generator (EMA weights when present) as a small "
                "`.safetensors` file in the checkpoints folder.")
    with gr.Row():
        k_run = gr.Dropdown([], label="Run")
        k_name = gr.Textbox(label="Save as")
        k_export = gr.Button("Export generator")
    k_export_msg = gr.Markdown()


    # ---- events: Checkpoints ----
    k_view_out = [k_table, k_pick, k_run]
    k_pick_out = [k_dl, k_why, k_del]
    for trig in (demo.load,):
        trig(checkpoints_view, owner, k_view_out, **private).then(checkpoint_pick, [k_pick, owner, admin],
                                                                    k_pick_out, **private)
    k_pick.change(checkpoint_pick, [k_pick, owner, admin], k_pick_out, **private)
    k_del.click(checkpoint_delete, [k_pick, k_sure, owner, admin], k_msg, **private).then(
        checkpoints_view, owner, k_view_out, **private).then(lambda: False, None, k_sure, **private)
    k_up.upload(checkpoint_upload, [k_up, owner], k_up_msg, **private).then(
        checkpoints_view, owner, k_view_out, **private)
    k_run.change(lambda r: r or "", k_run, k_name, **private)
    k_export.click(checkpoint_export, [k_run, k_name, owner], k_export_msg, **private).then(
        checkpoints_view, owner, k_view_out, **private)


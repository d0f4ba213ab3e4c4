"""GAN Studio's Gradio front end (launcher; the tabs are in apps/gradio/, one module each): the Streamlit
app's pages as tabs, over the same core.

    python gradio_app.py            # http://localhost:7860 (port: $GRADIO_SERVER_PORT)

Every tab is a thin layer over ``gan_core`` (forms generated from the config metadata, pictures and
tables from ``gan_core.studio``, charts from ``apps.charts``); nothing here trains or computes what the
Streamlit pages would not. Training goes through the process-wide job manager; **Start** waits in
Gradio's own queue (``concurrency_id="training"``, limit = the manager's ``max_concurrent``), so a
second visitor sees their place in line instead of a refusal, and a run also takes one of the
machine-wide training slots of :mod:`gan_core.jobs.slots` (shared with a Streamlit server on the same
runs folder). Only the browser that started a run (a random secret in its localStorage, never in
the URL) or the admin (``$GAN_STUDIO_ADMIN_TOKEN``) can pause, steer or stop it.

API for scripts (see the "Use via API" page): ``/generate`` (PNG grid), ``/interpolate`` (GIF),
``/train`` (start a run and stream its status), ``/train_status``, ``/train_stop``.
"""
from __future__ import annotations

from apps.gradio.app import build_demo, main

__all__ = ["build_demo", "main"]

if __name__ == "__main__":
    main()

"""The Gradio front end (``python gradio_app.py``): ``app`` builds the Blocks (one tab per page of
``gan_core.studio.pages``) and launches it; each tab's module (``train``, ``generate``, ``interpolate``,
``compare``, ``checkpoints``, ``sketch``, ``style``, ``lab2d``) has a ``build(ctx)`` that creates and wires its
components; ``api`` holds the routes for scripts; ``common`` the owner secret, file helpers and shared widgets."""

"""Starting a child process (``spawn``) from an app server: the training jobs and the 2D lab use it."""
from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any, Iterator

_SPAWN_LOCK = threading.Lock()


@contextlib.contextmanager
def main_not_reimported() -> Iterator[None]:
    """While a child process is spawned, hide the parent's ``__main__`` from multiprocessing.

    A spawned child re-imports the parent's main module; under ``streamlit run`` that is Streamlit's
    own entry point, whose import in a process without a script-run context wrote ~17 "missing
    ScriptRunContext" / session-state warnings to the server log on every start (and cost start-up
    time). The child only needs its target function, which lives in an importable gan_core module."""
    main = sys.modules.get("__main__")
    with _SPAWN_LOCK:
        if main is None:
            yield
            return
        saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
        try:
            main.__dict__.pop("__file__", None)
            if "__spec__" in saved:
                main.__spec__ = None
            yield
        finally:
            main.__dict__.update(saved)


def start_child(proc: Any) -> None:
    """Start a ``spawn`` child process (a trainer, the speed probe, the 2D lab): at training priority
    (gan_core.jobs.priority's launcher thread, when the server installed it) and without re-importing the
    parent's ``__main__``."""
    from gan_core.jobs.priority import launch

    with main_not_reimported():
        launch(proc.start)

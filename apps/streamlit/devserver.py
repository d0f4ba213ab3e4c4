"""Start and stop a real ``streamlit run app.py`` server (browser tests and the polling benchmarks); the
start loop and the stop live in :mod:`apps.devserver`, shared with the Gradio server."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO, Mapping

from apps.devserver import REPO, free_port, start_streamlit, stop_server

__all__ = ["REPO", "free_port", "start_app_server", "stop_app_server"]


def start_app_server(env: Mapping[str, str], log: IO[bytes], timeout: float = 120.0,
                     root: Path = REPO) -> tuple[subprocess.Popen, str]:
    """Start the app headless on a free local port; return (process, url) once /_stcore/health answers.

    Raises RuntimeError (with the end of the server log, after stopping the server) if it does not come up.
    """
    return start_streamlit(env, log, timeout, root)


def stop_app_server(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    stop_server(proc, timeout=timeout)

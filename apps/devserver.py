"""Start and stop a real app server of either front end on loopback (browser tests, API tests, benchmarks):
one start loop (wait until a health URL answers, else stop it and raise with the end of its log) and one
stop (a signal, then kill after a timeout) for ``streamlit run app.py`` and ``python gradio_app.py``."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Mapping, Sequence

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_server(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Send ``sig`` (Gradio shuts down cleanly on SIGINT, Streamlit on SIGTERM); kill it after ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def start_server(cmd: Sequence[str], url: str, health: str, env: Mapping[str, str], log: IO[bytes], cwd: Path,
                 timeout: float = 120.0, sig: int = signal.SIGTERM, name: str = "the server") -> tuple[subprocess.Popen, str]:
    """Run ``cmd`` and return (process, url) once ``url + health`` answers 200. Raises RuntimeError (with the
    end of the log, after stopping the server with ``sig``) if it exits or does not answer within ``timeout``."""
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
    t0 = time.time()
    while True:
        try:
            with urllib.request.urlopen(url + health, timeout=3) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.time() - t0 > timeout:
            stop_server(proc, sig)
            text = Path(log.name).read_text(errors="replace")[-3000:] if hasattr(log, "name") else ""
            raise RuntimeError(f"{name} did not start:\n" + text)
        time.sleep(0.3)


def start_streamlit(env: Mapping[str, str], log: IO[bytes], timeout: float = 120.0,
                    root: Path = REPO) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` headless on a free local port; url without a trailing slash."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    return start_server(cmd, f"http://127.0.0.1:{port}", "/_stcore/health", env, log, root, timeout,
                        name="the streamlit server")


def start_gradio(base: Path, env: Mapping[str, str], log: IO[bytes], timeout: float = 180.0,
                 root: Path = REPO) -> tuple[subprocess.Popen, str]:
    """``python gradio_app.py`` on a free loopback port, run from ``base`` (its caches land there); url with a
    trailing slash. Stop it with ``stop_server(proc, GRADIO_STOP)``."""
    port = free_port()
    env = dict(env, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1")
    return start_server([sys.executable, str(root / "gradio_app.py")], f"http://127.0.0.1:{port}/", "config", env,
                        log, base, timeout, GRADIO_STOP, name="gradio_app.py")


GRADIO_STOP = signal.SIGINT

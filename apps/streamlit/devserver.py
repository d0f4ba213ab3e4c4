"""Start and stop a real ``streamlit run app.py`` server (browser tests and the polling benchmark)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Mapping

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app_server(env: Mapping[str, str], log: IO[bytes], timeout: float = 120.0,
                     root: Path = REPO) -> tuple[subprocess.Popen, str]:
    """Start the app headless on a free local port; return (process, url) once /_stcore/health answers.

    Raises RuntimeError (with the end of the server log, after stopping the server) if it does not come up.
    """
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
        cwd=root, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    t0 = time.time()
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.time() - t0 > timeout:
            stop_app_server(proc)
            text = Path(log.name).read_text(errors="replace")[-3000:] if hasattr(log, "name") else ""
            raise RuntimeError("the streamlit server did not start:\n" + text)
        time.sleep(0.3)


def stop_app_server(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)

"""A job trained by ``torchrun`` over several processes (``$GAN_STUDIO_NPROC`` > 1, process mode).

The job's thread in the app starts ``python -m torch.distributed.run --standalone --nproc_per_node N -m
gan_core.jobs.torchrun RUN_DIR [RESUME]`` and listens on a loopback socket
(:class:`multiprocessing.connection.Listener`, with a random key). Rank 0 connects back: it sends the
trainer's events (the run's events: see gan_core.train.distributed) and receives the steering commands (stop,
pause, resume, lr, n_critic), which it applies for every process. If the processes die before the run ends,
the job ends with an error that quotes the end of torchrun's output.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import threading
import traceback
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any, Optional

from gan_core.jobs.priority import launch
from gan_core.config import envvars
from gan_core.config.envvars import env_number
from gan_core.storage.rundir import RESUME_HINT

NPROC_ENV = envvars.NPROC.name
_ADDR_ENV, _KEY_ENV, _CFG_ENV = envvars.JOB_ADDR.name, envvars.JOB_KEY.name, envvars.JOB_CONFIG.name
CONNECT_TIMEOUT = 300.0   # seconds for torchrun to start rank 0 (importing torch, loading data)


def nproc() -> int:
    """Processes per training run, from ``$GAN_STUDIO_NPROC`` (default 1: no torchrun)."""
    return int(env_number(NPROC_ENV, 1, 1, 1024))


def command(n: int, run_dir: str, resume: Optional[str]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
            "-m", "gan_core.jobs.torchrun", run_dir] + ([resume] if resume else [])


class _Sender:
    """The ``put`` that gan_core.jobs.job's process control sends commands with, over the socket."""

    def __init__(self, conn: Any):
        self.conn, self.lock = conn, threading.Lock()

    def put(self, msg: Any) -> None:
        with self.lock:
            self.conn.send(msg)


def run(job: Any, n: int) -> None:
    """Train ``job`` (a gan_core.jobs.job.Job in process mode) with torchrun over ``n`` processes; its events go to
    ``job._on_event``, failures to ``job._fail``."""
    from gan_core.train.events import DoneEvent

    key = secrets.token_bytes(32)
    listener = Listener(("127.0.0.1", 0), authkey=key)
    host, port = listener.address
    env = {**os.environ, _ADDR_ENV: f"{host}:{port}", _KEY_ENV: key.hex(), _CFG_ENV: job.cfg.to_json()}
    root = str(Path(__file__).resolve().parents[2])   # gan_core importable whatever the working folder
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    if "OMP_NUM_THREADS" not in env:   # torchrun would set 1; share the cores out instead
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // n))
    log = tempfile.TemporaryFile(mode="w+b")
    proc = launch(lambda: subprocess.Popen(command(n, str(job.run_dir), job.resume), env=env, stdout=log,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))   # training priority
    job.pid = proc.pid
    conn = None
    try:
        conn = _accept(listener, proc)
        if conn is None:
            job._fail(f"torchrun ({n} processes) ended before training started: {_tail(log)}")
            return
        job.control.attach(_Sender(conn))
        while True:
            try:
                if not conn.poll(0.25):
                    if proc.poll() is None or conn.poll(1.0):
                        continue
                    raise EOFError
                kind, payload = conn.recv()
            except (EOFError, OSError):   # rank 0 is gone (killed, out of memory, a lost peer)
                job._fail(f"the training processes ended without finishing (torchrun exit code {_end(proc)}): "
                          f"{_tail(log)}; {RESUME_HINT}")
                return
            if kind == "crash":
                job._fail(payload[0], payload[1])
                return
            job._on_event(payload)
            if isinstance(payload, DoneEvent):
                return
    finally:
        job.control.attach(None)
        if conn is not None:
            conn.close()
        listener.close()
        _end(proc)
        log.close()


def _end(proc: subprocess.Popen) -> Optional[int]:
    """torchrun's exit code once it has ended (given 30 s to end by itself, then terminated)."""
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        return proc.wait(timeout=10)


def _accept(listener: Listener, proc: subprocess.Popen) -> Any:
    """Rank 0's connection, or None when torchrun ends (or takes too long) first."""
    box: dict[str, Any] = {}

    def accept() -> None:
        try:
            box["conn"] = listener.accept()
        except OSError:   # the listener was closed: torchrun ended first
            pass

    t = threading.Thread(target=accept, name="gan-torchrun-accept", daemon=True)
    t.start()
    waited = 0.0
    while t.is_alive() and proc.poll() is None and waited < CONNECT_TIMEOUT:
        t.join(0.25)
        waited += 0.25
    if "conn" not in box:
        listener.close()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
    return box.get("conn")


def _tail(log: Any, lines: int = 6) -> str:
    log.flush()
    log.seek(0)
    text = log.read().decode("utf-8", "replace").strip().splitlines()
    keep = [ln.strip() for ln in text if ln.strip(" =*") and not ln.startswith(("W1", "I1"))][-lines:]
    return " | ".join(keep) or "no output"


# ---- the processes' side ------------------------------------------------------------------------
def main(argv: Optional[list[str]] = None) -> int:
    """One torchrun process: join the group, train; rank 0 reports to the job and takes its commands."""
    from gan_core.train import distributed
    from gan_core.config import RunConfig
    from gan_core.train.control import TrainControl, apply_commands
    from gan_core.train.trainer import Trainer

    args = sys.argv[1:] if argv is None else argv
    run_dir, resume = args[0], (args[1] if len(args) > 1 else None)
    cfg = RunConfig.from_json(os.environ[_CFG_ENV])
    control = TrainControl()
    conn = None
    try:
        dist = distributed.from_env(cfg.train.device)
        if dist is None or dist.is_main:
            host, port = os.environ[_ADDR_ENV].rsplit(":", 1)
            conn = Client((host, int(port)), authkey=bytes.fromhex(os.environ[_KEY_ENV]))
            threading.Thread(target=apply_commands, args=(conn.recv, control), name="gan-job-commands", daemon=True).start()
        trainer = Trainer(cfg, run_dir, resume=resume, control=control, dist=dist)
        failed = False
        for ev in trainer.run():
            failed = failed or type(ev).__name__ == "ErrorEvent"
            if conn is not None:
                conn.send(("event", ev))
        return 1 if failed else 0
    except BaseException as e:  # noqa: BLE001 - reported to the job, which decides
        if conn is not None:
            conn.send(("crash", (f"{type(e).__name__}: {e}", traceback.format_exc(limit=3))))
        raise
    finally:
        distributed.shutdown()
        if conn is not None:
            conn.close()



if __name__ == "__main__":
    sys.exit(main())

"""Runs a :class:`~gan_core.lab2d.loop.Lab2D` in a child process and keeps one lab per owner.

The lab trains in its own process (``spawn``), so the app server's script runs and figure building
never take the GIL from it and the OS can give it a core of its own: the page only reads the newest
:class:`~gan_core.lab2d.loop.LabFrame` (small arrays) that a pump thread receives. Frames are computed
only while a view reads them (at most one per ``LabConfig.view_every_s``), so a lab nobody watches
spends its time on training.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from typing import Any, Optional

import torch

from gan_core.config import ConfigError
from gan_core.lab2d.loop import Lab2D, LabFrame
from gan_core.lab2d.settings import LIVE_FIELDS, LabConfig
from gan_core.jobs.spawn import start_child

VIEWER_S = 2.0     # a view that read a frame within this many seconds is still watching
POLL_S = 0.02      # the child looks for commands this often while it trains


class LabRunner:
    """Trains a :class:`Lab2D` in a child process. Commands (live updates, pause, resume, stop) go to
    it over a pipe and apply between two steps; the child sends a :class:`LabFrame` every
    ``view_every_s`` seconds while a view reads :meth:`frame`, once after each command, and at the end.

    The parent keeps a step-0 copy of the lab (``self.lab``): it validates the config before anything
    starts and gives the first frame while the child process starts up."""

    def __init__(self, cfg: LabConfig, owner: str = ""):
        self.lab = Lab2D(cfg)
        self.cfg = self.lab.cfg            # the settings now (live updates included)
        self.owner = owner
        self.status = "created"            # created | running | paused | stopped | done | failed
        self.error: Optional[str] = None
        self.step = 0                      # the newest step the parent has heard of
        self._ctx = mp.get_context("spawn")   # never fork a multi-threaded server
        self._wanted = self._ctx.Value("d", 0.0, lock=False)   # time.time() of the view's last read
        self._lock = threading.Lock()
        self._conn: Any = None
        self._proc: Any = None
        self._pump_thread: Optional[threading.Thread] = None
        self._frame: Optional[LabFrame] = None
        self._frames = 0

    # -- commands (any thread) -----------------------------------------------------------------------
    def start(self) -> "LabRunner":
        self.status = "running"
        self._set_frame(self.lab.frame(self.status))
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(self.cfg, child, self._wanted), name="gan-lab2d",
                                       daemon=True)
        start_child(self._proc)
        child.close()
        self._conn = parent
        self._pump_thread = threading.Thread(target=self._pump, name="gan-lab2d-pump", daemon=True)
        self._pump_thread.start()
        return self

    def update(self, **changes: Any) -> None:
        """Live changes; validated now (ConfigError names the field), applied before the child's next
        step. While no process runs they only change :attr:`cfg`."""
        bad = [k for k in changes if k not in LIVE_FIELDS]
        if bad:
            raise ConfigError(bad[0], "cannot be changed while the lab runs")
        with self._lock:
            self.cfg = self.cfg.replace(**changes)   # validation; the parent's idea of the settings now
        self._send(("update", dict(changes)))

    def pause(self) -> None:
        if self.status == "running":
            self.status = "paused"
            self._send(("pause",))

    def resume(self) -> None:
        if self.status == "paused":
            self.status = "running"
            self._send(("resume",))

    def stop(self, wait: float = 5.0) -> None:
        """Stop the child (killed after ``wait`` seconds) and wait for its last frame and status."""
        self._send(("stop",))
        if self._proc is not None:
            self._proc.join(wait)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(5.0)
        if self._pump_thread is not None and self._pump_thread is not threading.current_thread():
            self._pump_thread.join(wait)

    @property
    def active(self) -> bool:
        return self._proc is not None and self._proc.is_alive() and self.status in ("running", "paused")

    def frame(self) -> Optional[LabFrame]:
        """The newest frame; reading it asks the child for fresh ones (see :data:`VIEWER_S`)."""
        self._wanted.value = time.time()
        return self._frame

    @property
    def frames_published(self) -> int:
        return self._frames

    # -- the parent's side of the pipe ----------------------------------------------------------------
    def _send(self, msg: tuple) -> None:
        if self._conn is None:
            return
        with self._lock:
            try:
                self._conn.send(msg)
            except (OSError, ValueError):   # the child has ended: nothing left to steer
                pass

    def _set_frame(self, fr: LabFrame) -> None:
        self._frame, self.step = fr, fr.step
        self._frames += 1

    def _pump(self) -> None:
        """Receive the child's frames and its final status until the pipe closes."""
        conn, ended = self._conn, False
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            if msg[0] == "frame":
                self._set_frame(msg[1])
            elif msg[0] == "end":
                self.status, self.error, ended = msg[1], msg[2], True
        self._proc.join(5.0)
        if not ended:
            code = self._proc.exitcode
            how = f"was killed by signal {-code}" if code and code < 0 else f"exited with code {code}"
            self.status = "failed"
            self.error = f"the lab's training process {how} (out of memory?)"
            if self._frame is not None:
                self._frame.error = self.error
        with self._lock:
            conn.close()


def _serve(cfg: LabConfig, conn: Any, wanted: Any) -> None:
    """The child process: train, apply commands between steps, send frames while a view watches."""
    torch.set_num_threads(1)   # a tiny MLP: more threads only add synchronisation
    parent = os.getppid()
    status, error, rate = "running", None, 0.0
    lab: Optional[Lab2D] = None

    def publish() -> None:
        fr = lab.frame(status, rate)
        fr.error = error
        conn.send(("frame", fr))

    try:
        lab = Lab2D(cfg)
        t_start = last_view = last_poll = rate_t = time.perf_counter()
        rate_step = 0
        while True:
            now = time.perf_counter()
            if now - last_poll >= POLL_S or status == "paused":
                last_poll = now
                if os.getppid() != parent:   # the server has gone
                    status = "stopped"
                    break
                if conn.poll(0.05 if status == "paused" else 0):
                    cmd = conn.recv()
                    if cmd[0] == "stop":
                        status = "stopped"
                        break
                    if cmd[0] == "update":
                        lab.update(**cmd[1])
                    else:
                        status = "paused" if cmd[0] == "pause" else "running"
                    publish()
                    continue
                if status == "paused":
                    continue
            lab.train_step()
            now = time.perf_counter()
            if now - last_view >= lab.cfg.view_every_s:
                rate = (lab.step - rate_step) / (now - rate_t)
                if time.time() - wanted.value < VIEWER_S:
                    publish()
                last_view = rate_t = now = time.perf_counter()   # the frame's own time is not training
                rate_step = lab.step
            tc = lab.cfg.train
            if (tc.steps and lab.step >= tc.steps) or (tc.seconds and now - t_start >= tc.seconds):
                status = "done"
                break
    except Exception as e:  # shown in the view instead of ending the process silently
        status, error = "failed", f"{type(e).__name__}: {e}"
    try:
        if lab is not None:
            lab._log()
            publish()
    except Exception as e:  # pragma: no cover - the networks are broken beyond drawing
        error = error or f"{type(e).__name__}: {e}"
    try:
        conn.send(("end", status, error))
        conn.close()
    except (OSError, ValueError):
        pass


class LabBusyError(RuntimeError):
    """Too many labs train in this process."""


class LabManager:
    """One lab per owner (browser); at most ``max_active`` labs train at once in the process."""

    def __init__(self, max_active: int = 4):
        self.max_active = max_active
        self._labs: dict[str, LabRunner] = {}
        self._lock = threading.Lock()

    def get(self, owner: str) -> Optional[LabRunner]:
        return self._labs.get(owner)

    def start(self, owner: str, cfg: LabConfig) -> LabRunner:
        with self._lock:
            old = self._labs.get(owner)
            others = sum(1 for o, r in self._labs.items() if o != owner and r.active)
            if others >= self.max_active:
                raise LabBusyError(f"{others} 2D labs are already training on this server; try again when one stops")
            runner = LabRunner(cfg, owner)  # builds (and validates) before the old one is stopped
            if old is not None:
                old.stop()
            self._labs[owner] = runner
        return runner.start()

    def stop_all(self) -> None:
        with self._lock:
            for r in self._labs.values():
                r.stop()


_MANAGER: Optional[LabManager] = None
_MANAGER_LOCK = threading.Lock()


def get_lab_manager() -> LabManager:
    global _MANAGER
    with _MANAGER_LOCK:
        if _MANAGER is None:
            _MANAGER = LabManager()
        return _MANAGER


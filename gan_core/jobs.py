"""Background training jobs: one process-wide manager, one training job at a time.

UIs call :func:`get_manager` and only poll: ``job.snapshot()`` returns a consistent copy of the job's
state (status, step history, newest sample grid, checkpoints, error), so a page can reattach after
a reload. Only the owner (the session id that started a job) may stop, pause or steer it.

Isolation (``JobManager(mode=...)``, default from the environment variable ``GAN_STUDIO_JOB_MODE``):

* ``"process"`` (default): the trainer runs in a child process (``spawn``); its events come back over
  a queue and steering commands go the other way. The app server's Python thread (which re-renders
  the pages while they poll) then never competes with the training loop for the GIL, a crash or
  out-of-memory kill of the trainer cannot take the app down (the job ends with an error saying
  so), and memory is returned when the run ends. Start-up costs a few seconds (importing torch).
* ``"thread"``: the trainer runs in a thread of this process (quick to start; used by some tests).

Listeners always run in this process, in the job's event thread.
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import queue
import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .config import RunConfig
from .events import (CheckpointEvent, DoneEvent, ErrorEvent, Event, SampleEvent, StartEvent, StatusEvent,
                     StepEvent)
from .trainer import TrainControl, Trainer

RUNS_ENV = "GAN_STUDIO_RUNS"
MODE_ENV = "GAN_STUDIO_JOB_MODE"
MODES = ("process", "thread")
ACTIVE = ("starting", "loading data", "running", "paused", "stopping")


class JobBusyError(RuntimeError):
    """A job is already training; the message says which and what to do."""


class NotOwnerError(PermissionError):
    """Only the session that started a job may steer it."""


def runs_root() -> Path:
    return Path(os.environ.get(RUNS_ENV, "runs"))


def new_run_dir(cfg: RunConfig, root: Optional[Path] = None) -> Path:
    root = root or runs_root()
    stem = time.strftime("%Y%m%d-%H%M%S") + f"-{cfg.data.dataset}-{cfg.model.arch}-{cfg.loss.name}"
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
    for i in itertools.count():
        p = root / (stem if i == 0 else f"{stem}-{i}")
        if not p.exists():
            return p
    raise AssertionError("unreachable")


@dataclass
class JobSnapshot:
    id: int
    owner: str
    run_dir: str
    config: dict[str, Any]
    status: str                              # starting | loading data | running | paused | stopping | done | stopped | error
    step: int
    total_steps: int
    progress: float
    eta: Optional[float]
    img_per_s: float
    history: list[dict[str, Any]]            # StepEvent dicts, oldest first
    sample: Optional[np.ndarray]             # newest fixed-noise grid (H, W, 3) uint8
    sample_step: int
    checkpoints: list[str]
    error: Optional[str]
    notes: list[str]
    started_at: float
    finished_at: Optional[float]
    extras: dict[str, list[dict[str, Any]]]  # e.g. "metrics" from evaluators

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class Job:
    def __init__(self, job_id: int, owner: str, cfg: RunConfig, run_dir: Path, resume: Optional[str],
                 listeners: list[Callable[["Job", Event], None]], mode: str = "thread"):
        if mode not in MODES:
            raise ValueError(f"job mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.id, self.owner, self.cfg, self.run_dir, self.resume = job_id, owner, cfg, run_dir, resume
        self.mode = mode
        self.pid: Optional[int] = None  # of the training process ("process" mode)
        self.control: TrainControl = TrainControl() if mode == "thread" else _ProcessControl()
        self._lock = threading.Lock()
        self._listeners = listeners
        self.status = "starting"
        self.step = 0
        self.total_steps = cfg.train.steps
        self.progress, self.eta, self.img_per_s = 0.0, None, 0.0
        self.history: list[dict[str, Any]] = []
        self.sample: Optional[np.ndarray] = None
        self.sample_step = -1
        self.checkpoints: list[str] = []
        self.error: Optional[str] = None
        self.notes: list[str] = []
        self.extras: dict[str, list[dict[str, Any]]] = {}
        self.started_at = time.time()
        self.finished_at: Optional[float] = None
        self.thread = threading.Thread(target=self._run, name=f"gan-job-{job_id}", daemon=True)

    # ---- worker --------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self.mode == "process":
                self._run_process()
            else:
                trainer = Trainer(self.cfg, self.run_dir, resume=self.resume, control=self.control)
                for ev in trainer.run():
                    self._on_event(ev)
        except Exception as e:  # the trainer reports its own errors; this is for bugs / bad resume files
            self._fail(f"{type(e).__name__}: {e}", traceback.format_exc(limit=3))

    def _fail(self, message: str, detail: Optional[str] = None) -> None:
        with self._lock:
            self.error = message
            if detail:
                self.notes.append(detail)
            self.status = "error"
            self.finished_at = time.time()

    def _run_process(self) -> None:
        ctx = mp.get_context("spawn")  # never fork a multi-threaded server
        events, commands = ctx.Queue(), ctx.Queue()
        assert isinstance(self.control, _ProcessControl)
        self.control.attach(commands)
        proc = ctx.Process(target=_child_main, name=f"gan-job-{self.id}", daemon=True,
                           args=(self.cfg.to_json(), str(self.run_dir), self.resume, events, commands))
        proc.start()
        self.pid = proc.pid
        finished = False
        try:
            while not finished:
                try:
                    msg = events.get(timeout=0.25)
                except queue.Empty:
                    if not proc.is_alive():
                        try:  # the last messages may still be in the pipe
                            msg = events.get(timeout=1.0)
                        except queue.Empty:
                            code = proc.exitcode
                            how = f"was killed by signal {-code}" if code and code < 0 else f"exited with code {code}"
                            self._fail(f"the training process {how} without finishing (out of memory?); "
                                       "the newest checkpoint in the run directory can be resumed")
                            return
                    else:
                        continue
                kind, payload = msg
                if kind == "event":
                    self._on_event(payload)
                    finished = isinstance(payload, DoneEvent)
                elif kind == "crash":
                    self._fail(payload[0], payload[1])
                    finished = True
        finally:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
            self.control.attach(None)
            events.close()
            commands.close()

    def _on_event(self, ev: Event) -> None:
        with self._lock:
            if isinstance(ev, StatusEvent):
                self.status = ev.status if ev.status != "running" else "running"
            elif isinstance(ev, StartEvent):
                self.status = "running"
                self.step = ev.start_step
                self.notes.extend(ev.notes)
            elif isinstance(ev, StepEvent):
                self.step, self.progress, self.eta, self.img_per_s = ev.step, ev.progress, ev.eta, ev.img_per_s
                self.history.append(ev.to_dict())
            elif isinstance(ev, SampleEvent):
                self.sample, self.sample_step = ev.image, ev.step
            elif isinstance(ev, CheckpointEvent):
                if ev.path not in self.checkpoints:
                    self.checkpoints.append(ev.path)
            elif isinstance(ev, ErrorEvent):
                self.error = ev.message
            elif isinstance(ev, DoneEvent):
                self.step = ev.step
                self.status = {"error": "error", "stopped": "stopped"}.get(ev.reason, "done")
                if ev.reason in ("steps", "time"):
                    self.progress = 1.0
                self.eta = 0.0
                self.finished_at = time.time()
            if self.control.stop_requested and self.status in ("running", "paused"):
                self.status = "stopping"
        for fn in self._listeners:
            try:
                fn(self, ev)
            except Exception as e:  # a broken listener must not kill training
                with self._lock:
                    self.notes.append(f"listener failed: {e}")

    def add_extra(self, key: str, row: dict[str, Any]) -> None:
        """Listeners (e.g. metric evaluators) attach rows shown next to the curves."""
        with self._lock:
            self.extras.setdefault(key, []).append(row)

    # ---- polling and steering -----------------------------------------------------------------------
    def snapshot(self, since: int = 0) -> JobSnapshot:
        """Consistent copy of the state; ``since`` drops history entries with step <= since."""
        with self._lock:
            hist = [h for h in self.history if h["step"] > since] if since else list(self.history)
            return JobSnapshot(
                self.id, self.owner, str(self.run_dir), self.cfg.to_dict(), self.status, self.step,
                self.total_steps, self.progress, self.eta, self.img_per_s, hist, self.sample, self.sample_step,
                list(self.checkpoints), self.error, list(self.notes), self.started_at, self.finished_at,
                {k: list(v) for k, v in self.extras.items()},
            )

    @property
    def active(self) -> bool:
        with self._lock:
            return self.status in ACTIVE

    def _check_owner(self, who: str) -> None:
        if who != self.owner:
            raise NotOwnerError("only the session that started this run can control it")

    def stop(self, who: str) -> None:
        self._check_owner(who)
        self.control.stop()
        with self._lock:
            if self.status in ("running", "paused", "starting", "loading data"):
                self.status = "stopping"

    def pause(self, who: str) -> None:
        self._check_owner(who)
        self.control.pause()
        with self._lock:
            if self.status == "running":
                self.status = "paused"

    def resume_training(self, who: str) -> None:
        self._check_owner(who)
        self.control.resume()
        with self._lock:
            if self.status == "paused":
                self.status = "running"

    def set_lr(self, who: str, lr_g: Optional[float] = None, lr_d: Optional[float] = None) -> None:
        self._check_owner(who)
        self.control.set_lr(lr_g, lr_d)

    def set_n_critic(self, who: str, n: int) -> None:
        self._check_owner(who)
        self.control.set_n_critic(n)

    def wait(self, timeout: Optional[float] = None) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()


class _ProcessControl(TrainControl):
    """TrainControl whose commands are also forwarded to the trainer in a child process."""

    def __init__(self) -> None:
        super().__init__()
        self._queue: Any = None
        self._pending: list[tuple[str, tuple]] = []

    def attach(self, q: Any) -> None:
        with self._lock:
            self._queue = q
            pending, self._pending = self._pending, []
        for name, args in pending:
            self._send(name, *args)

    def _send(self, name: str, *args: Any) -> None:
        with self._lock:
            if self._queue is None:
                self._pending.append((name, args))
                return
            q = self._queue
        try:
            q.put((name, args))
        except (ValueError, OSError):  # queue closed: the run has ended
            pass

    def stop(self) -> None:
        super().stop()
        self._send("stop")

    def pause(self) -> None:
        super().pause()
        self._send("pause")

    def resume(self) -> None:
        super().resume()
        self._send("resume")

    def set_lr(self, lr_g: Optional[float] = None, lr_d: Optional[float] = None) -> None:
        super().set_lr(lr_g, lr_d)  # validates
        self.take_updates()
        self._send("set_lr", lr_g, lr_d)

    def set_n_critic(self, n: int) -> None:
        super().set_n_critic(n)
        self.take_updates()
        self._send("set_n_critic", n)


def _child_main(cfg_json: str, run_dir: str, resume: Optional[str], events: Any, commands: Any) -> None:
    """Entry point of a training process: run the trainer, send its events, apply steering commands."""
    control = TrainControl()

    def pump_commands() -> None:
        while True:
            try:
                name, args = commands.get()
            except (EOFError, OSError, ValueError):
                return
            try:
                getattr(control, name)(*args)
            except Exception:  # validated in the parent already
                pass

    threading.Thread(target=pump_commands, name="gan-job-commands", daemon=True).start()
    try:
        trainer = Trainer(RunConfig.from_json(cfg_json), run_dir, resume=resume, control=control)
        for ev in trainer.run():
            events.put(("event", ev))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which decides
        events.put(("crash", (f"{type(e).__name__}: {e}", traceback.format_exc(limit=3))))
    finally:
        events.close()
        events.join_thread()  # flush everything to the pipe before exiting


class JobManager:
    """Runs at most one training job at a time; keeps finished jobs for reattaching."""

    def __init__(self, runs_dir: Optional[Path] = None, mode: Optional[str] = None):
        mode = mode or os.environ.get(MODE_ENV, "process")
        if mode not in MODES:
            raise ValueError(f"{MODE_ENV} must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self.runs_dir = runs_dir
        self.listeners: list[Callable[[Job, Event], None]] = []

    def add_listener(self, fn: Callable[[Job, Event], None]) -> None:
        """Called in the training thread for every event of every job (keep it quick)."""
        if fn not in self.listeners:
            self.listeners.append(fn)

    def start(self, cfg: RunConfig, owner: str, run_dir: Optional[str] = None,
              resume: Optional[str] = None) -> Job:
        cfg.validate()
        with self._lock:
            busy = self.active_job()
            if busy is not None:
                snap = busy.snapshot()
                who = "you" if busy.owner == owner else "another session"
                raise JobBusyError(
                    f"a run is already training (started by {who}): {Path(snap.run_dir).name}, "
                    f"step {snap.step}/{snap.total_steps or '?'}. Only one run trains at a time: "
                    "wait for it to finish" + (" or stop it." if busy.owner == owner else ".")
                )
            rd = Path(run_dir) if run_dir else new_run_dir(cfg, self.runs_dir)
            job = Job(next(self._ids), owner, cfg, rd, resume, self.listeners, self.mode)
            self._jobs[job.id] = job
            job.thread.start()
            return job

    def active_job(self) -> Optional[Job]:
        for j in self._jobs.values():
            if j.active or j.thread.is_alive():
                return j
        return None

    def latest(self, owner: Optional[str] = None) -> Optional[Job]:
        """The active job, else the newest one (of ``owner`` if given)."""
        act = self.active_job()
        if act is not None:
            return act
        jobs = [j for j in self._jobs.values() if owner is None or j.owner == owner]
        return max(jobs, key=lambda j: j.id) if jobs else None

    def get(self, job_id: int) -> Optional[Job]:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: j.id)


_MANAGER: Optional[JobManager] = None
_MANAGER_LOCK = threading.Lock()


def get_manager() -> JobManager:
    """The process-wide manager (shared by every browser session of one app server)."""
    global _MANAGER
    with _MANAGER_LOCK:
        if _MANAGER is None:
            _MANAGER = JobManager()
        return _MANAGER

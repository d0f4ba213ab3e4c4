"""Background training jobs: one process-wide manager with a queue.

UIs call :func:`get_manager` and only poll: ``job.snapshot()`` returns a consistent copy of the job's
state (status, step history, newest sample grid, checkpoints, error), so a page can reattach after
a reload. Only the owner (the per-browser secret that started a job) or the admin may stop, pause,
steer or cancel it.

At most ``max_concurrent`` runs train at once (``$GAN_STUDIO_MAX_CONCURRENT``; default 1 on a CPU, 2
when a CUDA GPU is present, where several small runs can share it); further runs wait in a
first-come queue (status ``queued``) with a position and an estimated start time, and each visitor
may have at most ``max_per_visitor`` runs queued or training (``$GAN_STUDIO_MAX_PER_VISITOR``,
default 2). ``$GAN_STUDIO_MAX_QUEUE`` (default 50) bounds the queue.

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

import contextlib
import itertools
import multiprocessing as mp
import os
import queue
import re
import sys
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
MAX_CONCURRENT_ENV = "GAN_STUDIO_MAX_CONCURRENT"
MAX_PER_VISITOR_ENV = "GAN_STUDIO_MAX_PER_VISITOR"
MAX_QUEUE_ENV = "GAN_STUDIO_MAX_QUEUE"
MODES = ("process", "thread")
ACTIVE = ("starting", "loading data", "running", "paused", "stopping")
DEFAULT_STEPS_PER_S = 5.0   # ETA guess for queued runs before any run has been measured on this server


class JobBusyError(RuntimeError):
    """A run cannot be started or queued (per-visitor cap, full queue, its folder busy); says why."""


class NotOwnerError(PermissionError):
    """Only the browser that started a job (or the admin) may steer it."""


def _env_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer between {lo} and {hi}, got {raw!r}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {v}")
    return v


def default_max_concurrent() -> int:
    try:
        import torch

        gpu = torch.cuda.is_available()
    except Exception:  # noqa: BLE001 - no torch CUDA runtime
        gpu = False
    return 2 if gpu else 1


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
    status: str                              # queued | starting | loading data | running | paused | stopping | done | stopped | error | cancelled
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
    queued_at: float = 0.0
    lr_changes: list[dict[str, Any]] = field(default_factory=list)  # {"step", "lr_g", "lr_d", "n_critic"} set mid-run

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def queued(self) -> bool:
        return self.status == "queued"


class Job:
    def __init__(self, job_id: int, owner: str, cfg: RunConfig, run_dir: Path, resume: Optional[str],
                 listeners: list[Callable[["Job", Event], None]], mode: str = "thread",
                 on_end: Optional[Callable[["Job"], None]] = None):
        if mode not in MODES:
            raise ValueError(f"job mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.id, self.owner, self.cfg, self.run_dir, self.resume = job_id, owner, cfg, run_dir, resume
        self.mode = mode
        self.pid: Optional[int] = None  # of the training process ("process" mode)
        self.control: TrainControl = TrainControl() if mode == "thread" else _ProcessControl()
        self._lock = threading.Lock()
        self._listeners = listeners
        self.status = "queued"
        self._on_end = on_end
        self.lr_changes: list[dict[str, Any]] = []
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
        self.queued_at = self.started_at = time.time()
        self.finished_at: Optional[float] = None
        self.thread = threading.Thread(target=self._run, name=f"gan-job-{job_id}", daemon=True)

    def launch(self) -> None:
        """Leave the queue and start training (called by the manager when a slot is free)."""
        with self._lock:
            if self.status != "queued":
                return
            self.status = "starting"
            self.started_at = time.time()
        self.thread.start()

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
        finally:
            with self._lock:
                if self.status in ACTIVE:  # ended without a DoneEvent
                    self.status = "error"
                    self.error = self.error or "the training ended unexpectedly"
                    self.finished_at = time.time()
            if self._on_end is not None:
                self._on_end(self)

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
        with _main_not_reimported():
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
                {k: list(v) for k, v in self.extras.items()}, self.queued_at, list(self.lr_changes),
            )

    @property
    def active(self) -> bool:
        with self._lock:
            return self.status in ACTIVE

    @property
    def queued(self) -> bool:
        with self._lock:
            return self.status == "queued"

    def can_control(self, who: str, admin: bool = False) -> bool:
        return admin or who == self.owner

    def _check_owner(self, who: str, admin: bool = False) -> None:
        if not self.can_control(who, admin):
            raise NotOwnerError("only the browser that started this run (or the admin) can control it")

    def stop(self, who: str, admin: bool = False) -> None:
        self._check_owner(who, admin)
        with self._lock:
            if self.status == "queued":  # never started: leaves the queue
                self.status, self.finished_at = "cancelled", time.time()
                return
        self.control.stop()
        with self._lock:
            if self.status in ("running", "paused", "starting", "loading data"):
                self.status = "stopping"

    def cancel(self, who: str, admin: bool = False) -> None:
        """Take a queued run out of the queue (a started one is stopped)."""
        self.stop(who, admin)

    def pause(self, who: str, admin: bool = False) -> None:
        self._check_owner(who, admin)
        self.control.pause()
        with self._lock:
            if self.status == "running":
                self.status = "paused"

    def resume_training(self, who: str, admin: bool = False) -> None:
        self._check_owner(who, admin)
        self.control.resume()
        with self._lock:
            if self.status == "paused":
                self.status = "running"

    def _note_change(self, **change: Any) -> None:
        with self._lock:
            self.lr_changes.append({"step": self.step, "time": time.time(),
                                    **{k: v for k, v in change.items() if v is not None}})

    def set_lr(self, who: str, lr_g: Optional[float] = None, lr_d: Optional[float] = None,
               admin: bool = False) -> None:
        self._check_owner(who, admin)
        self.control.set_lr(lr_g, lr_d)
        self._note_change(lr_g=lr_g, lr_d=lr_d)

    def set_n_critic(self, who: str, n: int, admin: bool = False) -> None:
        self._check_owner(who, admin)
        self.control.set_n_critic(n)
        self._note_change(n_critic=n)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait for the job to end (a queued job first waits for its turn)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                status = self.status
            if status == "cancelled":
                return True
            if status != "queued":
                break
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        while not self.thread.is_alive() and self.thread.ident is None:  # launched, thread starting
            time.sleep(0.01)
        self.thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
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


_SPAWN_LOCK = threading.Lock()


@contextlib.contextmanager
def _main_not_reimported():
    """While a training process is spawned, hide the parent's ``__main__`` from multiprocessing.

    A spawned child re-imports the parent's main module; under ``streamlit run`` that is Streamlit's
    own entry point, whose import in a process without a script-run context wrote ~17 "missing
    ScriptRunContext" / session-state warnings to the server log on every Start (and cost start-up
    time). The child only needs :func:`_child_main`, which lives in this module."""
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
    """Runs up to ``max_concurrent`` training jobs at once and queues the rest (first come, first
    served); keeps finished jobs for reattaching."""

    def __init__(self, runs_dir: Optional[Path] = None, mode: Optional[str] = None,
                 max_concurrent: Optional[int] = None, max_per_visitor: Optional[int] = None,
                 max_queue: Optional[int] = None):
        mode = mode or os.environ.get(MODE_ENV, "process")
        if mode not in MODES:
            raise ValueError(f"{MODE_ENV} must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.max_concurrent = max_concurrent or _env_int(MAX_CONCURRENT_ENV, default_max_concurrent(), 1, 64)
        self.max_per_visitor = max_per_visitor or _env_int(MAX_PER_VISITOR_ENV, 2, 1, 1000)
        self.max_queue = max_queue or _env_int(MAX_QUEUE_ENV, 50, 1, 100_000)
        self._lock = threading.RLock()
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self.runs_dir = runs_dir
        self.listeners: list[Callable[[Job, Event], None]] = []
        self._steps_per_s: Optional[float] = None  # measured on this server, for queue ETAs

    def add_listener(self, fn: Callable[[Job, Event], None]) -> None:
        """Called in the training thread for every event of every job (keep it quick)."""
        if fn not in self.listeners:
            self.listeners.append(fn)

    def start(self, cfg: RunConfig, owner: str, run_dir: Optional[str] = None,
              resume: Optional[str] = None) -> Job:
        """Start a run now if a slot is free, else queue it (``job.status == "queued"``).

        Raises :class:`JobBusyError` when this visitor already has ``max_per_visitor`` runs queued or
        training, when the queue is full, or when ``run_dir`` belongs to a run that is not finished."""
        cfg.validate()
        with self._lock:
            live = [j for j in self._jobs.values() if j.active or j.queued]
            mine = [j for j in live if j.owner == owner]
            if len(mine) >= self.max_per_visitor:
                raise JobBusyError(
                    f"you already have {len(mine)} run(s) training or queued (at most {self.max_per_visitor} "
                    "per visitor): wait for one to finish, or cancel a queued one")
            if run_dir and any(Path(j.run_dir) == Path(run_dir) for j in live):
                raise JobBusyError(f"run {Path(run_dir).name} is already training or queued")
            if sum(j.queued for j in live) >= self.max_queue:
                raise JobBusyError(f"the queue is full ({self.max_queue} runs waiting); try again later")
            rd = Path(run_dir) if run_dir else new_run_dir(cfg, self.runs_dir)
            while any(Path(j.run_dir) == rd for j in self._jobs.values()) and not run_dir:
                rd = rd.with_name(rd.name + "-q")  # two runs queued in the same second
            job = Job(next(self._ids), owner, cfg, rd, resume, self.listeners, self.mode, on_end=self._job_ended)
            self._jobs[job.id] = job
            self._dispatch()
            return job

    def _running(self) -> list[Job]:
        return [j for j in self._jobs.values() if j.active]

    def _dispatch(self) -> None:
        """Start queued jobs (oldest first) while there are free slots; before each start, make room on
        disk by pruning the oldest finished runs (never one that is training or queued)."""
        with self._lock:
            free = self.max_concurrent - len(self._running())
            for j in sorted(self._jobs.values(), key=lambda j: j.id):
                if free <= 0:
                    break
                if j.queued:
                    self._make_room()
                    j.launch()
                    free -= 1

    def _make_room(self) -> None:
        from .sharing import prune_runs

        busy = [j.run_dir for j in self._jobs.values() if j.active or j.queued]
        try:
            prune_runs(self.runs_dir or runs_root(), busy=busy)
        except (OSError, ValueError):  # a bad cap setting or an unreadable folder must not block training
            pass

    def _job_ended(self, job: Job) -> None:
        snap = job.snapshot()
        if snap.finished_at and snap.step and snap.started_at:  # learn this server's speed for ETAs
            rate = snap.step / max(snap.finished_at - snap.started_at, 1e-3)
            if rate > 0:
                self._steps_per_s = rate if self._steps_per_s is None else 0.5 * (self._steps_per_s + rate)
        self._dispatch()

    # ---- the queue ---------------------------------------------------------------------------------
    def queued_jobs(self) -> list[Job]:
        with self._lock:
            return sorted((j for j in self._jobs.values() if j.queued), key=lambda j: j.id)

    def active_jobs(self) -> list[Job]:
        with self._lock:
            return sorted(self._running(), key=lambda j: j.id)

    def queue_position(self, job: Job) -> Optional[int]:
        """1 for the next run to start; None when the job is not queued."""
        q = self.queued_jobs()
        return q.index(job) + 1 if job in q else None

    def _expected_duration(self, cfg: RunConfig) -> float:
        tc = cfg.train
        rate = self._steps_per_s or DEFAULT_STEPS_PER_S
        est = [tc.steps / rate] if tc.steps else []
        if tc.seconds:
            est.append(tc.seconds)
        return min(est) if est else 0.0

    def expected_wait(self, job: Job) -> Optional[float]:
        """Seconds until a queued job should start: the running jobs' remaining time (their ETA) and the
        expected length of the runs queued before it, on ``max_concurrent`` slots. An estimate."""
        with self._lock:
            queue = self.queued_jobs()
            if job not in queue:
                return None
            slots = []
            for j in self._running():
                snap = j.snapshot()
                slots.append(snap.eta if snap.eta is not None else self._expected_duration(j.cfg))
            slots += [0.0] * max(0, self.max_concurrent - len(slots))
            slots.sort()
            for q in queue:
                start = slots.pop(0)
                if q is job:
                    return start
                slots.append(start + self._expected_duration(q.cfg))
                slots.sort()
        return None

    # ---- lookups -------------------------------------------------------------------------------------
    def active_job(self) -> Optional[Job]:
        """The oldest job that is training now, if any."""
        act = self.active_jobs()
        return act[0] if act else None

    def latest(self, owner: Optional[str] = None) -> Optional[Job]:
        """``owner``'s newest job that is training or queued, else the active job, else the newest job
        (of ``owner`` when it has one, else anyone's)."""
        with self._lock:
            jobs = list(self._jobs.values())
        if owner is not None:
            live = [j for j in jobs if j.owner == owner and (j.active or j.queued)]
            if live:
                return max(live, key=lambda j: j.id)
        act = self.active_job()
        if act is not None:
            return act
        own = [j for j in jobs if j.owner == owner] if owner is not None else []
        pool = own or jobs
        return max(pool, key=lambda j: j.id) if pool else None

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

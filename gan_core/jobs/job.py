"""One training job: its state, snapshot, ownership checks, steering, and how it runs (a child process
fed over queues, or a thread). The queue and the limits live in gan_core.jobs.manager (JobManager)."""
from __future__ import annotations

import contextvars
import multiprocessing as mp
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from gan_core.config import RunConfig
from gan_core.train.control import ForwardingControl, TrainControl, apply_commands
from gan_core.train.events import (CheckpointEvent, DoneEvent, ErrorEvent, Event, SampleEvent, StartEvent, StatusEvent,
                     StepEvent)
from gan_core.storage import rundir
from gan_core.train.trainer import Trainer
from gan_core.jobs.spawn import start_child

ACTIVE = ("starting", "loading data", "running", "paused", "stopping")
STEERABLE = ("running", "paused")   # the trainer has started: a live lr / n_critic change applies from its next step
MODES = ("process", "thread", "ray", "zerogpu")   # "ray": gan_core.jobs.ray_backend (optional); "zerogpu": gan_core.jobs.zerogpu_backend


class NotOwnerError(PermissionError):
    """Only the browser that started a job (or the admin) may steer it."""



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
    stopped_by: Optional[str] = None         # who asked to stop it: "teacher" (the admin) | "owner" | None
    eval_pending: bool = False               # ended, but the end-of-run listeners (the final evaluation) still work
    shortfall: str = ""                      # "the machine was busy: N steps, expect noise" (a short time-budget run)
    version: tuple = ()                      # changes with every change a viewer could see (Job.version)
    data_spec: dict[str, Any] = field(default_factory=dict)  # the StartEvent's DataSpec (tag names for the grid)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def queued(self) -> bool:
        return self.status == "queued"

    @property
    def steerable(self) -> bool:
        """Offer the live lr / n_critic box: the run trains (not while it starts, loads data or stops)."""
        return self.status in STEERABLE

    @property
    def settled(self) -> bool:
        """Nothing more will change: ended, and the final evaluation is in (or known not to come)."""
        return not self.active and not self.queued and not self.eval_pending


class Job:
    def __init__(self, job_id: int, owner: str, cfg: RunConfig, run_dir: Path, resume: Optional[str],
                 listeners: list[Callable[["Job", Event], None]], mode: str = "thread",
                 on_end: Optional[Callable[["Job"], None]] = None):
        if mode not in MODES:
            raise ValueError(f"job mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.id, self.owner, self.cfg, self.run_dir, self.resume = job_id, owner, cfg, run_dir, resume
        self.mode = mode
        self.pid: Optional[int] = None  # of the training process ("process" mode)
        self.slot: Optional[Any] = None  # the machine-wide training slot (gan_core.jobs.slots) while it trains
        # other modes: commands also go to the trainer elsewhere (child process, torchrun rank 0, Ray actor)
        self.control: TrainControl = TrainControl() if mode == "thread" else ForwardingControl()
        self._lock = threading.Lock()
        self._listeners = listeners
        self.status = "queued"
        self._on_end = on_end
        self.lr_changes: list[dict[str, Any]] = []
        self.data_spec: dict[str, Any] = {}
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
        self.stopped_by: Optional[str] = None   # "teacher" | "owner": who asked to stop (never the secret)
        self._finishing = False                 # the DoneEvent's listeners (final evaluation) still run
        self.shortfall = ""
        self.thread = threading.Thread(target=self._run, name=f"gan-job-{job_id}", daemon=True)
        # the request that started the job (mode "zerogpu": its GPU calls are made in this context)
        self.context = contextvars.copy_context()

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
            elif self.mode == "ray":
                from gan_core.jobs.ray_backend import run_ray
                run_ray(self)
            elif self.mode == "zerogpu":
                from gan_core.jobs.zerogpu_backend import run_zerogpu
                run_zerogpu(self)
            else:
                trainer = Trainer(self.cfg, self.run_dir, resume=self.resume, control=self.control)
                for ev in trainer.run():
                    self._on_event(ev)
        except Exception as e:  # the trainer reports its own errors; this is for bugs / bad resume files
            self._fail(f"{type(e).__name__}: {e}", traceback.format_exc(limit=3))
        finally:
            with self._lock:
                self._finishing = False
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
        from gan_core.jobs import torchrun as job_torchrun

        n = job_torchrun.nproc()
        if n > 1:   # $GAN_STUDIO_NPROC: one run over n data-parallel processes (torchrun)
            job_torchrun.run(self, n)
            return
        ctx = mp.get_context("spawn")  # never fork a multi-threaded server
        events, commands = ctx.Queue(), ctx.Queue()
        assert isinstance(self.control, ForwardingControl)
        self.control.attach(commands)
        proc = ctx.Process(target=_child_main, name=f"gan-job-{self.id}", daemon=True,
                           args=(self.cfg.to_json(), str(self.run_dir), self.resume, events, commands))
        start_child(proc)   # at training priority, above the server's page rendering
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
                                       + rundir.RESUME_HINT)
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
                self.status = ev.status
                if ev.status == "running" and ev.message:   # a note while training (e.g. TensorBoard went off)
                    self.notes.append(ev.message)
            elif isinstance(ev, StartEvent):
                self.status = "running"
                self.step = ev.start_step
                self.notes.extend(ev.notes)
                self.data_spec = dict(ev.data_spec or {})
                if ev.start_step and not self.history:   # a continued run: its curves start at step 1
                    self.history = [r for r in rundir.step_rows(self.run_dir) if r["step"] <= ev.start_step]
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
                self._finishing = True   # set with the status: a poll never sees "done" without it
                self.shortfall = ev.shortfall
                if ev.shortfall:
                    self.notes.append(ev.shortfall)
            if self.control.stop_requested and self.status in ("running", "paused", "starting", "loading data"):
                self.status = "stopping"   # a stop asked for while the data loads stays visible until the end
        for fn in self._listeners:
            try:
                fn(self, ev)
            except Exception as e:  # a broken listener must not kill training
                with self._lock:
                    self.notes.append(f"listener failed: {e}")
        if isinstance(ev, DoneEvent):
            with self._lock:
                self._finishing = False

    def add_extra(self, key: str, row: dict[str, Any]) -> None:
        """Listeners (e.g. metric evaluators) attach rows shown next to the curves."""
        with self._lock:
            self.extras.setdefault(key, []).append(row)

    # ---- polling and steering -----------------------------------------------------------------------
    def _version(self) -> tuple:
        return (self.status, self.step, len(self.history), self.sample_step, len(self.checkpoints), self.error,
                len(self.notes), tuple((k, len(v)) for k, v in self.extras.items()), len(self.lr_changes),
                self.finished_at, getattr(self, "stopped_by", None), getattr(self, "_finishing", False))

    @property
    def version(self) -> tuple:
        """A cheap key that changes whenever anything a viewer sees changes (status, step, history, grid,
        checkpoints, error, notes, evaluator rows, steering): what shared views are cached under."""
        with self._lock:
            return self._version()

    def snapshot(self, since: int = 0) -> JobSnapshot:
        """Consistent copy of the state; ``since`` drops history entries with step <= since."""
        with self._lock:
            hist = [h for h in self.history if h["step"] > since] if since else list(self.history)
            return JobSnapshot(
                self.id, self.owner, str(self.run_dir), self.cfg.to_dict(), self.status, self.step,
                self.total_steps, self.progress, self.eta, self.img_per_s, hist, self.sample, self.sample_step,
                list(self.checkpoints), self.error, list(self.notes), self.started_at, self.finished_at,
                {k: list(v) for k, v in self.extras.items()}, self.queued_at, list(self.lr_changes),
                self.stopped_by, self._finishing, self.shortfall, self._version(), dict(self.data_spec),
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
        """Stop the run (a queued one leaves the queue). Records who asked: ``"teacher"`` when the admin
        stops someone else's run, else ``"owner"``, so the pages can say so."""
        self._check_owner(who, admin)
        with self._lock:
            if self.status not in ACTIVE and self.status != "queued":
                return   # already ended: nothing to stop, and the record of who stopped it stays
            if self.stopped_by is None:
                self.stopped_by = "teacher" if admin and who != self.owner else "owner"
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


def _child_main(cfg_json: str, run_dir: str, resume: Optional[str], events: Any, commands: Any) -> None:
    """Entry point of a training process: run the trainer, send its events, apply steering commands."""
    control = TrainControl()
    threading.Thread(target=apply_commands, args=(commands.get, control), name="gan-job-commands", daemon=True).start()
    try:
        trainer = Trainer(RunConfig.from_json(cfg_json), run_dir, resume=resume, control=control)
        for ev in trainer.run():
            events.put(("event", ev))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which decides
        events.put(("crash", (f"{type(e).__name__}: {e}", traceback.format_exc(limit=3))))
    finally:
        events.close()
        events.join_thread()  # flush everything to the pipe before exiting

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
* ``"ray"`` (optional, ``requirements-scale.txt``): each run is an actor of a Ray cluster, possibly on
  another machine (``gan_core.jobs.ray_backend``; ``$GAN_STUDIO_RAY_ADDRESS``, ``$GAN_STUDIO_RAY_GPUS``,
  ``$GAN_STUDIO_RAY_CPUS``). The queue, caps and ``max_concurrent`` above still apply: this manager
  starts at most ``max_concurrent`` actors, and Ray places each where its GPU / CPU request fits, or
  keeps it waiting (status ``starting``, with a note) until a node has room. Set
  ``GAN_STUDIO_MAX_CONCURRENT`` to what the cluster holds (e.g. GPUs / ``GAN_STUDIO_RAY_GPUS``) so that
  waiting runs stay in this visible queue, with positions, ETAs and cancel, rather than in Ray's.
* ``"zerogpu"`` (the default on a ZeroGPU Space, or with ``GAN_STUDIO_ZEROGPU=1``): the run trains in
  GPU calls (``spaces.GPU``) made from this process in the starting request's context, a chain of
  calls each resuming from the previous one's checkpoint (``gan_core.jobs.zerogpu_backend``).

Listeners always run in this process, in the job's event thread.
"""
from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path
from typing import Callable, Optional

from gan_core.storage import rundir
from gan_core.jobs import zerogpu
from gan_core.config.checks import check_config
from gan_core.config import RunConfig
from gan_core.config import envvars
from gan_core.config.envvars import env_number
from gan_core.train.events import Event
from gan_core.jobs.job import ACTIVE, MODES, Job, JobSnapshot, NotOwnerError  # noqa: F401  (re-exported: the UIs' API)
from gan_core.storage.rundir import runs_root
from gan_core.jobs.slots import shared_limiter

MODE_ENV = envvars.JOB_MODE.name
MAX_CONCURRENT_ENV = envvars.MAX_CONCURRENT.name
MAX_PER_VISITOR_ENV = envvars.MAX_PER_VISITOR.name
MAX_QUEUE_ENV = envvars.MAX_QUEUE.name
DEFAULT_STEPS_PER_S = 5.0   # ETA guess for queued runs before any run has been measured on this server


class JobBusyError(RuntimeError):
    """A run cannot be started or queued (per-visitor cap, full queue, its folder busy); says why."""


def default_max_concurrent() -> int:
    try:
        import torch

        gpu = torch.cuda.is_available()
    except Exception:  # noqa: BLE001 - no torch CUDA runtime
        gpu = False
    return 2 if gpu else 1


def new_run_dir(cfg: RunConfig, root: Optional[Path] = None) -> Path:
    return rundir.new_run_dir(f"{cfg.data.dataset}-{cfg.model.arch}-{cfg.loss.name}", root)


class JobManager:
    """Runs up to ``max_concurrent`` training jobs at once and queues the rest (first come, first
    served); keeps finished jobs for reattaching."""

    def __init__(self, runs_dir: Optional[Path] = None, mode: Optional[str] = None,
                 max_concurrent: Optional[int] = None, max_per_visitor: Optional[int] = None,
                 max_queue: Optional[int] = None):
        mode = mode or os.environ.get(MODE_ENV) or ("zerogpu" if zerogpu.enabled() else "process")
        if mode not in MODES:
            raise ValueError(f"{MODE_ENV} must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "ray":  # optional: one line naming requirements-scale.txt when Ray is missing
            from gan_core.jobs.ray_backend import require_ray
            require_ray()
        self.mode = mode
        self.max_concurrent = max_concurrent or env_number(MAX_CONCURRENT_ENV, default_max_concurrent(), 1, 64)
        self.max_per_visitor = max_per_visitor or env_number(MAX_PER_VISITOR_ENV, 2, 1, 1000)
        self.max_queue = max_queue or env_number(MAX_QUEUE_ENV, 50, 1, 100_000)
        self._lock = threading.RLock()
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self.runs_dir = runs_dir
        # machine-wide slots: a Streamlit and a Gradio server on one machine share the limit
        self.slots = shared_limiter(self.max_concurrent, runs_dir or runs_root())
        self._retry: Optional[threading.Timer] = None
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
        check_config(cfg)
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
                    cfg = j.cfg
                    slot = self.slots.try_acquire(f"{cfg.data.dataset} / {cfg.model.arch} / {cfg.loss.name}")
                    if slot is None:  # another server on this machine holds the slots: look again soon
                        self._retry_soon()
                        break
                    j.slot = slot
                    self._make_room()
                    j.launch()
                    free -= 1

    def _retry_soon(self, delay: float = 1.0) -> None:
        """A slot freed by another process sends no signal: try the queue again after ``delay``."""
        with self._lock:
            if self._retry is None:
                self._retry = threading.Timer(delay, self._retry_now)
                self._retry.daemon = True
                self._retry.start()

    def _retry_now(self) -> None:
        with self._lock:
            self._retry = None
        self._dispatch()

    def _make_room(self) -> None:
        from gan_core.jobs.sharing import prune_runs

        busy = [j.run_dir for j in self._jobs.values() if j.active or j.queued]
        try:
            prune_runs(self.runs_dir or runs_root(), busy=busy)
        except (OSError, ValueError):  # a bad cap setting or an unreadable folder must not block training
            pass

    def _job_ended(self, job: Job) -> None:
        slot = getattr(job, "slot", None)
        if slot is not None:
            slot.release()
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

    def forget(self, job_id: int) -> None:
        """Drop an ended job from the manager (its run folder was deleted). A job that is training or
        queued cannot be forgotten: stop it first."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            if job.active or job.queued:
                raise JobBusyError(f"run {Path(job.run_dir).name} is {job.status}: stop it first")
            del self._jobs[job_id]

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

"""Job mode "ray": each run is a Ray actor, so a class can train on several machines behind the same
``JobManager``. Optional: it needs ``pip install -r requirements-scale.txt``; the in-process manager
("process" / "thread") stays the default and needs no Ray.

* The app connects once, lazily, on the first ray job: ``ray.init(address=$GAN_STUDIO_RAY_ADDRESS)``;
  unset, Ray joins the cluster started on this machine by ``ray start --head`` if there is one, else it
  starts a local instance (from a thread that stays alive: Ray's local processes end with the thread
  that started them).
* Each run is a threaded actor asking for ``num_gpus`` = ``$GAN_STUDIO_RAY_GPUS`` (default 1 when the
  cluster has GPUs, else 0; a fraction such as 0.5 lets two runs share a GPU) and ``num_cpus`` =
  ``$GAN_STUDIO_RAY_CPUS`` (default 1). It runs ``Trainer`` in a thread and buffers its events; the
  job's thread here polls them and feeds them to ``Job._on_event``, as the "process" mode does with its
  queue. Steering goes to the actor's ``TrainControl`` through the job's ``ForwardingControl``.
* If the actor dies (node lost, out of memory, ``ray.kill``), the job ends with an error saying so; the
  newest checkpoint in the run folder can be resumed.
* The trainer writes the run folder on the node it runs on, and the app reads it (checkpoints for the
  metrics, Generate, resume): on several machines the runs folder must be on a shared filesystem at the
  same path on every node. This gan_core is uploaded to the cluster when the app connects (Ray's
  ``py_modules``); each node needs the same Python and requirements. ``GAN_STUDIO_*`` settings except
  tokens are passed to the actor's environment.
"""
from __future__ import annotations

import os
import re
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Optional

from gan_core.train.control import TrainControl
from gan_core.config import envvars
from gan_core.config.envvars import env_number
from gan_core.storage.rundir import RESUME_HINT
from gan_core.train.events import DoneEvent

ADDRESS_ENV = envvars.RAY_ADDRESS.name
GPUS_ENV = envvars.RAY_GPUS.name
CPUS_ENV = envvars.RAY_CPUS.name
INSTALL_HINT = "job mode 'ray' needs the ray package, which is not installed: pip install -r requirements-scale.txt"
POLL_S = 0.5          # longest wait of one events() call inside the actor
WAIT_NOTE_S = 3.0     # after this long unplaced, the job notes that it waits for Ray resources

_INIT_LOCK = threading.Lock()


def require_ray() -> Any:
    """The ``ray`` module, or RuntimeError with the one line that says how to install it."""
    try:
        import ray
    except ImportError:
        raise RuntimeError(INSTALL_HINT) from None
    return ray


def ensure_ray() -> Any:
    """Connect to Ray once per process (a no-op when something already called ``ray.init``). This
    gan_core package is uploaded to the cluster (``py_modules``), so the nodes need its requirements
    but not a checkout."""
    ray = require_ray()
    with _INIT_LOCK:
        if ray.is_initialized():
            return ray
        address = os.environ.get(ADDRESS_ENV, "").strip() or None
        done, failure = threading.Event(), []

        def keeper() -> None:  # lives as long as the process: a local instance dies with this thread
            try:
                ray.init(address=address, log_to_driver=False, include_dashboard=False, ignore_reinit_error=True,
                         runtime_env={"py_modules": [str(Path(__file__).resolve().parents[1])]})
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                failure.append(e)
            done.set()
            if not failure:
                threading.Event().wait()

        threading.Thread(target=keeper, name="gan-ray-init", daemon=True).start()
        done.wait()
        if failure:
            where = f"the Ray cluster at {address}" if address else "Ray"
            raise RuntimeError(f"could not connect to {where}: {type(failure[0]).__name__}: {failure[0]}")
    return ray


def resources(ray: Any) -> dict[str, float]:
    """The resource request of one run (``num_gpus``, ``num_cpus``) from the environment."""
    has_gpu = float(ray.cluster_resources().get("GPU", 0)) > 0
    return {"num_gpus": env_number(GPUS_ENV, 1.0 if has_gpu else 0.0, 0, 64, float),
            "num_cpus": env_number(CPUS_ENV, 1.0, 0, 64, float)}


def _forwarded_env() -> dict[str, str]:
    """The ``GAN_STUDIO_*`` settings (tokens excepted) for the actor's environment."""
    return {k: v for k, v in os.environ.items() if k.startswith(envvars.PREFIX) and "TOKEN" not in k}


class _ActorSink:
    """Where the job's ForwardingControl puts commands: the actor's ``command`` method."""

    def __init__(self, actor: Any):
        self.actor = actor

    def put(self, msg: tuple[str, tuple]) -> None:
        name, args = msg
        self.actor.command.remote(name, *args)


class TrainerActor:
    """Runs one trainer in a thread on a Ray worker and buffers its events (made remote lazily)."""

    def __init__(self, cfg_json: str, run_dir: str, resume: Optional[str]):
        self.control = TrainControl()
        self._cond = threading.Condition()
        self._items: list[tuple[str, Any]] = []   # ("event", ev) | ("crash", (message, traceback))
        self._first = 0                            # sequence number of self._items[0]
        self._finished = False
        self._thread = threading.Thread(target=self._train, args=(cfg_json, run_dir, resume), daemon=True)
        self._thread.start()

    def _push(self, item: tuple[str, Any]) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def _train(self, cfg_json: str, run_dir: str, resume: Optional[str]) -> None:
        try:
            from gan_core.config import RunConfig
            from gan_core.train.trainer import Trainer

            trainer = Trainer(RunConfig.from_json(cfg_json), run_dir, resume=resume, control=self.control)
            for ev in trainer.run():
                self._push(("event", ev))
        except BaseException as e:  # noqa: BLE001 - reported to the app, which decides
            self._push(("crash", (f"{type(e).__name__}: {e}", traceback.format_exc(limit=3))))
        finally:
            with self._cond:
                self._finished = True
                self._cond.notify_all()

    def info(self) -> dict[str, Any]:
        import ray

        ctx = ray.get_runtime_context()
        return {"node": ray.util.get_node_ip_address(), "pid": os.getpid(),
                "gpus": [str(g) for g in ctx.get_accelerator_ids().get("GPU", [])]}

    def events(self, since: int, wait: float = POLL_S) -> tuple[list[tuple[str, Any]], bool]:
        """Items after the first ``since`` (the caller has those; they are dropped here), and whether the
        trainer's thread has ended and nothing more will come. Waits up to ``wait`` s for something new."""
        with self._cond:
            if since > self._first:
                del self._items[:since - self._first]
                self._first = since
            self._cond.wait_for(lambda: self._items or self._finished, timeout=wait)
            return list(self._items), self._finished

    def command(self, name: str, *args: Any) -> None:
        if name in ("stop", "pause", "resume", "set_lr", "set_n_critic"):
            getattr(self.control, name)(*args)


_REMOTE: Any = None


def _actor_class(ray: Any) -> Any:
    global _REMOTE
    if _REMOTE is None:  # threaded: control calls and polls reach the actor while it trains
        _REMOTE = ray.remote(max_concurrency=4)(TrainerActor)
    return _REMOTE


def _wait_gone(ray: Any, info: Optional[dict[str, Any]], timeout: float = 10.0) -> None:
    """A dead actor that ran on this machine: wait until its process has exited (``ray.kill`` and a lost
    actor are reported before the process is gone), so that nothing writes the run folder any more once the
    job says the run ended: a Continue right away must not race a last checkpoint."""
    if not info or info.get("node") != ray.util.get_node_ip_address():
        return
    stat, t0 = Path(f"/proc/{info['pid']}/stat"), time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            os.kill(int(info["pid"]), 0)
            if stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return   # a zombie writes nothing
        except (ProcessLookupError, PermissionError, OSError, IndexError):
            return
        time.sleep(0.1)


def run_ray(job: Any) -> None:
    """Train ``job`` in a Ray actor and feed its events to ``job._on_event`` (the job's thread)."""
    ray = ensure_ray()
    from ray.exceptions import ActorUnavailableError, RayActorError, RayError

    ctl = job.control
    opts: dict[str, Any] = dict(resources(ray))
    env = _forwarded_env()
    if env:  # merged with the job's runtime env (this gan_core, uploaded by ensure_ray)
        opts["runtime_env"] = {"env_vars": env}
    actor = _actor_class(ray).options(**opts).remote(job.cfg.to_json(), str(job.run_dir), job.resume)
    ctl.attach(_ActorSink(actor))
    info: Optional[dict[str, Any]] = None
    try:
        info_ref, t0, noted = actor.info.remote(), time.monotonic(), False
        while not ray.wait([info_ref], timeout=0.25)[0]:  # not placed yet: Ray waits for free resources
            if ctl.stop_requested:
                job._on_event(DoneEvent(step=job.step, reason="stopped", run_dir=str(job.run_dir)))
                return
            if not noted and time.monotonic() - t0 > WAIT_NOTE_S:
                noted = True
                with job._lock:
                    job.notes.append("waiting for a Ray node with free resources "
                                     f"({opts['num_gpus']:g} GPU, {opts['num_cpus']:g} CPU)")
        info = ray.get(info_ref)
        with job._lock:
            gpus = f", GPU {', '.join(info['gpus'])}" if info["gpus"] else ""
            job.notes.append(f"training on Ray node {info['node']} (pid {info['pid']}{gpus})")
        since, finished, ended, unavailable = 0, False, False, 0
        while not ended:  # after the DoneEvent too, until the trainer's thread has closed its files
            try:
                items, ended = ray.get(actor.events.remote(since))
            except ActorUnavailableError:  # a transient network problem: try again for a while
                unavailable += 1
                if unavailable > 60:
                    raise
                time.sleep(1.0)
                continue
            unavailable = 0
            since += len(items)
            for kind, payload in items:
                if finished:
                    continue
                if kind == "event":
                    job._on_event(payload)
                    finished = isinstance(payload, DoneEvent)
                else:
                    job._fail(payload[0], payload[1])
                    finished = True
        if not finished:
            job._fail(f"the training in the Ray actor ended without finishing; {RESUME_HINT}")
    except RayActorError as e:
        _wait_gone(ray, info)
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()] or [type(e).__name__]
        if "creation task" in lines[0]:  # e.g. the package or a requirement is missing on the node
            job._fail(f"the Ray actor for this run could not start on its node: {lines[-1][:200]}", text[:2000])
        else:
            job._fail(f"the Ray actor training this run died (node lost, out of memory or killed; Ray: "
                      f"{lines[0][:200]}); {RESUME_HINT}", text[:2000])
    except RayError as e:
        job._fail(f"Ray failed while training this run ({type(e).__name__}); {RESUME_HINT}",
                  str(e).strip()[:300] or None)
    finally:
        ctl.attach(None)
        try:
            ray.kill(actor, no_restart=True)  # frees its GPU now (its trainer thread has ended, or must)
        except Exception:  # noqa: BLE001 - already gone
            pass

"""Training keeps priority over page rendering (issue 22): the app server renders at a lower CPU priority
(a higher nice value) than the training processes it starts.

On Linux a nice value belongs to each thread, a new thread or process inherits it from the thread that
creates it, and an unprivileged process can raise its nice value but never lower it again. So "server at
nice 5, trainer children at 0" cannot be had by renicing the server and then its children. Instead
:func:`serve_below_training`, called once at server start:

1. starts a *launcher* thread while the process is still at its normal priority; it only starts child
   processes (:func:`launch`), which therefore begin at that normal priority;
2. then raises the nice value of every other thread of the server by ``$GAN_STUDIO_SERVER_NICE``
   (default 5); threads made later (sessions, request handlers) inherit it from the threads that make them.

Training children (gan_core.jobs.job, the speed probe, the 2D lab) are started through :func:`launch`. Without
``serve_below_training`` (the CLI, tests) :func:`launch` starts them in the calling thread, as before.
Elsewhere than Linux the nice values are left alone.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
from typing import Any, Callable, Optional, TypeVar

from gan_core.config import envvars
from gan_core.config.envvars import env_number

__all__ = ["SERVER_NICE_ENV", "serve_below_training", "launch", "nice_of", "installed"]

SERVER_NICE_ENV = envvars.SERVER_NICE.name
DEFAULT_SERVER_NICE = int(envvars.SERVER_NICE.default)
T = TypeVar("T")

_lock = threading.Lock()
_requests: Optional["queue.Queue[tuple[Callable[[], Any], queue.Queue]]"] = None
_state: dict[str, Any] = {}


def installed() -> bool:
    return _requests is not None


def _launcher(requests: "queue.Queue[tuple[Callable[[], Any], queue.Queue]]") -> None:
    while True:
        fn, reply = requests.get()
        try:
            reply.put((True, fn()))
        except BaseException as e:  # noqa: BLE001 - handed back to the caller
            reply.put((False, e))


def launch(fn: Callable[[], T]) -> T:
    """Run ``fn`` (e.g. ``proc.start``) on the launcher thread, at the server's starting priority, and
    return its result (its exception is raised here); in the calling thread when not installed."""
    req = _requests
    if req is None:
        return fn()
    reply: "queue.Queue[tuple[bool, Any]]" = queue.Queue(maxsize=1)
    req.put((fn, reply))
    ok, value = reply.get()
    if not ok:
        raise value
    return value


def _thread_ids() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return []


def nice_of(pid: int, tid: Optional[int] = None) -> Optional[int]:
    """The nice value of a process (its main thread) or one of its threads, from /proc (None elsewhere)."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid is not None else f"/proc/{pid}/stat"
    try:
        raw = open(path, encoding="ascii", errors="replace").read()
    except OSError:
        return None
    return int(raw[raw.rindex(")") + 2:].split()[16])   # field 19 of stat: nice


def serve_below_training(nice: Optional[int] = None) -> dict[str, Any]:
    """Once per process (later calls return the first result): start the launcher thread, then lower
    the priority of the server's other threads by ``nice`` (``$GAN_STUDIO_SERVER_NICE``, default 5;
    0 turns it off). Returns what was done: ``{"nice": n, "threads": k, "launcher_nice": m}``."""
    global _requests
    with _lock:
        if _state:
            return dict(_state)
        n = int(env_number(SERVER_NICE_ENV, DEFAULT_SERVER_NICE, 0, 19)) if nice is None else int(nice)
        if n <= 0 or not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
            _state.update(nice=0, threads=0, launcher_nice=None)
            return dict(_state)
        requests: "queue.Queue[tuple[Callable[[], Any], queue.Queue]]" = queue.Queue()
        t = threading.Thread(target=_launcher, args=(requests,), name="gan-launcher", daemon=True)
        t.start()
        launcher_tid = _wait_tid(t)
        base = os.getpriority(os.PRIO_PROCESS, 0)
        reniced = 0
        for tid in _thread_ids():
            if tid == launcher_tid:
                continue
            try:
                os.setpriority(os.PRIO_PROCESS, tid, min(19, base + n))
                reniced += 1
            except OSError:   # a thread that just ended
                pass
        _requests = requests
        _state.update(nice=n, threads=reniced, launcher_nice=nice_of(os.getpid(), launcher_tid))
        return dict(_state)


def _wait_tid(t: threading.Thread) -> Optional[int]:
    while t.native_id is None:   # set as soon as the thread runs
        threading.Event().wait(0.001)
    return t.native_id

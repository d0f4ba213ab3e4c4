"""Training slots shared by every app server on one machine (the Streamlit and the Gradio front ends
are separate processes, each with its own :class:`gan_core.jobs.manager.JobManager`).

A slot is a lock file ``<runs>/.slots/slot-<i>.lock`` held with ``fcntl.flock``: the kernel releases
it when its holder closes it or dies (a killed server never leaves a slot taken). ``SlotLimiter(n)``
hands out at most ``n`` slots at once across all processes that use the same folder and the same
``n`` (each server's ``GAN_STUDIO_MAX_CONCURRENT``); a process that asks for more than its ``n`` is
refused even when another server counts more. ``flock`` locks belong to one open file, so two
acquisitions in one process exclude each other as well.

The holder writes who it is (pid, label, time) into the lock file; :meth:`SlotLimiter.holders` reads
it back for the busy slots only (a free slot's old text is ignored). Where ``fcntl`` is missing
(Windows) the limiter counts within this process only.
"""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional, Union

from gan_core.storage import rundir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: slots count within this process only
    fcntl = None  # type: ignore[assignment]

PathLike = Union[str, os.PathLike]
SLOTS_DIR = ".slots"
MAX_SLOTS = 64


def slots_root(runs_root: Optional[PathLike] = None) -> Path:
    """``<runs>/.slots`` (the runs folder of ``$GAN_STUDIO_RUNS`` unless given)."""
    return Path(runs_root if runs_root is not None else rundir.runs_root()) / SLOTS_DIR


class Slot:
    """One held slot; :meth:`release` (or leaving a ``with`` block, or the process ending) frees it."""

    def __init__(self, limiter: "SlotLimiter", index: int, fd: Optional[int], label: str):
        self.limiter, self.index, self.label = limiter, index, label
        self._fd = fd
        self._lock = threading.Lock()
        self.acquired_at = time.time()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Free the slot (idempotent)."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is None:
            return
        self.limiter._released(self.index)
        if fd >= 0:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> "Slot":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Slot({self.index}, {'held' if self.held else 'released'}, {self.label!r})"


class SlotLimiter:
    """At most ``n`` training slots at once across the processes sharing ``root`` (see the module)."""

    def __init__(self, n: int, root: Optional[PathLike] = None):
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SLOTS:
            raise ValueError(f"the number of training slots must be an integer between 1 and {MAX_SLOTS}, got {n!r}")
        self.n = n
        self.root = Path(root) if root is not None else slots_root()
        self._local: set[int] = set()      # indices held by this process (also the fallback without fcntl)
        self._lock = threading.Lock()

    def _path(self, i: int) -> Path:
        return self.root / f"slot-{i}.lock"

    def _released(self, i: int) -> None:
        with self._lock:
            self._local.discard(i)

    def try_acquire(self, label: str = "") -> Optional[Slot]:
        """A free slot now, or None when all ``n`` are taken (by this or another process)."""
        if fcntl is None:  # pragma: no cover - Windows
            with self._lock:
                for i in range(self.n):
                    if i not in self._local:
                        self._local.add(i)
                        return Slot(self, i, -1, label)
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            fd = os.open(self._path(i), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # taken
                os.close(fd)
                continue
            try:  # say who holds it (read by holders(); best effort)
                info = json.dumps({"pid": os.getpid(), "label": str(label)[:200], "since": time.time()})
                os.ftruncate(fd, 0)
                os.pwrite(fd, info.encode(), 0)
            except OSError:
                pass
            with self._lock:
                self._local.add(i)
            return Slot(self, i, fd, label)
        return None

    def acquire(self, label: str = "", timeout: Optional[float] = None, poll: float = 0.5,
                cancelled: Optional[Callable[[], bool]] = None) -> Optional[Slot]:
        """Wait for a slot: polls every ``poll`` s; None after ``timeout`` s or once ``cancelled()`` is true."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            slot = self.try_acquire(label)
            if slot is not None:
                return slot
            if cancelled is not None and cancelled():
                return None
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))

    def holders(self) -> list[dict[str, Any]]:
        """The busy slots: ``{"slot", "pid", "label", "since", "here"}`` (``here``: held by this process)."""
        out = []
        for i in range(self.n):
            with self._lock:
                here = i in self._local
            if fcntl is None:  # pragma: no cover - Windows
                if here:
                    out.append({"slot": i, "pid": os.getpid(), "label": "", "since": None, "here": True})
                continue
            p = self._path(i)
            if not here:
                try:
                    fd = os.open(p, os.O_RDONLY)
                except OSError:  # never created: free
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except OSError:
                    busy = True
                else:
                    busy = False
                    fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)
                if not busy:
                    continue
            try:
                info = json.loads(p.read_text(encoding="utf-8") or "{}")
            except (OSError, ValueError):
                info = {}
            info = info if isinstance(info, dict) else {}
            out.append({"slot": i, "pid": info.get("pid"), "label": info.get("label", ""),
                        "since": info.get("since"), "here": here})
        return out

    def in_use(self) -> int:
        """How many of the ``n`` slots are taken now (by any process)."""
        return len(self.holders())

    def free(self) -> int:
        return self.n - self.in_use()


_SHARED: dict[tuple[str, int], SlotLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(n: int, runs_root: Optional[PathLike] = None) -> SlotLimiter:
    """This process's limiter for a runs folder and slot count (one per pair)."""
    root = slots_root(runs_root)
    key = (str(root.resolve()), n)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = SlotLimiter(n, root)
        return _SHARED[key]

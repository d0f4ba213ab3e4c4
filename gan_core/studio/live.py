"""A run's live view, computed once per change and shared by every viewer and both front ends.

A class of 30 on one link polls the same run 30 times a second. What a poll shows (status line, progress,
curve data, the newest grid as PNG, the quality figures, notes) depends only on the job's state, so it is
computed once per new state, keyed by ``(job id, job.version)``, and every session of either front end
gets the same :class:`RunView` object. Anything a front end derives from it (a plotly figure, a chart's
JSON) is memoised on the view (:meth:`RunView.memo`), so it too is made once per version.

:class:`RunViewCache` is thread-safe and bounded (the newest view of at most ``max_jobs`` runs); when many
sessions ask for a new version at once, one computes and the others wait for it (single flight).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import numpy as np

from gan_core.studio.pictures import png_bytes, upscale
from gan_core.studio.runs import curve_help, downsample, history_keys, metrics_overview
from gan_core.studio.views import job_status, progress_text

__all__ = ["RunView", "RunViewCache", "run_view", "view_cache", "GRID_MIN_SIZE", "MAX_CURVE_POINTS"]

T = TypeVar("T")
GRID_MIN_SIZE = 384        # the grid is shown at least this many pixels wide
MAX_CURVE_POINTS = 1500    # curve rows sent to a browser (evenly spaced, the newest always kept)


@dataclass
class RunView:
    """Everything both fronts draw of one run at one version. Read-only once made."""
    job: int
    version: tuple
    snap: Any                                 # the JobSnapshot it was made from
    run: str                                  # run folder name
    status: dict[str, Any]                    # job_status(): what /train_status returns
    progress: float                           # 0..1, clipped
    progress_text: str
    history: list[dict[str, Any]]             # StepEvent rows for the curves, downsampled
    curve_keys: list[str]
    help: dict[str, str]                      # what each curve means (curve_help)
    grid: Optional[np.ndarray]                # the newest grid, upscaled for the page (H, W, 3) uint8
    grid_png: Optional[bytes]                 # ... as PNG
    grid_step: int
    metrics: dict[str, Any]                   # metrics_overview(snap.extras)
    shortfall: str                            # "the machine was busy: N steps, expect noise" or ''
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def active(self) -> bool:
        return bool(self.snap.active)

    def memo(self, key: Any, make: Callable[[], T]) -> T:
        """``make()`` once per view and key (e.g. a front end's plotly figure of the losses)."""
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = make()
            return self._memo[key]


def run_view(job: Any, version: Optional[tuple] = None) -> RunView:
    """Compute the view of ``job`` now (uncached; :class:`RunViewCache` calls it once per version)."""
    snap = job.snapshot()
    cfg = snap.config
    grid = upscale(snap.sample, min_size=GRID_MIN_SIZE) if snap.sample is not None else None
    return RunView(
        job=snap.id, version=version if version is not None else snap.version, snap=snap, run=Path(snap.run_dir).name,
        status=job_status(snap), progress=min(max(float(snap.progress), 0.0), 1.0), progress_text=progress_text(snap),
        history=downsample(snap.history, MAX_CURVE_POINTS), curve_keys=history_keys(snap.history),
        help=curve_help(cfg["loss"]["name"], cfg["model"]["arch"]), grid=grid,
        grid_png=png_bytes(grid) if grid is not None else None, grid_step=int(snap.sample_step),
        metrics=metrics_overview(snap.extras), shortfall=getattr(snap, "shortfall", ""),
    )


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()


class RunViewCache:
    """The newest :class:`RunView` per job, made once per ``job.version``; thread-safe, at most
    ``max_jobs`` runs kept (least recently asked for dropped). ``computations`` counts the views made."""

    def __init__(self, max_jobs: int = 32, compute: Callable[[Any, tuple], RunView] = run_view):
        self.max_jobs = max_jobs
        self._compute = compute
        self._lock = threading.Lock()
        # (job id, run folder) -> (version, view or _Pending); the folder tells apart equal ids of two managers
        self._items: OrderedDict[tuple[int, str], tuple[tuple, Any]] = OrderedDict()
        self.computations = 0
        self.hits = 0

    def view(self, job: Any) -> RunView:
        """The job's view at its current version: cached, or computed now by exactly one caller."""
        jk = (job.id, str(job.run_dir))
        while True:
            version = job.version
            with self._lock:
                item = self._items.get(jk)
                if item is not None and item[0] == version:
                    self._items.move_to_end(jk)
                    got = item[1]
                    if not isinstance(got, _Pending):
                        self.hits += 1
                        return got
                    pending = got
                else:
                    pending = None
                    mine = _Pending()
                    self._items[jk] = (version, mine)
                    self._items.move_to_end(jk)
                    while len(self._items) > self.max_jobs:
                        self._items.popitem(last=False)
            if pending is not None:   # another session is making this version: wait for it, then look again
                pending.done.wait(30)
                continue
            try:
                v = self._compute(job, version)
            except BaseException:
                with self._lock:
                    if self._items.get(jk, (None, None))[1] is mine:
                        del self._items[jk]
                mine.done.set()
                raise
            with self._lock:
                self.computations += 1
                if self._items.get(jk, (None, None))[1] is mine:
                    self._items[jk] = (version, v)
            mine.done.set()
            return v

    def drop(self, job: Any) -> None:
        with self._lock:
            self._items.pop((job.id, str(job.run_dir)), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


_CACHE = RunViewCache()


def view_cache() -> RunViewCache:
    """The process-wide cache both front ends of one server share."""
    return _CACHE

"""A run's live view, computed once per change and shared by every viewer and both front ends.

A class of 30 on one link polls the same run 30 times a second. What a poll shows (status line, progress,
curve data and chart groups, the newest grid with its tag labels as PNG, the quality figures, notes) depends
only on the job's state, so it is computed once per new state, keyed by ``(job id, job.version)``, and every
session of either front end gets the same :class:`RunView` object.

The version changes with every training step, far more often than the curves (one row per ``log_every``
steps) or the grid (one per sample). So the heavy parts have their own keys: a new version reuses the
previous view's :class:`Curves` while no history row was added and its :class:`Grid` while no new sample
came, and anything a front end derives from the curves (a plotly figure) is memoised on the
:class:`Curves` (:meth:`Curves.memo`), so it is made once per new history row, not once per step.
While a run trains, the curves move on at most every ``CURVES_EVERY_S`` seconds: a fast trainer logs a
row every few hundred milliseconds, and each new row would have every page redraw its charts (a Chromium
page spent ~0.1 s of CPU a second redrawing two charts at a row a tick). The step count and progress
stay live; an ended run shows its last rows at once.

:class:`RunViewCache` is thread-safe and bounded (the newest view of at most ``max_jobs`` runs); when many
sessions ask for a new version at once, one computes and the others wait for it (single flight).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import numpy as np

from gan_core.studio.panel import chart_groups, labelled_grid
from gan_core.studio.pictures import png_bytes
from gan_core.studio.runs import curve_help, downsample, history_keys, metrics_overview
from gan_core.studio.views import job_status, progress_text

__all__ = ["Curves", "Grid", "RunView", "RunViewCache", "run_view", "view_cache", "GRID_MIN_SIZE", "MAX_CURVE_POINTS",
           "CURVES_EVERY_S"]

T = TypeVar("T")
GRID_MIN_SIZE = 384        # the grid is shown at least this many pixels wide
MAX_CURVE_POINTS = 1500    # curve rows sent to a browser (evenly spaced, the newest always kept)
CURVES_EVERY_S = 2.0       # a training run's curves move on at most this often (every viewer, both fronts)


class _Memo:
    """``make()`` once per object and key (thread-safe; concurrent askers of one key wait for one maker)."""

    def __init__(self) -> None:
        self._memo: dict[Any, Any] = {}
        self._memo_lock = threading.RLock()   # a maker may memoise another key (a figure, then its JSON)

    def memo(self, key: Any, make: Callable[[], T]) -> T:
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = make()
            return self._memo[key]


class Curves(_Memo):
    """A run's curves at one history length: the rows to draw (downsampled), the live chart groups
    (:func:`gan_core.studio.panel.chart_groups`) and what each curve means. Shared by every view of the
    run until a new row is logged; a front end memoises its figures on it (:meth:`memo`)."""

    def __init__(self, key: tuple, history: list[dict[str, Any]], keys: list[str], help: dict[str, str],
                 groups: list[dict[str, Any]], made: float = 0.0):
        super().__init__()
        self.key, self.history, self.keys, self.help, self.groups = key, history, keys, help, groups
        self.made = made   # time.monotonic() when made


class Grid(_Memo):
    """The newest fixed-noise sample grid as the page shows it: enlarged to at least ``GRID_MIN_SIZE``
    pixels with its tags written beside the rows and under the columns (:func:`labelled_grid`), as an
    array and as PNG. Shared by every view of the run until a new sample; a front end memoises what it
    derives from it (e.g. the PNG as a file it serves) with :meth:`memo`."""

    def __init__(self, step: int, image: np.ndarray, png: bytes, tags: str, sample: Any):
        super().__init__()
        self.step = step            # the training step of the sample
        self.image = image          # (H, W, 3) uint8
        self.png = png              # ... as PNG, made once per new sample
        self.tags = tags            # which tag varies where ('' for an unconditional run)
        self.sample = sample        # the snapshot's sample it was made from


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
    curves: Curves                            # curve rows, chart groups, help (shared until a new row)
    grid_view: Optional[Grid]                 # the newest grid, labelled (shared until a new sample)
    metrics: dict[str, Any]                   # metrics_overview(snap.extras)
    shortfall: str                            # "the machine was busy: N steps, expect noise" or ''

    @property
    def active(self) -> bool:
        return bool(self.snap.active)

    # the parts, by their names on the page
    @property
    def history(self) -> list[dict[str, Any]]:
        return self.curves.history

    @property
    def curve_keys(self) -> list[str]:
        return self.curves.keys

    @property
    def help(self) -> dict[str, str]:
        return self.curves.help

    @property
    def groups(self) -> list[dict[str, Any]]:
        """The live chart groups in order (title, keys, help, main); [] before the first logged step."""
        return self.curves.groups

    @property
    def grid(self) -> Optional[np.ndarray]:
        return self.grid_view.image if self.grid_view is not None else None

    @property
    def grid_png(self) -> Optional[bytes]:
        return self.grid_view.png if self.grid_view is not None else None

    @property
    def grid_step(self) -> int:
        return int(self.snap.sample_step)

    @property
    def grid_caption(self) -> str:
        """"Fixed-noise samples at step N · rows: hair · columns: eyes (below)" ('' without a grid)."""
        g = self.grid_view
        return "" if g is None else f"Fixed-noise samples at step {g.step}" + (f" · {g.tags}" if g.tags else "")


def _curves(snap: Any, prev: Optional[Curves], every: float = 0.0, now: Optional[float] = None) -> Curves:
    """The run's curves: ``prev`` while no row was added, or while the run trains and ``prev`` (with rows)
    is younger than ``every`` seconds; else made anew from the snapshot's history."""
    hist = snap.history
    key = (len(hist), hist[-1].get("step") if hist else None)
    now = time.monotonic() if now is None else now
    if prev is not None and (prev.key == key or (snap.active and prev.key[0] and now - prev.made < every)):
        return prev
    cfg = snap.config
    loss, arch = cfg["loss"]["name"], cfg["model"]["arch"]
    return Curves(key, downsample(hist, MAX_CURVE_POINTS), history_keys(hist), curve_help(loss, arch),
                  chart_groups(hist, loss, arch) if hist else [], made=now)


def _grid(snap: Any, prev: Optional[Grid]) -> Optional[Grid]:
    if snap.sample is None:
        return None
    step = int(snap.sample_step)
    if prev is not None and prev.step == step and (prev.sample is snap.sample or np.array_equal(prev.sample, snap.sample)):
        return prev
    img, tags = labelled_grid(snap.sample, snap.config, snap.data_spec, min_size=GRID_MIN_SIZE)
    return Grid(step, img, png_bytes(img), tags, snap.sample)


def run_view(job: Any, version: Optional[tuple] = None, prev: Optional[RunView] = None) -> RunView:
    """Compute the view of ``job`` now (uncached; :class:`RunViewCache` calls it once per version), reusing
    ``prev``'s (the same run's previous view) curves and grid where they did not change."""
    snap = job.snapshot()
    if prev is not None and prev.job != snap.id:
        prev = None
    return RunView(
        job=snap.id, version=version if version is not None else snap.version, snap=snap, run=Path(snap.run_dir).name,
        status=job_status(snap), progress=min(max(float(snap.progress), 0.0), 1.0), progress_text=progress_text(snap),
        curves=_curves(snap, prev.curves if prev else None, CURVES_EVERY_S),
        grid_view=_grid(snap, prev.grid_view if prev else None),
        metrics=metrics_overview(snap.extras), shortfall=getattr(snap, "shortfall", ""),
    )


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()


class RunViewCache:
    """The newest :class:`RunView` per job, made once per ``job.version``; thread-safe, at most
    ``max_jobs`` runs kept (least recently asked for dropped). ``computations`` counts the views made."""

    def __init__(self, max_jobs: int = 32, compute: Callable[[Any, tuple, Optional[RunView]], RunView] = run_view):
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
                    prev = item[1] if item is not None and isinstance(item[1], RunView) else None
                    mine = _Pending()
                    self._items[jk] = (version, mine)
                    self._items.move_to_end(jk)
                    while len(self._items) > self.max_jobs:
                        self._items.popitem(last=False)
            if pending is not None:   # another session is making this version: wait for it, then look again
                pending.done.wait(30)
                continue
            try:
                v = self._compute(job, version, prev)
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

"""Probing this machine's speed for the time plans (gan_core.train.timeplan), once per network shape.

:class:`SpeedBook`: the probed speeds, per network shape, process-wide and cached (never probed per page
view). :meth:`SpeedBook.prepare` starts ONE background probe per shape: a spawned child process (the same
priority and threads a training child gets, no GIL shared with the pages) that first makes the data pool
(e.g. the 20,000 faces, ~25 s of drawing, cached on disk so that the first run does not spend its start
"loading data") and then times a few training steps of the preset and of its variants.
"""
from __future__ import annotations

import multiprocessing as mp
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

from gan_core.config import RunConfig
from gan_core.train.recipes import PRESETS
from gan_core.train.timeplan import VARIANTS, PresetPlan, plan_for, preset_config, shape_key

__all__ = ["SpeedBook", "speed_book", "preset_plan", "measure_step_ms", "TTL_S", "PROBE_STEPS"]

TTL_S = 900.0    # a probed speed is re-measured (in the background) after this many seconds
PROBE_STEPS = 6  # timed training steps per shape (after 2 warm-up steps)


@dataclass
class _Entry:
    ms: Optional[float] = None
    at: float = 0.0
    error: str = ""
    source: str = ""


def measure_step_ms(cfg: RunConfig, steps: int = PROBE_STEPS) -> float:
    """Median milliseconds of one training step (n_critic D steps + a G step) of ``cfg``'s networks on
    this machine, timed on a small slice of its data (the precision / layout probe of the trainer included)."""
    import torch

    from gan_core.data import load_dataset
    from gan_core.train.trainer import Trainer

    from gan_core.data.registry import DATASETS

    if "data.num_samples" in DATASETS[cfg.data.dataset].relevant_fields():
        # a drawn pool (faces): a small one costs a step what a step costs on 20,000
        cfg = cfg.replace(data={"num_samples": min(cfg.data.num_samples, 512)})
    tr = Trainer(cfg, None, dataset=load_dataset(cfg.data))
    tr._setup()
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        for k in range(tr.n_critic):
            tr._d_step(keep_fake=tr.reuse_fake and k == tr.n_critic - 1)
        tr._g_step()
        if tr.device.type == "cuda":
            torch.cuda.synchronize(tr.device)
        if i >= 2:
            times.append(1000 * (time.perf_counter() - t0))
    return sorted(times)[len(times) // 2]


def _probe_child(cfg_jsons: list[str], out: Any) -> None:
    """Child process: make the first config's data pool (cached on disk), then time each config."""
    try:
        for i, js in enumerate(cfg_jsons):
            cfg = RunConfig.from_json(js)
            try:
                if i == 0:
                    from gan_core.data import load_dataset

                    t0 = time.perf_counter()
                    load_dataset(cfg.data)
                    out.put(("data", js, time.perf_counter() - t0))
                out.put(("speed", js, measure_step_ms(cfg)))
            except Exception as e:  # noqa: BLE001 - reported, the plan then says "unknown"
                out.put(("error", js, f"{type(e).__name__}: {e}"))
    finally:
        out.put(("end", "", 0.0))
        out.close()
        out.join_thread()


class SpeedBook:
    """Probed ms per step by network shape, for this process (thread-safe). ``prepare`` starts at most
    one probe at a time, in a spawned child started at training priority (gan_core.jobs.priority)."""

    def __init__(self, ttl_s: float = TTL_S, measure_in_child: bool = True):
        self.ttl_s, self.in_child = ttl_s, measure_in_child
        self._lock = threading.Lock()
        self._speeds: dict[str, _Entry] = {}
        self._pending: set[str] = set()
        self.data_seconds: Optional[float] = None   # how long the background pool took (None: not made here)

    def get(self, cfg: RunConfig) -> _Entry:
        with self._lock:
            return self._speeds.get(shape_key(cfg), _Entry())

    def record(self, cfg: RunConfig, ms: float, source: str) -> None:
        """A speed seen elsewhere (a finished run's own steps, a test)."""
        with self._lock:
            self._speeds[shape_key(cfg)] = _Entry(float(ms), time.time(), "", source)

    def measuring(self, cfg: RunConfig) -> bool:
        with self._lock:
            return shape_key(cfg) in self._pending

    def stale(self, cfg: RunConfig) -> bool:
        e = self.get(cfg)
        return e.ms is None and not e.error or (e.ms is not None and time.time() - e.at > self.ttl_s)

    def prepare(self, cfgs: list[RunConfig]) -> bool:
        """Probe the shapes of ``cfgs`` not known (or stale) and not being probed, in the background; the
        first one's data pool is made first. Returns whether a probe was started."""
        with self._lock:
            todo = []
            for c in cfgs:
                k = shape_key(c)
                e = self._speeds.get(k)
                fresh = e is not None and (e.error or (e.ms is not None and time.time() - e.at <= self.ttl_s))
                if k not in self._pending and not fresh:
                    todo.append(c)
                    self._pending.add(k)
            if not todo:
                return False
        threading.Thread(target=self._run, args=(todo,), name="gan-speed-probe", daemon=True).start()
        return True

    def _run(self, cfgs: list[RunConfig]) -> None:
        by_json = {c.to_json(): c for c in cfgs}
        try:
            if not self.in_child:
                self._run_here(by_json)
                return
            from gan_core.jobs.spawn import start_child

            ctx = mp.get_context("spawn")
            out = ctx.Queue()
            proc = ctx.Process(target=_probe_child, args=(list(by_json), out), name="gan-speed-probe", daemon=True)
            start_child(proc)   # at training priority: it measures what a run would get
            try:
                while True:
                    try:
                        kind, js, val = out.get(timeout=1.0)
                    except queue.Empty:
                        if not proc.is_alive():
                            break
                        continue
                    if kind == "end":
                        break
                    self._take(by_json, kind, js, val)
            finally:
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()
        except Exception as e:  # noqa: BLE001 - the plan says "unknown" with the reason
            for js in by_json:
                self._take(by_json, "error", js, f"{type(e).__name__}: {e}")
        finally:
            with self._lock:
                for c in cfgs:
                    self._pending.discard(shape_key(c))

    def _run_here(self, by_json: dict[str, RunConfig]) -> None:
        for js, c in by_json.items():
            try:
                self._take(by_json, "speed", js, measure_step_ms(c))
            except Exception as e:  # noqa: BLE001
                self._take(by_json, "error", js, f"{type(e).__name__}: {e}")

    def _take(self, by_json: dict[str, RunConfig], kind: str, js: str, val: Any) -> None:
        c = by_json.get(js)
        with self._lock:
            if kind == "data":
                self.data_seconds = float(val)
            elif c is not None and kind == "speed":
                self._speeds[shape_key(c)] = _Entry(float(val), time.time(), "",
                                                    f"timed {PROBE_STEPS} steps at {time.strftime('%H:%M')}")
            elif c is not None and kind == "error":
                self._speeds[shape_key(c)] = _Entry(None, time.time(), str(val), "")


_BOOK = SpeedBook()


def speed_book() -> SpeedBook:
    """The process-wide book (an app server's)."""
    return _BOOK


def preset_plan(preset: str, dataset: str, book: Optional[SpeedBook] = None, busy_with: int = 0,
                probe: bool = True) -> PresetPlan:
    """The plan of ``preset`` on ``dataset`` from the book's speeds; a missing or stale speed starts one
    background probe (``probe``) unless runs are training (``busy_with``: they would skew it), and the
    plan then says "measuring". Cheap: a dict look-up per call."""
    book = book or _BOOK
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    base = preset_config(preset, dataset)
    cfgs = [base] + [preset_config(preset, dataset, v) for v in VARIANTS]
    if probe and not busy_with and PRESETS[preset].seconds and any(book.stale(c) for c in cfgs):
        book.prepare(cfgs)
    e = book.get(base)
    vms = {v.key: book.get(c).ms for v, c in zip(VARIANTS, cfgs[1:])}
    src = e.source or (f"the probe failed: {e.error}" if e.error else "")
    return plan_for(preset, dataset, e.ms, vms, measuring=book.measuring(base), busy_with=busy_with, source=src)

"""Honest time presets: how many steps a time preset gives on THIS machine, and whether that is enough.

A time preset (``1min``, ``5min``, ``full``) trains for its seconds, so the steps it makes depend on the
machine: about 1500 on a quiet 2-vCPU box, 60-80 on a busy one, 2600 on a fast laptop. Each preset states
the steps its networks need (:data:`gan_core.recipes.STEPS_NEEDED`). This module is the one home of the
comparison:

* :func:`plan_for` (pure): a :class:`PresetPlan` from a measured speed: steps expected, steps needed, a
  verdict ("enough" | "tight" | "too few" | "unknown" | "measuring" | "by steps"), a one-line message and
  a suggestion (a variant that fits: 16 px or narrower networks, or training by steps / waiting in the
  queue). Both fronts show it before Start; the trainer's step plan (the CLI prints it) uses
  :func:`plan_line`, and the end of a run :func:`shortfall_note` ("the machine was busy: N steps, expect
  noise").
* :class:`SpeedBook`: the probed speeds, per network shape, process-wide and cached (never probed per page
  view). :meth:`SpeedBook.prepare` starts ONE background probe per shape: a spawned child process (the
  same priority and threads a training child gets, no GIL shared with the pages) that first makes the data
  pool (e.g. the 20,000 faces, ~25 s of drawing, cached on disk so that the first run does not spend its
  start "loading data") and then times a few training steps of the preset and of its variants.
"""
from __future__ import annotations

import json
import math
import multiprocessing as mp
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Optional

from .config import RunConfig
from .recipes import PRESETS, apply_preset, merge_sections, steps_needed

__all__ = ["Variant", "VARIANTS", "VariantPlan", "PresetPlan", "verdict", "plan_for", "plan_line",
           "shortfall_note", "preset_config", "shape_key", "SpeedBook", "speed_book", "preset_plan",
           "TIGHT", "TTL_S"]

TIGHT = 0.5      # a run with at least this share of the steps it needs draws rough pictures, below it noise
TTL_S = 900.0    # a probed speed is re-measured (in the background) after this many seconds
PROBE_STEPS = 6  # timed training steps per shape (after 2 warm-up steps)


@dataclass(frozen=True)
class Variant:
    """A smaller version of a preset that makes more steps in the same seconds."""
    key: str
    title: str
    sections: Mapping[str, Mapping[str, Any]]


VARIANTS: tuple[Variant, ...] = (
    Variant("16px", "16 px images", {"data": {"image_size": 16}}),
    Variant("narrow", "narrower networks (16 wide)", {"model": {"g_width": 16, "d_width": 16}}),
)


@dataclass(frozen=True)
class VariantPlan:
    key: str
    title: str
    ms_per_step: Optional[float]
    steps_expected: Optional[int]
    fits: bool


@dataclass(frozen=True)
class PresetPlan:
    """What a time preset gives on this machine (the view-model both fronts and the CLI show)."""
    preset: str
    dataset: str
    seconds: float
    steps_needed: Optional[int]
    ms_per_step: Optional[float]           # None: not measured yet
    steps_expected: Optional[int]
    verdict: str                           # enough | tight | too few | unknown | measuring | by steps
    message: str                           # one line: "about 1,520 steps in 60 s here; it needs about 1,400: enough"
    suggestion: str = ""                   # what to do when it is not enough ('' otherwise)
    variants: tuple[VariantPlan, ...] = ()
    source: str = ""                       # how the speed was measured, and when

    @property
    def enough(self) -> bool:
        return self.verdict in ("enough", "by steps")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict(steps: Optional[int], needed: Optional[int]) -> str:
    """"enough" (steps >= needed), "tight" (>= TIGHT of it), "too few", or "unknown" (either missing)."""
    if steps is None or needed is None:
        return "unknown"
    if steps >= needed:
        return "enough"
    return "tight" if steps >= TIGHT * needed else "too few"


def _n(x: int) -> str:
    return f"{x:,}"


def plan_line(seconds: float, ms_per_step: float, needed: Optional[int], cap: int = 0) -> str:
    """The trainer's step plan (a StartEvent note, printed by the CLI): steps the budget gives at the
    probed speed, and how that compares with what the preset needs."""
    plan = int(seconds * 1000 / ms_per_step) if ms_per_step > 0 else 0
    if cap:
        plan = min(plan, cap)
    line = (f"time budget {seconds:g} s: about {_n(plan)} steps at the probed speed ({ms_per_step:.1f} ms per step)"
            + (f", capped at {_n(cap)} steps" if cap else ""))
    v = verdict(plan, needed)
    if v == "enough":
        line += f"; this preset needs about {_n(needed or 0)}: enough"
    elif v in ("tight", "too few"):
        line += (f"; this preset needs about {_n(needed or 0)}, so expect "
                 + ("rough pictures" if v == "tight" else "noise") + f" (train by steps instead: --steps {needed} --seconds 0)")
    return line


def shortfall_note(steps: int, needed: Optional[int], seconds: float, reason: str) -> str:
    """What a run that ended on its time budget with too few steps says ('' when it had enough, ended
    otherwise, or nothing is known of what it needs)."""
    if reason != "time" or not needed or steps >= needed:
        return ""
    if steps < TIGHT * needed:
        return (f"The machine was busy: {_n(steps)} steps in {seconds:g} s, where this preset needs about "
                f"{_n(needed)}; expect noise. Continue the run, or train by steps on a quieter machine.")
    return (f"The machine was slow: {_n(steps)} steps in {seconds:g} s, where this preset needs about "
            f"{_n(needed)}; expect rough pictures. Continue the run to reach it.")


def preset_config(preset: str, dataset: str, variant: Optional[Variant] = None) -> RunConfig:
    """The config a preset (with the recommended recipe for ``dataset``) trains, optionally a variant."""
    cfg = apply_preset(RunConfig().replace(data={"dataset": dataset}), preset)
    return cfg.replace(**merge_sections(variant.sections)) if variant is not None else cfg


def shape_key(cfg: RunConfig) -> str:
    """What a step's time depends on: data size, networks, loss, batch, n_critic, device."""
    d = cfg.to_dict()
    return json.dumps({"data": {k: d["data"][k] for k in ("dataset", "image_size", "diffaugment")},
                       "model": d["model"], "loss": d["loss"],
                       "train": {k: d["train"][k] for k in ("batch_size", "n_critic", "device", "amp", "channels_last")}},
                      sort_keys=True)


def plan_for(preset: str, dataset: str, ms_per_step: Optional[float],
             variant_ms: Optional[Mapping[str, Optional[float]]] = None, measuring: bool = False,
             busy_with: int = 0, source: str = "") -> PresetPlan:
    """The plan of ``preset`` on ``dataset`` at ``ms_per_step`` (None: not measured; ``measuring``: a
    probe is under way). ``variant_ms``: the variants' speeds by key. ``busy_with``: runs training on
    this server now (a new run waits for them, so waiting in the queue is the honest suggestion)."""
    p = PRESETS[preset]
    needed = steps_needed(preset, dataset)
    secs = p.seconds
    if not secs:
        steps = int(p.sections.get("train", {}).get("steps", 0))
        dur = f" (about {round(steps * ms_per_step / 1000)} s here)" if ms_per_step and steps else ""
        return PresetPlan(preset, dataset, 0.0, needed, ms_per_step, steps or None, "by steps",
                          f"trains {_n(steps)} steps{dur}, however long they take", source=source)
    if ms_per_step is None or not math.isfinite(ms_per_step) or ms_per_step <= 0:
        v = "measuring" if measuring else "unknown"
        msg = ("measuring this machine's speed (a few training steps, once)..." if measuring
               else "this machine's speed is not measured yet")
        if needed:
            msg += f"; this preset needs about {_n(needed)} steps"
        return PresetPlan(preset, dataset, secs, needed, None, None, v, msg, source=source)
    expected = int(secs * 1000 / ms_per_step)
    v = verdict(expected, needed)
    head = f"about {_n(expected)} steps in {secs:g} s on this machine ({ms_per_step:.0f} ms per step)"
    if needed is None:
        return PresetPlan(preset, dataset, secs, None, ms_per_step, expected, "unknown",
                          head + "; the steps this preset needs on this data are not measured", source=source)
    msg = head + f"; it needs about {_n(needed)}: " + {"enough": "enough", "tight": "short (rough pictures)",
                                                       "too few": "too few (expect noise)"}[v]
    variants = []
    for var in VARIANTS:
        ms = (variant_ms or {}).get(var.key)
        exp = int(secs * 1000 / ms) if ms else None
        variants.append(VariantPlan(var.key, var.title, ms, exp, bool(exp is not None and exp >= needed)))
    suggestion = ""
    if v != "enough":
        fit = next((x for x in variants if x.fits), None)
        parts = []
        if fit is not None:
            parts.append(f"the {fit.title} variant fits: about {_n(fit.steps_expected or 0)} steps in {secs:g} s")
        if busy_with:
            parts.append(f"or wait in the queue: {busy_with} run(s) train on this server now, and a run that "
                         "waits for them gets the machine to itself")
        parts.append(f"or train by steps ({_n(needed)} steps, about {_n(round(needed * ms_per_step / 1000))} s here)")
        suggestion = "; ".join(parts)
        suggestion = suggestion[0].upper() + suggestion[1:] + "."
    return PresetPlan(preset, dataset, secs, needed, ms_per_step, expected, v, msg, suggestion, tuple(variants), source)


# ---- probing: once per shape, in the background, in a child process ----------------------------------
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

    from .data import load_dataset
    from .trainer import Trainer

    if cfg.data.dataset == "faces":   # a small pool of the same faces: a step costs what it costs on 20,000
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
                    from .data import load_dataset

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
    one probe at a time, in a spawned child started at training priority (gan_core.priority)."""

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
            from .spawn import start_child

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

"""ZeroGPU: Hugging Face's shared GPUs for Gradio Spaces, which attach a GPU only while a function wrapped
in ``@spaces.GPU(duration=...)`` runs, called from the app's own process.

How the ``spaces`` package (0.51.3) does it, and what this module takes from it:

* A Space runs on ZeroGPU when ``$SPACES_ZERO_GPU`` is "1", "t" or "true" (any case): that is the test
  ``spaces.config.Config.zero_gpu`` makes, and outside ZeroGPU ``spaces.GPU`` returns the function
  unchanged. :func:`enabled` reads the same variable (``spaces`` imports gradio, which gan_core never
  does), or ``$GAN_STUDIO_ZEROGPU`` ("1" forces the ZeroGPU mode, e.g. on a CPU to test it; "0" turns it
  off on a ZeroGPU Space).
* ``duration`` is an int (seconds), a ``timedelta``, or a callable of the call's own arguments returning
  one; it is checked against the visitor's quota before the call and the call may be cut off past it.
  A generator function is supported: it runs in a forked worker holding the GPU, and every value it
  yields is pickled back to the caller, which yields it in turn.
* Failures are ``gradio.Error`` with a title: "ZeroGPU quota exceeded" ("You have exceeded your ...
  quota (90s requested vs. 12s left). Try again in 0:05:12."), "ZeroGPU illegal duration", "ZeroGPU
  queue timeout" ("No GPU was available after 60s"), "ZeroGPU client error" ("No GPU was available"),
  "ZeroGPU worker error" ("GPU task aborted"). :func:`visitor_message` turns them into one line.

The front end hands ``spaces.GPU`` (or, without ``spaces``, nothing: calls then run as they are) to
:func:`install`; gan_core applies it to its own functions, so it never imports ``spaces`` or gradio.
Training on ZeroGPU is the job mode "zerogpu" (gan_core.jobs.zerogpu_backend); the short tools (Generate,
Interpolate, Sketch, Style) go through :func:`gpu_tool`.
"""
from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

from gan_core.config import envvars

if TYPE_CHECKING:   # imported where it is used (the call side), to keep this module light
    from gan_core.train.control import TrainControl

ENV = envvars.ZEROGPU.name         # "1": ZeroGPU mode forced (e.g. on a CPU, for tests); "0": off
SPACES_ENV = "SPACES_ZERO_GPU"      # set by Hugging Face on ZeroGPU Spaces (read as spaces.config does)

# The longest GPU time one call asks for. ZeroGPU refuses a request over its per-call maximum ("The
# requested GPU duration (...) is larger than the maximum allowed") or over the visitor's quota left. The
# maximum is not documented; the ZeroGPU maintainers gave 5 minutes for logged-in visitors
# (zero-gpu-explorers discussions 7 and 88), and the documented daily quota of a visitor who is not
# logged in is 2 minutes (hub docs, "Spaces ZeroGPU", Usage Tiers). 120 s is therefore the longest
# request every visitor can be granted; a longer run is a chain of such calls.
MAX_CALL_S = 120
# GPU time one training call needs besides training: the worker's CUDA start, loading the data,
# building the models, the speed probe, the last sample grid and the checkpoint.
MARGIN_S = 30
CALL_TRAIN_S = MAX_CALL_S - MARGIN_S   # the most training seconds one call holds
MIN_CALL_TRAIN_S = 1.0                 # a remainder of a time budget shorter than this is not worth a call
PAUSE_RELEASE_S = 10.0                 # a run paused this long inside a call ends the call (frees the GPU)
CALL_SLACK_S = 8.0                     # a call still running this long before its duration ends stops itself
                                       # (the last grid and checkpoint fit in it; ZeroGPU may cut it off after)
COMMAND_POLL_S = 0.2                   # how often a call reads its run's steering commands

# Short tools: GPU seconds asked for, and the work (images x pixels) from which a GPU call pays for its
# start (forking the worker, moving the model): below it the tool runs on the CPU of the app's process.
TOOL_SECONDS = {"generate": 15, "interpolate": 20, "sketch": 10, "style": 60}
GPU_WORTH_PIXELS = 1_000_000           # ~ 64 images of 128 x 128 (an estimate, not measured)

QUOTA_HINT = "run on CPU (set Device to cpu)"


def _truthy(v: Optional[str]) -> bool:
    return v is not None and v.strip().lower() in ("1", "t", "true")


def enabled() -> bool:
    """True on a ZeroGPU Space (``$SPACES_ZERO_GPU``) or when ``$GAN_STUDIO_ZEROGPU`` is 1; ``$GAN_STUDIO_ZEROGPU``
    = 0 turns it off."""
    forced = os.environ.get(ENV, "").strip()
    if forced:
        if forced not in ("0", "1"):
            raise ValueError(f"{ENV} must be 0 or 1, got {forced!r}")
        return forced == "1"
    return _truthy(os.environ.get(SPACES_ENV))


# ---- durations and the chain of calls -------------------------------------------------------------------
def call_duration(train_seconds: float) -> int:
    """GPU seconds to ask for a call that trains ``train_seconds``: that plus :data:`MARGIN_S`, at most
    :data:`MAX_CALL_S`. The one home of this computation."""
    if train_seconds <= 0:
        return MAX_CALL_S
    return int(min(MAX_CALL_S, math.ceil(train_seconds + MARGIN_S)))


def next_call_seconds(total_seconds: float, done_seconds: float) -> float:
    """The training seconds of the next call of a run whose time budget is ``total_seconds`` (0: none, the
    run ends on its step count) after ``done_seconds`` trained; 0 when the budget is spent."""
    if not total_seconds:
        return float(CALL_TRAIN_S)
    left = total_seconds - done_seconds
    return float(min(CALL_TRAIN_S, left)) if left >= MIN_CALL_TRAIN_S else 0.0


def planned_calls(total_seconds: float) -> int:
    """How many GPU calls a run with this time budget takes (0 budget: unknown, returns 0)."""
    return math.ceil(total_seconds / CALL_TRAIN_S) if total_seconds else 0


# ---- errors -----------------------------------------------------------------------------------------------
_WAIT = re.compile(r"(?:try again|retry) in (?:(\d+) days?, )?(\d+):(\d\d):(\d\d)", re.I)
_QUOTA_TITLES = ("zerogpu quota exceeded", "zerogpu illegal duration", "zerogpu pending credits exceeded")
_ALLOC_TITLES = ("zerogpu queue timeout", "zerogpu client error")


def _wait_minutes(text: str) -> Optional[int]:
    m = _WAIT.search(text)
    if not m:
        return None
    days, h, mi, s = (int(g or 0) for g in m.groups())
    return max(1, math.ceil(timedelta(days=days, hours=h, minutes=mi, seconds=s).total_seconds() / 60))


def visitor_message(exc: BaseException) -> Optional[str]:
    """The one line a visitor sees for a ZeroGPU quota or allocation failure (``gradio.Error`` raised by
    ``spaces``, recognised by its title or text), or None when ``exc`` is something else."""
    title = str(getattr(exc, "title", "") or "").lower()
    text = str(getattr(exc, "message", "") or exc)
    low = text.lower()
    if title in _QUOTA_TITLES or "quota" in low or "gpu limit" in low or "larger than the maximum allowed" in low:
        n = _wait_minutes(text)
        when = f"in {n} minute{'s' if n != 1 else ''}" if n else "later"
        return f"GPU quota used up: try again {when}, or {QUOTA_HINT}."
    if title in _ALLOC_TITLES or "no gpu was available" in low:
        return f"No GPU free on ZeroGPU just now: try again in 1 minute, or {QUOTA_HINT}."
    if title == "zerogpu worker error" or "gpu task aborted" in low:
        return ("ZeroGPU ended the GPU call before it finished (it ran past its time, or its worker stopped): "
                f"try again, or {QUOTA_HINT}.")
    return None


# ---- the decorator --------------------------------------------------------------------------------------
Decorator = Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]
_installed: dict[str, Any] = {}
_local = threading.local()


def _identity(**_kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return lambda fn: fn


def install(gpu: Optional[Decorator]) -> None:
    """Wrap gan_core's GPU functions with ``gpu`` (``spaces.GPU``; None: run them as they are, e.g. with
    ``$GAN_STUDIO_ZEROGPU`` = 1 where ``spaces`` is not installed). Call it once, before the app launches:
    ``spaces`` registers the functions it wraps when Gradio starts."""
    gpu = gpu or _identity
    _installed.clear()
    _installed.update(
        decorator=gpu, app_pid=os.getpid(),
        train=gpu(duration=_train_call_duration)(train_call),
        tool=gpu(duration=_tool_duration)(_run_tool),
        tool_gen=gpu(duration=_tool_duration)(_run_tool_gen),
    )


def installed() -> bool:
    return bool(_installed)


def _get(name: str) -> Callable[..., Any]:
    if not _installed:
        install(None)
    return _installed[name]


def train_function() -> Callable[..., Iterator[Any]]:
    """The wrapped training generator (:func:`train_call` under the installed decorator)."""
    return _get("train")


def _train_call_duration(cfg_json: str, run_dir: str, resume: Optional[str], commands: str,
                         seconds: float) -> int:
    """``duration`` of a training call: a callable of the call's own arguments, as ``spaces.GPU`` allows."""
    return call_duration(seconds)


def _tool_duration(fn: Callable[..., Any], seconds: int, args: tuple, kwargs: dict) -> int:
    return int(min(MAX_CALL_S, seconds))


def in_gpu_call() -> bool:
    return bool(getattr(_local, "depth", 0))


def tool_device() -> str:
    """The device a tool computes on: "cuda" inside a GPU call that has one, else "cpu"."""
    if not in_gpu_call():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def in_forked_worker() -> None:
    """Called first inside every GPU call. ``spaces`` runs the call in a fork of the app's process; the
    OpenMP thread team torch's CPU kernels used there before the fork does not survive it, and a CPU op
    with more than one thread in the child can wait forever at OpenMP's barrier (seen here with torch's
    libgomp). The GPU does the work in the call, so its CPU ops take one thread."""
    pid = _installed.get("app_pid")
    if pid is not None and os.getpid() != pid:
        import torch

        torch.set_num_threads(1)


def _enter() -> None:
    in_forked_worker()
    _local.depth = getattr(_local, "depth", 0) + 1


def _leave() -> None:
    _local.depth = max(0, getattr(_local, "depth", 1) - 1)


def _run_tool(fn: Callable[..., Any], seconds: int, args: tuple, kwargs: dict) -> Any:
    _enter()
    try:
        return fn(*args, **kwargs)
    finally:
        _leave()


def _run_tool_gen(fn: Callable[..., Iterator[Any]], seconds: int, args: tuple, kwargs: dict) -> Iterator[Any]:
    _enter()
    try:
        yield from fn(*args, **kwargs)
    finally:
        _leave()


def style_seconds(steps: float, size: float) -> int:
    """GPU seconds asked for a style transfer of ``steps`` steps at ``size`` px (an estimate, not measured)."""
    return int(min(MAX_CALL_S, 20 + int(steps) * int(size) ** 2 // 400_000))


def gpu_helps(work_pixels: float) -> bool:
    """Whether a tool call with this much work (images x pixels; ``math.inf`` for heavy tools) is worth a
    GPU call: only on ZeroGPU, and only from :data:`GPU_WORTH_PIXELS` on."""
    return enabled() and work_pixels >= GPU_WORTH_PIXELS


def gpu_tool(fn: Callable[..., Any], tool: str,
             work: Callable[..., float] = lambda *a, **k: math.inf,
             seconds: Optional[Callable[..., int]] = None) -> Callable[..., Any]:
    """``fn`` (a Gradio handler, plain or generator) run inside a GPU call of ``TOOL_SECONDS[tool]`` seconds
    (or ``seconds(*args)``) when :func:`gpu_helps` with ``work(*args)``, else on the CPU as it is. ``fn``
    crosses into the GPU worker by pickling, so keep it importable under its own name (bind the wrapper to
    another name: ``generate_on_gpu = gpu_tool(generate, "generate", ...)``). A ZeroGPU failure raises
    :class:`GpuUnavailable` with :func:`visitor_message`'s line."""
    import functools
    import inspect

    base = TOOL_SECONDS[tool]

    def wanted(args: tuple, kwargs: dict) -> bool:   # the work is only estimated on ZeroGPU
        return enabled() and gpu_helps(work(*args, **kwargs))

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
            if not wanted(args, kwargs):
                yield from fn(*args, **kwargs)
                return
            s = seconds(*args, **kwargs) if seconds else base
            try:
                yield from _get("tool_gen")(fn, s, args, kwargs)
            except Exception as e:  # noqa: BLE001 - only ZeroGPU's own failures are translated
                raise _translated(e) from e
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not wanted(args, kwargs):
            return fn(*args, **kwargs)
        s = seconds(*args, **kwargs) if seconds else base
        try:
            return _get("tool")(fn, s, args, kwargs)
        except Exception as e:  # noqa: BLE001
            raise _translated(e) from e
    return wrapper


class GpuUnavailable(RuntimeError):
    """ZeroGPU would not give (or keep) a GPU; the message is the visitor's line."""


def _translated(e: Exception) -> Exception:
    msg = visitor_message(e)
    return GpuUnavailable(msg) if msg else e


# ---- one training call (runs in the GPU worker) ----------------------------------------------------------
@dataclass
class CallEnded:
    """The last item a training call yields (not an Event): training seconds done in this call, and
    whether the call ended itself (``released``: the run stayed paused, or the call's GPU time was nearly
    up, e.g. after a slow start), so that the chain goes on rather than taking it for a Stop."""
    seconds: float
    released: bool


class CommandFile:
    """The sink of a job's ForwardingControl in this mode: ``put((name, args))`` appends a JSON line."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")

    def put(self, msg: tuple[str, tuple]) -> None:
        name, args = msg
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps([name, list(args)]) + "\n")


def _follow_commands(path: Path, control: TrainControl, done: threading.Event) -> None:
    """Inside the call: apply each new line of the command file to ``control`` until ``done``."""
    pos = 0
    while True:
        try:
            with path.open("r", encoding="utf-8") as f:
                f.seek(pos)
                chunk = f.read()
        except OSError:
            chunk = ""
        complete = chunk[:chunk.rfind("\n") + 1]
        pos += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            try:
                name, args = json.loads(line)
                getattr(control, name)(*args)
            except Exception:  # noqa: BLE001 - a command for a run that has moved on
                pass
        if done.wait(COMMAND_POLL_S):
            return


def train_call(cfg_json: str, run_dir: str, resume: Optional[str], commands: str,
               seconds: float) -> Iterator[Any]:
    """One GPU call (runs in the GPU worker): train ``seconds`` (the budget of this call) from ``resume``,
    yielding the trainer's events, then a :class:`CallEnded`. Every yielded value is picklable."""
    from gan_core.config import RunConfig
    from gan_core.train.control import TrainControl
    from gan_core.train.events import StartEvent
    from gan_core.train.trainer import Trainer

    in_forked_worker()
    cfg = RunConfig.from_json(cfg_json)
    cfg = cfg.replace(train={"seconds": float(seconds)})
    control = TrainControl()
    done = threading.Event()
    reader = threading.Thread(target=_follow_commands, args=(Path(commands), control, done),
                              name="gan-zerogpu-commands", daemon=True)
    reader.start()
    trainer = Trainer(cfg, run_dir, resume=resume, control=control)
    released = False
    paused_since: Optional[float] = None
    elapsed0: Optional[float] = None
    watch_stop = threading.Event()
    t0, deadline = time.monotonic(), call_duration(seconds) - CALL_SLACK_S

    def watch() -> None:   # paused too long, or the call's GPU time nearly up: end it, keep the checkpoint
        nonlocal released, paused_since
        while not watch_stop.wait(0.25):
            if time.monotonic() - t0 >= deadline and not control.stop_requested:
                released = True
                control.stop()
                return
            if control.paused and not control.stop_requested:
                paused_since = paused_since or time.monotonic()
                if time.monotonic() - paused_since >= PAUSE_RELEASE_S:
                    released = True
                    control.stop()
                    return
            else:
                paused_since = None

    watcher = threading.Thread(target=watch, name="gan-zerogpu-pause", daemon=True)
    watcher.start()
    try:
        for ev in trainer.run():
            if isinstance(ev, StartEvent):
                elapsed0 = trainer.elapsed
            yield ev
    finally:
        done.set()
        watch_stop.set()
    yield CallEnded(max(0.0, trainer.elapsed - (elapsed0 if elapsed0 is not None else trainer.elapsed)), released)

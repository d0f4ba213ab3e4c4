"""ZeroGPU mode on a CPU (GAN_STUDIO_ZEROGPU=1): training runs in the app's process through the function
wrapped by the installed GPU decorator, with the duration that decorator is asked for; the events reach
the job (the panel); a chain of calls reproduces an uninterrupted run; a quota error gives the visitor's
line and keeps the checkpoint.

The decorator here is a spy that behaves as ``spaces.GPU`` does on ZeroGPU: it computes the duration from
the call's own arguments when given a callable, runs the function in a forked worker process, and pickles
the arguments and every yielded value across. Nothing trains unless it goes through the spy."""
from __future__ import annotations

import contextvars
import inspect
import math
import multiprocessing as mp
import os
import pickle
from pathlib import Path
from typing import Any, Callable, Optional

import gradio as gr
import pytest

from gan_core.jobs import zerogpu
from gan_core.storage import rundir
from gan_core import studio
from gan_core.train.events import StepEvent
from gan_core.jobs.manager import JobManager
from gan_core.train.trainer import Trainer
from waiting import wait_until

REQUEST: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("request", default=None)


def _child(q: Any, fn: Callable, payload: bytes) -> None:
    args, kwargs = pickle.loads(payload)
    try:
        for v in fn(*args, **kwargs):
            q.put(("ok", pickle.dumps(v)))
        q.put(("end", None))
    except BaseException as e:  # noqa: BLE001 - reported to the caller, as spaces does
        q.put(("gr_error", pickle.dumps(e)) if isinstance(e, gr.Error) else ("error", f"{type(e).__name__}: {e}"))


class SpyGPU:
    """Stands for ``spaces.GPU``: records what it wrapped and each call (duration, caller's pid and
    request), runs generator functions in a forked worker, and can fail a call as ZeroGPU does."""

    def __init__(self, fork: bool = True):
        self.fork = fork
        self.wrapped: list[tuple[str, Any]] = []      # (function name, duration given to the decorator)
        self.calls: list[dict[str, Any]] = []
        self.fail_on: dict[int, BaseException] = {}   # call number (1-based) -> error raised before it runs

    def __call__(self, task: Any = None, *, duration: Any = None, size: Any = None) -> Any:
        def decorate(fn: Callable) -> Callable:
            self.wrapped.append((fn.__name__, duration))
            spy = self

            def handler(*args: Any, **kwargs: Any) -> Any:
                d = duration(*args, **kwargs) if callable(duration) else duration
                spy.calls.append({"fn": fn.__name__, "duration": d, "pid": os.getpid(), "request": REQUEST.get(),
                                  "args": args})
                if len(spy.calls) in spy.fail_on:
                    raise spy.fail_on[len(spy.calls)]
                payload = pickle.dumps((args, kwargs))   # what spaces sends to its worker
                if not inspect.isgeneratorfunction(fn):
                    return fn(*pickle.loads(payload)[0], **kwargs)
                return spy._generate(fn, payload)

            handler.__wrapped_by_spy__ = True
            return handler

        return decorate(task) if callable(task) else decorate

    def _generate(self, fn: Callable, payload: bytes):
        if not self.fork:
            args, kwargs = pickle.loads(payload)
            for v in fn(*args, **kwargs):
                yield pickle.loads(pickle.dumps(v))
            return
        ctx = mp.get_context("fork")
        q = ctx.SimpleQueue()
        p = ctx.Process(target=_child, args=(q, fn, payload), daemon=True)
        p.start()
        try:
            while True:
                kind, v = q.get()
                if kind == "ok":
                    yield pickle.loads(v)
                elif kind == "end":
                    return
                elif kind == "gr_error":   # spaces re-raises a gr.Error of the task as it is
                    raise pickle.loads(v)
                else:   # spaces prints the traceback and raises this
                    print("GPU worker failed:", v)
                    raise gr.Error("GPU task aborted", title="ZeroGPU worker error")
        finally:
            p.join(10)


class StepClock:
    """The trainer's run clock (gan_core.train.steplog's ``time``), moved on 0.1 s by each training step, so a
    call's time budget holds a known number of steps however busy the machine is."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    monotonic = perf_counter


@pytest.fixture
def step_clock(monkeypatch):
    from gan_core.train import steplog

    clock = StepClock()
    add = steplog.StepLog.add

    def add_and_tick(self, out, imgs):
        clock.now += 0.1
        add(self, out, imgs)

    monkeypatch.setattr(steplog, "time", clock)
    monkeypatch.setattr(steplog.StepLog, "add", add_and_tick)
    return clock


@pytest.fixture
def spy(monkeypatch):
    monkeypatch.setenv(zerogpu.ENV, "1")
    import torch

    s = SpyGPU(fork=not torch.cuda.is_initialized())   # as spaces, no CUDA in the forking process
    zerogpu.install(s)
    yield s
    zerogpu.install(None)


def _cfg(tiny_cfg, **train):
    return tiny_cfg(steps=train.pop("steps", 12),
                    train={"device": "auto", "log_every": 1, "amp": False, "channels_last": False, **train})


def _losses(rows):
    return [(r["step"], r["d_loss"], r["g_loss"]) for r in rows]


def _manager(tmp_path) -> JobManager:
    mgr = JobManager(runs_dir=tmp_path)   # the mode comes from GAN_STUDIO_ZEROGPU
    assert mgr.mode == "zerogpu"
    return mgr


def test_detection_follows_spaces_and_the_override(monkeypatch):
    monkeypatch.delenv(zerogpu.ENV, raising=False)
    for v, on in (("true", True), ("True", True), ("1", True), ("t", True), ("false", False), ("", False)):
        monkeypatch.setenv(zerogpu.SPACES_ENV, v)
        assert zerogpu.enabled() is on, v
    monkeypatch.setenv(zerogpu.SPACES_ENV, "true")
    monkeypatch.setenv(zerogpu.ENV, "0")
    assert not zerogpu.enabled()
    monkeypatch.delenv(zerogpu.SPACES_ENV)
    monkeypatch.setenv(zerogpu.ENV, "1")
    assert zerogpu.enabled()
    monkeypatch.setenv(zerogpu.ENV, "yes")
    with pytest.raises(ValueError, match="GAN_STUDIO_ZEROGPU must be 0 or 1"):
        zerogpu.enabled()


def test_detection_agrees_with_the_spaces_package(monkeypatch):
    spaces_config = pytest.importorskip("spaces.config")   # requirements-dev.txt pins it
    monkeypatch.delenv(zerogpu.ENV, raising=False)
    for v in ("true", "TRUE", "1", "t", "0", "no", "yes"):
        monkeypatch.setenv(zerogpu.SPACES_ENV, v)
        assert zerogpu.enabled() is spaces_config.Settings().zero_gpu, v


def test_call_duration_is_the_budget_plus_margin_and_never_over_the_cap():
    assert zerogpu.call_duration(60) == 60 + zerogpu.MARGIN_S
    assert zerogpu.call_duration(0.2) == math.ceil(0.2 + zerogpu.MARGIN_S)
    assert zerogpu.call_duration(10_000) == zerogpu.MAX_CALL_S
    assert zerogpu.call_duration(0) == zerogpu.MAX_CALL_S      # a step-count run: the longest call
    assert zerogpu.CALL_TRAIN_S + zerogpu.MARGIN_S == zerogpu.MAX_CALL_S
    # the presets: 1min fits one call; 5min and full are chains of calls, each under the cap
    one, five = studio.PRESETS["1min"].seconds, studio.PRESETS["5min"].seconds
    assert zerogpu.planned_calls(one) == 1 and zerogpu.call_duration(one) == one + zerogpu.MARGIN_S
    budgets, done = [], 0.0
    while (s := zerogpu.next_call_seconds(five, done)) > 0:
        budgets.append(s)
        done += s
    assert len(budgets) == zerogpu.planned_calls(five) > 1 and sum(budgets) == five
    assert all(zerogpu.call_duration(b) <= zerogpu.MAX_CALL_S for b in budgets)


def test_visitor_messages_for_zerogpu_errors():
    quota = gr.Error("You have exceeded your free ZeroGPU quota (90s requested vs. 12s left). Try again in 0:04:10. ",
                     title="ZeroGPU quota exceeded")
    assert zerogpu.visitor_message(quota) == "GPU quota used up: try again in 5 minutes, or run on CPU (set Device to cpu)."
    limit = gr.Error("Space app has reached its GPU limit. Try re-running outside of examples",
                     title="ZeroGPU quota exceeded")
    assert zerogpu.visitor_message(limit).startswith("GPU quota used up: try again later, or run on CPU")
    assert zerogpu.visitor_message(gr.Error("No GPU was available after 60s. Retry later",
                                            title="ZeroGPU queue timeout")).startswith("No GPU free on ZeroGPU")
    assert "ended the GPU call" in zerogpu.visitor_message(gr.Error("GPU task aborted", title="ZeroGPU worker error"))
    assert zerogpu.visitor_message(ValueError("bad size")) is None


def test_training_runs_in_the_requests_process_through_the_gpu_function(spy, tiny_cfg, tmp_path):
    mgr = _manager(tmp_path)
    cfg = _cfg(tiny_cfg, steps=0, seconds=1.5, sample_every=4)
    seen: list[tuple[str, str]] = []
    mgr.add_listener(lambda job, ev: seen.append((ev.kind, job.snapshot().status)))
    token = REQUEST.set("visitor-A")   # the request that presses Start (gradio keeps it in a context var)
    try:
        job = mgr.start(cfg, owner="alice")
    finally:
        REQUEST.reset(token)
    assert job.wait(120), job.snapshot()
    snap = job.snapshot()
    assert snap.status == "done", snap.error
    # the decorator wrapped our generator, with a callable duration (of the call's arguments)
    names = dict(spy.wrapped)
    assert callable(names["train_call"]) and inspect.isgeneratorfunction(zerogpu.train_call)
    call = spy.calls[0]
    assert call["fn"] == "train_call" and call["pid"] == os.getpid() and call["request"] == "visitor-A"
    assert call["args"][4] == 1.5 and call["duration"] == zerogpu.call_duration(1.5) == 32
    assert len(spy.calls) == 1
    # the events came back across the fork and reached the job (the panel) while it ran
    kinds = [k for k, _ in seen]
    assert kinds[0] == "status" and "start" in kinds and kinds[-1] == "done"
    assert any(k == "step" and st == "running" for k, st in seen)
    assert snap.history and snap.history[-1]["step"] == snap.step and snap.sample is not None
    assert snap.progress == 1.0 and Path(snap.checkpoints[-1]).is_file()


def test_without_the_decorator_nothing_trains(spy, tiny_cfg, tmp_path):
    """The spy is the only way in: a decorator that fails every call leaves the run untrained."""
    spy.fail_on = {1: gr.Error("No GPU was available", title="ZeroGPU client error")}
    job = _manager(tmp_path).start(_cfg(tiny_cfg, steps=5), owner="a")
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == "error" and snap.step == 0 and not snap.history
    assert snap.error.startswith("No GPU free on ZeroGPU just now: try again in 1 minute, or run on CPU")


def test_a_chain_of_calls_reproduces_the_uninterrupted_run(spy, step_clock, tiny_cfg, tmp_path, monkeypatch):
    steps = 12
    cfg = _cfg(tiny_cfg, steps=steps)
    ref = [ev for ev in Trainer(cfg, tmp_path / "ref").run() if isinstance(ev, StepEvent)]
    assert len(ref) == steps
    monkeypatch.setattr(zerogpu, "CALL_TRAIN_S", 0.45)   # 5 steps of the step clock per call: 3 calls
    job = _manager(tmp_path).start(cfg, owner="a")
    assert job.wait(300)
    snap = job.snapshot()
    assert snap.status == "done" and snap.step == steps, snap.error
    assert len(spy.calls) == 3
    assert spy.calls[0]["args"][2] is None
    assert [c["args"][2] for c in spy.calls[1:]] == [str(Path(snap.run_dir) / rundir.LAST)] * 2
    assert all(c["duration"] == zerogpu.call_duration(0.45) == 31 for c in spy.calls)
    assert [n for n in snap.notes if "GPU call" in n] == ["GPU call 2: resumed from step 5 on cpu",
                                                         "GPU call 3: resumed from step 10 on cpu"]
    got = _losses(snap.history)
    want = [(e.step, e.d_loss, e.g_loss) for e in ref]
    assert [g[0] for g in got] == list(range(1, steps + 1))
    for (s, d, g), (_, d0, g0) in zip(got, want):
        assert d == pytest.approx(d0, abs=1e-6) and g == pytest.approx(g0, abs=1e-6), s


def test_a_time_budget_is_split_over_calls_and_progress_is_the_whole_runs(spy, step_clock, tiny_cfg, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(zerogpu, "CALL_TRAIN_S", 0.5)
    monkeypatch.setattr(zerogpu, "MIN_CALL_TRAIN_S", 0.05)
    mgr = _manager(tmp_path)
    progress: list[float] = []
    mgr.add_listener(lambda job, ev: isinstance(ev, StepEvent) and progress.append(ev.progress))
    job = mgr.start(_cfg(tiny_cfg, steps=0, seconds=1.2), owner="a")
    assert job.wait(300)
    snap = job.snapshot()
    assert snap.status == "done" and snap.progress == 1.0, snap.error
    budgets = [c["args"][4] for c in spy.calls]
    assert budgets == [0.5, 0.5, pytest.approx(0.2)]   # 1.2 s of the step clock: 5 + 5 + 2 steps
    assert [c["duration"] for c in spy.calls] == [zerogpu.call_duration(b) for b in budgets]
    assert snap.step == 12 and progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    assert progress[4] == pytest.approx(0.5 / 1.2)   # step 5: the first call's budget of the whole run's


def test_a_quota_error_gives_the_visitors_message_and_keeps_the_checkpoint(spy, step_clock, tiny_cfg, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setattr(zerogpu, "CALL_TRAIN_S", 0.25)
    spy.fail_on = {2: gr.Error("You have exceeded your free ZeroGPU quota (31s requested vs. 5s left). "
                               "Try again in 0:09:30. ", title="ZeroGPU quota exceeded")}
    mgr = _manager(tmp_path)
    job = mgr.start(_cfg(tiny_cfg, steps=100_000), owner="a")
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.status == "error"
    assert snap.error.startswith("GPU quota used up: try again in 10 minutes, or run on CPU")
    assert snap.step == 3 and "checkpoint at step 3" in snap.error
    last = Path(snap.run_dir) / rundir.LAST
    assert last.is_file() and snap.checkpoints
    from gan_core.storage.checkpoint import load_checkpoint
    assert load_checkpoint(last)["step"] == snap.step
    # "Continue this run" starts another GPU call from that checkpoint
    assert studio.can_continue(snap, True)
    more = studio.continue_run(mgr, snap, "a", 3)
    assert more.wait(120)
    assert more.snapshot().status == "done" and more.snapshot().step == snap.step + 3
    assert spy.calls[-1]["args"][2] == str(last) and spy.calls[-1]["fn"] == "train_call"


def test_stop_and_pause_reach_the_trainer_in_the_gpu_worker(spy, tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(zerogpu, "PAUSE_RELEASE_S", 0.5)
    job = _manager(tmp_path).start(_cfg(tiny_cfg, steps=100_000), owner="a")
    assert wait_until(lambda: job.snapshot().step >= 2, 60)
    job.pause("a")
    # paused inside the call: the call ends (checkpoint, GPU freed) and the job waits, paused
    assert wait_until(lambda: job.snapshot().status == "paused" and len(spy.calls) == 1
                      and (Path(job.run_dir) / rundir.LAST).is_file(), 60)
    at = job.snapshot().step
    job.resume_training("a")
    assert wait_until(lambda: len(spy.calls) == 2 and job.snapshot().step > at + 1, 60)
    job.stop("a")
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == "stopped" and snap.checkpoints
    assert spy.calls[1]["args"][2] == str(Path(snap.run_dir) / rundir.LAST)


def test_a_cpu_run_needs_no_gpu_call(spy, tiny_cfg, tmp_path, monkeypatch):
    """Device cpu ("or run on CPU"): the run trains as in mode "process", with no GPU call."""
    from gan_core.jobs.job import Job

    ran = []

    def in_this_thread(job):   # stands for the child process (spawning one costs seconds)
        ran.append(job.id)
        for ev in Trainer(job.cfg, job.run_dir, resume=job.resume, control=job.control).run():
            job._on_event(ev)

    monkeypatch.setattr(Job, "_run_process", in_this_thread)
    job = _manager(tmp_path).start(tiny_cfg(steps=2, train={"device": "cpu"}), owner="a")
    assert job.wait(120) and job.snapshot().status == "done"
    assert ran == [job.id] and spy.calls == []


def heavy(n: int) -> tuple[str, int]:
    return zerogpu.tool_device(), n


def stream(n: int):
    for i in range(n):
        yield zerogpu.in_gpu_call(), i


def test_tools_run_in_a_gpu_call_only_when_it_pays(spy, monkeypatch):
    on_gpu = zerogpu.gpu_tool(heavy, "generate", work=lambda n: n * 1e6)
    assert on_gpu(0) == ("cpu", 0) and spy.calls == []          # small work: the CPU, no GPU call
    assert on_gpu(2) == ("cpu", 2)                               # inside the call (no CUDA here: cpu)
    assert spy.calls[-1]["fn"] == "_run_tool" and spy.calls[-1]["duration"] == zerogpu.TOOL_SECONDS["generate"]
    styled = zerogpu.gpu_tool(stream, "style", seconds=lambda n: 5 * n)
    assert list(styled(3)) == [(True, 0), (True, 1), (True, 2)]
    assert spy.calls[-1]["fn"] == "_run_tool_gen" and spy.calls[-1]["duration"] == 15
    spy.fail_on = {len(spy.calls) + 1: gr.Error("You have exceeded your ZeroGPU quota (60s requested vs. 1s left). "
                                                "Try again in 0:00:30.", title="ZeroGPU quota exceeded")}
    with pytest.raises(zerogpu.GpuUnavailable, match="GPU quota used up: try again in 1 minute, or run on CPU"):
        on_gpu(5)
    monkeypatch.setenv(zerogpu.ENV, "0")
    n = len(spy.calls)
    assert list(styled(1)) == [(False, 0)] and len(spy.calls) == n   # not on ZeroGPU: no GPU call at all


def test_the_gradio_tabs_use_the_gpu_call_when_it_pays(spy, monkeypatch):
    """The front end: gpu.install hands spaces.GPU to gan_core; Generate runs in a GPU call for a large grid
    (the same picture as on the CPU), a small one stays on the CPU; Style asks for its own duration; a
    quota refusal is one gr.Error line."""
    spaces = pytest.importorskip("spaces")
    import numpy as np

    from apps.gradio import generate as gen_tab, gpu, style as style_tab

    monkeypatch.setattr(spaces, "GPU", spy)
    assert "ZeroGPU" in gpu.install() and spy.wrapped and spy.wrapped[0][0] == "train_call"
    name = "faces.safetensors"
    px = gpu.image_pixels(name)
    assert px > 0
    # the shipped 32 px generator never reaches the real threshold within Generate's 64 images: lower it so
    # that a 17-image grid is "large" and a 4-image one is not
    monkeypatch.setattr(zerogpu, "GPU_WORTH_PIXELS", 16 * px)
    big = zerogpu.GPU_WORTH_PIXELS // px + 1
    run = gpu.on_gpu(gen_tab.generate, "generate", work=lambda n_, seed, n, *_: int(n) * gpu.image_pixels(n_))
    tags = (-1, -1)   # random hair, random eyes (the Generate tab's dropdowns)
    on_cpu = gen_tab.generate(name, 3, big, 8, *tags)
    got = run(name, 3, big, 8, *tags)
    assert spy.calls[-1]["fn"] == "_run_tool" and spy.calls[-1]["args"][0] is gen_tab.generate
    assert np.array_equal(got[0], on_cpu[0]) and got[1] == on_cpu[1]
    n_calls = len(spy.calls)
    run(name, 3, 4, 2, *tags)
    assert len(spy.calls) == n_calls   # 4 small images: the CPU
    stylise = gpu.on_gpu(style_tab.style_run, "style",
                         seconds=lambda c, s, steps, size, *_: zerogpu.style_seconds(steps, size))
    with pytest.raises(gr.Error):   # no pictures given: the handler's own error, raised in the GPU call
        list(stylise(None, None, 300, 256, 1.0, 1000.0, "adam"))
    assert spy.calls[-1]["fn"] == "_run_tool_gen" and spy.calls[-1]["duration"] == zerogpu.style_seconds(300, 256)
    spy.fail_on = {len(spy.calls) + 1: gr.Error("You have exceeded your free ZeroGPU quota (60s requested vs. 0s "
                                                "left). Try again in 0:20:00.", title="ZeroGPU quota exceeded")}
    with pytest.raises(gr.Error) as err:
        run(name, 3, big, 8, *tags)
    assert err.value.message == "GPU quota used up: try again in 20 minutes, or run on CPU (set Device to cpu)."


def test_a_call_near_its_duration_ends_itself_and_the_chain_goes_on(spy, step_clock, tiny_cfg, tmp_path,
                                                                    monkeypatch):
    """A call stops CALL_SLACK_S before its duration (e.g. after a slow start) with a checkpoint; the next
    call resumes from it rather than taking it for a Stop. The call's wall clock is the step clock here."""
    seconds = 450.0   # a long training budget: only the deadline can end the calls
    monkeypatch.setattr(zerogpu, "CALL_TRAIN_S", seconds)
    monkeypatch.setattr(zerogpu, "time", step_clock)
    monkeypatch.setattr(zerogpu, "CALL_SLACK_S", zerogpu.call_duration(seconds) - 0.55)   # ~6 steps a call
    job = _manager(tmp_path).start(_cfg(tiny_cfg, steps=100_000), owner="a")
    ok = wait_until(lambda: len(spy.calls) >= 2 and job.snapshot().status == "running", 120)
    snap = job.snapshot()
    assert ok, (snap.status, snap.step, snap.error, len(spy.calls))
    first_end = next((int(n.split("from step ")[1].split()[0]) for n in job.snapshot().notes
                      if n.startswith("GPU call 2")), None)
    job.stop("a")
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == "stopped", snap.error
    assert first_end is not None and first_end >= 6
    assert spy.calls[1]["args"][2] == str(Path(snap.run_dir) / rundir.LAST)

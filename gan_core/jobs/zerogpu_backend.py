"""Job mode "zerogpu": a run trains inside GPU calls (``spaces.GPU``, see gan_core.jobs.zerogpu) made from the
app's own process, in the request's context (the visitor's quota), one after another.

* Each call is ``zerogpu.train_call``, a generator: it runs ``Trainer.run()`` for at most
  ``zerogpu.CALL_TRAIN_S`` seconds of training and yields its events, which the job's thread feeds to
  ``Job._on_event`` as the other modes do (panel, ownership, queue, listeners are unchanged). Its
  ``duration`` is ``zerogpu.call_duration`` of that budget, computed from the call's own arguments.
* Every call ends with a checkpoint (the trainer saves one when its time is up). A run longer than one
  call is a chain: the next call resumes from ``last.pt`` of the run folder, bit for bit as any resume,
  until the run's own time budget or step count is reached. The panel sees one run: the calls' start
  events after the first become a note, their ends before the last are not shown, and progress / ETA
  are those of the whole run.
* Steering: the trainer runs in the GPU worker (a fork of this process), so commands travel through a
  file in the run folder (``zerogpu.CommandFile``), read by a thread inside the call. Stop ends the chain.
  A run paused for ``zerogpu.PAUSE_RELEASE_S`` inside a call ends that call (checkpoint, GPU freed); the
  next call starts when the run is resumed. A call whose GPU time is nearly up (a slow start, pauses)
  ends itself ``zerogpu.CALL_SLACK_S`` before its duration, with a checkpoint, and the chain goes on.
* A ZeroGPU failure (quota used up, no GPU free, the call cut off) ends the job with
  ``zerogpu.visitor_message``; the checkpoints of the calls before are kept, so "Continue this run" goes
  on from there. A run whose device is "cpu" trains as in mode "process", without a GPU call.
"""
from __future__ import annotations

import contextvars
import dataclasses
import os
import time
import traceback
from pathlib import Path
from typing import Any, Optional

from gan_core.storage import rundir
from gan_core.jobs import zerogpu
from gan_core.train.control import ForwardingControl
from gan_core.train.events import DoneEvent, StartEvent, StatusEvent, StepEvent
from gan_core.jobs.zerogpu import CallEnded, CommandFile

POLL_S = 0.2   # the job's wait for Resume / Stop between calls


def run_zerogpu(job: Any) -> None:
    """The job's thread: run the chain of GPU calls (or, for device "cpu", train as mode "process")."""
    if job.cfg.train.device == "cpu":
        job._run_process()
        return
    ctx: contextvars.Context = getattr(job, "context", None) or contextvars.copy_context()
    ctx.run(_chain, job)


def _chain(job: Any) -> None:
    assert isinstance(job.control, ForwardingControl)
    total = float(job.cfg.train.seconds)
    done_s = 0.0
    resume = job.resume
    calls = 0
    train = zerogpu.train_function()
    cmd_path = commands_path(job.run_dir)
    while True:
        seconds = zerogpu.next_call_seconds(total, done_s)
        calls += 1
        sink = CommandFile(cmd_path)
        if job.control.paused:   # paused between calls: the new call starts paused
            sink.put(("pause", ()))
        job.control.attach(sink)
        last_done: Optional[DoneEvent] = None
        ended: Optional[CallEnded] = None
        first_step: Optional[int] = None
        try:
            for item in train(job.cfg.to_json(), str(job.run_dir), resume, str(cmd_path), seconds):
                if isinstance(item, CallEnded):
                    ended = item
                elif isinstance(item, DoneEvent):
                    last_done = item
                else:
                    if isinstance(item, StartEvent):
                        first_step = item.start_step
                    _feed(job, item, calls, total, done_s, seconds)
        except Exception as e:  # noqa: BLE001 - ZeroGPU's failures become the visitor's line
            msg = zerogpu.visitor_message(e)
            if last_done is not None or msg is None:
                job._fail(f"{type(e).__name__}: {e}; " + rundir.RESUME_HINT, traceback.format_exc(limit=3))
            else:
                _fail_kept(job, msg)
            return
        finally:
            job.control.attach(None)
        if last_done is None:
            job._fail("the GPU call ended without finishing the run; " + rundir.RESUME_HINT)
            return
        done_s += ended.seconds if ended is not None else seconds
        released = ended is not None and ended.released
        if released and not job.control.paused and first_step is not None and last_done.step <= first_step:
            job._fail(f"a GPU call of {zerogpu.call_duration(seconds)} s ended before it trained one step (the "
                      "start took it all); " + rundir.RESUME_HINT)
            return
        more = (last_done.reason == "time" or released) and zerogpu.next_call_seconds(total, done_s) > 0
        if more and job.control.stop_requested:   # Stop came as the call ended
            job._on_event(dataclasses.replace(last_done, reason="stopped"))
            return
        if not more:
            if released:   # ended for the pause, and the run's time is also up: it is done
                last_done = dataclasses.replace(last_done, reason="time")
            job._on_event(last_done)
            return
        resume = last_done.last_checkpoint or str(Path(job.run_dir) / rundir.LAST)
        if job.control.paused:   # no GPU held while paused: wait for Resume or Stop
            job._on_event(StatusEvent("paused", last_done.step, "paused: the GPU is released until you resume"))
            while job.control.paused and not job.control.stop_requested:
                time.sleep(POLL_S)
            if job.control.stop_requested:
                job._on_event(dataclasses.replace(last_done, reason="stopped"))
                return
        job._on_event(StatusEvent("starting", last_done.step,
                                  f"GPU call {calls + 1}: resuming from step {last_done.step}"))


def _feed(job: Any, ev: Any, call: int, total: float, done_s: float, seconds: float) -> None:
    """Hand a call's event to the job: the first call's as they are; later calls' StartEvent becomes a
    note; StepEvents get the whole run's progress and ETA."""
    if call > 1 and isinstance(ev, StartEvent):
        with job._lock:
            job.notes.append(f"GPU call {call}: resumed from step {ev.start_step} on {ev.device}")
        ev = StatusEvent("running", ev.start_step)
    elif call > 1 and isinstance(ev, StatusEvent) and ev.status == "loading data":
        ev = StatusEvent("starting", ev.step, f"GPU call {call}: {ev.message}")
    if isinstance(ev, StepEvent) and total:
        run_done = done_s + ev.progress * seconds
        ev = dataclasses.replace(ev, progress=min(1.0, run_done / total), eta=max(0.0, total - run_done))
    job._on_event(ev)


def _fail_kept(job: Any, message: str) -> None:
    """A ZeroGPU failure: the visitor's line, and where the kept checkpoint is."""
    last = Path(job.run_dir) / rundir.LAST
    kept = (f" The run keeps its checkpoint at step {job.snapshot().step}: Continue this run goes on from it."
            if last.is_file() else "")
    job._fail(message + kept)


def commands_path(run_dir: os.PathLike | str) -> Path:
    return Path(run_dir) / rundir.ZEROGPU_COMMANDS

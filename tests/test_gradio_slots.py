"""gan_core.jobs.slots: the machine-wide training slots that the Streamlit and the Gradio servers share
(lock files under the runs folder, freed when their holder releases them or dies)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from gan_core.jobs import slots

REPO = Path(__file__).resolve().parents[1]
HOLDER = textwrap.dedent("""
    import sys, time
    from gan_core.jobs.slots import SlotLimiter
    s = SlotLimiter(int(sys.argv[2]), sys.argv[1]).try_acquire("streamlit: faces / dcgan / ns")
    print("held" if s is not None else "none", flush=True)
    time.sleep(300)
""")


def _holder(root: Path, n: int = 1) -> subprocess.Popen:
    """Another process (another app server) that takes a slot and keeps it until killed."""
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), str(n)], stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    line = p.stdout.readline().strip()
    assert line == "held", f"the holder process could not take a slot: {line!r}"
    return p


def test_one_slot_is_exclusive_and_comes_back_on_release(tmp_path):
    lim = slots.SlotLimiter(1, tmp_path)
    a = lim.try_acquire("first")
    assert a is not None and a.held and a.index == 0
    assert lim.try_acquire("second") is None
    assert slots.SlotLimiter(1, tmp_path).try_acquire("another limiter, same folder") is None
    assert lim.in_use() == 1 and lim.free() == 0
    a.release()
    a.release()  # idempotent
    assert not a.held and lim.in_use() == 0
    with lim.try_acquire("again") as b:
        assert b.held
        assert lim.try_acquire() is None
    assert not b.held and lim.free() == 1


def test_n_slots_and_their_holders(tmp_path):
    lim = slots.SlotLimiter(2, tmp_path)
    a, b = lim.try_acquire("run a"), lim.try_acquire("run b")
    assert {a.index, b.index} == {0, 1}
    assert lim.try_acquire("run c") is None
    held = lim.holders()
    assert [h["label"] for h in held] == ["run a", "run b"]
    assert all(h["pid"] == os.getpid() and h["here"] for h in held)
    b.release()
    assert [h["label"] for h in lim.holders()] == ["run a"]
    a.release()


def test_a_slot_held_by_another_process_blocks_until_that_process_dies(tmp_path):
    proc = _holder(tmp_path)
    try:
        lim = slots.SlotLimiter(1, tmp_path)
        assert lim.try_acquire("gradio") is None
        (h,) = lim.holders()
        assert h["pid"] == proc.pid and h["label"] == "streamlit: faces / dcgan / ns" and not h["here"]
        assert lim.acquire("gradio", timeout=0.3, poll=0.05) is None
        got: list = []
        waiter = threading.Thread(target=lambda: got.append(lim.acquire("gradio", timeout=60, poll=0.05)))
        waiter.start()
        time.sleep(0.3)
        assert not got  # still waiting
        proc.send_signal(signal.SIGKILL)  # a crashed server: the kernel frees its lock
        proc.wait(10)
        waiter.join(60)
        assert got and got[0] is not None and got[0].held
        assert lim.holders()[0]["label"] == "gradio" and lim.holders()[0]["here"]
        got[0].release()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_a_process_with_more_slots_still_counts_the_shared_ones(tmp_path):
    proc = _holder(tmp_path, n=1)   # a server allowing 1 run holds slot 0
    try:
        lim2 = slots.SlotLimiter(2, tmp_path)
        s = lim2.try_acquire("second server")
        assert s is not None and s.index == 1
        assert lim2.try_acquire("third") is None
        assert lim2.in_use() == 2
        s.release()
    finally:
        proc.kill()
        proc.wait(10)


def test_acquire_can_be_cancelled_and_bad_counts_are_refused(tmp_path):
    lim = slots.SlotLimiter(1, tmp_path)
    held = lim.try_acquire()
    t0 = time.monotonic()
    assert lim.acquire(cancelled=lambda: time.monotonic() - t0 > 0.2, poll=0.05) is None
    held.release()
    for bad in (0, -1, 65, 1.5, True, "2"):
        with pytest.raises(ValueError, match="training slots"):
            slots.SlotLimiter(bad, tmp_path)


def test_shared_limiter_is_one_per_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    a = slots.shared_limiter(1)
    assert a is slots.shared_limiter(1, tmp_path / "runs")
    assert a.root == tmp_path / "runs" / slots.SLOTS_DIR
    assert slots.shared_limiter(2) is not a

import time

import os
import signal

import pytest

from gan_core.jobs import JobBusyError, JobManager, NotOwnerError, new_run_dir

MODES = pytest.mark.parametrize("mode", ["thread", "process"])


def _wait(pred, timeout=60.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.05)
    return False


@MODES
def test_job_runs_in_background_and_snapshot_reattaches(tiny_cfg, tmp_path, mode):
    mgr = JobManager(runs_dir=tmp_path, mode=mode)
    seen = []
    mgr.add_listener(lambda job, ev: seen.append(ev.kind))
    job = mgr.start(tiny_cfg(steps=3, train={"sample_every": 1}), owner="alice")
    assert job.wait(60)
    snap = mgr.latest().snapshot()  # a reloaded page finds the job again through the manager
    assert snap.status == "done" and snap.step == 3 and snap.progress == 1.0
    assert [h["step"] for h in snap.history] == [1, 2, 3]
    assert snap.sample is not None and snap.sample_step == 3
    assert snap.checkpoints and snap.checkpoints[-1].endswith("last.pt")
    assert "start" in seen and seen[-1] == "done"
    assert len(job.snapshot(since=2).history) == 1


@MODES
def test_second_run_refused_and_only_owner_controls(tiny_cfg, tmp_path, mode):
    mgr = JobManager(runs_dir=tmp_path, mode=mode)
    job = mgr.start(tiny_cfg(steps=100000), owner="alice")
    try:
        assert _wait(lambda: job.snapshot().step >= 1)
        with pytest.raises(JobBusyError, match="already training \\(started by another session\\)"):
            mgr.start(tiny_cfg(steps=5), owner="bob")
        with pytest.raises(NotOwnerError):
            job.stop("bob")
        with pytest.raises(NotOwnerError):
            job.set_lr("bob", lr_g=1e-3)
        job.set_lr("alice", lr_g=1e-3)
        job.set_n_critic("alice", 2)
        assert _wait(lambda: job.snapshot().history[-1]["lr_g"] == 1e-3)
        assert job.snapshot().history[-1]["n_critic"] == 2
        job.pause("alice")
        assert _wait(lambda: job.snapshot().status == "paused")
        time.sleep(1.0)  # steps already under way (or in the event queue) land
        paused_at = job.snapshot().step
        time.sleep(0.5)
        assert job.snapshot().step == paused_at
        job.resume_training("alice")
        assert _wait(lambda: job.snapshot().step > paused_at + 1)
    finally:
        job.stop("alice")
        assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == "stopped" and snap.checkpoints  # stopped runs keep their last checkpoint
    # after it ends another session may start
    job2 = mgr.start(tiny_cfg(steps=1), owner="bob")
    assert job2.wait(60) and job2.snapshot().status == "done"


@MODES
def test_failed_job_reports_error(tiny_cfg, tmp_path, mode):
    mgr = JobManager(runs_dir=tmp_path, mode=mode)
    job = mgr.start(tiny_cfg(dataset="folder", data={"path": str(tmp_path / "nope")}), owner="a")
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == "error" and "does not exist" in snap.error


def test_run_dir_names_are_unique(tiny_cfg, tmp_path):
    a = new_run_dir(tiny_cfg(), tmp_path)
    a.mkdir()
    b = new_run_dir(tiny_cfg(), tmp_path)
    assert a != b and b.name.startswith(a.name)


def test_killed_training_process_ends_the_job_with_an_error_not_the_app(tiny_cfg, tmp_path):
    mgr = JobManager(runs_dir=tmp_path, mode="process")
    job = mgr.start(tiny_cfg(steps=100000, train={"checkpoint_every": 5}), owner="a")
    assert _wait(lambda: len(job.snapshot().checkpoints) >= 1)
    os.kill(job.pid, signal.SIGKILL)  # e.g. the out-of-memory killer
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == "error" and "killed by signal 9" in snap.error and "resumed" in snap.error
    # this process is fine and the next run can resume from the newest checkpoint
    job2 = mgr.start(tiny_cfg(steps=snap.step + 2), owner="a", run_dir=snap.run_dir,
                     resume=str(tmp_path / snap.run_dir / "last.pt"))
    assert job2.wait(60)
    s2 = job2.snapshot()
    assert s2.status == "done" and s2.step == snap.step + 2, (s2.status, s2.error, s2.step, snap.step)


def test_commands_given_before_the_training_process_is_up_are_replayed_in_order():
    import queue

    from gan_core.jobs import _ProcessControl

    ctl = _ProcessControl()
    ctl.set_lr(lr_g=1e-3, lr_d=2e-3)
    ctl.set_n_critic(3)
    ctl.stop()
    q = queue.Queue()
    ctl.attach(q)
    sent = [q.get_nowait() for _ in range(q.qsize())]
    assert sent == [("set_lr", (1e-3, 2e-3)), ("set_n_critic", (3,)), ("stop", ())]
    assert ctl.stop_requested and ctl.take_updates() == {}  # the parent keeps no stale updates

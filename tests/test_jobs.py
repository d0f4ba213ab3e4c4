import time

import os
import signal

import pytest

from gan_core.jobs.manager import JobBusyError, JobManager, NotOwnerError, new_run_dir
from waiting import wait_until as _wait

MODES = pytest.mark.parametrize("mode", ["thread", "process"])


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
        queued = mgr.start(tiny_cfg(steps=5), owner="bob")  # queued behind alice's run, not refused
        assert queued.snapshot().status == "queued" and mgr.queue_position(queued) == 1
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
    # after it ends the queued run starts by itself
    assert queued.wait(120) and queued.snapshot().status == "done", queued.snapshot().error


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

    from gan_core.train.control import ForwardingControl

    ctl = ForwardingControl()
    ctl.set_lr(lr_g=1e-3, lr_d=2e-3)
    ctl.set_n_critic(3)
    ctl.stop()
    q = queue.Queue()
    ctl.attach(q)
    sent = [q.get_nowait() for _ in range(q.qsize())]
    assert sent == [("set_lr", (1e-3, 2e-3)), ("set_n_critic", (3,)), ("stop", ())]
    assert ctl.stop_requested and ctl.take_updates() == {}  # the parent keeps no stale updates


def test_queue_positions_eta_cancel_cap_and_admin(tiny_cfg, tmp_path):
    mgr = JobManager(runs_dir=tmp_path, mode="thread", max_concurrent=1, max_per_visitor=1)
    alice = mgr.start(tiny_cfg(steps=100000), owner="alice")
    try:
        assert _wait(lambda: alice.snapshot().step >= 2)
        bob = mgr.start(tiny_cfg(steps=3), owner="bob")
        carol = mgr.start(tiny_cfg(steps=3), owner="carol")
        assert [mgr.queue_position(j) for j in (alice, bob, carol)] == [None, 1, 2]
        assert bob.snapshot().status == carol.snapshot().status == "queued"
        w_bob, w_carol = mgr.expected_wait(bob), mgr.expected_wait(carol)
        assert w_bob is not None and w_carol is not None and w_carol > w_bob >= 0
        with pytest.raises(JobBusyError, match="at most 1 per visitor"):
            mgr.start(tiny_cfg(steps=3), owner="bob")
        with pytest.raises(NotOwnerError):
            carol.cancel("bob")
        bob.cancel("bob")  # a visitor takes their own run out of the queue
        assert bob.snapshot().status == "cancelled" and bob.wait(1)
        assert mgr.queue_position(carol) == 1 and not bob.thread.is_alive()
        with pytest.raises(NotOwnerError):
            alice.stop("carol")
        alice.set_lr("alice", lr_g=1e-3)
        assert alice.snapshot().lr_changes[-1]["lr_g"] == 1e-3  # mid-run changes are kept (Compare shows them)
        alice.stop("teacher", admin=True)  # the admin stops anything
    finally:
        alice.stop("alice")
        assert alice.wait(60)
    assert alice.snapshot().status == "stopped"
    assert carol.wait(120) and carol.snapshot().status == "done"  # the queued run started when the first ended
    assert carol.snapshot().started_at >= alice.snapshot().finished_at
    # the cancelled run never trained
    assert bob.snapshot().step == 0 and not (tmp_path / bob.run_dir.name / "last.pt").exists()


def test_max_concurrent_runs_train_side_by_side(tiny_cfg, tmp_path):
    mgr = JobManager(runs_dir=tmp_path, mode="thread", max_concurrent=2)
    a = mgr.start(tiny_cfg(steps=100000), owner="a")
    b = mgr.start(tiny_cfg(steps=100000), owner="b")
    c = mgr.start(tiny_cfg(steps=2), owner="c")
    try:
        assert _wait(lambda: a.snapshot().step >= 1 and b.snapshot().step >= 1)
        assert c.snapshot().status == "queued" and len(mgr.active_jobs()) == 2
        a.stop("a")
        assert c.wait(120) and c.snapshot().status == "done"
    finally:
        for j, who in ((a, "a"), (b, "b")):
            j.stop(who)
            assert j.wait(60)


def test_queue_settings_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_MAX_CONCURRENT", "3")
    monkeypatch.setenv("GAN_STUDIO_MAX_PER_VISITOR", "4")
    mgr = JobManager(runs_dir=tmp_path, mode="thread")
    assert (mgr.max_concurrent, mgr.max_per_visitor) == (3, 4)
    monkeypatch.setenv("GAN_STUDIO_MAX_CONCURRENT", "zero")
    with pytest.raises(ValueError, match="GAN_STUDIO_MAX_CONCURRENT must be an integer"):
        JobManager(runs_dir=tmp_path, mode="thread")
    monkeypatch.delenv("GAN_STUDIO_MAX_CONCURRENT")
    assert JobManager(runs_dir=tmp_path, mode="thread").max_concurrent >= 1


def test_two_servers_on_one_machine_share_the_training_slots(tiny_cfg, tmp_path):
    """A Streamlit and a Gradio server each have a JobManager; with one slot between them, the second
    server's run waits until the first server's run ends, then starts by itself."""
    streamlit_side = JobManager(runs_dir=tmp_path, mode="thread", max_concurrent=1)
    gradio_side = JobManager(runs_dir=tmp_path, mode="thread", max_concurrent=1)
    first = streamlit_side.start(tiny_cfg(steps=100000), owner="alice")
    try:
        assert _wait(lambda: first.snapshot().step >= 1)
        second = gradio_side.start(tiny_cfg(steps=3), owner="bob")
        time.sleep(1.5)   # the retry timer has looked at least once
        assert second.snapshot().status == "queued" and gradio_side.slots.in_use() == 1
        first.stop("alice")
        assert first.wait(60)
        assert second.wait(60) and second.snapshot().status == "done"
        assert gradio_side.slots.in_use() == 0
    finally:
        first.stop("alice")
        first.wait(60)


def test_numeric_environment_settings(monkeypatch):
    from gan_core.config.envvars import env_number

    monkeypatch.delenv("GAN_STUDIO_X", raising=False)
    assert env_number("GAN_STUDIO_X", 7, 1, 10) == 7
    monkeypatch.setenv("GAN_STUDIO_X", " 0.5 ")
    assert env_number("GAN_STUDIO_X", 1.0, 0, 64, float) == 0.5
    with pytest.raises(ValueError, match="GAN_STUDIO_X must be an integer between 1 and 10, got '0.5'"):
        env_number("GAN_STUDIO_X", 7, 1, 10)
    monkeypatch.setenv("GAN_STUDIO_X", "99")
    with pytest.raises(ValueError, match="GAN_STUDIO_X must be a number between 0 and 64"):
        env_number("GAN_STUDIO_X", 1.0, 0, 64, float)

"""Job mode "ray" (gan_core/jobs/ray_backend.py) on a local Ray instance limited to 2 CPUs: real tiny runs
through the same JobManager as the app (done, steering and stop, a killed actor), and the one-line
error when Ray is not installed."""
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gan_core.storage.checkpoint import load_checkpoint, load_generator
from gan_core.jobs.manager import JobManager, NotOwnerError
from waiting import wait_until as _wait


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False,
             object_store_memory=100 * 1024 * 1024)
    yield ray
    ray.shutdown()


@pytest.fixture
def mgr(ray_local, tmp_path, monkeypatch):
    for name in ("GAN_STUDIO_RAY_GPUS", "GAN_STUDIO_RAY_CPUS"):
        monkeypatch.delenv(name, raising=False)
    return JobManager(runs_dir=tmp_path, mode="ray", max_concurrent=1)


@pytest.mark.slow
def test_ray_job_trains_to_done_with_samples_and_checkpoints(mgr, tiny_cfg, tmp_path):
    job = mgr.start(tiny_cfg(steps=4, train={"sample_every": 1, "checkpoint_every": 2}), owner="alice")
    assert job.wait(90)
    snap = job.snapshot()
    assert snap.status == "done", (snap.error, snap.notes)
    assert snap.step == 4 and snap.progress == 1.0
    assert [h["step"] for h in snap.history] == [1, 2, 3, 4]
    assert all(math.isfinite(h["d_loss"]) and math.isfinite(h["g_loss"]) for h in snap.history)
    assert isinstance(snap.sample, np.ndarray) and snap.sample.dtype == np.uint8 and snap.sample.shape[2] == 3
    assert snap.sample_step == 4
    assert any(n.startswith("training on Ray node") for n in snap.notes), snap.notes
    assert snap.checkpoints and snap.checkpoints[-1].endswith("last.pt")
    for ck in snap.checkpoints:
        assert Path(ck).is_file() and Path(ck).is_relative_to(tmp_path)
    assert load_checkpoint(snap.checkpoints[-1])["step"] == 4
    G, cfg, _ = load_generator(snap.checkpoints[-1])
    assert cfg.train.steps == 4 and sum(p.numel() for p in G.parameters()) > 0


@pytest.mark.slow
def test_ray_job_is_steered_and_stopped(mgr, tiny_cfg):
    job = mgr.start(tiny_cfg(steps=100000), owner="alice")
    try:
        assert _wait(lambda: job.snapshot().step >= 1, 90), job.snapshot().error
        with pytest.raises(NotOwnerError):
            job.set_lr("bob", lr_g=1e-3)
        job.set_lr("alice", lr_g=1e-3, lr_d=5e-4)
        job.set_n_critic("alice", 2)
        assert _wait(lambda: job.snapshot().history[-1]["lr_g"] == 1e-3)
        last = job.snapshot().history[-1]
        assert last["lr_d"] == 5e-4 and last["n_critic"] == 2
        job.pause("alice")
        assert _wait(lambda: job.snapshot().status == "paused")
        time.sleep(1.0)  # steps already under way (or in the actor's buffer) land
        paused_at = job.snapshot().step
        time.sleep(0.5)
        assert job.snapshot().step == paused_at
        job.resume_training("alice")
        assert _wait(lambda: job.snapshot().step > paused_at)
    finally:
        job.stop("alice")
        assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == "stopped" and snap.checkpoints, (snap.status, snap.error)
    assert load_checkpoint(snap.checkpoints[-1])["step"] == snap.step


@pytest.mark.slow
def test_killed_ray_actor_ends_the_job_with_an_error_and_the_run_resumes(mgr, tiny_cfg, tmp_path, ray_local):
    job = mgr.start(tiny_cfg(steps=100000, train={"checkpoint_every": 3}), owner="a")
    assert _wait(lambda: len(job.snapshot().checkpoints) >= 1, 90), job.snapshot().error
    ray_local.kill(job.control.sink.actor)  # as when its node is lost or the out-of-memory killer strikes
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == "error" and "Ray actor" in snap.error and "died" in snap.error, snap.error
    assert "newest checkpoint" in snap.error and "resumed" in snap.error
    resume = str(Path(snap.run_dir) / "last.pt")
    step0 = load_checkpoint(resume)["step"]
    job2 = mgr.start(tiny_cfg(steps=step0 + 2), owner="a", run_dir=snap.run_dir, resume=resume)
    assert job2.wait(90)
    s2 = job2.snapshot()
    assert s2.status == "done" and s2.step == step0 + 2, (s2.status, s2.error, s2.step, step0)


def test_ray_mode_without_ray_names_the_requirements_file(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # "import ray" raises ImportError
    with pytest.raises(RuntimeError) as e:
        JobManager(runs_dir=tmp_path, mode="ray")
    msg = str(e.value)
    assert "\n" not in msg and "pip install -r requirements-scale.txt" in msg
    monkeypatch.setenv("GAN_STUDIO_JOB_MODE", "ray")
    with pytest.raises(RuntimeError, match="requirements-scale.txt"):
        JobManager(runs_dir=tmp_path)

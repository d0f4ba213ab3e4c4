"""Data-parallel training (torchrun, gloo on CPU): the maths equals one process with the global batch,
only rank 0 writes, resume works on another number of processes, the job manager runs torchrun jobs."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gan_core.train import distributed
from gan_core.jobs import torchrun as job_torchrun
from gan_core.config import RunConfig
from gan_core.jobs.manager import JobManager
from waiting import wait_until as _wait

REPO = Path(__file__).resolve().parents[1]
# a run whose every random draw is a global-batch one (no penalty, DiffAugment or dropout noise): the
# processes then see exactly the data, z, flips and label noise of the one-process run
EXACT = ["--dataset", "digits", "--image-size", "16", "--set", "model.g_width=16", "--set", "model.d_width=16",
         "--set", "loss.ms_weight=0", "--set", "loss.label_noise=0.1", "--flip", "--log-every", "1",
         "--set", "train.amp=false", "--set", "train.channels_last=false", "--quiet"]
TOL = 1e-4   # per logged loss; float sums in another order (measured: under 3e-6 over 20 steps)


def _env(cache: str) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _train(args: list[str], out: Path, cache: str, nproc: int = 1) -> subprocess.CompletedProcess:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m"]
                if nproc > 1 else [sys.executable, "-m"])
    cmd = launcher + ["gan_core", "train", *args, "--set", f"data.cache_dir={cache}", "--out", str(out)]
    r = subprocess.run(cmd, cwd=REPO, env=_env(cache), capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _rows(run: Path) -> dict[int, dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows]
    assert len(steps) == len(set(steps)), f"metrics.jsonl written twice: {steps}"
    return {r["step"]: r for r in rows}


def _max_diff(a: dict[int, dict], b: dict[int, dict]) -> float:
    assert sorted(a) == sorted(b)
    return max(abs(a[s][k] - b[s][k]) for s in a for k in ("d_loss", "g_loss", "d_real", "d_fake"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cache_dir):
    """One process with batch 16; two gloo processes with 8 each (the same global batch), 20 steps; and two
    processes for 10 steps, resumed in one process to 20."""
    root = tmp_path_factory.mktemp("ddp")
    _train(EXACT + ["--steps", "20", "--batch-size", "16"], root / "one", cache_dir)
    two = _train(EXACT + ["--steps", "20", "--batch-size", "8"], root / "two", cache_dir, nproc=2)
    _train(EXACT + ["--steps", "10", "--batch-size", "8"], root / "half", cache_dir, nproc=2)
    resumed = _train(["--resume", str(root / "half" / "last.pt"), "--steps", "20", "--log-every", "1", "--quiet"],
                     root / "half", cache_dir)
    return root, two, resumed


def test_two_gloo_processes_match_one_process(runs):
    root, two, _ = runs
    one, ddp = _rows(root / "one"), _rows(root / "two")
    assert sorted(ddp) == list(range(1, 21))
    assert _max_diff(one, ddp) < TOL
    # the losses moved: the comparison is of a run that trains, not of constants
    assert abs(ddp[1]["d_loss"] - ddp[20]["d_loss"]) > 0.1
    cfg = json.loads((root / "two" / "config.json").read_text())
    assert cfg["train"]["world_size"] == 2 and cfg["train"]["batch_size"] == 8
    assert "data-parallel: 2 processes (gloo), global batch 16 (8 per process)" in two.stderr
    assert ddp[20]["img_per_s"] > 0


def test_only_rank0_writes_the_run_folder(runs):
    root, two, _ = runs
    run = root / "two"
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "last.pt", "metrics.jsonl", "samples",
                                                     "step_0000020.pt", "tb"]
    assert len(list((run / "tb").rglob("events.out.tfevents.*"))) == 1
    assert two.stdout.count("done: 20 steps") == 1   # one report, from rank 0
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    assert state["step"] == 20
    # BatchNorm layers keep the plain keys: the checkpoint loads anywhere
    assert any(k.endswith("running_mean") for k in state["G"])


def test_resume_on_one_process_continues_the_two_process_run(runs, cache_dir):
    root, _, resumed = runs
    one, half = _rows(root / "one"), _rows(root / "half")
    assert sorted(half) == list(range(1, 21))
    assert _max_diff(one, half) < TOL   # steps 11-20 in one process with the global batch 16
    assert "resumed on 1 process(es); the run trained on 2 so far: global batch 16 (16 per process)" in resumed.stderr
    cfg = json.loads((root / "half" / "config.json").read_text())["train"]
    assert (cfg["world_size"], cfg["batch_size"]) == (1, 16)
    info = subprocess.run([sys.executable, "-m", "gan_core", "info", "--checkpoint", str(root / "two" / "last.pt")],
                          cwd=REPO, env=_env(cache_dir), capture_output=True, text=True, timeout=60)
    summary = json.loads(info.stdout)
    assert (summary["world_size"], summary["global_batch"]) == (2, 16)


def test_global_batchnorm_equals_batchnorm_of_the_whole_batch(tmp_path, cache_dir):
    out = tmp_path / "bn.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(REPO / "tests" / "fixtures" / "ddp_batchnorm_worker.py"), str(out)]
    r = subprocess.run(cmd, cwd=REPO, env=_env(cache_dir), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    res = torch.load(out)
    torch.testing.assert_close(res["ddp_grads"], res["ref_grads"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(res["ddp_xgrad"], res["ref_xgrad"], rtol=1e-5, atol=1e-7)
    for a, b in zip(res["ddp_running"], res["ref_running"]):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(res["ddp_out_eval"], res["ref_out"])
    assert res["ref_grads"].abs().max() > 1e-3


@pytest.mark.parametrize("args", [
    ["--dataset", "digits", "--loss", "wgan-gp", "--set", "model.g_width=8", "--set", "model.d_width=8"],
    ["--dataset", "faces", "--arch", "tacgan", "--set", "data.num_samples=200", "--set", "model.g_width=8",
     "--set", "model.d_width=8", "--loss", "dragan"],
    ["--dataset", "faces-edges", "--arch", "pix2pix", "--set", "data.num_samples=200", "--image-size", "32",
     "--set", "model.g_width=4", "--set", "model.d_width=4"],
], ids=["wgan-gp", "tacgan-dragan-ms", "pix2pix"])
def test_penalties_conditional_and_pix2pix_train_under_ddp(args, tmp_path, cache_dir):
    """Gradient penalties (autograd.grad through DDP), tag heads, the mode-seeking pairs and pix2pix's
    paired batches: no unused-parameter or reduction errors, finite losses, one run folder."""
    _train(args + ["--image-size", "16"] * ("pix2pix" not in args) +
           ["--steps", "4", "--batch-size", "4", "--log-every", "1", "--quiet"], tmp_path / "r", cache_dir, nproc=2)
    rows = _rows(tmp_path / "r")
    assert sorted(rows) == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor([r["d_loss"], r["g_loss"]])).all() for r in rows.values())
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["world_size"] == 2


def test_shard_and_fit_world():
    d = distributed.Dist(rank=1, world=2, local_rank=1, backend="gloo", device=torch.device("cpu"))
    assert d.shard(torch.arange(8)).tolist() == [4, 5, 6, 7] and d.shard(None) is None
    cfg = RunConfig().replace(train={"batch_size": 8, "world_size": 2})
    fresh, note = distributed.fit_world(cfg, 4, resumed=False)
    assert (fresh.train.batch_size, fresh.train.world_size, note) == (8, 4, None)
    res, note = distributed.fit_world(cfg, 4, resumed=True)    # keeps the global batch 16
    assert (res.train.batch_size, res.train.world_size) == (4, 4) and "global batch 16" in note
    odd, note = distributed.fit_world(cfg, 3, resumed=True)    # 16 is not a multiple of 3
    assert (odd.train.batch_size, odd.train.world_size) == (8, 3) and "was 16" in note
    assert distributed.from_env() is None   # one process: nothing to join


def test_nproc_setting(monkeypatch):
    monkeypatch.delenv(job_torchrun.NPROC_ENV, raising=False)
    assert job_torchrun.nproc() == 1
    monkeypatch.setenv(job_torchrun.NPROC_ENV, "4")
    assert job_torchrun.nproc() == 4
    for bad in ("two", "0", "5000"):
        monkeypatch.setenv(job_torchrun.NPROC_ENV, bad)
        with pytest.raises(ValueError, match=job_torchrun.NPROC_ENV):
            job_torchrun.nproc()


def test_job_manager_runs_a_torchrun_job_and_steers_it(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv(job_torchrun.NPROC_ENV, "2")
    mgr = JobManager(runs_dir=tmp_path, mode="process")
    job = mgr.start(tiny_cfg(dataset="digits", steps=100000, train={"log_every": 2, "sample_every": 10}), owner="ann")
    assert _wait(lambda: job.snapshot().step >= 6), job.snapshot().error
    job.pause("ann")
    assert _wait(lambda: job.snapshot().status == "paused")
    time.sleep(1.0)
    at = job.snapshot().step
    time.sleep(1.0)
    assert job.snapshot().step == at            # every process waits
    job.set_lr("ann", lr_g=1.25e-4)
    job.resume_training("ann")
    assert _wait(lambda: job.snapshot().history[-1]["lr_g"] == 1.25e-4)
    job.stop("ann")
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.status == "stopped" and snap.error is None, snap.error
    assert snap.sample is not None and snap.checkpoints
    assert any("data-parallel: 2 processes (gloo)" in n for n in snap.notes)
    assert json.loads((Path(snap.run_dir) / "config.json").read_text())["train"]["world_size"] == 2
    assert torch.load(snap.checkpoints[-1], map_location="cpu", weights_only=False)["step"] == snap.step


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    assert kids, "torchrun has no worker processes"
    return sorted(kids)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds torchrun's workers through /proc")
def test_torchrun_job_killed_ends_with_an_error(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv(job_torchrun.NPROC_ENV, "2")
    mgr = JobManager(runs_dir=tmp_path, mode="process")
    job = mgr.start(tiny_cfg(dataset="digits", steps=100000), owner="ann")
    assert _wait(lambda: job.snapshot().step >= 2), job.snapshot().error
    os.kill(_children(job.pid)[0], signal.SIGKILL)   # a training process dies (say, out of memory)
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.status == "error" and "ended without finishing" in snap.error and "resumed" in snap.error


def test_more_processes_than_gpus_is_refused_with_a_reason(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="needs cuda:1, but it has 1 GPU"):
        distributed.from_env("auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="sees no GPU"):
        distributed.from_env("cuda")


def test_each_process_has_its_own_in_step_noise(tmp_path, cache_dir):
    """The shared data stream is the same in every process (so the slices form one global batch); the
    in-step noise (penalty points, DiffAugment) and the global RNG (G dropout) differ between processes."""
    out = tmp_path / "noise.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(REPO / "tests" / "fixtures" / "ddp_noise_worker.py"), str(out), cache_dir]
    r = subprocess.run(cmd, cwd=REPO, env=_env(cache_dir), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    draws = torch.load(out)                       # (process, stream, 4)
    assert torch.equal(draws[0, 0], draws[1, 0])  # shared data stream
    assert not torch.equal(draws[0, 1], draws[1, 1]) and not torch.equal(draws[0, 2], draws[1, 2])

"""Fault tests: crashes, hostile files and divergence (CPU only, about a minute in all).

1. ``kill -9`` of a ``gan_core train`` process 20 times at seeded random moments: during startup,
   during training (after the process wrote its first checkpoint) and in the middle of a (slowed)
   checkpoint write. After every kill last.pt and the step_*.pt files load whole, steps never go
   back, and the run resumes from last.pt; after the 20 kills a ``python -m gan_core train --resume``
   finishes with exactly the weights of an uninterrupted run.
2. A checkpoint whose pickle would run code is refused by ``load_checkpoint`` and the CLI, and the
   code does not run.
3. Truncated, corrupt and oversized images and zip-slip members in the folder/zip loader are skipped
   and counted; nothing is written outside.
4. NaN divergence stops the run with a message, without overwriting last.pt with NaN weights.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core import losses as losses_mod
from gan_core.storage.checkpoint import FORMAT, VERSION, CheckpointError, load_checkpoint
from gan_core.config import DataConfig, RunConfig
from gan_core.data import DataError, load_dataset
from gan_core.data import folder as folder_mod
from gan_core.train.events import CheckpointEvent, DoneEvent, ErrorEvent, StartEvent, StepEvent
from gan_core.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"  # tiny models; two threads only contend on a busy box
    return env


def _assert_finite_state(state: dict) -> None:
    for key in ("G", "D"):
        for name, t in state[key].items():
            if t.is_floating_point():
                assert torch.isfinite(t).all(), f"{key}.{name} holds NaN/inf"


# ---- 1. kill -9 at random points --------------------------------------------------------------------
# Starting `python -m gan_core train` costs seconds (import torch) on a slow or busy machine, so the
# runs are forked from a "zygote" process that has imported torch and gan_core once (single-threaded,
# before any tensor op). Each child is its own OS process that runs `gan_core.cli.main(["train", ...])`
# and is killed with SIGKILL; the zygote reaps it and reports how it ended. The last leg of the test is
# a plain `python -m gan_core train --resume` subprocess.
_ZYGOTE = r'''
import io, json, os, signal, sys, time
import torch
torch.set_num_threads(1)
import gan_core.storage.checkpoint, gan_core.cli, gan_core.data.faces, gan_core.train.trainer, tqdm  # noqa: F401
torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # its first use imports torch._dynamo (seconds)
from gan_core.cli import main

def slow_save(real_save):
    # a slow disk: the checkpoint bytes reach the temp file in 8 chunks over ~0.2 s
    def save(obj, f, *a, **kw):
        buf = io.BytesIO()
        real_save(obj, buf, *a, **kw)
        data = buf.getvalue()
        n = max(1, len(data) // 8)
        for k in range(0, len(data), n):
            f.write(data[k:k + n])
            f.flush()
            time.sleep(0.025)
    return save

out = sys.stdout
print("ready", file=out, flush=True)
for line in sys.stdin:
    req = json.loads(line)
    if req["op"] == "fork":
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                null = os.open(os.devnull, os.O_RDONLY)
                log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(null, 0); os.dup2(log, 1); os.dup2(log, 2)
                sys.stdout = os.fdopen(1, "w", buffering=1); sys.stderr = os.fdopen(2, "w", buffering=1)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                if req.get("slow"):
                    torch.save = slow_save(torch.save)
                code = main(req["argv"])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:
                import traceback; traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.write(f"\n[child exited: {code}]\n"); sys.stderr.flush()
                finally:
                    os._exit(code)
        print(pid, file=out, flush=True)
    elif req["op"] == "wait":
        _, status = os.waitpid(req["pid"], 0)
        print(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status), file=out, flush=True)
'''


class _Zygote:
    def __init__(self, cwd: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", _ZYGOTE], cwd=cwd, env=_env(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self._reply() == "ready"

    def _reply(self) -> str:
        line = self.proc.stdout.readline()
        assert line, f"the zygote died (rc {self.proc.poll()})"
        return line.strip()

    def _ask(self, **req) -> int:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return int(self._reply())

    def fork(self, argv: list[str], log: Path, slow: bool = False) -> int:
        return self._ask(op="fork", argv=argv, log=str(log), slow=slow)

    def wait(self, pid: int) -> int:
        return self._ask(op="wait", pid=pid)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _train_args(run: Path, cache: str, steps: int, resume: bool) -> list[str]:
    args = ["train", "--out", str(run), "--dataset", "faces", "--image-size", "16", "--num-samples", "64",
            "--arch", "dcgan", "--loss", "ns", "--z-dim", "16", "--g-width", "8", "--d-width", "8", "--batch-size", "8",
            "--steps", str(steps), "--checkpoint-every", "2", "--sample-every", "7", "--log-every", "3",
            "--device", "cpu", "--seed", "0", "--quiet", "--set", f"data.cache_dir={cache}",
            "--set", "train.keep_checkpoints=3"]
    return args + (["--resume", str(run / "last.pt")] if resume else [])


def _ckpt_tmp_files(run: Path) -> set[Path]:
    """Temp files of checkpoint writes in progress (or torn by a kill): .last.pt.XXXX.tmp, .step_*.pt.XXXX.tmp."""
    return set(run.glob(".*.pt.*.tmp")) if run.exists() else set()


def _file_id(p: Path) -> Optional[tuple[int, int]]:
    try:
        st = p.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _wait_for(cond, timeout: float, what: str, log: Path) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; child log:\n"
                                 + (log.read_text()[-3000:] if log.exists() else "(none)"))
        time.sleep(0.002)


KILL_PLAN = ["training", "mid-write", "startup", "training"]  # cycled over the 20 kills


def test_kill9_at_random_points_then_resume(tmp_path, cache_dir):
    load_dataset(DataConfig(dataset="faces", image_size=16, num_samples=64, cache_dir=cache_dir))  # warm the cache
    run, logs = tmp_path / "run", tmp_path / "logs"
    logs.mkdir()
    rnd = random.Random(1234)
    zyg = _Zygote(tmp_path)
    steps_seen: list[int] = []
    kinds: list[str] = []
    torn = 0
    try:
        for i in range(20):
            kind = KILL_PLAN[i % len(KILL_PLAN)]
            resume = (run / "last.pt").exists()
            if not resume and kind != "startup":
                kind = "training"
            old_tmp, old_last = _ckpt_tmp_files(run), _file_id(run / "last.pt")
            log = logs / f"{i:02d}.log"
            pid = zyg.fork(_train_args(run, cache_dir, 1_000_000, resume), log, slow=kind == "mid-write")
            alive = lambda: not log.exists() or "[child exited" not in log.read_text()  # noqa: E731
            try:
                if kind == "startup":  # anywhere in argument parsing, checkpoint/data loading, the first steps
                    time.sleep(rnd.uniform(0.0, 0.4))
                else:
                    # training has begun in this process: it replaced last.pt (a new inode) ...
                    _wait_for(lambda: _file_id(run / "last.pt") not in (None, old_last) or not alive(), 60,
                              f"run {i} to write a checkpoint", log)
                    if kind == "training":  # ... then a random moment of training
                        time.sleep(rnd.uniform(0.0, 0.5))
                    else:  # ... then the moment the next (slowed) checkpoint write has begun
                        seen = _ckpt_tmp_files(run) - old_tmp
                        _wait_for(lambda: _ckpt_tmp_files(run) - old_tmp - seen or not alive(), 60,
                                  f"run {i} to start a checkpoint write", log)
                assert alive(), log.read_text()[-3000:]
            finally:
                os.kill(pid, signal.SIGKILL)
                rc = zyg.wait(pid)
            assert rc == -signal.SIGKILL, f"run {i} ended by itself (rc {rc}) before the kill:\n{log.read_text()[-3000:]}"
            kinds.append(kind)
            torn += kind == "mid-write" and bool(_ckpt_tmp_files(run) - old_tmp)  # a write was cut short
            if (run / "last.pt").exists():
                state = load_checkpoint(run / "last.pt")  # never a torn file: the write is atomic
                _assert_finite_state(state)
                steps_seen.append(int(state["step"]))
                for p in run.glob("step_*.pt"):  # the numbered checkpoints are whole too
                    assert int(load_checkpoint(p)["step"]) == int(p.stem.split("_")[1]), p
        assert len(steps_seen) >= 19, steps_seen  # only a first 'startup' kill may come before any checkpoint
        assert steps_seen == sorted(steps_seen), f"a resumed run went back in steps: {steps_seen}"
        progressed = sum(b > a for a, b in zip(steps_seen, steps_seen[1:]))
        assert progressed >= kinds.count("training") + kinds.count("mid-write") - 1, (kinds, steps_seen)
        assert torn >= 1, "no kill landed during a checkpoint write"
        # each resume removed the temp files torn by the kills before it (only the last kill's may be left)
        assert len(_ckpt_tmp_files(run)) <= 1, _ckpt_tmp_files(run)

        # an uninterrupted run to the same step, to compare with the killed-and-resumed one
        last = int(load_checkpoint(run / "last.pt")["step"])
        target = last + 4
        ref, ref_log = tmp_path / "ref", logs / "ref.log"
        pid = zyg.fork(_train_args(ref, cache_dir, target, False), ref_log)
        assert zyg.wait(pid) == 0, ref_log.read_text()[-3000:]
    finally:
        zyg.close()

    # the last resume is a plain CLI process, run to the end
    done = subprocess.run([sys.executable, "-m", "gan_core", *_train_args(run, cache_dir, target, True)], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not _ckpt_tmp_files(run), "the resume left a torn temp file behind"
    assert f"done: {target} steps" in done.stdout
    final, reference = load_checkpoint(run / "last.pt"), load_checkpoint(ref / "last.pt")
    assert int(final["step"]) == int(reference["step"]) == target
    _assert_finite_state(final)
    # 20 kills and resumes later, the weights are exactly those of the uninterrupted run
    for key in ("G", "D"):
        for name, t in reference[key].items():
            assert torch.equal(final[key][name], t), f"{key}.{name} differs from the uninterrupted run"
    # metrics.jsonl was trimmed back to the checkpoint on every resume: steps strictly increase
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == target


# ---- 2. malicious pickle ---------------------------------------------------------------------------
class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_checkpoint(path: Path, marker: Path, zip_format: bool = True) -> None:
    cfg = RunConfig().to_json()
    state = {"format": FORMAT, "version": VERSION, "config": cfg, "data_spec": {"kind": "image"}, "step": 1,
             "G": {"w": torch.zeros(2)}, "payload": _Evil(marker)}
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)


@pytest.mark.parametrize("zip_format", [True, False])
def test_malicious_pickle_checkpoint_is_refused_without_running_code(tmp_path, zip_format):
    evil, marker = tmp_path / "evil.pt", tmp_path / "PWNED"
    _evil_checkpoint(evil, marker, zip_format)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(evil)
    with pytest.raises(CheckpointError):
        load_checkpoint(evil.read_bytes())
    assert not marker.exists()

    # the payload is live: an unsafe torch.load (never done by gan_core) would run it
    control = tmp_path / "PWNED-control"
    _evil_checkpoint(tmp_path / "control.pt", control, zip_format)
    subprocess.run([sys.executable, "-c", f"import torch; torch.load({str(tmp_path / 'control.pt')!r}, "
                    "weights_only=False)"], env=_env(), capture_output=True, timeout=120)
    assert control.exists(), "the test payload did not work, so the refusal above proves nothing"


def test_cli_refuses_malicious_checkpoint(tmp_path):
    evil, marker = tmp_path / "evil.pt", tmp_path / "PWNED"
    _evil_checkpoint(evil, marker)
    for args in (["sample", "--checkpoint", str(evil), "--out", str(tmp_path / "g.png")],
                 ["info", "--checkpoint", str(evil)],
                 ["train", "--out", str(tmp_path / "r"), "--resume", str(evil), "--steps", "2"]):
        r = subprocess.run([sys.executable, "-m", "gan_core", *args], cwd=tmp_path, env=_env(), capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 2, (args[0], r.returncode, r.stderr[-2000:])
        assert "refused" in r.stderr and "pickled" in r.stderr, r.stderr[-2000:]
        assert "Traceback" not in r.stderr
        # our own words, not PyTorch's advice to re-run torch.load with weights_only=False
        assert "weights_only" not in r.stderr and "Re-running" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not marker.exists()
    assert not (tmp_path / "g.png").exists()


def test_truncated_and_foreign_checkpoints_are_refused(tmp_path, tiny_cfg):
    run = tmp_path / "run"
    for _ in Trainer(tiny_cfg(steps=2), run).run():
        pass
    good = (run / "last.pt").read_bytes()
    assert load_checkpoint(good)["step"] == 2
    for cut in (0, 10, len(good) // 2, len(good) - 10):
        with pytest.raises(CheckpointError):
            load_checkpoint(good[:cut])
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.ones(3)}, other)
    with pytest.raises(CheckpointError, match="not a GAN Studio checkpoint"):
        load_checkpoint(other)


# ---- 3. hostile images and archives -------------------------------------------------------------------
def _png_bytes(seed: int, size: int = 24) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg_bytes(seed: int, size: int = 40) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _folder_cfg(tmp_path: Path, path: Path, **kw) -> DataConfig:
    return DataConfig(dataset="folder", path=str(path), image_size=16, cache_dir=str(tmp_path / "cache"), **kw)


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_folder_skips_truncated_corrupt_and_oversized_images(tmp_path, monkeypatch):
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    for k in range(4):
        (root / f"good{k}.png").write_bytes(_png_bytes(k))
    (root / "sub" / "good.jpg").write_bytes(_jpeg_bytes(9))
    png = _png_bytes(5)
    (root / "truncated.png").write_bytes(png[: len(png) // 2])
    jpg = _jpeg_bytes(6)
    (root / "sub" / "truncated.jpg").write_bytes(jpg[: len(jpg) // 3])
    (root / "garbage.png").write_bytes(b"definitely not an image" * 10)
    (root / "empty.png").write_bytes(b"")
    (root / "bomb.png").write_bytes(_bomb_png())
    (root / "huge.png").write_bytes(_png_bytes(7, size=200))  # over the lowered per-file limit below
    (root / "notes.txt").write_text("not an image")
    monkeypatch.setattr(folder_mod, "MAX_FILE_BYTES", 60_000)
    assert len((root / "huge.png").read_bytes()) > 60_000 > max(len(_png_bytes(k)) for k in range(4))
    before = _listing(tmp_path)

    ds = load_dataset(_folder_cfg(tmp_path, root))
    assert len(ds) == 5 and ds.images.shape == (5, 3, 16, 16) and ds.images.dtype == torch.uint8
    assert ds.skipped == 6
    notes = " | ".join(ds.notes)
    assert "decompression bomb" in notes and "bomb.png" in notes
    assert "too large" in notes and "huge.png" in notes
    assert "truncated" in notes
    for name in ("truncated.png", "truncated.jpg", "garbage.png", "empty.png"):
        assert name in notes, (name, notes)
    assert _listing(tmp_path) - before <= {"cache"}  # nothing new besides (maybe) the cache folder

    # the trainer runs on what was kept and passes the notes on
    cfg = RunConfig().replace(
        data={"dataset": "folder", "path": str(root), "image_size": 16, "cache_dir": str(tmp_path / "cache")},
        model={"z_dim": 8, "g_width": 8, "d_width": 8},
        train={"steps": 2, "batch_size": 4, "device": "cpu", "sample_every": 0, "checkpoint_every": 0,
               "log_every": 1, "grid_size": 4})
    events = list(Trainer(cfg).run())
    start = next(e for e in events if isinstance(e, StartEvent))
    assert start.dataset_size == 5 and any("bomb" in n for n in start.notes)
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "steps"


def test_zip_slip_and_bad_members_are_refused_and_nothing_is_extracted(tmp_path, monkeypatch):
    outer = tmp_path / "outer"
    zdir = outer / "deep" / "er"
    zdir.mkdir(parents=True)
    zpath = zdir / "upload.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for k in range(3):
            z.writestr(f"faces/ok{k}.png", _png_bytes(k))
        z.writestr("../evil.png", _png_bytes(10))
        z.writestr("../../../../../../tmp/evil_abs_rel.png", _png_bytes(11))
        z.writestr("faces/../../evil2.png", _png_bytes(12))
        z.writestr("/etc/evil3.png", _png_bytes(13))
        z.writestr("C:/windows/evil4.png", _png_bytes(14))
        z.writestr("..\\evil5.png", _png_bytes(15))
        z.writestr("faces/trunc.png", _png_bytes(16)[:60])
        z.writestr("faces/bomb.png", _bomb_png(60_000, 60_000))
    before = _listing(tmp_path)
    ds = load_dataset(_folder_cfg(tmp_path, zpath))
    assert len(ds) == 3
    assert ds.skipped == 8
    notes = " | ".join(ds.notes)
    # the six members that escape the archive root are all refused; the note (shown in the app) names
    # the first five in sorted order and counts the rest
    unsafe = [n for n in ds.notes if "unsafe path" in n]
    assert len(unsafe) == 1 and unsafe[0].startswith("skipped 6 file(s), unsafe path"), ds.notes
    for bad in ("../evil.png", "../../../../../../tmp/evil_abs_rel.png", "..\\evil5.png", "/etc/evil3.png",
                "C:/windows/evil4.png"):
        assert bad in unsafe[0], (bad, unsafe[0])
    assert unsafe[0].endswith("and 1 more"), unsafe[0]  # faces/../../evil2.png
    assert "decompression bomb" in notes and "truncated" in notes
    assert _listing(tmp_path) - before <= {"cache"}  # nothing extracted anywhere under tmp_path
    assert not Path("/tmp/evil_abs_rel.png").exists()
    assert not list(outer.rglob("evil*.png"))

    # an archive of only hostile members: a clear error, not an empty dataset
    only_bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(only_bad, "w") as z:
        z.writestr("../x.png", _png_bytes(1))
        z.writestr("y.png", b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(DataError, match="no usable images"):
        load_dataset(_folder_cfg(tmp_path, only_bad))


def test_zip_bomb_is_refused_as_a_whole(tmp_path, monkeypatch):
    zpath = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("ok.png", _png_bytes(0))
        z.writestr("zeros.png", b"\x00" * (8 * 2**20))  # compresses ~1000:1
    monkeypatch.setattr(folder_mod, "RATIO_CHECK_BYTES", 2**20)
    with pytest.raises(DataError, match="zip bomb"):
        load_dataset(_folder_cfg(tmp_path, zpath))


# ---- 4. NaN divergence ------------------------------------------------------------------------------
def _nan_loss_after(spec, k: int):
    calls = {"n": 0}

    def d_loss(real, fake, real_t, fake_t):
        calls["n"] += 1
        out = spec.d_loss(real, fake, real_t, fake_t)
        return out * float("nan") if calls["n"] > k else out

    return dataclasses.replace(spec, d_loss=d_loss)


def test_nan_divergence_stops_with_message_and_keeps_good_checkpoint(tmp_path, tiny_cfg, monkeypatch):
    monkeypatch.setitem(losses_mod.LOSSES, "ns", _nan_loss_after(losses_mod.LOSSES["ns"], 6))
    run = tmp_path / "run"
    # one precision/layout option: no timed probe, whose steps would also count the loss calls
    cfg = tiny_cfg(steps=50, train={"log_every": 5, "checkpoint_every": 1, "sample_every": 0, "amp": False,
                                    "channels_last": False})
    events = list(Trainer(cfg, run).run())
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and errors[0].error == "nan", errors
    msg = errors[0].message
    assert "diverged" in msg and "NaN" in msg and "learning rate" in msg
    assert "last.pt" in msg  # names the last good checkpoint
    done = events[-1]
    # stopped at the first checkpoint after the weights went NaN (step 7), before the loss was logged (step 10)
    assert isinstance(done, DoneEvent) and done.reason == "error" and done.step == 7
    ckpt_steps = [e.step for e in events if isinstance(e, CheckpointEvent)]
    assert ckpt_steps == list(range(1, 7)), ckpt_steps  # nothing saved once the weights went NaN
    assert not any(isinstance(e, StepEvent) and e.step == 10 for e in events)  # the NaN window is not logged
    state = load_checkpoint(run / "last.pt")
    assert int(state["step"]) == 6
    _assert_finite_state(state)
    assert not list(run.glob("step_*.pt")) or all(int(load_checkpoint(p)["step"]) <= 6 for p in run.glob("step_*.pt"))


def test_nan_from_the_start_saves_nothing_and_cli_exits_nonzero(tmp_path, cache_dir):
    code = (
        "import dataclasses, sys\n"
        "import gan_core.losses as L\n"
        "spec = L.LOSSES['ns']\n"
        "L.LOSSES['ns'] = dataclasses.replace(spec, d_loss=lambda r, f, rt, ft: spec.d_loss(r, f, rt, ft) * float('nan'))\n"
        "from gan_core.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-c", code, "train", "--out", str(run), "--dataset", "faces", "--image-size", "16",
                        "--num-samples", "64", "--z-dim", "8", "--g-width", "8", "--d-width", "8", "--batch-size", "4",
                        "--steps", "20", "--log-every", "2", "--checkpoint-every", "1", "--sample-every", "0",
                        "--device", "cpu", "--quiet", "--set", f"data.cache_dir={cache_dir}"],
                       cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr[-2000:])
    out = r.stdout + r.stderr
    assert "diverged" in out and "no checkpoint was saved yet" in out
    assert "done:" not in r.stdout
    assert not (run / "last.pt").exists()

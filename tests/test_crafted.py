"""Crafted inputs (issue 8): every one ends with exit status 2 and one clear line on stderr, no traceback,
nothing allocated for memory bombs and nothing good overwritten; a run that diverges never writes NaN
weights over its last good checkpoint."""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from gan_core.storage import fileio
from gan_core import losses as losses_mod
from gan_core.storage.checkpoint import (FORMAT, VERSION, NonFiniteError, export_generator, load_checkpoint,
                                 save_checkpoint)
from gan_core.cli import main
from gan_core.config import RunConfig
from gan_core.train.events import CheckpointEvent, DoneEvent, ErrorEvent
from gan_core.train.control import TrainControl
from gan_core.train.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "checkpoints").glob("*.safetensors"))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _one_line_error(capsys, rc: int, *needles: str) -> str:
    """rc is 2, stderr is one 'error: ...' line containing every needle, and nothing is a traceback."""
    out = capsys.readouterr()
    lines = [ln for ln in out.err.splitlines() if ln.strip()]
    assert rc == 2, (rc, out.err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), out.err[-2000:]
    assert "Traceback" not in out.err + out.out
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def good_ckpt(tmp_path_factory, cache_dir) -> Path:
    """A real 1-step ACGAN checkpoint (16 px faces, hair/eye tags, EMA)."""
    cfg = RunConfig().replace(
        data={"image_size": 16, "num_samples": 64, "cache_dir": cache_dir},
        model={"arch": "acgan", "z_dim": 8, "g_width": 8, "d_width": 8, "embed_dim": 4},
        train={"steps": 1, "batch_size": 8, "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
               "device": "cpu", "grid_size": 4, "ema_decay": 0.9})
    run = tmp_path_factory.mktemp("good") / "run"
    for _ in Trainer(cfg, run).run():
        pass
    return run / "last.pt"


def _raw_state(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def _write_pt(path: Path, state: dict) -> Path:
    torch.save(state, path)  # not save_checkpoint: these files are crafted
    return path


def _write_safetensors(path: Path, tensors: dict, meta: dict | None) -> Path:
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata=meta)
    return path


def _meta_for(state: dict, **model) -> dict[str, str]:
    cfg = json.loads(state["config"])
    cfg["model"].update(model)
    return {"format": FORMAT + "-generator", "config": json.dumps(cfg), "data_spec": json.dumps(state["data_spec"]),
            "step": "1"}


# ---- 1. pickle-safe but malformed checkpoints --------------------------------------------------------
@pytest.mark.parametrize("case, needle", [
    ("config-dict", "invalid config"), ("config-int", "invalid config"), ("config-deep", "nested too deeply"),
    ("spec-missing", "invalid data_spec"), ("spec-list", "invalid data_spec"), ("spec-channels", "invalid data_spec"),
    ("spec-size", "invalid data_spec"), ("g-tensor", "must be a dict"), ("g-list", "must be a dict"),
    ("g-shapes", "shape"), ("g-missing", "do not match"), ("step-str", "invalid step"),
])
@pytest.mark.parametrize("command", ["info", "sample", "export", "resume"])
def test_malformed_pt_checkpoints_exit_2_with_one_line(tmp_path, good_ckpt, capsys, case, needle, command):
    st = _raw_state(good_ckpt)
    if case == "config-dict":
        st["config"] = json.loads(st["config"])
    elif case == "config-int":
        st["config"] = 7
    elif case == "config-deep":
        st["config"] = "[" * 100_000 + "]" * 100_000
    elif case == "spec-missing":
        st["data_spec"] = {"kind": "image"}
    elif case == "spec-list":
        st["data_spec"] = [1, 2]
    elif case == "spec-channels":
        st["data_spec"] = {**st["data_spec"], "channels": "many"}
    elif case == "spec-size":
        st["data_spec"] = {**st["data_spec"], "image_size": 4096}
    elif case == "g-tensor":
        st["G"] = torch.zeros(3)
    elif case == "g-list":
        st["G"] = [torch.zeros(3)]
    elif case == "g-shapes":
        k = next(iter(st["G"]))
        st["G"][k] = torch.zeros(3, 3)
    elif case == "g-missing":
        st["G"] = dict(list(st["G"].items())[1:])
    elif case == "step-str":
        st["step"] = "ten"
    bad = _write_pt(tmp_path / "bad.pt", st)
    args = {"info": ["info", "--checkpoint", str(bad)],
            "sample": ["sample", "--checkpoint", str(bad), "--out", str(tmp_path / "g.png"), "--quiet"],
            "export": ["export", "--checkpoint", str(bad), "--out", str(tmp_path / "g.safetensors")],
            "resume": ["train", "--resume", str(bad), "--out", str(tmp_path / "r"), "--steps", "2", "--quiet"]}[command]
    _one_line_error(capsys, main(args), needle)
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "g.safetensors").exists()
    assert not (tmp_path / "r" / "last.pt").exists()


def test_malformed_safetensors_exit_2_with_one_line(tmp_path, good_ckpt, capsys):
    st = _raw_state(good_ckpt)
    g = {k: v.contiguous() for k, v in st["G"].items()}
    meta = _meta_for(st)
    cases = {
        "no metadata": (_write_safetensors(tmp_path / "nometa.safetensors", g, None), "no metadata"),
        "foreign metadata": (_write_safetensors(tmp_path / "foreign.safetensors", g, {"a": "b"}), "not a GAN Studio"),
        "config not JSON": (_write_safetensors(tmp_path / "cfg.safetensors", g, {**meta, "config": "{oops"}),
                            "invalid config"),
        "spec broken": (_write_safetensors(tmp_path / "spec.safetensors", g, {**meta, "data_spec": '{"kind": 3}'}),
                        "invalid data_spec"),
        "shapes": (_write_safetensors(tmp_path / "shapes.safetensors", {**g, next(iter(g)): torch.zeros(2)}, meta),
                   "shape"),
    }
    raw = (tmp_path / "nometa.safetensors").read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(raw[: len(raw) // 2])
    cases["truncated"] = (tmp_path / "trunc.safetensors", "does not fit in the file")
    (tmp_path / "hdr.safetensors").write_bytes(struct.pack("<Q", 2**40) + b"{}")
    cases["huge header"] = (tmp_path / "hdr.safetensors", "header claims")
    for what, (path, needle) in cases.items():
        for args in (["info", "--checkpoint", str(path)],
                     ["sample", "--checkpoint", str(path), "--out", str(tmp_path / "g.png"), "--quiet"],
                     ["export", "--checkpoint", str(path), "--out", str(tmp_path / "e.safetensors")]):
            line = _one_line_error(capsys, main(args), needle)
            assert what and line
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "e.safetensors").exists()


# ---- 2. memory bombs: refused before anything is allocated ----------------------------------------------
def _limited_run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in a process limited to 4 GiB of address space: a 7.7 / 52 GB allocation would fail."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))

    return subprocess.run([sys.executable, "-m", "gan_core", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=180, preexec_fn=limit)


def _big_export(tmp_path: Path, st: dict) -> Path:
    cfg = json.loads(st["config"])
    cfg["model"]["g_width"] = 1024
    cfg["data"]["image_size"] = 64
    meta = {**_meta_for(st), "config": json.dumps(cfg), "data_spec": json.dumps({**st["data_spec"], "image_size": 64})}
    return _write_safetensors(tmp_path / "big.safetensors", {k: v.contiguous() for k, v in st["G"].items()}, meta)


def test_memory_bomb_checkpoints_refused_before_allocating(tmp_path, good_ckpt):
    st = _raw_state(good_ckpt)
    g = {k: v.contiguous() for k, v in st["G"].items()}
    # 1. safetensors whose metadata says g_width 4096 (outside RunConfig's range; ~52 GB before the fix)
    wide = _write_safetensors(tmp_path / "wide.safetensors", g, _meta_for(st, g_width=4096))
    # 2. a few-kB .pt whose config is inside every range but asks for ~0.7 G parameters per network
    cfg = json.loads(st["config"])
    cfg["model"].update(arch="srresnet", g_width=1024, d_width=1024, res_blocks=32)
    cfg["data"]["image_size"] = 64
    bomb_pt = _write_pt(tmp_path / "bomb.pt", {"format": FORMAT, "version": VERSION, "config": json.dumps(cfg),
                                               "data_spec": {**st["data_spec"], "image_size": 64,
                                                             "num_classes": [], "group_names": [], "class_names": []},
                                               "step": 1, "G": {"w": torch.zeros(2)}})
    assert bomb_pt.stat().st_size < 10_000
    # 3. a safetensors export inside the ranges: the ACGAN at width 1024 and 64 px (~0.7 G parameters)
    big = _big_export(tmp_path, st)
    for path, needle in ((wide, "g_width must be between"), (bomb_pt, "parameters"), (big, "parameters")):
        for args in (["sample", "--checkpoint", str(path), "--out", str(tmp_path / "g.png"), "--quiet"],
                     ["info", "--checkpoint", str(path)]):
            r = _limited_run(args, tmp_path)
            assert r.returncode == 2, (path.name, r.returncode, r.stderr[-2000:])
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr[-2000:]
    assert not (tmp_path / "g.png").exists()


def test_memory_bomb_upload_is_refused(tmp_path, good_ckpt):
    from gan_core.studio import UploadError, validate_upload

    big = _big_export(tmp_path, _raw_state(good_ckpt))
    with pytest.raises(UploadError, match="parameters"):
        validate_upload("big.safetensors", big.read_bytes())


# ---- 3. safetensors read properly by info / export / resume ---------------------------------------------
@pytest.mark.skipif(not SHIPPED, reason="no shipped generators in checkpoints/")
@pytest.mark.parametrize("shipped", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_safetensors_info_export_resume(tmp_path, capsys, shipped):
    assert main(["info", "--checkpoint", str(shipped)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "generator export (safetensors)" and info["nonfinite_tensors"] == 0
    out = tmp_path / "copy.safetensors"
    assert main(["export", "--checkpoint", str(shipped), "--out", str(out)]) == 0
    capsys.readouterr()
    a, b = load_checkpoint(shipped), load_checkpoint(out)
    assert a["G"].keys() == b["G"].keys() and all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    assert a["run_config"] == b["run_config"]
    rc = main(["train", "--resume", str(shipped), "--out", str(tmp_path / "r"), "--steps", "2", "--quiet"])
    _one_line_error(capsys, rc, "generator export", "cannot resume")


# ---- 4. devices and output paths ----------------------------------------------------------------------
@pytest.mark.parametrize("device, needle", [("bogus", "unknown device"), ("cuda:x", "unknown device"),
                                            ("cuda", "no CUDA GPU")])
def test_sample_bad_device(tmp_path, good_ckpt, capsys, device, needle):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: --device cuda is valid here")
    rc = main(["sample", "--checkpoint", str(good_ckpt), "--device", device, "--out", str(tmp_path / "g.png")])
    _one_line_error(capsys, rc, needle)


def test_outputs_under_a_regular_file(tmp_path, good_ckpt, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["export", "--checkpoint", str(good_ckpt), "--out", str(blocker / "g.safetensors")])
    _one_line_error(capsys, rc, "cannot write", "is a file")
    rc = main(["sample", "--checkpoint", str(good_ckpt), "--out", str(blocker / "sub" / "g.png"), "--quiet"])
    _one_line_error(capsys, rc, "cannot write")
    rc = main(["sample", "--checkpoint", str(good_ckpt), "--npy", str(blocker / "s.npy"), "--quiet"])
    _one_line_error(capsys, rc, "cannot write")


def test_outputs_in_a_read_only_folder(tmp_path, good_ckpt, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.access(ro, os.W_OK):  # root ignores folder permissions: the OS answers as it would for a user
        real = fileio.tempfile.mkstemp

        def mkstemp(*a, dir=None, **kw):
            if dir is not None and Path(dir) == ro:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(ro))
            return real(*a, dir=dir, **kw)

        monkeypatch.setattr(fileio.tempfile, "mkstemp", mkstemp)
    rc = main(["export", "--checkpoint", str(good_ckpt), "--out", str(ro / "g.safetensors")])
    _one_line_error(capsys, rc, "cannot write", "permission denied")
    rc = main(["sample", "--checkpoint", str(good_ckpt), "--out", str(ro / "g.png"), "--quiet"])
    _one_line_error(capsys, rc, "permission denied")
    assert not list(ro.iterdir())


@pytest.fixture
def full_disk(monkeypatch, tmp_path):
    """Writes into tmp_path/'full' go to /dev/full (every write fails with ENOSPC), as on a full disk."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    full = tmp_path / "full"
    full.mkdir()
    real = fileio.tempfile.mkstemp

    def mkstemp(*a, dir=None, **kw):
        if dir is not None and Path(dir) == full:
            fd, name = real(*a, dir=dir, **kw)
            os.close(fd)
            return os.open("/dev/full", os.O_WRONLY), name
        return real(*a, dir=dir, **kw)

    monkeypatch.setattr(fileio.tempfile, "mkstemp", mkstemp)
    return full


def test_outputs_on_a_full_disk(good_ckpt, capsys, full_disk):
    for args in (["export", "--checkpoint", str(good_ckpt), "--out", str(full_disk / "g.safetensors")],
                 ["sample", "--checkpoint", str(good_ckpt), "--out", str(full_disk / "g.png"), "--quiet"],
                 ["sample", "--checkpoint", str(good_ckpt), "--npy", str(full_disk / "g.npy"), "--quiet"]):
        line = _one_line_error(capsys, main(args), "the disk is full")
        assert "unexpected pos" not in line
    # a torch checkpoint too (torch's zip writer used to say "unexpected pos 491648 vs 491536")
    with pytest.raises(OSError, match="the disk is full"):
        save_checkpoint(load_checkpoint(good_ckpt), full_disk / "last.pt")
    assert not list(full_disk.iterdir())  # the temp files are gone


def test_sample_out_format_follows_the_extension(tmp_path, good_ckpt, capsys):
    for name, fmt in (("x.jpg", "JPEG"), ("x.jpeg", "JPEG"), ("x.png", "PNG"), ("x.webp", "WEBP")):
        assert main(["sample", "--checkpoint", str(good_ckpt), "--n", "4", "--out", str(tmp_path / name), "--quiet"]) == 0
        with Image.open(tmp_path / name) as im:
            assert im.format == fmt, name
    capsys.readouterr()
    rc = main(["sample", "--checkpoint", str(good_ckpt), "--out", str(tmp_path / "x.gifx"), "--quiet"])
    _one_line_error(capsys, rc, "must end in")


# ---- 5. the train command's inputs ----------------------------------------------------------------------
def test_deeply_nested_config_file(tmp_path, capsys):
    cfg = tmp_path / "deep.json"
    cfg.write_text('{"data": ' + "[" * 200_000 + "]" * 200_000 + "}")
    _one_line_error(capsys, main(["train", "--config", str(cfg), "--out", str(tmp_path / "r")]), "--config")
    cfg.write_bytes(b'{"data": {"dataset": "\xff\xfe"}}')
    _one_line_error(capsys, main(["train", "--config", str(cfg), "--out", str(tmp_path / "r")]), "UTF-8")


def test_resume_refuses_settings_it_would_ignore(tmp_path, good_ckpt, capsys):
    run = tmp_path / "r"
    for extra, needle in ((["--dataset", "digits"], "--dataset 'digits'"), (["--image-size", "32"], "--image-size 32"),
                          (["--set", "model.g_width=16"], "model.g_width")):
        rc = main(["train", "--resume", str(good_ckpt), "--out", str(run), "--steps", "2", "--quiet", *extra])
        _one_line_error(capsys, rc, needle, "cannot be changed")
    assert not (run / "last.pt").exists()
    # the checkpoint's own values (a script repeating its command line) and the run-length flags are fine
    rc = main(["train", "--resume", str(good_ckpt), "--out", str(run), "--steps", "2", "--quiet",
               "--image-size", "16", "--arch", "acgan", "--log-every", "1"])
    assert rc == 0, capsys.readouterr().err
    assert load_checkpoint(run / "last.pt")["step"] == 2


def test_mnist_unavailable_offline_exits_2(tmp_path, capsys):
    rc = main(["train", "--dataset", "mnist", "--out", str(tmp_path / "r"), "--steps", "1", "--quiet",
               "--set", f"data.cache_dir={tmp_path / 'empty-cache'}", "--set", "data.download=false"])
    out = capsys.readouterr()
    assert rc == 2, out.err
    assert "MNIST" in out.err and "Traceback" not in out.err and "done:" not in out.out
    assert [ln for ln in out.err.splitlines() if ln.startswith("error: ")], out.err


def _tagged_folder(root: Path, n: int = 4) -> Path:
    root.mkdir()
    for i in range(n):
        Image.new("RGB", (20, 20), (40 * i, 80, 160)).save(root / f"{i}.png")
    return root


@pytest.mark.parametrize("csv_bytes, needle", [
    (b"filename,tags\n0.png,teal hair, red eyes\n1.png,blue hair, red eyes\n2.png,blue hair, red eyes\n"
     b"3.png,blue hair, red eyes\n", "unknown hair colour 'teal'"),
    (b"name,tags\n0.png,blue hair, red eyes\n", "no filename column"),
    (b"filename,tags\n0.png,blue hair, r\xe9d eyes\n", "not UTF-8"),
    (b"filename,tags\n0.png," + b"x" * 10_000 + b"\n", "10000 characters"),
    (b"filename,tags\n0.png,blue hair, red eyes\n", "3 have no row"),
], ids=["unknown-tag", "missing-column", "not-utf8", "oversized-field", "missing-rows"])
def test_bad_tags_csv_says_what_is_wrong(tmp_path, cache_dir, capsys, csv_bytes, needle):
    root = _tagged_folder(tmp_path / "imgs")
    csv_path = tmp_path / "tags.csv"
    csv_path.write_bytes(csv_bytes)
    rc = main(["train", "--dataset", "folder", "--data-path", str(root), "--tags-csv", str(csv_path),
               "--image-size", "16", "--arch", "acgan", "--out", str(tmp_path / "r"), "--steps", "1", "--quiet",
               "--g-width", "8", "--d-width", "8", "--batch-size", "2", "--set", f"data.cache_dir={cache_dir}"])
    line = _one_line_error(capsys, rc, needle)
    assert "tags" in line


def test_bad_implicit_tags_csv_is_named_when_a_conditional_arch_needs_it(tmp_path, cache_dir, capsys):
    root = _tagged_folder(tmp_path / "imgs")
    (root / "tags.csv").write_text("filename,tags\n0.png,teal hair, red eyes\n")
    rc = main(["train", "--dataset", "folder", "--data-path", str(root), "--image-size", "16", "--arch", "acgan",
               "--out", str(tmp_path / "r"), "--steps", "1", "--quiet", "--g-width", "8", "--d-width", "8",
               "--batch-size", "2", "--set", f"data.cache_dir={cache_dir}"])
    _one_line_error(capsys, rc, "conditional", "teal")


def test_decoded_pixels_are_capped(tmp_path, monkeypatch):
    from gan_core.config import DataConfig
    from gan_core.data import folder as folder_mod

    root = tmp_path / "big"
    root.mkdir()
    Image.new("RGB", (4200, 4200), (10, 20, 30)).save(root / "huge.png")  # 17.6 M pixels > 4096^2, 18 kB
    for i in range(6):
        Image.new("RGB", (100, 100), (i, 2 * i, 3 * i)).save(root / f"s{i}.png")
    cfg = DataConfig(dataset="folder", path=str(root), image_size=16, cache_dir=str(tmp_path / "c"))
    ds = folder_mod.load_folder(cfg)
    assert len(ds) == 6 and any("huge.png" in n and "too many pixels" in n for n in ds.notes), ds.notes
    # the whole dataset's budget: 3 images of 10 000 pixels fit in 35 000, the other 3 are skipped
    monkeypatch.setattr(folder_mod, "MAX_TOTAL_PIXELS", 35_000)
    ds = folder_mod.load_folder(cfg)
    assert len(ds) == 3 and any("budget" in n for n in ds.notes), ds.notes
    # and no more than _BATCH_PIXELS are decoded at once
    monkeypatch.setattr(folder_mod, "MAX_TOTAL_PIXELS", 10**9)
    monkeypatch.setattr(folder_mod, "_BATCH_PIXELS", 20_000)
    sizes = []
    real = folder_mod._opened_batches

    def spy(*a, **kw):
        for batch, done in real(*a, **kw):
            sizes.append(sum(im.width * im.height for _, im in batch))
            yield batch, done

    monkeypatch.setattr(folder_mod, "_opened_batches", spy)
    assert len(folder_mod.load_folder(cfg)) == 6
    assert sizes and max(sizes) <= 20_000 and len(sizes) == 3, sizes


# ---- 6. data loss: never a non-finite checkpoint ----------------------------------------------------------
def _nan_after(k: int, on_call=None):
    spec = losses_mod.LOSSES["ns"]
    calls = {"n": 0}

    def d_loss(real, fake, real_t, fake_t):
        calls["n"] += 1
        if on_call is not None:
            on_call(calls["n"])
        out = spec.d_loss(real, fake, real_t, fake_t)
        return out * float("nan") if calls["n"] > k else out

    return dataclasses.replace(spec, d_loss=d_loss)


@pytest.mark.parametrize("ending", ["steps", "stop"])
def test_divergence_in_the_last_steps_keeps_the_good_checkpoint(tmp_path, tiny_cfg, monkeypatch, ending):
    run = tmp_path / "run"
    # amp/channels_last off (kept on resume): one precision option, so no timed probe steps count the losses
    cfg = tiny_cfg(steps=4, train={"log_every": 100, "checkpoint_every": 4, "sample_every": 0, "amp": False,
                                   "channels_last": False})
    list(Trainer(cfg, run).run())
    good = load_checkpoint(run / "last.pt")
    assert good["step"] == 4
    # resume, diverge after 2 more steps; NaN is never logged (log_every 100) and the run ends by its step
    # limit or by Stop, as the repro did with --seconds
    control = TrainControl()
    stop_at = (lambda n: control.stop() if n == 5 else None) if ending == "stop" else None
    monkeypatch.setitem(losses_mod.LOSSES, "ns", _nan_after(2, stop_at))
    cfg2 = tiny_cfg(steps=9 if ending == "steps" else 1000,
                    train={"log_every": 100, "checkpoint_every": 0, "sample_every": 0})
    events = list(Trainer(cfg2, run, resume=run / "last.pt", control=control).run())
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and errors[0].error == "nan" and "NaN" in errors[0].message, errors
    assert str(run / "last.pt") in errors[0].message  # names the last good checkpoint
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "error"
    assert not [e for e in events if isinstance(e, CheckpointEvent)]
    after = load_checkpoint(run / "last.pt")
    assert after["step"] == 4 and all(torch.equal(after["G"][k], good["G"][k]) for k in good["G"])


def test_cli_divergence_at_the_end_exits_nonzero_and_keeps_last_pt(tmp_path, cache_dir):
    code = ("import dataclasses, sys\n"
            "import gan_core.losses as L\n"
            "spec = L.LOSSES['ns']\n"
            "n = {'c': 0}\n"
            "def d(r, f, rt, ft):\n"
            "    n['c'] += 1\n"
            "    out = spec.d_loss(r, f, rt, ft)\n"
            "    return out * float('nan') if n['c'] > int(sys.argv[1]) else out\n"
            "L.LOSSES['ns'] = dataclasses.replace(spec, d_loss=d)\n"
            "from gan_core.cli import main\n"
            "sys.exit(main(sys.argv[2:]))\n")
    run = tmp_path / "run"
    base = ["train", "--out", str(run), "--dataset", "faces", "--image-size", "16", "--num-samples", "64",
            "--z-dim", "8", "--g-width", "8", "--d-width", "8", "--batch-size", "4", "--log-every", "1000",
            "--sample-every", "0", "--device", "cpu", "--quiet", "--set", f"data.cache_dir={cache_dir}"]
    ok = subprocess.run([sys.executable, "-c", code, "1000000", *base, "--steps", "3"], cwd=tmp_path, env=_env(),
                        capture_output=True, text=True, timeout=180)
    assert ok.returncode == 0, ok.stderr[-2000:]
    before = (run / "last.pt").read_bytes()
    r = subprocess.run([sys.executable, "-c", code, "2", *base, "--steps", "6", "--resume", str(run / "last.pt")],
                       cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=180)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr[-2000:])
    assert "diverged" in r.stderr and "done:" not in r.stdout and "Traceback" not in r.stderr
    assert (run / "last.pt").read_bytes() == before


def test_save_checkpoint_and_export_refuse_nonfinite_weights(tmp_path, good_ckpt):
    st = load_checkpoint(good_ckpt)
    path = tmp_path / "last.pt"
    save_checkpoint({k: v for k, v in st.items() if k not in ("format", "version", "run_config")}, path)
    before = path.read_bytes()
    bad = dict(st)
    bad["D"] = {k: (v * float("nan") if v.is_floating_point() else v) for k, v in st["D"].items()}
    with pytest.raises(NonFiniteError, match="NaN/inf"):
        save_checkpoint(bad, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    bad["G_ema"] = {k: v * float("inf") for k, v in st["G_ema"].items()}
    with pytest.raises(NonFiniteError):
        export_generator(bad, tmp_path / "g.safetensors")
    assert not (tmp_path / "g.safetensors").exists()


def test_info_sample_resume_warn_on_nonfinite_weights(tmp_path, good_ckpt, capsys):
    st = _raw_state(good_ckpt)
    st["G"] = {k: (v.clone().fill_(float("nan")) if v.is_floating_point() else v) for k, v in st["G"].items()}
    st["G_ema"] = dict(st["G"])
    bad = _write_pt(tmp_path / "nan.pt", st)  # as an older version could have written it
    assert main(["info", "--checkpoint", str(bad)]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["nonfinite_tensors"] > 0 and "warning:" in out.err and "NaN/inf" in out.err
    assert main(["sample", "--checkpoint", str(bad), "--n", "2", "--npy", str(tmp_path / "s.npy"), "--quiet"]) == 0
    assert "warning:" in capsys.readouterr().err
    rc = main(["train", "--resume", str(bad), "--out", str(tmp_path / "r"), "--steps", "2", "--quiet"])
    err = capsys.readouterr().err
    assert "warning:" in err and "NaN/inf" in err and rc == 1  # it diverges at once, nothing saved
    assert not (tmp_path / "r" / "last.pt").exists()
    rc = main(["export", "--checkpoint", str(bad), "--out", str(tmp_path / "g.safetensors")])
    _one_line_error(capsys, rc, "NaN/inf")


# ---- 7. temp files of killed writes ----------------------------------------------------------------------
def test_stale_temp_files_are_removed_at_the_next_start(tmp_path, good_ckpt, capsys):
    run = tmp_path / "r"
    assert main(["train", "--resume", str(good_ckpt), "--out", str(run), "--steps", "2", "--quiet"]) == 0
    stale = [run / ".last.pt.k3j4h5g6.tmp", run / ".step_0000002.pt.a1b2c3d4.tmp"]
    for p in stale:
        p.write_bytes(b"\0" * 50_000)
    keep = [run / "notes.tmp", run / ".hidden", run / "last.pt"]
    keep[0].write_text("mine")
    keep[1].write_text("mine")
    assert main(["train", "--resume", str(run / "last.pt"), "--out", str(run), "--steps", "3", "--quiet"]) == 0
    assert not any(p.exists() for p in stale) and all(p.exists() for p in keep)
    # with an age limit (the shared checkpoints folder) only old ones go
    young, old = tmp_path / ".g.safetensors.abcdef12.tmp", tmp_path / ".h.safetensors.abcdef12.tmp"
    young.write_bytes(b"x")
    old.write_bytes(b"x")
    os.utime(old, (1, 1))
    assert fileio.remove_stale_temp_files(tmp_path, min_age_s=3600) == [old]
    assert young.exists()

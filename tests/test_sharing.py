"""Sharing rules (issue 8): who may delete a checkpoint, upload caps, the runs' disk cap."""
from __future__ import annotations

import os
import time

import pytest

from gan_core.jobs import sharing


def _ckpt_dir(tmp_path):
    d = tmp_path / "checkpoints"
    d.mkdir()
    (d / "faces.safetensors").write_bytes(b"shipped")  # no owner record: shipped
    (d / "mine.pt").write_bytes(b"a")
    (d / "theirs.pt").write_bytes(b"b")
    sharing.record_owner(d, "mine.pt", "alice-secret-0123456789")
    sharing.record_owner(d, "theirs.pt", "bob-secret-0123456789ab")
    return d


def test_delete_rules(tmp_path, monkeypatch):
    d = _ckpt_dir(tmp_path)
    alice = "alice-secret-0123456789"
    assert sharing.file_origin(d, "faces.safetensors", alice) == "shipped"
    assert sharing.file_origin(d, "mine.pt", alice) == "yours"
    assert sharing.file_origin(d, "theirs.pt", alice) == "other"
    for admin in (False, True):  # shipped files are read-only even for the admin
        with pytest.raises(sharing.PermissionDenied, match="read-only"):
            sharing.delete_checkpoint_as("faces.safetensors", alice, admin, d)
    with pytest.raises(sharing.PermissionDenied, match="another visitor"):
        sharing.delete_checkpoint_as("theirs.pt", alice, False, d)
    assert (d / "theirs.pt").exists() and (d / "faces.safetensors").exists()
    sharing.delete_checkpoint_as("mine.pt", alice, False, d)
    sharing.delete_checkpoint_as("theirs.pt", alice, True, d)  # the admin deletes any upload
    assert sorted(p.name for p in d.iterdir() if not p.name.startswith(".")) == ["faces.safetensors"]
    assert "alice-secret" not in (d / sharing.OWNERS_FILE).read_text()  # only hashes are stored


def test_upload_caps(tmp_path, monkeypatch):
    d = _ckpt_dir(tmp_path)
    monkeypatch.setenv("GAN_STUDIO_MAX_UPLOAD_MB", "1")
    monkeypatch.setenv("GAN_STUDIO_MAX_UPLOADS_MB", "2")
    with pytest.raises(sharing.PermissionDenied, match="limited to 1 MB"):
        sharing.check_upload_room(d, 2**20 + 1)
    (d / "big.pt").write_bytes(b"\0" * (2**20 - 10))
    (d / "big2.pt").write_bytes(b"\0" * (2**20 - 10))
    sharing.record_owner(d, "big.pt", "x" * 20)
    sharing.record_owner(d, "big2.pt", "x" * 20)
    with pytest.raises(sharing.PermissionDenied, match="already take"):
        sharing.check_upload_room(d, 1000)
    sharing.check_upload_room(d, 10)  # still fits
    monkeypatch.setenv("GAN_STUDIO_MAX_UPLOAD_MB", "lots")
    with pytest.raises(ValueError, match="GAN_STUDIO_MAX_UPLOAD_MB"):
        sharing.max_upload_bytes()


def _run(root, name, size, age):
    p = root / name
    p.mkdir()
    (p / "config.json").write_text("{}")
    (p / "last.pt").write_bytes(b"\0" * size)
    t = time.time() - age
    os.utime(p, (t, t))
    return p


def test_prune_runs_oldest_finished_first(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    oldest = _run(root, "a", 400_000, 300)
    busy = _run(root, "b", 400_000, 200)      # training or queued: never pruned
    mid = _run(root, "c", 400_000, 100)
    new = _run(root, "d", 400_000, 0)
    (root / "notes").mkdir()                  # not a run: never pruned
    (root / "notes" / "x.bin").write_bytes(b"\0" * 900_000)
    deleted = sharing.prune_runs(root, max_bytes=900_000, busy=[busy])
    assert deleted == [oldest, mid]
    assert busy.exists() and new.exists() and (root / "notes" / "x.bin").exists()
    assert sharing.prune_runs(root, max_bytes=10**9) == []

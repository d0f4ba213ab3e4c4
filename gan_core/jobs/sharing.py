"""Rules for a studio shared by many visitors (a class on one server): who may delete which checkpoint,
how big uploads may be, and how much disk the training runs may take.

* Checkpoint files record who put them in the checkpoints folder (an upload or an export) in
  ``.owners.json`` there, as a SHA-256 of the visitor's owner secret (the secret itself is never
  stored). A file without a record is a shipped one: read-only for everybody, the admin included.
  An uploaded file may be deleted by its uploader or by the admin.
* Uploads are capped per file (``$GAN_STUDIO_MAX_UPLOAD_MB``, default 50) and all uploads together
  (``$GAN_STUDIO_MAX_UPLOADS_MB``, default 1024).
* Runs are capped on disk (``$GAN_STUDIO_MAX_RUNS_MB``, default 4096): :func:`prune_runs` deletes the
  oldest finished run folders first and never a folder that is training or queued, nor anything
  outside the runs folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Iterable, Optional, Union

from gan_core.config import envvars
from gan_core.storage import rundir
from gan_core.storage.fileio import atomic_write_text

PathLike = Union[str, os.PathLike]
OWNERS_FILE = ".owners.json"
MAX_UPLOAD_ENV = envvars.MAX_UPLOAD_MB.name
MAX_UPLOADS_ENV = envvars.MAX_UPLOADS_MB.name
MAX_RUNS_ENV = envvars.MAX_RUNS_MB.name
_LOCK = threading.Lock()


class PermissionDenied(PermissionError):
    """This visitor may not do that; the message says why (shown as-is)."""


def _env_mb(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        v = int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a whole number of MB, got {raw!r}") from None
    if v < 1:
        raise ValueError(f"{name} must be at least 1 (MB), got {v}")
    return v * 2**20


def max_upload_bytes() -> int:
    return _env_mb(MAX_UPLOAD_ENV, 50)


def max_uploads_total_bytes() -> int:
    return _env_mb(MAX_UPLOADS_ENV, 1024)


def max_runs_bytes() -> int:
    return _env_mb(MAX_RUNS_ENV, 4096)


def owner_hash(owner: str) -> str:
    return hashlib.sha256(("gan-studio-owner:" + owner).encode()).hexdigest()


# ---- who put which file in the checkpoints folder ----------------------------------------------------
def _read_owners(directory: Path) -> dict[str, str]:
    try:
        data = json.loads((directory / OWNERS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}


def record_owner(directory: PathLike, filename: str, owner: str) -> None:
    """Remember that ``owner`` put ``filename`` (an upload or an export) in the checkpoints folder."""
    d = Path(directory)
    with _LOCK:
        owners = _read_owners(d)
        owners[Path(filename).name] = owner_hash(owner)
        atomic_write_text(d / OWNERS_FILE, json.dumps(owners, indent=1, sort_keys=True))


def _forget(directory: Path, filename: str) -> None:
    with _LOCK:
        owners = _read_owners(directory)
        if owners.pop(filename, None) is not None:
            atomic_write_text(directory / OWNERS_FILE, json.dumps(owners, indent=1, sort_keys=True))


def file_origin(directory: PathLike, filename: str, who: Optional[str] = None) -> str:
    """"shipped" (no record: read-only), "yours" (uploaded or exported by ``who``) or "other"."""
    h = _read_owners(Path(directory)).get(Path(filename).name)
    if h is None:
        return "shipped"
    return "yours" if who is not None and h == owner_hash(who) else "other"


def can_delete(directory: PathLike, filename: str, who: str, admin: bool = False) -> tuple[bool, str]:
    """(allowed, reason): shipped files never; uploads by their uploader or the admin."""
    origin = file_origin(directory, filename, who)
    if origin == "shipped":
        return False, f"{Path(filename).name} ships with the studio and is read-only"
    if origin == "other" and not admin:
        return False, f"{Path(filename).name} was uploaded by another visitor: only they or the admin can delete it"
    return True, ""


def delete_checkpoint_as(filename: str, who: str, admin: bool = False, directory: Optional[PathLike] = None) -> Path:
    """Delete an uploaded checkpoint if this visitor may (see :func:`can_delete`)."""
    from gan_core.studio import files as studio

    d = Path(directory) if directory is not None else studio.checkpoints_dir()
    ok, why = can_delete(d, filename, who, admin)
    if not ok:
        raise PermissionDenied(why)
    p = studio.delete_checkpoint(filename, d)
    _forget(d, p.name)
    return p


def uploads_total_bytes(directory: PathLike) -> int:
    d = Path(directory)
    total = 0
    for name in _read_owners(d):
        try:
            total += (d / name).stat().st_size
        except OSError:
            continue
    return total


def check_upload_room(directory: PathLike, size: int) -> None:
    """Refuse an upload over the per-file cap or one that would take all uploads over their total cap."""
    per_file, total_cap = max_upload_bytes(), max_uploads_total_bytes()
    if size > per_file:
        raise PermissionDenied(f"the file is {size / 2**20:.1f} MB; uploads are limited to {per_file >> 20} MB")
    used = uploads_total_bytes(directory)
    if used + size > total_cap:
        raise PermissionDenied(f"uploads already take {used / 2**20:.0f} MB of the {total_cap >> 20} MB they may "
                               "use on this server: ask the teacher to delete some")


def save_upload_as(name: str, data: bytes, who: str, directory: Optional[PathLike] = None):
    """Validate and save an upload within the caps, recording ``who`` as its owner. Returns (path, summary)."""
    from gan_core.studio import files as studio

    d = Path(directory) if directory is not None else studio.checkpoints_dir()
    check_upload_room(d, len(data))
    dest, summary = studio.save_upload(name, data, d, max_bytes=max_upload_bytes())
    record_owner(d, dest.name, who)
    return dest, summary


# ---- disk used by runs -------------------------------------------------------------------------------
def _tree_bytes(p: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(p):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                continue
    return total


def prune_runs(root: PathLike, max_bytes: Optional[int] = None, busy: Iterable[PathLike] = ()) -> list[Path]:
    """Delete the oldest run folders under ``root`` until all runs take at most ``max_bytes``
    (default :func:`max_runs_bytes`). Folders in ``busy`` (training or queued) are never touched; only
    direct sub-folders of ``root`` holding a ``config.json`` (a run) are candidates. Returns what was deleted."""
    r = Path(root)
    if not r.is_dir():
        return []
    cap = max_runs_bytes() if max_bytes is None else max_bytes
    busy_set = {Path(b).resolve() for b in busy}
    runs = []
    for p in r.iterdir():
        if p.is_dir() and not p.is_symlink() and (p / rundir.CONFIG).is_file():
            try:
                runs.append((p.stat().st_mtime, p, _tree_bytes(p)))
            except OSError:
                continue
    total = sum(size for _, _, size in runs)
    deleted: list[Path] = []
    for _, p, size in sorted(runs, key=lambda t: t[0]):  # oldest first
        if total <= cap:
            break
        if p.resolve() in busy_set:
            continue
        shutil.rmtree(p, ignore_errors=True)
        if not p.exists():
            total -= size
            deleted.append(p)
    return deleted

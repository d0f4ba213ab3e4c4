"""Crash-safe file writes."""
from __future__ import annotations

import errno
import io
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, BinaryIO, Optional, Union

PathLike = Union[str, os.PathLike]


def _umask() -> int:
    mask = os.umask(0)  # read once at import, before the app starts threads
    os.umask(mask)
    return mask


# what open() gives a new file (mkstemp gives 0o600, unreadable by e.g. a container's app user)
_FILE_MODE = 0o666 & ~_umask()


class _WholeWrites(io.RawIOBase):
    """A binary file that writes every byte or raises ``OSError``: an unbuffered file may write only part
    of a buffer when the disk fills up, which torch's zip writer reports as 'unexpected pos'."""

    def __init__(self, raw: BinaryIO):
        super().__init__()
        self._raw = raw
        self.error: Optional[OSError] = None  # torch's writer replaces our OSError by a RuntimeError

    def write(self, data) -> int:
        mv = memoryview(data).cast("B")
        total = len(mv)
        try:
            while mv:
                n = self._raw.write(mv)
                if not n:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                mv = mv[n:]
        except OSError as e:
            self.error = e
            raise
        return total

    def flush(self) -> None:
        pass

    def tell(self) -> int:
        return self._raw.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def seekable(self) -> bool:
        return self._raw.seekable()

    def writable(self) -> bool:
        return True


class WriteError(OSError):
    """A file could not be written (folder missing or read-only, disk full, ...); one-line message."""

    def __str__(self) -> str:
        return str(self.strerror)


def _free_bytes(directory: Path) -> Optional[int]:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def _write_error(path: Path, e: BaseException) -> WriteError:
    """One clear line for a failed write; torch's zip writer reports a full disk as 'unexpected pos'."""
    code = getattr(e, "errno", None)
    free = _free_bytes(path.parent) if path.parent.is_dir() else None
    if code in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full" + (f" ({free >> 10} KiB free)" if free is not None else "")
    elif code == errno.EFBIG:
        why = "the file is larger than this system allows"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "permission denied (read-only folder or file system)"
    elif code in (errno.ENOTDIR, errno.EEXIST) or (code == errno.ENOENT and not path.parent.is_dir()):
        why = "a part of the folder path is a file, not a folder"
    elif isinstance(e, OSError):
        why = e.strerror or str(e)
    else:  # torch's zip writer: a write cut short
        why = "the write was cut short" + (f" ({free >> 10} KiB free on the disk)" if free is not None else "")
    return WriteError(code or errno.EIO, f"cannot write {path}: {why}")


def atomic_write_bytes(path: PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(fileobj)`` on a temp file beside ``path``, fsync it, then rename over ``path``.

    A crash at any point leaves either the old file or the new one, never a partial file (stale temp
    files of killed writers are removed by :func:`remove_stale_temp_files`). An OS error (read-only
    folder, a file where a folder should be, disk full) raises :class:`WriteError` with one clear line.
    """
    path = Path(path)
    tmp: Optional[str] = None
    sink: Optional[_WholeWrites] = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb", buffering=0) as raw:
            sink = _WholeWrites(raw)
            write(sink)
            os.fsync(raw.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(e, WriteError):
            raise
        if sink is not None and sink.error is not None and not isinstance(e, OSError):
            raise _write_error(path, sink.error) from None
        if isinstance(e, OSError) or (isinstance(e, RuntimeError) and (
                "unexpected pos" in str(e) or "PytorchStreamWriter" in str(e) or "file write failed" in str(e))):
            raise _write_error(path, e) from None
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def atomic_write_text(path: PathLike, text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode("utf-8")))


# the temp names atomic_write_bytes makes: ".<name>.<random>.tmp"
_TEMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}\.tmp$")


def remove_stale_temp_files(directory: PathLike, min_age_s: float = 0.0) -> list[Path]:
    """Delete temp files left by writes that were killed mid-way (``.last.pt.x1y2z3.tmp``) in one
    folder (not recursive), older than ``min_age_s``; returns what was removed. Call it where no
    other writer is busy (``min_age_s=0``) or with an age that no live write reaches."""
    d = Path(directory)
    removed: list[Path] = []
    try:
        entries = list(d.iterdir())
    except OSError:
        return removed
    now = time.time()
    for p in entries:
        if not _TEMP_RE.match(p.name):
            continue
        try:
            info = p.lstat()
            if not os.path.isfile(p) or os.path.islink(p) or now - info.st_mtime < min_age_s:
                continue
            p.unlink()
            removed.append(p)
        except OSError:
            continue
    return removed

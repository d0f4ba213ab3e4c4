"""Crash-safe file writes."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, BinaryIO, Union

PathLike = Union[str, os.PathLike]


def _umask() -> int:
    mask = os.umask(0)  # read once at import, before the app starts threads
    os.umask(mask)
    return mask


# what open() gives a new file (mkstemp gives 0o600, unreadable by e.g. a container's app user)
_FILE_MODE = 0o666 & ~_umask()


def atomic_write_bytes(path: PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(fileobj)`` on a temp file beside ``path``, fsync it, then rename over ``path``.

    A crash at any point leaves either the old file or the new one, never a partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
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

"""Your own pictures: a folder (searched recursively) or a .zip file, optionally tagged with hair/eye
colours through a ``filename,tags`` CSV.

Untrusted input is handled defensively: archives are read in memory and never extracted; members
with absolute or ``..`` paths, oversized files, images over :data:`MAX_PIXELS` (decompression bombs)
and corrupt or truncated images are skipped and counted; an archive that would unpack to more than
:data:`MAX_ARCHIVE_BYTES`, or with an absurd compression ratio, is refused as a whole. The limits
are module constants so that tests (or a trusting caller) can change them.
"""
from __future__ import annotations

import csv
import io
import os
import re
import stat
import warnings
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import BinaryIO, Iterator, Optional, Union

import numpy as np
import torch
from PIL import Image

from gan_core.config import DataConfig
from gan_core.data.tags import parse_tags
from gan_core.data.base import DataError, ImageDataset, ProgressFn
from gan_core.data.faces import faces_label_groups
from gan_core.data.images import Ticker, report, rgb_on_white

IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
TAGS_NAME = "tags.csv"
MAX_PIXELS = 4096 * 4096             # width * height of one image (decoded: 48 MiB as RGB)
MAX_TOTAL_PIXELS = 1_000_000_000     # all images of a dataset together (bounds the decoding time)
_BATCH_PIXELS = 48_000_000           # pixels decoded at once by the thread pool (bounds memory)
MAX_CSV_FIELD = 4096                 # characters in one field of a tags CSV
MAX_FILE_BYTES = 64 * 2**20          # one file / archive member
MAX_ARCHIVE_BYTES = 2 * 2**30        # everything in a zip, uncompressed
MAX_COMPRESSION_RATIO = 100.0        # uncompressed / compressed size of a whole zip ...
RATIO_CHECK_BYTES = 64 * 2**20       # ... checked once it unpacks to more than this
MAX_FILES = 200_000                  # files looked at
_BATCH_FILES = 256                   # images decoded in parallel per batch ...
_BATCH_BYTES = 64 * 2**20            # ... or fewer, to bound the raw bytes held at once

# reasons a file is skipped (the notes group skipped files by reason)
UNREADABLE = "unreadable, corrupt or truncated"
TOO_MANY_PIXELS = "too many pixels (possible decompression bomb)"
PIXEL_BUDGET = "over the decoded-pixel budget of the whole dataset"
TOO_BIG = "file too large"
UNSAFE_PATH = "unsafe path in the archive (absolute or with '..')"
ENCRYPTED = "encrypted archive member"

_DRIVE = re.compile(r"^[A-Za-z]:")


class _Skip(Exception):
    """One file is skipped for ``reason``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _SkipLog:
    """Skipped files grouped by reason."""

    def __init__(self) -> None:
        self.by_reason: dict[str, list[str]] = {}

    def add(self, reason: str, name: str) -> None:
        self.by_reason.setdefault(reason, []).append(name)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.by_reason.values())

    def summary(self) -> str:
        return "; ".join(f"{len(v)} {reason}" for reason, v in self.by_reason.items())

    def notes(self) -> list[str]:
        return [f"skipped {len(names)} file(s), {reason}: {_examples(names)}" for reason, names in self.by_reason.items()]


def _examples(items: list[str], n: int = 5) -> str:
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def _read_capped(f: BinaryIO, limit: int) -> bytes:
    data = f.read(limit + 1)
    if len(data) > limit:
        raise _Skip(TOO_BIG)
    return data


def _hidden(rel: str) -> bool:
    """OS clutter: dot files and macOS resource forks."""
    return any(p.startswith(".") or p == "__MACOSX" for p in rel.split("/"))


# ---- sources: a folder or a zip ------------------------------------------------------------------
class _DirSource:
    """Files under a folder, walked in sorted order without following links to folders."""

    def __init__(self, root: Path):
        self.root = root

    def names(self, log: _SkipLog) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for f in sorted(filenames):
                rel = Path(dirpath, f).relative_to(self.root).as_posix()
                if not _hidden(rel):
                    yield rel

    def read(self, name: str) -> bytes:
        path = self.root / name
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):  # e.g. a link to a FIFO or device: never open it
                raise _Skip(UNREADABLE)
            if info.st_size > MAX_FILE_BYTES:
                raise _Skip(TOO_BIG)
            with open(path, "rb") as f:
                return _read_capped(f, MAX_FILE_BYTES)
        except OSError as e:
            raise _Skip(UNREADABLE) from e

    def close(self) -> None:
        pass


class _ZipSource:
    """Members of a zip archive, read into memory (nothing is ever extracted to disk)."""

    def __init__(self, path: Path):
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise DataError(f"{path} is not a readable zip file: {e}") from e
        self.infos = {i.filename: i for i in self.zf.infolist() if not i.is_dir()}
        total = sum(i.file_size for i in self.infos.values())
        packed = sum(i.compress_size for i in self.infos.values())
        problem = None
        if total > MAX_ARCHIVE_BYTES:
            problem = f"it would unpack to {total / 2**30:.1f} GiB (limit {MAX_ARCHIVE_BYTES / 2**30:.1f} GiB)"
        elif total > RATIO_CHECK_BYTES and total > MAX_COMPRESSION_RATIO * max(packed, 1):
            problem = f"its compression ratio {total / max(packed, 1):.0f}:1 is absurd"
        if problem:
            self.zf.close()
            raise DataError(f"refusing {path}: {problem} - this looks like a zip bomb")

    def names(self, log: _SkipLog) -> Iterator[str]:
        for name in sorted(self.infos):
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts:
                log.add(UNSAFE_PATH, name)
            elif not _hidden(name):
                yield name

    def read(self, name: str) -> bytes:
        info = self.infos[name]
        if info.flag_bits & 0x1:
            raise _Skip(ENCRYPTED)
        if info.file_size > MAX_FILE_BYTES:
            raise _Skip(TOO_BIG)
        try:
            with self.zf.open(info) as f:
                return _read_capped(f, MAX_FILE_BYTES)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as e:
            raise _Skip(UNREADABLE) from e

    def close(self) -> None:
        self.zf.close()


_Source = Union[_DirSource, _ZipSource]


def _scan(source: _Source, log: _SkipLog, notes: list[str]) -> tuple[list[str], Optional[str]]:
    """Image names (sorted) and the name of a tags.csv at the root (or in a lone top folder)."""
    images: list[str] = []
    tags: list[str] = []
    ignored = 0
    for k, rel in enumerate(source.names(log)):
        if k >= MAX_FILES:
            notes.append(f"stopped looking after {MAX_FILES} files")
            break
        if rel.rsplit("/", 1)[-1].lower() == TAGS_NAME and rel.count("/") <= 1:
            tags.append(rel)
        elif os.path.splitext(rel)[1].lower() in IMAGE_EXTS:
            images.append(rel)
        else:
            ignored += 1
    if ignored:
        notes.append(f"ignored {ignored} file(s) that are not images ({', '.join(sorted(IMAGE_EXTS))})")
    root_tags = [t for t in tags if "/" not in t] or (tags if len(tags) == 1 else [])
    return images, (root_tags[0] if root_tags else None)


# ---- decoding ------------------------------------------------------------------------------------
def _open_image(data: bytes) -> Image.Image:
    """Parse the header (main thread: touches the warnings filters) and enforce the pixel limit."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise _Skip(TOO_MANY_PIXELS) from e
    except Exception as e:  # noqa: BLE001 - PIL raises many exception types on bad input
        raise _Skip(UNREADABLE) from e
    if im.width * im.height > MAX_PIXELS:
        im.close()
        raise _Skip(TOO_MANY_PIXELS)
    return im


def _to_square_rgb(im: Image.Image, size: int) -> Union[np.ndarray, _Skip]:
    """Decode, apply EXIF rotation, flatten alpha on white, center-crop to a square and resize to
    ``size``: an (size, size, 3) uint8 array, or a _Skip if the image data turns out to be bad."""
    src = im
    try:
        im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster
        im = rgb_on_white(im)
        w, h = im.size
        s = min(w, h)
        box = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
        return np.asarray(im.resize((size, size), Image.LANCZOS, box=box, reducing_gap=3.0))
    except Exception:  # noqa: BLE001 - truncated/corrupt data surfaces here as OSError, ValueError, ...
        return _Skip(UNREADABLE)
    finally:
        src.close()


def _opened_batches(source: _Source, names: list[str], log: _SkipLog) -> Iterator[tuple[list[tuple[str, Image.Image]], int]]:
    """Read and open images in batches; yields (batch, number of names handled so far)."""
    batch: list[tuple[str, Image.Image]] = []
    nbytes = npix = total = 0
    for k, name in enumerate(names):
        try:
            data = source.read(name)
            im = _open_image(data)
            px = im.width * im.height
            if total + px > MAX_TOTAL_PIXELS:
                im.close()
                raise _Skip(PIXEL_BUDGET)
            batch.append((name, im))
            nbytes += len(data)
            npix += px
            total += px
        except _Skip as s:
            log.add(s.reason, name)
        if len(batch) >= _BATCH_FILES or nbytes >= _BATCH_BYTES or npix >= _BATCH_PIXELS or k == len(names) - 1:
            yield batch, k + 1
            batch, nbytes, npix = [], 0, 0


def _decode_all(source: _Source, names: list[str], size: int, limit: int, log: _SkipLog,
                progress: Optional[ProgressFn]) -> tuple[np.ndarray, list[str]]:
    """Decode images (in a thread pool, order kept): uint8 (N, size, size, 3) and their names."""
    out = np.empty((min(len(names), limit or len(names)), size, size, 3), np.uint8)
    kept: list[str] = []
    tick = Ticker(progress, len(names), "reading images", step=0.02)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for batch, done in _opened_batches(source, names, log):
            results = pool.map(partial(_to_square_rgb, size=size), [im for _, im in batch])
            for (name, _), res in zip(batch, results):
                if isinstance(res, _Skip):
                    log.add(res.reason, name)
                elif len(kept) < len(out):
                    out[len(kept)] = res
                    kept.append(name)
            tick(done)
            if len(kept) == len(out):
                break
    return out[:len(kept)], kept


# ---- tags ------------------------------------------------------------------------------------------
def _norm_name(name: str) -> str:
    name = name.strip().replace("\\", "/")
    return name[2:] if name.startswith("./") else name


def _parse_tags_csv(text: str) -> dict[str, str]:
    """``filename -> tags`` from CSV text with a ``filename,tags`` header (an unquoted tags column
    with commas, e.g. ``a.png,blue hair, red eyes``, is accepted when tags is the last column).
    Raises ValueError saying what is wrong (missing column, oversized field, malformed line)."""
    rows = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(rows, [])]
        missing = [c for c in ("filename", "tags") if c not in header]
        if missing:
            got = ", ".join(repr(h[:30]) for h in header[:4]) or "nothing"
            raise ValueError(f"its first line must be the header 'filename,tags' (no {' or '.join(missing)} "
                             f"column; found {got})")
        fi, ti = header.index("filename"), header.index("tags")
        table: dict[str, str] = {}
        for row in rows:
            long = next((f for f in row if len(f) > MAX_CSV_FIELD), None)
            if long is not None:
                raise ValueError(f"line {rows.line_num} has a field of {len(long)} characters "
                                 f"(at most {MAX_CSV_FIELD})")
            if len(row) > max(fi, ti):
                tags = ",".join(row[ti:]) if ti == len(header) - 1 else row[ti]
                table[_norm_name(row[fi])] = tags
    except csv.Error as e:  # e.g. "field larger than field limit", NUL bytes
        raise ValueError(f"line {rows.line_num} is not valid CSV ({e})") from None
    return table


def _decode_csv(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"it is not UTF-8 text (byte 0x{data[e.start]:02x} at position {e.start}); "
                         "save it as UTF-8") from None


def _tag_labels(names: list[str], table: dict[str, str], prefix: str, where: str) -> tuple[Optional[torch.Tensor], list[str]]:
    """Labels (N, 2) if every image has valid tags, else None and a note saying what was wrong."""
    labels: list[tuple[int, int]] = []
    missing: list[str] = []
    bad: list[str] = []
    for name in names:
        rel = name[len(prefix):] if prefix and name.startswith(prefix) else name
        text = next((table[k] for k in (name, rel, rel.rsplit("/", 1)[-1]) if k in table), None)
        if text is None:
            missing.append(name)
            continue
        try:
            labels.append(parse_tags(text))
        except ValueError as e:
            bad.append(f"{name} ({e})")
    if not missing and not bad:
        return torch.tensor(labels, dtype=torch.long).reshape(-1, 2), []
    note = (f"tags from {where} not used: of {len(names)} images, {len(missing)} have no row and "
            f"{len(bad)} have unreadable tags")
    if missing:
        note += f"; without a row: {_examples(missing)}"
    if bad:
        note += f"; bad tags: {_examples(bad, 3)}"
    return None, [note]


def _read_tags(cfg: DataConfig, source: _Source, found: Optional[str]) -> Optional[tuple[bytes, str, str]]:
    """(CSV bytes, folder prefix its names are relative to, where it came from), or None."""
    try:
        if cfg.tags_csv:
            path = Path(cfg.tags_csv).expanduser()
            if not path.is_file():
                raise DataError(f"tags file {path} does not exist")
            with open(path, "rb") as f:
                return _read_capped(f, MAX_FILE_BYTES), "", str(path)
        if found is None:
            return None
        prefix = found.rsplit("/", 1)[0] + "/" if "/" in found else ""
        return source.read(found), prefix, found
    except (_Skip, OSError) as e:
        raise DataError(f"could not read the tags file: {e}") from e


# ---- entry point -----------------------------------------------------------------------------------
def open_source(cfg: DataConfig) -> "tuple[Path, _Source]":
    """The folder or .zip at ``cfg.path`` and a reader of its files (DataError when it is neither)."""
    if not cfg.path:
        raise DataError("data.path is empty: give an image folder or a .zip file")
    root = Path(cfg.path).expanduser()
    if not root.exists():
        raise DataError(f"{root} does not exist")
    if root.is_dir():
        return root, _DirSource(root)
    if zipfile.is_zipfile(root):
        return root, _ZipSource(root)
    raise DataError(f"{root} is neither a folder nor a .zip file")


def load_folder(cfg: DataConfig, progress: Optional[ProgressFn] = None) -> ImageDataset:
    """Images of the folder or .zip at cfg.path as RGB uint8 (N, 3, S, S), center-cropped and resized
    to cfg.image_size; hair/eye labels when a tags CSV covers every image."""
    root, source = open_source(cfg)
    log, notes = _SkipLog(), []
    try:
        report(progress, 0.0, f"looking for images in {root}")
        names, found_tags = _scan(source, log, notes)
        tags = _read_tags(cfg, source, found_tags)
        images, kept = _decode_all(source, names, cfg.image_size, cfg.max_images, log, progress)
    finally:
        source.close()
    if not kept:
        why = f": {log.summary()}" if log.count else ""
        raise DataError(f"no usable images in {root}: found {len(names)} image file(s), "
                        f"skipped {log.count}{why}")
    labels, tag_notes = None, []
    if tags is not None:
        data, prefix, where = tags
        try:
            labels, tag_notes = _tag_labels(kept, _parse_tags_csv(_decode_csv(data, where)), prefix, where)
        except ValueError as e:
            tag_notes = [f"tags from {where} not used: {e}"]
        if tag_notes and cfg.tags_csv:  # tags asked for explicitly: say what is wrong instead of going on
            raise DataError(tag_notes[0].replace("not used:", "cannot be used:", 1))
    tensor = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    return ImageDataset(f"folder:{root.name}", tensor, labels, faces_label_groups() if labels is not None else [],
                        skipped=log.count, notes=log.notes() + notes + tag_notes)

"""Hugging Face datasets by name: ``OWNER/NAME`` on the Hub (streamed), or a local copy (a
``save_to_disk`` folder, a parquet file or a folder of data files), through the ``datasets`` library.

Settings (``DataConfig``): ``path`` (the name or local path), ``hf_split`` (default ``train``),
``hf_image_column`` (empty: the first image column), ``hf_label_columns`` (comma list: each class-label,
string, integer or boolean column becomes a tag group with the dataset's own class names),
``max_images``, ``image_size`` and ``cache_dir``.

Images are decoded, cropped, resized and limited exactly as for an image folder (the helpers of
:mod:`.folder`: pixel limits per image and per dataset, corrupt images skipped and counted), then
cached as uint8 in ``<cache_dir>/hf/``: a second run with the same settings reads the cache and does
not need the network. Every failure of the library (offline, wrong name, missing split, bad column)
becomes one :class:`DataError` line saying what failed and what to do.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence
from urllib.parse import urlparse

import numpy as np
import torch

from gan_core.config import DataConfig
from gan_core.data.base import DataError, ImageDataset, LabelGroup, ProgressFn
from gan_core.data.folder import MAX_FILE_BYTES, MAX_FILES, TOO_BIG, UNREADABLE, _decode_all, _Skip, _SkipLog
from gan_core.data.hf_columns import (HFColumn, HFSettings, _LabelSpec, _resolve_columns, describe_columns,  # noqa: F401
                         parse_label_columns)
from gan_core.data.images import report, save_npz_atomic

HF_CACHE_VERSION = 1      # bump when decoding changes: old caches are then ignored
MAX_ROWS = MAX_FILES      # rows looked at when the split's size is unknown and max_images is 0
PREVIEW_ROWS = 4          # the preview reads up to this many times n rows to find n good images
_END = "end of the split"  # internal: the stream ended before the names ran out (never reported)
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_DISK_MARKERS = ("state.json", "dataset_dict.json")  # what save_to_disk writes
_HUB_EXAMPLE = "huggan/anime-faces"


# ---- opening the dataset -------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the libraries' progress bars and retry warnings (progress goes through ``progress``)."""
    import datasets
    import huggingface_hub.utils as hub_utils

    loggers = [logging.getLogger(n) for n in ("datasets", "huggingface_hub", "fsspec", "httpx")]
    levels = [lg.level for lg in loggers]
    bars = (datasets.are_progress_bars_disabled(), hub_utils.are_progress_bars_disabled())
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    datasets.disable_progress_bars()
    hub_utils.disable_progress_bars()
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, levels):
            lg.setLevel(lvl)
        if not bars[0]:
            datasets.enable_progress_bars()
        if not bars[1]:
            hub_utils.enable_progress_bars()


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError as e:
        raise DataError(f"the 'datasets' package is needed for Hugging Face datasets ({e}): "
                        "pip install -r requirements.txt") from None
    return datasets


def _locate(path: str) -> tuple[Optional[Path], str]:
    """(local path or None, a name for messages). DataError if it is neither a path nor a Hub name."""
    if not path:
        raise DataError(f"data.path is empty: give a Hugging Face dataset name OWNER/NAME (e.g. {_HUB_EXAMPLE}), "
                        "a save_to_disk folder or a parquet file")
    p = Path(path).expanduser()
    if p.exists():
        return p, str(p)
    if not _HUB_NAME.match(path) or ".." in path:
        raise DataError(f"{path} is neither an existing file or folder nor a Hugging Face dataset name like "
                        f"OWNER/NAME (e.g. {_HUB_EXAMPLE})")
    return None, path


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [""])[0][:300]


_OFFLINE_TYPES = ("ConnectionError", "Timeout", "OfflineModeIsEnabled", "LocalEntryNotFoundError", "ConnectError",
                  "ReadTimeout", "ConnectTimeout", "ProxyError", "SSLError", "HfHubHTTPError", "NetworkError")


def _is_network_error(e: BaseException) -> bool:
    for t in type(e).__mro__:
        if t.__name__ in _OFFLINE_TYPES or t.__module__.split(".")[0] in ("httpx", "httpcore", "requests", "urllib3"):
            return True
    return isinstance(e, (ConnectionError, TimeoutError, socket.gaierror))


def offline_message(name: str, why: str = "") -> str:
    return (f"could not reach the Hugging Face Hub to load {name!r}{f' ({why})' if why else ''}: connect to the "
            f"internet and try again (once loaded, the images are cached and later runs need no network), or "
            f"give a local copy in data.path (a save_to_disk folder or a parquet file), or use the offline "
            f"'faces' or 'digits' datasets")


def _no_rows(name: str, split: str) -> DataError:
    """An empty source: the "no usable images" message of a source whose rows were all skipped."""
    return DataError(f"no usable images in {name} (split {split}): it holds no rows")


def _empty_on_disk(local: Path) -> bool:
    """A save_to_disk folder with no data: a Dataset with no arrow files, or a DatasetDict with no splits."""
    try:
        if (local / "state.json").is_file():
            return not json.loads((local / "state.json").read_text()).get("_data_files")
        return not json.loads((local / "dataset_dict.json").read_text()).get("splits")
    except (OSError, ValueError, AttributeError):
        return False


def _load_error(name: str, split: str, local: Optional[Path], e: BaseException) -> DataError:
    """One line for a failure of the datasets library."""
    datasets = _import_datasets()
    first = _first_line(e)
    if "corresponds to no data" in first:   # an empty parquet file or folder of empty files
        return _no_rows(name, split)
    if isinstance(e, datasets.exceptions.DatasetNotFoundError) and local is None:
        return DataError(f"no dataset {name!r} on the Hugging Face Hub, and no such local file or folder (or the "
                         f"dataset is private or gated): check the OWNER/NAME spelling (e.g. {_HUB_EXAMPLE})")
    if isinstance(e, ValueError) and "split" in first.lower():
        return DataError(f"{name} has no split {split!r} ({first}): set data.hf_split to one of its splits")
    if local is None and _is_network_error(e):
        return DataError(offline_message(name, type(e).__name__))
    if local is not None and isinstance(e, (FileNotFoundError, datasets.exceptions.DataFilesNotFoundError)):
        return DataError(f"no dataset files in {name} ({first}): give a save_to_disk folder, a parquet file or "
                         f"a folder of parquet files")
    return DataError(f"could not load {name} with the datasets library ({type(e).__name__}: {first})")


def _hub_unreachable() -> Optional[str]:
    """Why the Hub surely cannot be reached (its host name does not resolve), else None. Skipped in
    offline mode (the library then fails at once) and behind a proxy (which resolves names itself)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or any(os.environ.get(k) for k in (
            "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")):
        return None
    host = urlparse(constants.ENDPOINT).hostname
    if not host:
        return None
    try:
        socket.getaddrinfo(host, 443)
    except OSError as e:
        return f"cannot resolve {host}: {e.strerror or e}"
    return None


@dataclass
class _Opened:
    ds: Any                        # datasets.Dataset or IterableDataset (one split)
    name: str                      # for messages
    local: Optional[Path]
    num_rows: Optional[int]        # None when a stream does not say
    splits: tuple[str, ...] = ()   # the splits it has, when known
    split: str = ""


def _open(s: HFSettings, cache_dir: str) -> _Opened:
    """The split ``s.split`` of the dataset at ``s.path``: a Dataset (local) or a stream (Hub)."""
    datasets = _import_datasets()
    local, name = _locate(s.path)
    hf_cache = str(Path(cache_dir) / "hf" / "datasets")
    try:
        if local is None:
            why = _hub_unreachable()
            if why:
                raise DataError(offline_message(name, why))
            ds = datasets.load_dataset(name, split=s.split, streaming=True)
            splits = dict(getattr(ds.info, "splits", None) or {})
            info = splits.get(s.split)
            n = getattr(info, "num_examples", None) or None
            if ds.features is None:  # e.g. a webdataset repo: the features come with the first rows
                ds = ds._resolve_features()
            return _Opened(ds, name, None, n, tuple(splits), s.split)
        if local.is_dir() and any((local / m).is_file() for m in _DISK_MARKERS):
            if _empty_on_disk(local):
                raise _no_rows(name, s.split)
            obj = datasets.load_from_disk(str(local))
            splits = tuple(obj.keys()) if isinstance(obj, datasets.DatasetDict) else ()
            if splits:
                if s.split not in obj:
                    raise DataError(f"{name} has no split {s.split!r}: set data.hf_split to one of "
                                    f"{', '.join(splits)}")
                obj = obj[s.split]
            else:
                _one_split(name, s.split, obj.split)
            return _Opened(obj, name, local, len(obj), splits, s.split)
        if local.is_file():
            if local.suffix.lower() != ".parquet":
                raise DataError(f"{name} is not a parquet file: give a save_to_disk folder, a .parquet file "
                                f"or a folder of data files")
            _one_split(name, s.split, None)
            ds = datasets.load_dataset("parquet", data_files={s.split: str(local)}, split=s.split, cache_dir=hf_cache)
        else:
            ds = datasets.load_dataset(str(local), split=s.split, cache_dir=hf_cache)
        return _Opened(ds, name, local, len(ds), tuple(ds.info.splits or ()), s.split)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - the library raises many types (network, format, split ...)
        raise _load_error(name, s.split, local, e) from None


def _one_split(name: str, split: str, own: Any) -> None:
    """A source with one unnamed split (a saved Dataset, a parquet file) is used whole as "train" (or under
    the split name it was saved with); another data.hf_split would silently train on all of it."""
    ok = ("train",) + ((str(own),) if own else ())
    if split not in ok:
        raise DataError(f"{name} has a single split ({str(own) if own else 'no split names'}): data.hf_split "
                        f"{split!r} cannot choose part of it; set data.hf_split to {ok[-1]!r} to use all of it, or "
                        f"give a DatasetDict saved with a {split!r} split")


def _prepare(opened: _Opened, s: HFSettings) -> tuple[Any, str, list[_LabelSpec], list[HFColumn]]:
    """Keep only the needed columns, undecoded; (dataset, image column, label specs, all columns)."""
    import datasets

    image, specs, cols = _resolve_columns(opened.ds.features, s, opened.name)
    ds = opened.ds.select_columns([image] + [sp.name for sp in specs])
    if isinstance(opened.ds.features[image], datasets.Image):
        ds = ds.cast_column(image, datasets.Image(decode=False))
    return ds, image, specs, cols


# ---- reading rows --------------------------------------------------------------------------------------
def _read_path(path: str, local: bool) -> bytes:
    """Bytes of an image stored by path: a regular local file (local datasets only) or a remote URL."""
    try:
        if "://" in path:
            from datasets.utils.file_utils import xopen

            with xopen(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        elif local:
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode):
                raise _Skip(UNREADABLE)
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        else:
            raise _Skip(UNREADABLE)
    except _Skip:
        raise
    except Exception as e:  # noqa: BLE001 - missing file, network error while streaming ...
        raise _Skip(UNREADABLE) from e
    if len(data) > MAX_FILE_BYTES:
        raise _Skip(TOO_BIG)
    return data


def _image_bytes(value: Any, local: bool) -> bytes:
    """The encoded image of one cell: {bytes, path}, raw bytes, or a path."""
    data, path = None, None
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = value
    elif isinstance(value, str):
        path = value
    if data:
        if len(data) > MAX_FILE_BYTES:
            raise _Skip(TOO_BIG)
        return bytes(data)
    if isinstance(path, str) and path:
        return _read_path(path, local)
    raise _Skip(UNREADABLE)


class _RowSource:
    """Rows of a dataset as a source for :func:`.folder._decode_all`: ``read(name)`` takes the next row
    (names are row numbers, read in order), keeps its label values and returns the image bytes."""

    def __init__(self, rows: Iterator[dict], image: str, specs: Sequence[_LabelSpec], local: bool):
        self.rows, self.image, self.specs, self.local = rows, image, list(specs), local
        self.values: dict[str, tuple] = {}
        self.ended = False
        self.count = 0

    def read(self, name: str) -> bytes:
        if self.ended:
            raise _Skip(_END)
        try:
            row = next(self.rows)
        except StopIteration:
            self.ended = True
            raise _Skip(_END) from None
        self.count += 1
        values = tuple(sp.value(row) for sp in self.specs)
        data = _image_bytes(row.get(self.image), self.local)
        self.values[name] = values
        return data

    def close(self) -> None:
        pass


def _read_rows(opened: _Opened, ds: Any, image: str, specs: Sequence[_LabelSpec], size: int, limit: int,
               rows: int, log: _SkipLog, progress: Optional[ProgressFn]) -> tuple[np.ndarray, list[tuple], _RowSource]:
    """Decode up to ``limit`` images (0: all) from the first ``rows`` rows; (N, S, S, 3) uint8, label values."""
    source = _RowSource(iter(ds), image, specs, opened.local is not None)
    try:
        with _quiet():
            images, kept = _decode_all(source, [str(i) for i in range(rows)], size, limit, log, progress)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - a stream can fail mid-way (network, format)
        raise _load_error(opened.name, opened.split, opened.local, e) from None
    log.by_reason.pop(_END, None)
    return images, [source.values[k] for k in kept], source


def _labels(specs: Sequence[_LabelSpec], values: Sequence[tuple]) -> tuple[list[LabelGroup], Optional[torch.Tensor]]:
    if not specs:
        return [], None
    groups, cols = [], []
    for g, sp in enumerate(specs):
        group, idx = sp.group([v[g] for v in values])
        groups.append(group)
        cols.append(idx)
    return groups, torch.tensor(cols, dtype=torch.long).reshape(len(specs), -1).t().contiguous()


# ---- the cache -----------------------------------------------------------------------------------------
def _signature(local: Optional[Path]) -> list:
    """Sizes and modification times of a local dataset's files (a change invalidates the cache)."""
    if local is None:
        return []
    files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())[:10_000]
    out = []
    for p in files:
        try:
            info = p.stat()
        except OSError:
            continue
        out.append([str(p.relative_to(local)) if p != local else "", info.st_size, info.st_mtime_ns])
    return out


def _cache_path(cfg: DataConfig, s: HFSettings, local: Optional[Path]) -> Path:
    key = {"v": HF_CACHE_VERSION, "source": str(local.resolve()) if local else s.path, "files": _signature(local),
           "split": s.split, "image": s.image_column, "labels": list(s.label_columns),
           "size": cfg.image_size, "max_images": cfg.max_images}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", (local.name if local else s.path))[:40]
    return Path(cfg.cache_dir) / "hf" / f"{slug}_{s.split[:20]}_{cfg.image_size}px_{digest}.npz"


def _save_cache(path: Path, images: np.ndarray, labels: Optional[torch.Tensor], groups: list[LabelGroup],
                meta: dict) -> bool:
    meta = dict(meta, groups=[[g.name, list(g.classes)] for g in groups])
    lab = labels.numpy() if labels is not None else np.zeros((len(images), 0), np.int64)
    return save_npz_atomic(path, images=images, labels=lab.astype(np.int64),
                           meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))


def _load_cache(path: Path, size: int) -> Optional[tuple[np.ndarray, Optional[torch.Tensor], list[LabelGroup], dict]]:
    """A cache written by :func:`_save_cache`, or None if missing, corrupt or inconsistent."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
            meta = json.loads(f["meta"].tobytes().decode())
        groups = [LabelGroup(str(n), tuple(str(c) for c in cl)) for n, cl in meta.pop("groups")]
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error):
        return None
    n = len(images)
    if (images.dtype != np.uint8 or images.shape[1:] != (3, size, size) or n == 0 or labels.dtype != np.int64
            or labels.shape != (n, len(groups)) or not isinstance(meta, dict)):
        return None
    for g, grp in enumerate(groups):
        if not grp.classes or labels[:, g].min() < 0 or labels[:, g].max() >= grp.num_classes:
            return None
    return images, (torch.from_numpy(labels) if groups else None), groups, meta


# ---- entry points --------------------------------------------------------------------------------------
def load_hf(cfg: DataConfig, progress: Optional[ProgressFn] = None) -> ImageDataset:
    """The images (RGB uint8 (N, 3, S, S), center-cropped and resized to cfg.image_size) and tag labels
    of a Hugging Face dataset; cached in ``<cache_dir>/hf``."""
    s = HFSettings.from_config(cfg)
    local, name = _locate(s.path)
    cache = _cache_path(cfg, s, local)
    hit = _load_cache(cache, cfg.image_size)
    if hit is not None:
        images, labels, groups, meta = hit
        report(progress, 1.0, f"loaded {len(images)} images of {name} from the cache")
        return ImageDataset(f"hf:{name}", torch.from_numpy(images), labels, groups,
                            skipped=int(meta.get("skipped", 0)), notes=[str(x) for x in meta.get("notes", [])])
    if local is None and not cfg.download:
        raise DataError(f"{name} is not in the cache ({cache.parent}) and downloads are off (data.download is "
                        f"false): allow downloads, or give a local copy (a save_to_disk folder or a parquet file)")
    report(progress, 0.0, f"opening {name} (split {s.split})" + ("" if local else " on the Hugging Face Hub"))
    with _quiet():
        opened = _open(s, cfg.cache_dir)
        ds, image, specs, _ = _prepare(opened, s)
    rows = opened.num_rows if opened.num_rows is not None else MAX_ROWS
    log, notes = _SkipLog(), []
    arr, values, source = _read_rows(opened, ds, image, specs, cfg.image_size, cfg.max_images, rows, log, progress)
    if not source.ended and opened.num_rows is None and (not cfg.max_images or len(arr) < cfg.max_images):
        notes.append(f"stopped after {rows} rows: set data.max_images to choose how many images to use")
    if not len(arr):
        why = f": {log.summary()}" if log.count else ""
        raise DataError(f"no usable images in {name} (split {s.split}, column {image!r}): read {source.count} "
                        f"row(s), skipped {log.count}{why}")
    groups, labels = _labels(specs, values)
    images = np.ascontiguousarray(arr.transpose(0, 3, 1, 2))
    notes = log.notes() + notes
    if not _save_cache(cache, images, labels, groups, {"skipped": log.count, "notes": notes, "source": name}):
        notes.append(f"could not write the cache file {cache}; the images will be read again next time")
    report(progress, 1.0, f"loaded {len(images)} images of {name}")
    return ImageDataset(f"hf:{name}", torch.from_numpy(images), labels, groups, skipped=log.count, notes=notes)


@dataclass
class HFPreview:
    """What the Train page shows before a run: a few images, the columns and the tag groups."""

    name: str                          # the dataset, as given
    split: str
    splits: tuple[str, ...]            # the splits it has, when known
    num_rows: Optional[int]            # rows in the split, when known
    image_column: str
    columns: list[HFColumn]
    label_groups: list[LabelGroup]     # string / integer columns: only the classes seen in these rows
    images: np.ndarray                 # uint8 (n, S, S, 3)
    labels: Optional[np.ndarray]       # int64 (n, G) indices into label_groups, or None
    notes: list[str] = field(default_factory=list)

    def captions(self) -> list[str]:
        """One caption per image: its tags as ``group=class`` (``class`` alone for one group)."""
        from gan_core.data.tags import format_tags_for

        if self.labels is None:
            return ["" for _ in range(len(self.images))]
        return [format_tags_for(self.label_groups, row) for row in self.labels]


def preview(path: str, split: str = "train", image_column: str = "", label_columns: Any = "", n: int = 16,
            image_size: int = 64, cache_dir: str = ".cache/gan_studio") -> HFPreview:
    """The first ``n`` usable images of a dataset with its columns and tag groups (DataError if unusable)."""
    labels_cols = parse_label_columns(label_columns if isinstance(label_columns, str) else ",".join(label_columns))
    s = HFSettings(str(path or "").strip(), str(split or "train").strip(), str(image_column or "").strip(), labels_cols)
    n = max(1, min(int(n), 256))
    with _quiet():
        opened = _open(s, cache_dir)
        ds, image, specs, cols = _prepare(opened, s)
    rows = min(opened.num_rows, PREVIEW_ROWS * n) if opened.num_rows is not None else PREVIEW_ROWS * n
    log = _SkipLog()
    arr, values, source = _read_rows(opened, ds, image, specs, image_size, n, rows, log, None)
    if not len(arr):
        raise DataError(f"no usable images in the first {source.count} rows of {opened.name} (column {image!r})"
                        + (f": {log.summary()}" if log.count else ""))
    groups, labels = _labels(specs, values)
    notes = log.notes()
    notes += [f"{sp.name}: {len(g.classes)} class(es) in these {len(arr)} rows; the full list is read at training"
              for sp, g in zip(specs, groups) if sp.kind != "class label"]
    return HFPreview(opened.name, s.split, opened.splits, opened.num_rows, image, cols, groups, arr,
                     labels.numpy() if labels is not None else None, notes)

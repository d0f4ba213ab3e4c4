"""Where checkpoints live, listing and describing them, uploads (checked, sanitised, never overwriting)
and deleting them, and exporting a run's generator.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from gan_core.config import envvars
from gan_core.storage import rundir
from gan_core.storage.checkpoint import (FORMAT, CheckpointError, checkpoint_summary, export_generator, generator_from_state,
                          load_checkpoint)
from gan_core.config import ConfigError, RunConfig
from gan_core.storage.fileio import atomic_write_bytes
from gan_core.models import DataSpec, is_conditional

PathLike = Union[str, os.PathLike]

CHECKPOINTS_ENV = envvars.CHECKPOINTS.name
CHECKPOINT_EXTS = (".pt", ".safetensors")
MAX_UPLOAD_BYTES = 200 * 2**20          # uploads bigger than this are refused (= Streamlit's default server.maxUploadSize)


# ---- where things live ---------------------------------------------------------------------------
def checkpoints_dir() -> Path:
    """Shipped and uploaded checkpoints: ``$GAN_STUDIO_CHECKPOINTS`` or ``./checkpoints``."""
    return Path(os.environ.get(CHECKPOINTS_ENV) or "checkpoints")


def runs_dir() -> Path:
    """Training runs: ``$GAN_STUDIO_RUNS`` or ``./runs`` (the job manager writes there)."""
    return rundir.runs_root()


# ---- checkpoint files ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckpointFile:
    path: Path
    kind: str            # "pt" (full training checkpoint) | "safetensors" (generator export)
    source: str          # "checkpoints" (shipped or uploaded) | "run" (a trained run's last.pt)
    size: int
    mtime: float
    run: Optional[str] = None   # run folder name for source == "run"

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.mtime))
        if self.source == "run":
            return f"run {self.run} / {self.name} ({when})"
        return f"{self.name} ({format_bytes(self.size)})"


def _file_entry(p: Path, source: str, run: Optional[str] = None) -> Optional[CheckpointFile]:
    try:
        info = p.stat()
    except OSError:
        return None
    kind = "safetensors" if p.suffix == ".safetensors" else "pt"
    return CheckpointFile(p, kind, source, info.st_size, info.st_mtime, run)


def list_checkpoints(directory: Optional[PathLike] = None) -> list[CheckpointFile]:
    """``.pt`` and ``.safetensors`` files in the checkpoints folder, sorted by name (hidden files skipped)."""
    d = Path(directory) if directory is not None else checkpoints_dir()
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.iterdir()):
        if p.is_file() and p.suffix in CHECKPOINT_EXTS and not p.name.startswith("."):
            e = _file_entry(p, "checkpoints")
            if e is not None:
                out.append(e)
    return out


def list_run_checkpoints(root: Optional[PathLike] = None) -> list[CheckpointFile]:
    """Every trained run's ``last.pt``, newest first."""
    r = Path(root) if root is not None else runs_dir()
    if not r.is_dir():
        return []
    out = [e for p in r.glob(f"*/{rundir.LAST}") if (e := _file_entry(p, "run", p.parent.name)) is not None]
    return sorted(out, key=lambda e: e.mtime, reverse=True)


def list_generators(directory: Optional[PathLike] = None, root: Optional[PathLike] = None,
                    translators: bool = False) -> list[CheckpointFile]:
    """Everything a generator can be loaded from: shipped/uploaded files first, then trained runs. Generators
    that draw from z (Generate, Interpolate), or with ``translators`` the image-to-image (pix2pix) ones
    (Sketch): :func:`is_translator_file` tells them apart."""
    return [e for e in list_checkpoints(directory) + list_run_checkpoints(root)
            if is_translator_file(e.path) == translators]


_KIND_CACHE: dict[tuple[str, float, int], bool] = {}


def is_translator_file(path: PathLike) -> bool:
    """Whether a checkpoint file holds an image-to-image (pix2pix) generator, read cheaply: a safetensors
    export's metadata, a run checkpoint's ``config.json`` next to it, else the checkpoint itself (no tensor
    kept). Cached per (path, mtime, size); unreadable files count as not translators (loading them says why)."""
    import json

    from gan_core.models import ARCHITECTURES

    p = Path(path)
    try:
        st = p.stat()
        key = (str(p), st.st_mtime, st.st_size)
        if key not in _KIND_CACHE:
            if p.suffix == ".safetensors":
                arch = json.loads(_safetensors_meta(p).get("config", "{}")).get("model", {}).get("arch")
            elif p.name == rundir.LAST and (p.parent / rundir.CONFIG).is_file():   # a run's own config
                arch = json.loads((p.parent / rundir.CONFIG).read_text()).get("model", {}).get("arch")
            else:
                arch = describe_checkpoint(p)["arch"]
            _KIND_CACHE[key] = arch in ARCHITECTURES and ARCHITECTURES[arch].paired
        return _KIND_CACHE[key]
    except (CheckpointError, OSError, ValueError, AttributeError, KeyError):
        return False


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _summary_from_cfg(cfg: RunConfig, spec: DataSpec, step: int, ema: bool = False) -> dict[str, Any]:
    return {
        "step": int(step), "dataset": cfg.data.dataset, "arch": cfg.model.arch, "loss": cfg.loss.name,
        "image_size": spec.image_size, "channels": spec.channels, "conditional": is_conditional(cfg.model.arch),
        "label_groups": list(spec.group_names) if is_conditional(cfg.model.arch) else [], "ema": ema,
    }


def _safetensors_meta(path: PathLike) -> dict[str, str]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(f"{Path(path).name} is not a readable safetensors file: {e}") from None
    if meta.get("format") != FORMAT + "-generator":
        raise CheckpointError(f"{Path(path).name} is a safetensors file but not a GAN Studio generator export")
    return meta


def describe_checkpoint(path: PathLike) -> dict[str, Any]:
    """What a checkpoint file holds (dataset, arch, loss, step, ...), without building the networks.

    ``.safetensors`` exports are described from their metadata alone; ``.pt`` files are loaded with
    ``weights_only``. Raises :class:`CheckpointError` for unreadable or foreign files.
    """
    p = Path(path)
    out = checkpoint_summary(load_checkpoint(p, load_tensors=False))  # exports: header only, no tensor read
    out["file"] = p.name
    out["size"] = format_bytes(p.stat().st_size)
    return out


class UploadError(ValueError):
    """An uploaded checkpoint was refused; the message says why (shown to the user as-is)."""


_SAFE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def sanitize_filename(name: str) -> str:
    """A safe file name for an upload: no folders, no odd characters, a checkpoint extension.

    ``../../etc/x.pt`` -> ``x.pt``; ``my model (1).safetensors`` -> ``my_model_1.safetensors``.
    Raises :class:`UploadError` when the extension is not ``.pt`` / ``.safetensors``.
    """
    base = re.split(r"[\\/]", str(name))[-1].strip()
    stem, dot, ext = base.rpartition(".")
    ext = "." + ext.lower() if dot else ""
    if ext not in CHECKPOINT_EXTS:
        raise UploadError(f"'{base[:80]}' is not a checkpoint: upload a .pt or .safetensors file")
    stem = _SAFE_CHARS.sub("_", stem).strip("._-")[:80] or "checkpoint"
    return stem + ext


def validate_upload(name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> dict[str, Any]:
    """Check uploaded bytes: size, format, ``weights_only`` loading, and that G can be rebuilt from them.

    Nothing in the file is executed: ``.pt`` files go through :func:`load_checkpoint` (a pickle with
    code or classes is refused) and ``.safetensors`` files hold tensors only. Returns a summary;
    raises :class:`UploadError` with a message for the user.
    """
    safe = sanitize_filename(name)
    if len(data) == 0:
        raise UploadError(f"'{safe}' is empty")
    if len(data) > max_bytes:
        raise UploadError(f"'{safe}' is {format_bytes(len(data))}; the limit is {format_bytes(max_bytes)}")
    try:
        state = load_checkpoint(bytes(data), name="it")  # config, model size and shapes checked before building G
        if safe.endswith(".safetensors") != bool(state.get("generator_only")):
            raise CheckpointError("its contents do not match its extension (.pt: training checkpoint, "
                                  ".safetensors: generator export)")
        generator_from_state(state)  # the weights must fit the config they came with
        summary = checkpoint_summary(state)
    except CheckpointError as e:   # "it is not a readable checkpoint", "it was refused: it contains ..."
        why = str(e).removeprefix("it was refused: ")
        raise UploadError(f"'{safe}' was refused: {why}") from None
    except (ConfigError, ValueError, KeyError, TypeError) as e:
        raise UploadError(f"'{safe}' was refused: it does not describe a usable generator ({e})") from None
    summary["file"] = safe
    return summary


def _unique_path(directory: Path, filename: str) -> Path:
    p = directory / filename
    stem, ext = filename.rsplit(".", 1)
    i = 1
    while p.exists():
        p = directory / f"{stem}-{i}.{ext}"
        i += 1
    return p


def save_upload(name: str, data: bytes, directory: Optional[PathLike] = None, overwrite: bool = False,
                max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[Path, dict[str, Any]]:
    """Validate an upload and, only if it passes, write it (atomically) into the checkpoints folder.

    Returns (path written, summary). An existing file of the same name is kept unless ``overwrite``:
    the upload then gets a ``-1``, ``-2`` ... suffix.
    """
    summary = validate_upload(name, data, max_bytes)
    d = Path(directory) if directory is not None else checkpoints_dir()
    d.mkdir(parents=True, exist_ok=True)
    dest = d / summary["file"] if overwrite else _unique_path(d, summary["file"])
    atomic_write_bytes(dest, lambda f: f.write(data))
    summary["file"] = dest.name
    return dest, summary


def _inside(directory: Path, name: PathLike) -> Path:
    d = directory.resolve()
    p = (d / Path(name).name).resolve()
    if p.parent != d:
        raise UploadError(f"{name} is not in {directory}")
    return p


def delete_checkpoint(name: PathLike, directory: Optional[PathLike] = None) -> Path:
    """Delete one checkpoint file from the checkpoints folder (only there, only checkpoint files)."""
    d = Path(directory) if directory is not None else checkpoints_dir()
    p = _inside(d, name)
    if p.suffix not in CHECKPOINT_EXTS:
        raise UploadError(f"{p.name} is not a checkpoint file")
    if not p.is_file():
        raise UploadError(f"{p.name} does not exist in {d}")
    p.unlink()
    return p


def export_run_generator(checkpoint: PathLike, name: str, directory: Optional[PathLike] = None,
                         use_ema: bool = True) -> Path:
    """Export a trained run's generator to ``<checkpoints>/<name>.safetensors`` (a new name if taken)."""
    base = name if name.endswith(".safetensors") else f"{name}.safetensors"
    safe = sanitize_filename(base)
    d = Path(directory) if directory is not None else checkpoints_dir()
    d.mkdir(parents=True, exist_ok=True)
    return export_generator(load_checkpoint(checkpoint), _unique_path(d, safe), use_ema=use_ema)

"""The studio's logic behind the Streamlit pages, kept free of any UI toolkit so it can be tested.

* where things live: :func:`checkpoints_dir` (``$GAN_STUDIO_CHECKPOINTS``, default ``checkpoints``)
  and :func:`runs_dir` (``$GAN_STUDIO_RUNS``, default ``runs``)
* checkpoint files: :func:`list_checkpoints`, :func:`list_generators` (shipped files + trained
  runs' ``last.pt``), :func:`describe_checkpoint`, uploads (:func:`validate_upload`,
  :func:`save_upload`, refused with :class:`UploadError`), :func:`delete_checkpoint`,
  :func:`export_run_generator`
* the training form: :data:`PRESETS`, :func:`optimizer_settings` (a loss's recommended optimiser),
  :func:`config_from_flat`, :func:`check_config` (also: conditional archs need labelled data)
* pictures: :func:`png_bytes`, :func:`frames_to_gif`, :func:`upscale`, :func:`annotate_columns`
* generation: :func:`sample_grid`, :func:`tag_sweep`, :func:`interpolation_frames`,
  :func:`arithmetic_images` (all seeded, fast enough for a UI on CPU)
* curves and runs: :func:`history_series`, :func:`downsample`, :func:`smooth`, :func:`list_runs`,
  :func:`load_metrics`, :func:`config_differences`, :func:`metrics_overview` (evaluator rows)
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image, ImageDraw

from .checkpoint import (FORMAT, CheckpointError, checkpoint_summary, export_generator, generator_from_state,
                         load_checkpoint, load_generator_safetensors)
from .config import ConfigError, RunConfig, TrainConfig
from .data.images import make_grid_uint8, scatter_image
from .fileio import atomic_write_bytes
from .jobs import runs_root
from .latent import arithmetic, generate, interpolation_path, label_path, lerp, sample_z, same_z_other_tags, slerp
from .losses import LOSSES
from .recipes import DEFAULT_PRESET, PRESETS, Preset, merge_sections, recipe_for  # noqa: F401  (re-exported for pages)
from .models import ARCHITECTURES, DataSpec, is_conditional

PathLike = Union[str, os.PathLike]

CHECKPOINTS_ENV = "GAN_STUDIO_CHECKPOINTS"
CHECKPOINT_EXTS = (".pt", ".safetensors")
MAX_UPLOAD_BYTES = 200 * 2**20          # uploads bigger than this are refused (= Streamlit's default server.maxUploadSize)


# ---- where things live ---------------------------------------------------------------------------
def checkpoints_dir() -> Path:
    """Shipped and uploaded checkpoints: ``$GAN_STUDIO_CHECKPOINTS`` or ``./checkpoints``."""
    return Path(os.environ.get(CHECKPOINTS_ENV) or "checkpoints")


def runs_dir() -> Path:
    """Training runs: ``$GAN_STUDIO_RUNS`` or ``./runs`` (the job manager writes there)."""
    return runs_root()


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
        st = p.stat()
    except OSError:
        return None
    kind = "safetensors" if p.suffix == ".safetensors" else "pt"
    return CheckpointFile(p, kind, source, st.st_size, st.st_mtime, run)


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
    out = [e for p in r.glob("*/last.pt") if (e := _file_entry(p, "run", p.parent.name)) is not None]
    return sorted(out, key=lambda e: e.mtime, reverse=True)


def list_generators(directory: Optional[PathLike] = None, root: Optional[PathLike] = None) -> list[CheckpointFile]:
    """Everything a generator can be loaded from: shipped/uploaded files first, then trained runs."""
    return list_checkpoints(directory) + list_run_checkpoints(root)


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
        state = load_checkpoint(bytes(data))  # config, model size and shapes checked before building G
        if safe.endswith(".safetensors") != bool(state.get("generator_only")):
            raise CheckpointError("its contents do not match its extension (.pt: training checkpoint, "
                                  ".safetensors: generator export)")
        generator_from_state(state)  # the weights must fit the config they came with
        summary = checkpoint_summary(state)
    except CheckpointError as e:
        raise UploadError(f"'{safe}' was refused: {e}") from None
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


# ---- the training form -----------------------------------------------------------------------------
OPTIMIZER_FIELDS = ("optimizer", "lr_g", "lr_d", "beta1", "beta2", "n_critic")


def optimizer_settings(loss: str) -> dict[str, Any]:
    """The optimiser a loss should start with: TrainConfig defaults overridden by the paper's settings.

    Choosing a loss without recommendations therefore also undoes another loss's (e.g. n_critic 5).
    """
    base = TrainConfig()
    out: dict[str, Any] = {f: getattr(base, f) for f in OPTIMIZER_FIELDS}
    out.update({k: v for k, v in LOSSES[loss].recommended.items() if k in OPTIMIZER_FIELDS})
    return out


def preset_sections(name: str, dataset: str, tagged: Optional[bool] = None) -> dict[str, dict[str, Any]]:
    """What choosing a preset fills in: its sizes and time budget, plus the recommended recipe for the
    dataset (the tag-conditional one for tagged data)."""
    return merge_sections(recipe_for(dataset, tagged), PRESETS[name].sections)


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"data": {"dataset": "faces"}}`` -> ``{"data.dataset": "faces"}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_from_flat(values: Mapping[str, Any], base: Optional[RunConfig] = None) -> RunConfig:
    """A validated RunConfig from ``{"section.field": value}`` (unknown fields raise ConfigError).

    Blank strings become None for optional text fields (e.g. ``data.path`` left empty in a form).
    """
    optional = {k for k, v in flatten(RunConfig().to_dict()).items() if v is None}
    sections: dict[str, dict[str, Any]] = {}
    for key, v in values.items():
        if "." not in key:
            raise ConfigError(key, "is not a section.field name")
        if key in optional and isinstance(v, str) and not v.strip():
            v = None
        sec, fld = key.split(".", 1)
        sections.setdefault(sec, {})[fld] = v
    return check_config((base or RunConfig()).replace(**sections))


def relevant_fields(dataset: str, arch: str, loss: str) -> set[str]:
    """The optional ``section.field`` settings that matter for a dataset/arch/loss choice; a form can
    hide the others (they keep their values and are ignored by the trainer)."""
    f: set[str] = set()
    if dataset == "toy2d":
        f |= {"data.toy_shape", "data.num_samples"}
    else:
        f |= {"data.image_size", "data.augment_flip", "data.augment_rotate", "data.max_images", "data.diffaugment",
              "loss.ms_weight"}
    if dataset == "faces":
        f.add("data.num_samples")
    if dataset == "folder":
        f |= {"data.path", "data.tags_csv"}
    a = ARCHITECTURES[arch]
    if a.backbone == "mlp":
        f.add("model.mlp_hidden")
    else:
        f |= {"model.g_width", "model.d_width", "model.d_norm", "model.spectral_norm", "model.g_dropout"}
    if a.backbone == "srresnet":
        f.add("model.res_blocks")
    if a.conditioning != "none":
        f.add("model.embed_dim")
        if a.backbone == "dcgan":
            f.add("model.g_cond")
    if a.conditioning in ("acgan", "tacgan"):
        f.add("loss.aux_weight")
    spec = LOSSES[loss]
    if spec.uses_targets:
        f |= {"loss.real_label", "loss.fake_label", "loss.label_noise"}
    if spec.target_range == "lsgan":
        f |= {"loss.lsgan_a", "loss.lsgan_b", "loss.lsgan_c"}
    if spec.penalty is not None:
        f.add("loss.gp_lambda")
    if spec.penalty == "dragan":
        f.add("loss.dragan_c")
    if spec.clip_weights:
        f.add("loss.clip_value")
    return f


def dataset_is_labelled(cfg: RunConfig) -> Optional[bool]:
    """Whether the data has class labels: False for 2D toy data, None (unknown until loaded) for a
    folder (labels come from a tags CSV), True for the built-in image sets."""
    if cfg.data.dataset == "toy2d":
        return False
    if cfg.data.dataset == "folder":
        return True if cfg.data.tags_csv else None
    return True


def check_config(cfg: RunConfig) -> RunConfig:
    """``cfg.validate()`` plus the checks a form needs before starting (raises ConfigError)."""
    cfg.validate()
    if is_conditional(cfg.model.arch) and dataset_is_labelled(cfg) is False:
        plain = [a for a, s in ARCHITECTURES.items() if s.conditioning == "none"]
        raise ConfigError(
            "model.arch",
            f"'{cfg.model.arch}' is conditional and needs labelled data, but '{cfg.data.dataset}' has no labels; "
            f"choose an unconditional arch ({', '.join(plain)}) or a labelled dataset",
        )
    return cfg


def format_duration(seconds: Optional[float]) -> str:
    """``75.2`` -> ``1 min 15 s``; None -> ``?``."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def curve_help(loss: str, arch: Optional[str] = None) -> dict[str, str]:
    """What each training curve means for a loss (the loss explanation comes from its LossSpec); with
    ``arch`` also what an architecture adds to the D and G losses (ACGAN's tag term)."""
    spec = LOSSES[loss]
    probs = spec.uses_targets and spec.target_range == "bce"
    if probs:
        outputs = ("D(x) and D(G(z)) are D's mean probabilities that real and generated images are real. "
                   "They start apart; at balance both hover around 0.5. D(x) near 1 with D(G(z)) near 0 "
                   "means D wins easily and G learns slowly.")
    else:
        outputs = ("D(x) and D(G(z)) are D's raw mean scores on real and generated images. The gap "
                   "between them is what D measures: a gap that shrinks over training means G is "
                   "catching up.")
    losses = f"{spec.title}. {spec.explanation}"
    if arch in ARCHITECTURES and ARCHITECTURES[arch].conditioning in ("acgan", "tacgan"):
        losses += (" Here D's and G's losses also hold the tag classifiers' cross-entropy (aux_d, aux_g "
                   "under Loss terms), so the D loss starts far above those landmarks (about 6 for 12 hair "
                   "and 11 eye colours); the real-vs-fake part alone is d_adv.")
    return {
        "losses": losses,
        "outputs": outputs,
        "grad_norm": "Gradient norms of D and G: spikes or a steady climb warn of instability.",
        "terms": "Loss terms: d_adv / g_adv are the adversarial parts alone; aux_d / aux_g the tag-classifier "
                 "cross-entropies of ACGAN / TAC-GAN (twin_d: the twin heads on fakes; G's aux_g subtracts "
                 "it); penalty the gradient penalty; ms the mode-seeking ratio mean |G(z1) - G(z2)| / |z1 - z2| "
                 "for pairs with the same tags: it should stay well above 0; falling towards 0 means G is "
                 "starting to ignore z.",
        "lr": "Learning rates (they change when you apply new ones during the run).",
    }


# ---- pictures ---------------------------------------------------------------------------------------
def png_bytes(img: np.ndarray, compress_level: int = 1) -> bytes:
    """H x W (x 3) uint8 -> PNG file bytes (level 1: ~4x faster than the default 6, files a bit larger)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def _upscale_factor(h: int, w: int, min_size: int, max_factor: int = 8) -> int:
    return max(1, min(max_factor, -(-min_size // max(min(h, w), 1))))


def upscale(img: np.ndarray, min_size: int = 256, max_factor: int = 8) -> np.ndarray:
    """Nearest-neighbour upscale by an integer factor so the shorter side is >= ``min_size`` (crisp pixels)."""
    f = _upscale_factor(img.shape[0], img.shape[1], min_size, max_factor)
    if f == 1:
        return img
    return np.repeat(np.repeat(img, f, axis=0), f, axis=1)


def frames_to_gif(frames: Sequence[np.ndarray], fps: float = 8.0, loop: int = 0, boomerang: bool = False,
                  min_size: int = 128) -> bytes:
    """Animated GIF bytes from uint8 frames (H, W, 3), upscaled (nearest) to at least ``min_size`` px.

    ``boomerang`` plays the frames forward then backward; ``loop=0`` loops forever.
    """
    if len(frames) == 0:
        raise ValueError("frames_to_gif needs at least one frame")
    seq = list(frames)
    if boomerang and len(seq) > 2:
        seq = seq + seq[-2:0:-1]
    # one shared 256-colour palette, quantised at the native size (cheap), then a nearest upscale of
    # the palette images: several times faster than quantising every upscaled frame
    arrs = [np.ascontiguousarray(np.asarray(f, dtype=np.uint8)) for f in seq]
    mosaic = Image.fromarray(np.concatenate(arrs[:: max(1, len(arrs) // 16)], axis=0))
    palette = mosaic.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    f = _upscale_factor(arrs[0].shape[0], arrs[0].shape[1], min_size)
    ims = [Image.fromarray(a).quantize(palette=palette, dither=Image.Dither.NONE).resize(
        (a.shape[1] * f, a.shape[0] * f), Image.Resampling.NEAREST) for a in arrs]
    buf = io.BytesIO()
    duration = max(20, int(round(1000.0 / max(fps, 0.1))))
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=duration, loop=loop,
                disposal=2, optimize=False)
    return buf.getvalue()


def annotate_columns(grid: np.ndarray, labels: Sequence[str], header: int = 16,
                     background: tuple[int, int, int] = (255, 255, 255),
                     colour: tuple[int, int, int] = (30, 30, 30)) -> np.ndarray:
    """Add a header strip naming each column of an evenly tiled grid (labels cut to fit)."""
    h, w = grid.shape[:2]
    n = max(1, len(labels))
    out = Image.new("RGB", (w, h + header), background)
    out.paste(Image.fromarray(np.ascontiguousarray(grid[..., :3])), (0, header))
    draw = ImageDraw.Draw(out)
    col_w = w / n
    max_chars = max(1, int(col_w // 6))
    for i, text in enumerate(labels):
        t = text if len(text) <= max_chars else text[: max(1, max_chars - 1)] + "."
        tw = draw.textlength(t)
        draw.text((i * col_w + (col_w - tw) / 2, (header - 11) / 2), t, fill=colour)
    return np.asarray(out)


# ---- generation ---------------------------------------------------------------------------------------
def label_groups(cfg: RunConfig, spec: DataSpec) -> list[tuple[str, tuple[str, ...]]]:
    """(group name, class names) for each tag a generator is conditioned on; [] when unconditional."""
    if not is_conditional(cfg.model.arch) or not spec.num_classes:
        return []
    names = spec.group_names or tuple(f"group {i}" for i in range(len(spec.num_classes)))
    classes = spec.class_names or tuple(tuple(str(c) for c in range(n)) for n in spec.num_classes)
    return list(zip(names, classes))


def make_labels(cfg: RunConfig, spec: DataSpec, n: int, tags: Optional[Sequence[Optional[int]]] = None,
                seed: int = 0) -> Optional[torch.Tensor]:
    """(n, G) long labels: ``tags[g]`` for every sample, or seeded random classes where it is None.

    None for unconditional generators.
    """
    groups = label_groups(cfg, spec)
    if not groups:
        return None
    tags = list(tags) if tags is not None else [None] * len(groups)
    if len(tags) != len(groups):
        raise ValueError(f"give one tag for each of {', '.join(g for g, _ in groups)}")
    g = torch.Generator().manual_seed(int(seed) + 1)
    cols = []
    for (name, classes), t in zip(groups, tags):
        rnd = torch.randint(len(classes), (n,), generator=g)  # drawn always: other tags keep their values
        if t is None:
            cols.append(rnd)
        else:
            if not 0 <= int(t) < len(classes):
                raise ValueError(f"{name} tag {t} is out of range 0..{len(classes) - 1}")
            cols.append(torch.full((n,), int(t), dtype=torch.long))
    return torch.stack(cols, dim=1)


def render(x: torch.Tensor, spec: DataSpec, nrow: Optional[int] = None) -> np.ndarray:
    """Generated images (B, C, H, W) -> one uint8 grid; 2D points (B, 2) -> a scatter plot."""
    if spec.kind == "points":
        return scatter_image(x.numpy())
    nrow = nrow or max(1, int(math.ceil(math.sqrt(len(x)))))
    return make_grid_uint8(x, nrow=nrow)


def sample_grid(G: torch.nn.Module, cfg: RunConfig, spec: DataSpec, n: int = 64, seed: int = 0,
                tags: Optional[Sequence[Optional[int]]] = None, nrow: Optional[int] = None) -> np.ndarray:
    """A grid of ``n`` samples from seeded z (and tags), as (H, W, 3) uint8."""
    if spec.kind == "points":
        n = max(n, 512)  # a scatter plot needs many points
    z = sample_z(n, cfg.model.z_dim, seed=seed)
    return render(generate(G, z, make_labels(cfg, spec, n, tags, seed)), spec, nrow)


def tag_sweep(G: torch.nn.Module, cfg: RunConfig, spec: DataSpec, group: int, rows: int = 4, seed: int = 0,
              base: Optional[Sequence[Optional[int]]] = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """"Same z, other tag": one row per z, one column per class of tag ``group`` (other tags from ``base``).

    Returns (grid, column class names). Raises ValueError for unconditional generators.
    """
    groups = label_groups(cfg, spec)
    if not groups:
        raise ValueError("this generator is unconditional: it has no tags to change")
    if not 0 <= group < len(groups):
        raise ValueError(f"tag group {group} is out of range 0..{len(groups) - 1}")
    base_labels = make_labels(cfg, spec, 1, base, seed)[0].tolist()
    classes = groups[group][1]
    z = sample_z(rows, cfg.model.z_dim, seed=seed)
    zz, y = same_z_other_tags(z, base_labels, group, len(classes))
    return render(generate(G, zz, y), spec, nrow=len(classes)), classes


def _tags_tensor(cfg: RunConfig, spec: DataSpec, tags: Optional[Sequence[Optional[int]]], seed: int):
    y = make_labels(cfg, spec, 1, tags, seed)
    return None if y is None else y[0]


def interpolation_frames(G: torch.nn.Module, cfg: RunConfig, spec: DataSpec, seed_a: int, seed_b: int,
                         steps: int = 16, method: str = "slerp",
                         tags_a: Optional[Sequence[Optional[int]]] = None,
                         tags_b: Optional[Sequence[Optional[int]]] = None) -> list[np.ndarray]:
    """Frames (H, W, 3) uint8 along a lerp/slerp path from z(seed_a) to z(seed_b).

    For conditional generators the tags switch from ``tags_a`` to ``tags_b`` half way (labels are
    discrete); with equal seeds and different tags only the tags change. For 2D toy models each
    frame is a scatter plot of 512 points moving from one noise batch to the other.
    """
    zdim = cfg.model.z_dim
    if spec.kind == "points":
        za, zb = sample_z(512, zdim, seed=seed_a), sample_z(512, zdim, seed=seed_b)
        fn = slerp if method == "slerp" else lerp
        return [scatter_image(generate(G, fn(za, zb, float(t))).numpy()) for t in torch.linspace(0, 1, steps)]
    z = interpolation_path(sample_z(1, zdim, seed=seed_a)[0], sample_z(1, zdim, seed=seed_b)[0], steps, method)
    ya, yb = _tags_tensor(cfg, spec, tags_a, seed_a), _tags_tensor(cfg, spec, tags_b, seed_b)
    labels = None if ya is None else label_path(ya, yb, steps)
    x = generate(G, z, labels)
    return [make_grid_uint8(x[i:i + 1], nrow=1, padding=0) for i in range(len(x))]


def frames_strip(frames: Sequence[np.ndarray], per_row: int = 8, padding: int = 2) -> np.ndarray:
    """Tile frames (H, W, 3) uint8 into rows of ``per_row`` (black gaps)."""
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)
    return make_grid_uint8(x, nrow=per_row, padding=padding)


def arithmetic_images(G: torch.nn.Module, cfg: RunConfig, spec: DataSpec, seeds: Sequence[int],
                      tags: Optional[Sequence[Optional[int]]] = None) -> list[np.ndarray]:
    """Images of z1, z2, z3 and z1 - z2 + z3 (seeded z's; one tag set for all four)."""
    if len(seeds) != 3:
        raise ValueError("latent arithmetic needs three seeds")
    zdim = cfg.model.z_dim
    if spec.kind == "points":
        zs = [sample_z(512, zdim, seed=s) for s in seeds]
        return [scatter_image(generate(G, z).numpy()) for z in (*zs, arithmetic(*zs))]
    z1, z2, z3 = (sample_z(1, zdim, seed=s) for s in seeds)
    z = torch.cat([z1, z2, z3, arithmetic(z1, z2, z3)])
    y = make_labels(cfg, spec, 1, tags, seeds[0])
    x = generate(G, z, None if y is None else y.repeat(4, 1))
    return [make_grid_uint8(x[i:i + 1], nrow=1, padding=0) for i in range(4)]


# ---- curves ---------------------------------------------------------------------------------------------
CURVES: dict[str, str] = {
    "d_loss": "D loss", "g_loss": "G loss", "d_real": "D(x)", "d_fake": "D(G(z))",
    "grad_norm_d": "|grad D|", "grad_norm_g": "|grad G|", "lr_d": "lr D", "lr_g": "lr G",
    "n_critic": "n_critic", "img_per_s": "img/s",
}


def history_keys(history: Iterable[Mapping[str, Any]]) -> list[str]:
    """Plottable keys in StepEvent dicts: the standard curves, then ``extra.<name>`` (penalty, aux, ...)."""
    keys: dict[str, None] = {}
    extras: dict[str, None] = {}
    for h in history:
        for k in CURVES:
            if isinstance(h.get(k), (int, float)):
                keys[k] = None
        for k, v in (h.get("extra") or {}).items():
            if isinstance(v, (int, float)):
                extras[f"extra.{k}"] = None
    return [k for k in CURVES if k in keys] + sorted(extras)


def curve_label(key: str) -> str:
    return CURVES.get(key, key.removeprefix("extra."))


def history_series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one curve; ``extra.<name>`` reads the ``extra`` dict; gaps and NaNs skipped."""
    xs, ys = [], []
    for h in history:
        v = (h.get("extra") or {}).get(key[6:]) if key.startswith("extra.") else h.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and "step" in h:
            xs.append(int(h["step"]))
            ys.append(float(v))
    return xs, ys


def downsample(rows: Sequence[Any], max_points: int = 1500) -> list[Any]:
    """At most ``max_points`` evenly spaced rows, always keeping the last one."""
    n = len(rows)
    if n <= max_points:
        return list(rows)
    idx = np.linspace(0, n - 1, max_points).round().astype(int)
    return [rows[i] for i in np.unique(idx)]


def smooth(values: Sequence[float], weight: float = 0.0) -> list[float]:
    """Exponential moving average (TensorBoard-style, debiased); weight 0 = unchanged."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc = weight * acc + (1 - weight) * v
        out.append(acc / (1 - weight ** (i + 1)) if weight > 0 else v)
    return out


# headline metrics, most telling first (the Train page shows the first four present)
METRIC_NAMES: dict[str, str] = {"tag_accuracy": "tag accuracy", "diversity_ratio": "same-tag diversity",
                                 "fid": "FID", "recall": "recall", "precision": "precision", "coverage": "coverage",
                                 "kid": "KID", "is": "IS", "diversity": "diversity"}
METRIC_HELP: dict[str, str] = {
    "tag_accuracy": "share of samples whose tags, as the classifier reads them, are the ones asked for",
    "diversity_ratio": "how much samples with the same tags differ, as a share of how much real images with "
                       "those tags differ (pixels): about 1 = as varied as the data, near 0 = G ignores z",
    "fid": "distance between real and generated feature statistics (lower is better)",
    "recall": "share of real images with a generated one nearby in feature space (diversity, k = 5)",
    "precision": "share of generated images with a real one nearby in feature space (fidelity, k = 5)",
    "coverage": "share of real images whose neighbourhood holds a generated image (diversity, k = 5)",
}
LOWER_IS_BETTER = ("fid", "kid")


def metrics_overview(extras: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """What a job's evaluator rows (``snapshot.extras`` or ``metrics.load_eval_metrics(run_dir)``, as
    published by :class:`gan_core.metrics.MetricsListener`) say, ready to show:

    ``latest`` / ``previous``: the newest two "metrics" rows (or None); ``series``: the headline metric
    names present (fid, kid, tag_accuracy, ...); ``table``: one display row per evaluation with the
    sample sizes; ``alerts``: "alerts" rows (mode collapse, D saturation), oldest first; ``status``: the
    newest "metrics_status" message (why metrics are off / an evaluation failure) or None.
    """
    rows = [r for r in (extras.get("metrics") or []) if isinstance(r, Mapping)]
    series = [k for k in METRIC_NAMES if any(_is_num(r.get(k)) for r in rows)]
    table = []
    for r in rows:
        t: dict[str, Any] = {"step": r.get("step")}
        for k in series:
            v = r.get(k)
            if k == "tag_accuracy" and _is_num(v):
                v = round(100.0 * v, 1)
            t[METRIC_NAMES[k] + (" %" if k == "tag_accuracy" else "")] = v
        t["real images"] = r.get("n_real")
        t["generated images"] = r.get("n_fake")
        t["features"] = r.get("features")
        table.append(t)
    status = [r for r in (extras.get("metrics_status") or []) if isinstance(r, Mapping) and r.get("message")]
    return {
        "latest": rows[-1] if rows else None,
        "previous": rows[-2] if len(rows) > 1 else None,
        "series": series,
        "table": table,
        "alerts": [dict(a) for a in (extras.get("alerts") or []) if isinstance(a, Mapping) and a.get("message")],
        "status": str(status[-1]["message"]) if status else None,
    }


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def format_metric(name: str, value: Any) -> str:
    """``("fid", 12.345)`` -> ``"12.35"``; tag accuracy as a percentage; ``-`` when missing."""
    if not _is_num(value):
        return "-"
    if name == "tag_accuracy":
        return f"{100.0 * value:.1f}%"
    if name == "kid":
        return f"{value:.4f}"
    return f"{value:.2f}"


# ---- runs -----------------------------------------------------------------------------------------------
@dataclass
class RunInfo:
    name: str
    path: Path
    config: Optional[dict[str, Any]]
    last: Optional[dict[str, Any]]      # newest StepEvent row of metrics.jsonl
    sample: Optional[Path]              # newest samples/*.png
    checkpoint: Optional[Path]          # last.pt when present
    mtime: float

    @property
    def sample_step(self) -> Optional[int]:
        """Step of the newest sample grid (from its name, ``step_0000049.png``)."""
        m = re.match(r"step_(\d+)$", self.sample.stem) if self.sample is not None else None
        return int(m.group(1)) if m else None

    @property
    def step(self) -> int:
        """The run's newest step: its last logged step, or a later sample grid (the final grid and
        checkpoint come after the last logged window), so every label of a run names the same step."""
        logged = int(self.last["step"]) if self.last else 0
        return max(logged, self.sample_step or 0)

    @property
    def label(self) -> str:
        c = self.config or {}
        what = "/".join(str(c.get(s, {}).get(f, "?")) for s, f in (("data", "dataset"), ("model", "arch"),
                                                                    ("loss", "name")))
        return f"{self.name} ({what}, step {self.step})"


def _read_json(p: Path) -> Optional[dict[str, Any]]:
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def load_metrics(run_dir: PathLike) -> list[dict[str, Any]]:
    """StepEvent rows of a run's metrics.jsonl, oldest first; broken lines (a crash mid-write) skipped."""
    p = Path(run_dir) / "metrics.jsonl"
    rows = []
    try:
        text = p.read_text()
    except OSError:
        return []
    for line in text.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and isinstance(d.get("step"), int) and d.get("kind", "step") == "step":
            rows.append(d)
    return rows


def _last_line(p: Path) -> Optional[dict[str, Any]]:
    try:
        with open(p, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and isinstance(d.get("step"), int):
            return d
    return None


def newest_sample(run_dir: PathLike) -> Optional[Path]:
    """The newest ``samples/step_*.png`` of a run (by step in the name, then mtime)."""
    files = [p for p in (Path(run_dir) / "samples").glob("*.png") if not p.name.startswith(".")]
    return max(files, key=lambda p: (p.name, p.stat().st_mtime)) if files else None


def list_runs(root: Optional[PathLike] = None) -> list[RunInfo]:
    """Run folders (with a config.json or metrics.jsonl) under the runs dir, newest first."""
    r = Path(root) if root is not None else runs_dir()
    if not r.is_dir():
        return []
    out = []
    for d in r.iterdir():
        if not d.is_dir() or d.name.startswith("."):
            continue
        cfg_p, met_p = d / "config.json", d / "metrics.jsonl"
        if not (cfg_p.exists() or met_p.exists()):
            continue
        mtimes = [p.stat().st_mtime for p in (cfg_p, met_p) if p.exists()]
        ck = d / "last.pt"
        out.append(RunInfo(d.name, d, _read_json(cfg_p), _last_line(met_p), newest_sample(d),
                           ck if ck.exists() else None, max(mtimes)))
    return sorted(out, key=lambda x: x.mtime, reverse=True)


DIFF_IGNORED = ("data.cache_dir",)


def config_differences(configs: Mapping[str, Optional[Mapping[str, Any]]],
                       ignore: Sequence[str] = DIFF_IGNORED) -> list[dict[str, Any]]:
    """Rows ``{"field": "loss.name", run1: "ns", run2: "lsgan"}`` for the fields whose values differ."""
    flat = {name: flatten(c or {}) for name, c in configs.items()}
    keys = sorted({k for f in flat.values() for k in f} - set(ignore))
    rows = []
    for k in keys:
        vals = [f.get(k) for f in flat.values()]
        if any(v != vals[0] for v in vals[1:]):
            rows.append({"field": k, **{name: f.get(k) for name, f in flat.items()}})
    return rows


QUALITY_KEYS = ("tag_accuracy", "diversity_ratio", "fid", "recall", "precision")   # Compare's Quality table


def quality_rows(runs: Sequence["RunInfo"]) -> list[dict[str, Any]]:
    """One row per run with its newest evaluation (the metrics listener's ``eval_metrics.jsonl``):
    tag accuracy, same-tag diversity, FID, precision / recall, and the sample sizes they rest on."""
    from .metrics import load_eval_metrics

    out = []
    for r in runs:
        rows = [m for m in load_eval_metrics(r.path)["metrics"] if isinstance(m, Mapping)]
        row: dict[str, Any] = {"run": r.name}
        if not rows:
            row["evaluated at step"] = None
            out.append(row)
            continue
        m = rows[-1]
        row["evaluated at step"] = m.get("step")
        for k in QUALITY_KEYS:
            v = m.get(k)
            if _is_num(v):
                row[METRIC_NAMES[k] + (" %" if k == "tag_accuracy" else "")] = round(100.0 * v, 1) if k == "tag_accuracy" else round(v, 3)
        row["samples (real / generated)"] = f"{m.get('n_real')} / {m.get('n_fake')}"
        row["features"] = m.get("features")
        out.append(row)
    return out


def mid_run_changes(history: Sequence[Mapping[str, Any]],
                    keys: Sequence[str] = ("lr_g", "lr_d", "n_critic")) -> list[dict[str, Any]]:
    """The optimiser settings changed while a run trained, from its logged steps: one row per change,
    ``{"step": 400, "lr_g": "2e-04 -> 1e-04"}`` (the config only holds the starting values)."""
    rows: list[dict[str, Any]] = []
    prev: dict[str, Any] = {}
    for h in history:
        change = {}
        for k in keys:
            v = h.get(k)
            if v is None:
                continue
            if k in prev and prev[k] != v:
                fmt = (lambda x: f"{x:.1e}") if k.startswith("lr") else str
                change[k] = f"{fmt(prev[k])} -> {fmt(v)}"
            prev[k] = v
        if change:
            rows.append({"step": h.get("step"), **change})
    return rows

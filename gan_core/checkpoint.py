"""Checkpoints: full training state written atomically, read back with ``weights_only=True``.

A checkpoint is a plain dict of tensors, numbers and strings (no pickled classes), so loading one
can never run code; anything else is refused with :class:`CheckpointError`. The generator alone can
also be exported to safetensors with the config as metadata.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Optional, Union

import torch
from torch import nn

from .config import ConfigError, RunConfig
from .fileio import atomic_write_bytes, atomic_write_text
from .models import DataSpec, build_models, is_conditional

FORMAT = "gan-studio-checkpoint"
VERSION = 1
MAX_CHECKPOINT_BYTES = 1 << 30  # refuse files over 1 GiB (uploads, corrupt sizes)
PathLike = Union[str, os.PathLike]


class CheckpointError(ValueError):
    """A checkpoint could not be read: missing, truncated, not ours, or unsafe."""


def save_checkpoint(state: dict[str, Any], path: PathLike) -> Path:
    """Write a checkpoint dict atomically (adds the format marker)."""
    state = {"format": FORMAT, "version": VERSION, **state}
    atomic_write_bytes(path, lambda f: torch.save(state, f))
    return Path(path)


def load_checkpoint(source: Union[PathLike, bytes, BinaryIO], map_location: Any = "cpu") -> dict[str, Any]:
    """Load and validate a checkpoint from a path, bytes or a binary file object.

    Only tensors and plain containers are accepted (``weights_only=True``): a checkpoint holding
    pickled objects or code is refused before anything in it runs.
    """
    name = "checkpoint"
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        name = str(p)
        if not p.is_file():
            raise CheckpointError(f"checkpoint {name} does not exist")
        if p.stat().st_size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{name} is larger than {MAX_CHECKPOINT_BYTES >> 20} MiB; refusing to load it")
        fobj: BinaryIO = open(p, "rb")
    elif isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"checkpoint is larger than {MAX_CHECKPOINT_BYTES >> 20} MiB; refusing to load it")
        fobj = io.BytesIO(source)
    else:
        fobj = source
    try:
        with fobj:
            state = torch.load(fobj, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{name} was refused: it contains pickled Python objects or code, which are never loaded "
            f"(weights_only). Detail: {str(e).splitlines()[0][:200]}"
        ) from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"{name} is not a readable checkpoint (truncated or not a torch file): {e}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{name} is a torch file but not a GAN Studio checkpoint")
    if state.get("version", 0) > VERSION:
        raise CheckpointError(f"{name} was written by a newer GAN Studio (format {state.get('version')})")
    for key in ("config", "data_spec", "step", "G"):
        if key not in state:
            raise CheckpointError(f"{name} is missing '{key}'")
    try:
        state["run_config"] = RunConfig.from_json(state["config"]).validate()
    except ConfigError as e:
        raise CheckpointError(f"{name} holds an invalid config: {e}") from None
    return state


def _strip_compile_prefix(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("_orig_mod."): v for k, v in sd.items()}


def generator_from_state(state: dict[str, Any], device: Union[str, torch.device] = "cpu",
                         use_ema: bool = True) -> tuple[nn.Module, RunConfig, DataSpec]:
    """Rebuild G (eval mode) from a loaded checkpoint; the EMA weights when present and asked for."""
    cfg: RunConfig = state.get("run_config") or RunConfig.from_json(state["config"])
    spec = DataSpec.from_dict(state["data_spec"])
    from .losses import get_loss

    g, _ = build_models(cfg.model, spec, gradient_penalty=get_loss(cfg.loss.name).penalty is not None)
    weights = state.get("G_ema") if use_ema and state.get("G_ema") is not None else state["G"]
    try:
        g.load_state_dict(_strip_compile_prefix(weights))
    except RuntimeError as e:
        raise CheckpointError(f"generator weights do not match the config in the checkpoint: {e}") from None
    return g.to(device).eval(), cfg, spec


def load_generator(path: PathLike, device: Union[str, torch.device] = "cpu",
                   use_ema: bool = True) -> tuple[nn.Module, RunConfig, DataSpec]:
    """Load G from a ``.pt`` checkpoint or a ``.safetensors`` export."""
    if str(path).endswith(".safetensors"):
        return load_generator_safetensors(path, device)
    return generator_from_state(load_checkpoint(path), device, use_ema)


def export_generator(state: dict[str, Any], path: PathLike, use_ema: bool = True) -> Path:
    """Export G weights to safetensors; config and data spec go in the metadata."""
    from safetensors.torch import save

    weights = state.get("G_ema") if use_ema and state.get("G_ema") is not None else state["G"]
    weights = {k: v.contiguous() for k, v in _strip_compile_prefix(weights).items()}
    meta = {"format": FORMAT + "-generator", "config": state["config"],
            "data_spec": json.dumps(state["data_spec"]), "step": str(state["step"])}
    blob = save(weights, metadata=meta)
    atomic_write_bytes(path, lambda f: f.write(blob))
    return Path(path)


def read_safetensors(path: PathLike, error: type[Exception] = CheckpointError) -> tuple[dict[str, str], dict]:
    """(metadata, tensors) of a safetensors file; ``error`` with a clear message if it is not one."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        return meta, load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise error(f"{path} is not a readable safetensors file: {e}") from None


def load_generator_safetensors(path: PathLike, device: Union[str, torch.device] = "cpu"):
    meta, weights = read_safetensors(path)
    if meta.get("format") != FORMAT + "-generator":
        raise CheckpointError(f"{path} is a safetensors file but not a GAN Studio generator export")
    state = {"config": meta["config"], "data_spec": json.loads(meta["data_spec"]), "G": weights,
             "step": int(meta.get("step", 0))}
    return generator_from_state(state, device, use_ema=False)


def checkpoint_summary(state: dict[str, Any]) -> dict[str, Any]:
    """A short, JSON-able description for UIs and the CLI."""
    cfg: RunConfig = state.get("run_config") or RunConfig.from_json(state["config"])
    spec = DataSpec.from_dict(state["data_spec"])
    return {
        "step": int(state["step"]), "dataset": cfg.data.dataset, "arch": cfg.model.arch,
        "loss": cfg.loss.name, "image_size": spec.image_size, "channels": spec.channels,
        "conditional": is_conditional(cfg.model.arch),
        "label_groups": list(spec.group_names), "ema": state.get("G_ema") is not None,
        "elapsed_s": float(state.get("elapsed", 0.0)),
    }

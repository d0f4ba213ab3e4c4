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

from gan_core.config.checks import check_config
from gan_core.config import ConfigError, RunConfig
from gan_core.storage.fileio import atomic_write_bytes
from gan_core.models import DataSpec, build_models, is_conditional

FORMAT = "gan-studio-checkpoint"
VERSION = 1
MAX_CHECKPOINT_BYTES = 1 << 30  # refuse files over 1 GiB (uploads, corrupt sizes)
PathLike = Union[str, os.PathLike]


class CheckpointError(ValueError):
    """A checkpoint could not be read: missing, truncated, not ours, unsafe, too big or non-finite."""


class NonFiniteError(CheckpointError):
    """A checkpoint would hold NaN/inf weights; it is never written."""


MAX_NETWORK_PARAMS = 64_000_000   # per network (G or D); the largest preset has ~4.5 M
MAX_HEADER_BYTES = 16 * 2**20     # safetensors JSON header
MAX_CONFIG_CHARS = 1 * 2**20      # embedded config / data spec JSON
_SAFETENSORS_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                       "BOOL": 1}


def _pickle_refusal(name: str) -> CheckpointError:
    return CheckpointError(
        f"{name} was refused: it contains pickled Python objects, which can run code when loaded. "
        "GAN Studio only reads plain tensors and numbers, so this file cannot be used here; "
        "do not load it elsewhere unless you trust whoever made it")


def nonfinite_tensors(state: dict[str, Any]) -> list[str]:
    """Names (``G.net.0.weight``, ``opt_d...``) of the tensors in a checkpoint state holding NaN or inf."""
    bad: list[str] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, torch.Tensor):
            if v.is_floating_point() and v.numel() and not bool(torch.isfinite(v).all()):
                bad.append(prefix)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}.{k}", x)
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(f"{prefix}.{i}", x)

    for key in ("G", "D", "G_ema", "opt_g", "opt_d"):
        if state.get(key) is not None:
            walk(key, state[key])
    return bad


def save_checkpoint(state: dict[str, Any], path: PathLike) -> Path:
    """Write a checkpoint dict atomically (adds the format marker).

    Raises :class:`NonFiniteError` (and writes nothing) when any weight or optimiser tensor is NaN/inf,
    so a diverged run can never overwrite a good checkpoint."""
    bad = nonfinite_tensors(state)
    if bad:
        raise NonFiniteError(f"not writing {Path(path).name}: {len(bad)} tensor(s) hold NaN/inf "
                             f"(e.g. {', '.join(bad[:3])})")
    state = {"format": FORMAT, "version": VERSION, **state}
    atomic_write_bytes(path, lambda f: torch.save(state, f))
    return Path(path)


def _parse_config(raw: Any, name: str) -> RunConfig:
    if not isinstance(raw, str):
        raise CheckpointError(f"{name} holds an invalid config: expected JSON text, got {type(raw).__name__}")
    if len(raw) > MAX_CONFIG_CHARS:
        raise CheckpointError(f"{name} holds an invalid config: {len(raw)} characters is too long")
    try:
        return check_config(RunConfig.from_json(raw))
    except ConfigError as e:
        raise CheckpointError(f"{name} holds an invalid config: {e}") from None
    except RecursionError:
        raise CheckpointError(f"{name} holds an invalid config: it is nested too deeply") from None


def _parse_spec(raw: Any, name: str) -> DataSpec:
    """A DataSpec from a dict (or JSON text), checked field by field."""
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{name} holds an invalid data_spec: {why}")

    if isinstance(raw, str):
        if len(raw) > MAX_CONFIG_CHARS:
            raise bad("too long")
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise bad(f"not valid JSON ({str(e)[:100]})") from None
    if not isinstance(raw, dict):
        raise bad(f"expected an object, got {type(raw).__name__}")
    try:
        spec = DataSpec.from_dict(raw)
    except KeyError as e:
        raise bad(f"missing {e}") from None
    except (TypeError, ValueError) as e:
        raise bad(str(e)[:200]) from None
    if spec.kind not in ("image", "points"):
        raise bad(f"kind must be 'image' or 'points', got {spec.kind!r}")
    if spec.kind == "image" and (spec.channels not in (1, 3) or spec.image_size not in (16, 32, 64)):
        raise bad(f"images must have 1 or 3 channels and 16, 32 or 64 px, got {spec.channels} x {spec.image_size}")
    if spec.kind == "points" and not (0 <= spec.channels <= 3 and 0 <= spec.image_size <= 64):
        raise bad(f"points have no image size, got {spec.channels} x {spec.image_size}")
    groups = spec.num_classes
    if len(groups) > 8 or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000 for n in groups):
        raise bad(f"num_classes must be up to 8 integers between 1 and 1000, got {list(groups)[:10]}")
    if len(spec.group_names) != len(groups) or not all(isinstance(g, str) for g in spec.group_names):
        raise bad("group_names must name each label group")
    if spec.class_names and (len(spec.class_names) != len(groups) or any(
            len(c) != n or not all(isinstance(x, str) for x in c) for c, n in zip(spec.class_names, groups))):
        raise bad("class_names must list a name for every class of every group")
    return spec


def expected_shapes(cfg: RunConfig, spec: DataSpec, name: str = "checkpoint"
                    ) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """State-dict shapes of (G, D) for a config, computed on the ``meta`` device (nothing allocated).

    Raises :class:`CheckpointError` when the config does not fit the data, or when a network would
    have more than :data:`MAX_NETWORK_PARAMS` parameters (a memory bomb)."""
    from gan_core.losses import get_loss

    try:
        with torch.device("meta"):
            g, d = build_models(cfg.model, spec, gradient_penalty=get_loss(cfg.loss.name).penalty is not None)
    except (ValueError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"{name} describes networks that cannot be built: {str(e).splitlines()[0][:200]}") from None
    for what, m in (("generator", g), ("discriminator", d)):
        n = sum(p.numel() for p in m.parameters())
        if n > MAX_NETWORK_PARAMS:
            raise CheckpointError(
                f"{name} was refused: its config asks for a {what} of {n / 1e6:,.0f} M parameters "
                f"(about {n * 4 / 2**30:,.1f} GiB); the limit is {MAX_NETWORK_PARAMS / 1e6:,.0f} M")
    shapes = tuple({k: tuple(v.shape) for k, v in m.state_dict().items()} for m in (g, d))
    return shapes[0], shapes[1]


def check_weights(weights: Any, expected: dict[str, tuple[int, ...]], name: str, what: str = "G") -> None:
    """``weights`` must be a dict of tensors (or of shapes) whose names and shapes are ``expected``."""
    if not isinstance(weights, dict):
        raise CheckpointError(f"{name}: '{what}' must be a dict of tensors, got {type(weights).__name__}")
    got: dict[str, tuple[int, ...]] = {}
    for k, v in weights.items():
        if not isinstance(k, str):
            raise CheckpointError(f"{name}: '{what}' has a non-text key {k!r:.50}")
        if isinstance(v, torch.Tensor):
            got[k.removeprefix("_orig_mod.")] = tuple(v.shape)
        elif isinstance(v, tuple) and all(isinstance(x, int) for x in v):
            got[k.removeprefix("_orig_mod.")] = v
        else:
            raise CheckpointError(f"{name}: '{what}.{k:.60}' is not a tensor ({type(v).__name__})")
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing or extra:
        parts = ([f"missing {', '.join(missing[:3])}"] if missing else []) + (
            [f"unexpected {', '.join(x[:60] for x in extra[:3])}"] if extra else [])
        raise CheckpointError(f"{name}: the '{what}' weights do not match its config ({'; '.join(parts)})")
    for k, shape in expected.items():
        if got[k] != shape:
            raise CheckpointError(f"{name}: '{what}.{k}' has shape {list(got[k])}, its config needs {list(shape)}")


def _is_safetensors(head: bytes) -> bool:
    """A safetensors file starts with a little-endian u64 header length and a JSON object."""
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], "little")
    return 2 <= n <= MAX_HEADER_BYTES and head[8:9] == b"{"


def safetensors_header(source: Union[PathLike, bytes], name: str) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """(metadata, tensor shapes) from a safetensors header, read and checked without loading any tensor:
    every tensor's offsets must lie inside the file and fit its dtype and shape."""
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{name} is not a readable safetensors file: {why}")

    if isinstance(source, (bytes, bytearray)):
        size, head = len(source), bytes(source[:8])
        read_header = lambda n: bytes(source[8:8 + n])  # noqa: E731
    else:
        size = os.path.getsize(source)
        with open(source, "rb") as f:
            head = f.read(8)
            n0 = int.from_bytes(head, "little") if len(head) == 8 else 0
            header_bytes = f.read(min(n0, MAX_HEADER_BYTES))
        read_header = lambda n: header_bytes  # noqa: E731
    if len(head) < 8:
        raise bad("it is shorter than a header")
    n = int.from_bytes(head, "little")
    if n > MAX_HEADER_BYTES or 8 + n > size:
        raise bad(f"its header claims {n} bytes")
    try:
        header = json.loads(read_header(n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise bad(f"its header is not valid JSON ({str(e)[:80]})") from None
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise bad("its metadata is not a string-to-string map")
    data_len = size - 8 - n
    shapes: dict[str, tuple[int, ...]] = {}
    for key, info in header.items():
        try:
            dtype, shape, (a, b) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
            ok = (dtype in _SAFETENSORS_DTYPES and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0
                                                        for x in (*shape, a, b)))
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise bad(f"tensor {key[:60]!r} has a malformed entry")
        numel = 1
        for x in shape:
            numel *= x
        if not a <= b <= data_len or b - a != numel * _SAFETENSORS_DTYPES[dtype]:
            raise bad(f"tensor {key[:60]!r} does not fit in the file")
        shapes[key] = shape
    return meta, shapes


def _generator_state_from_safetensors(source: Union[PathLike, bytes], name: str, load_tensors: bool = True
                                      ) -> dict[str, Any]:
    """A generator export as a checkpoint state holding G only (``generator_only``); the config, data
    spec, model size and every tensor shape are checked before any tensor is read."""
    meta, shapes = safetensors_header(source, name)
    if meta.get("format") != FORMAT + "-generator":
        why = "it has no metadata" if not meta else "its metadata is not GAN Studio's"
        raise CheckpointError(f"{name} is a safetensors file but not a GAN Studio generator export ({why})")
    for key in ("config", "data_spec"):
        if key not in meta:
            raise CheckpointError(f"{name} is missing '{key}' in its metadata")
    cfg = _parse_config(meta["config"], name)
    spec = _parse_spec(meta["data_spec"], name)
    try:
        step = int(meta.get("step", "0") or 0)
    except ValueError:
        raise CheckpointError(f"{name} has a step that is not a number: {meta.get('step')[:20]!r}") from None
    g_shapes, _ = expected_shapes(cfg, spec, name)
    check_weights(shapes, g_shapes, name)
    weights: dict[str, Any] = dict(shapes)
    if load_tensors:
        from safetensors.torch import load, load_file

        try:
            weights = load(bytes(source)) if isinstance(source, (bytes, bytearray)) else load_file(str(source))
        except Exception as e:  # safetensors raises its own error types
            raise CheckpointError(f"{name} is not a readable safetensors file: {str(e)[:200]}") from None
    return {"format": FORMAT, "version": VERSION, "config": meta["config"], "data_spec": spec.to_dict(),
            "step": step, "G": weights, "run_config": cfg, "generator_only": True}


def load_checkpoint(source: Union[PathLike, bytes, BinaryIO], map_location: Any = "cpu",
                    load_tensors: bool = True, name: Optional[str] = None) -> dict[str, Any]:
    """Load and validate a checkpoint (``.pt``) or generator export (``.safetensors``) from a path,
    bytes or a binary file object.

    Only tensors and plain containers are accepted (``weights_only=True``): a checkpoint holding
    pickled objects or code is refused before anything in it runs. The embedded config is validated
    like a ``RunConfig``, the networks' size is estimated without allocating them (memory bombs are
    refused) and the generator's weights must match that config. A safetensors export gives a state
    with ``G`` only and ``generator_only=True`` (``load_tensors=False``: its tensor shapes, nothing read).
    Every problem raises :class:`CheckpointError` with a one-line message that starts with ``name`` (default:
    the path, or "checkpoint" for bytes and file objects).
    """
    name = name or (str(source) if isinstance(source, (str, os.PathLike)) else "checkpoint")
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.is_file():
            raise CheckpointError(f"checkpoint {name} does not exist")
        if p.stat().st_size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{name} is larger than {MAX_CHECKPOINT_BYTES >> 20} MiB; refusing to load it")
        try:
            with open(p, "rb") as f:
                head = f.read(9)
        except OSError as e:
            raise CheckpointError(f"{name} cannot be read: {e.strerror or e}") from None
        if p.suffix == ".safetensors" or _is_safetensors(head):
            return _generator_state_from_safetensors(p, name, load_tensors)
        fobj: BinaryIO = open(p, "rb")
    elif isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{name} is larger than {MAX_CHECKPOINT_BYTES >> 20} MiB; refusing to load it")
        if _is_safetensors(bytes(source[:9])):
            return _generator_state_from_safetensors(source, name, load_tensors)
        fobj = io.BytesIO(source)
    else:
        fobj = source
    try:
        with fobj:
            state = torch.load(fobj, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise _pickle_refusal(name) from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, OSError, ValueError, TypeError, KeyError,
            IndexError, AttributeError, RecursionError, MemoryError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0][:200]
        if "weights_only" in first.lower() or "unpickl" in first.lower():
            raise _pickle_refusal(name) from None
        raise CheckpointError(f"{name} is not a readable checkpoint (truncated or not a torch file): {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{name} is a torch file but not a GAN Studio checkpoint")
    version = state.get("version", 0)
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(f"{name} was written by a newer GAN Studio (format {str(version)[:20]})")
    for key in ("config", "data_spec", "step", "G"):
        if key not in state:
            raise CheckpointError(f"{name} is missing '{key}'")
    if isinstance(state["step"], bool) or not isinstance(state["step"], int) or state["step"] < 0:
        raise CheckpointError(f"{name} has an invalid step: {str(state['step'])[:20]}")
    state["run_config"] = _parse_config(state["config"], name)
    spec = _parse_spec(state["data_spec"], name)
    state["data_spec"] = spec.to_dict()
    g_shapes, d_shapes = expected_shapes(state["run_config"], spec, name)
    check_weights(state["G"], g_shapes, name, "G")
    if state.get("G_ema") is not None:
        check_weights(state["G_ema"], g_shapes, name, "G_ema")
    if state.get("D") is not None:
        check_weights(state["D"], d_shapes, name, "D")
    return state


def _strip_compile_prefix(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("_orig_mod."): v for k, v in sd.items()}


def generator_from_state(state: dict[str, Any], device: Union[str, torch.device] = "cpu",
                         use_ema: bool = True) -> tuple[nn.Module, RunConfig, DataSpec]:
    """Rebuild G (eval mode) from a loaded checkpoint; the EMA weights when present and asked for.

    The config, data spec, model size and weight shapes are checked before G is built."""
    cfg = state.get("run_config") or _parse_config(state.get("config"), "checkpoint")
    spec = _parse_spec(state.get("data_spec"), "checkpoint")
    g_shapes, _ = expected_shapes(cfg, spec)
    weights = state.get("G_ema") if use_ema and state.get("G_ema") is not None else state.get("G")
    check_weights(weights, g_shapes, "checkpoint")
    device = resolve_device(device)
    from gan_core.losses import get_loss

    g, _ = build_models(cfg.model, spec, gradient_penalty=get_loss(cfg.loss.name).penalty is not None)
    try:
        g.load_state_dict(_strip_compile_prefix(weights))
    except RuntimeError as e:
        raise CheckpointError(f"generator weights do not match the config in the checkpoint: {e}") from None
    return g.to(device).eval(), cfg, spec


def resolve_device(device: Union[str, torch.device]) -> torch.device:
    """A torch device for sampling; :class:`CheckpointError` (one line) for unknown or absent devices."""
    from gan_core.train.control import resolve_device as resolve

    try:
        return resolve(device)
    except ValueError as e:
        raise CheckpointError(str(e).replace("'auto'", "--device auto")) from None


def load_generator(path: PathLike, device: Union[str, torch.device] = "cpu",
                   use_ema: bool = True) -> tuple[nn.Module, RunConfig, DataSpec]:
    """Load G from a ``.pt`` checkpoint or a ``.safetensors`` export."""
    resolve_device(device)  # before reading anything
    return generator_from_state(load_checkpoint(path), device, use_ema)


def export_generator(state: dict[str, Any], path: PathLike, use_ema: bool = True) -> Path:
    """Export G weights to safetensors; config and data spec go in the metadata. Non-finite weights
    raise :class:`NonFiniteError` and nothing is written; OS errors raise ``fileio.WriteError``."""
    from safetensors.torch import save

    weights = state.get("G_ema") if use_ema and state.get("G_ema") is not None else state["G"]
    bad = nonfinite_tensors({"G": weights})
    if bad:
        raise NonFiniteError(f"not exporting to {Path(path).name}: the generator holds NaN/inf in "
                             f"{len(bad)} tensor(s) (e.g. {bad[0]}); it comes from a diverged run")
    weights = {k: v.contiguous() for k, v in _strip_compile_prefix(weights).items()}
    meta = {"format": FORMAT + "-generator", "config": state["config"],
            "data_spec": json.dumps(state["data_spec"]), "step": str(state["step"])}
    blob = save(weights, metadata=meta)
    atomic_write_bytes(path, lambda f: f.write(blob))
    return Path(path)


def read_safetensors(path: PathLike, error: type[Exception] = CheckpointError) -> tuple[dict[str, str], dict]:
    """(metadata, tensors) of a safetensors file; ``error`` with a clear message if it is not one."""
    from safetensors.torch import load_file

    try:
        meta, _ = safetensors_header(path, str(path))
        return meta, load_file(str(path))
    except CheckpointError as e:
        raise error(str(e)) from None
    except Exception as e:  # safetensors raises its own error types
        raise error(f"{path} is not a readable safetensors file: {e}") from None


def load_generator_safetensors(path: PathLike, device: Union[str, torch.device] = "cpu"):
    return generator_from_state(_generator_state_from_safetensors(path, str(path)), device, use_ema=False)


def checkpoint_summary(state: dict[str, Any]) -> dict[str, Any]:
    """A short, JSON-able description for UIs and the CLI."""
    cfg: RunConfig = state.get("run_config") or _parse_config(state.get("config"), "checkpoint")
    spec = _parse_spec(state.get("data_spec"), "checkpoint")
    return {
        "step": int(state["step"]), "dataset": cfg.data.dataset, "arch": cfg.model.arch,
        "loss": cfg.loss.name, "image_size": spec.image_size, "channels": spec.channels,
        "conditional": is_conditional(cfg.model.arch),
        "label_groups": list(spec.group_names), "ema": state.get("G_ema") is not None,
        "elapsed_s": float(state.get("elapsed", 0.0) or 0.0),
        "world_size": cfg.train.world_size,   # processes that trained it (torchrun); global batch = batch x this
        "global_batch": cfg.train.batch_size * cfg.train.world_size,
        "kind": "generator export (safetensors)" if state.get("generator_only") else "training checkpoint (.pt)",
    }


# ---- a trainer's full state (last.pt, step_*.pt) ----------------------------------------------------
def trainer_state(tr: Any) -> dict[str, Any]:
    """Everything a gan_core.train.trainer.Trainer needs to go on bit for bit: the checkpoint's contents."""
    rng: dict[str, Any] = {"torch": torch.get_rng_state(), "gen": tr.gen.get_state()}
    if tr.dev_gen is not tr.gen:
        rng["dev_gen"] = tr.dev_gen.get_state()
    if tr.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(tr.device)
    return {
        "config": tr.cfg.to_json(), "data_spec": tr.spec.to_dict(), "step": tr.step,
        "elapsed": tr.elapsed, "G": tr.G.state_dict(), "D": tr.D.state_dict(),
        "G_ema": tr.G_ema.state_dict() if tr.G_ema is not None else None,
        "opt_g": tr.opt_g.state_dict(), "opt_d": tr.opt_d.state_dict(),
        "scaler": tr.scaler.state_dict() if tr.scaler is not None else None,
        # the steered learning rates: train.lr_decay's factor is worked out again from the step on resume
        "n_critic": tr.n_critic, "lr_g": _base_lr(tr, "g"), "lr_d": _base_lr(tr, "d"),
        "rng": rng, "fixed_z": tr.fixed_z, "precision": tr.speed.chosen.label,
        "fixed_labels": tr.fixed_labels,
    }


def restore_trainer(tr: Any, state: dict[str, Any]) -> None:
    """Put a checkpoint's state (``trainer_state``) back into a set-up trainer."""
    tr.G.load_state_dict(state["G"])
    tr.D.load_state_dict(state["D"])
    if tr.G_ema is not None and state.get("G_ema") is not None:
        tr.G_ema.load_state_dict(state["G_ema"])
    tr.opt_g.load_state_dict(state["opt_g"])
    tr.opt_d.load_state_dict(state["opt_d"])
    if tr.scaler is not None and state.get("scaler"):
        tr.scaler.load_state_dict(state["scaler"])
    tr.step, tr.elapsed = int(state["step"]), float(state.get("elapsed", 0.0))
    tr.n_critic = int(state.get("n_critic", tr.n_critic))
    set_lr(tr.opt_g, float(state.get("lr_g", lr_of(tr.opt_g))))
    set_lr(tr.opt_d, float(state.get("lr_d", lr_of(tr.opt_d))))
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    tr.gen.set_state(rng["gen"])
    if "dev_gen" in rng and tr.dev_gen is not tr.gen:
        tr.dev_gen.set_state(rng["dev_gen"])
    if "cuda" in rng and tr.device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], tr.device)
    tr.fixed_z = state["fixed_z"]
    tr.fixed_labels = state.get("fixed_labels")


def _base_lr(tr: Any, net: str) -> float:
    """The trainer's lr before train.lr_decay's factor (its optimiser's lr when it keeps none)."""
    base = getattr(tr, "lr_base", None)
    return float(base[net]) if base else lr_of(tr.opt_g if net == "g" else tr.opt_d)


def lr_of(opt: torch.optim.Optimizer) -> float:
    return float(opt.param_groups[0]["lr"])


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr

"""Command line: ``python -m gan_core train|sample|export|info|evaluate|stylize|translate``.

* ``train``: train a GAN (flags generated from the config's metadata); ``sample``: images from a checkpoint;
  ``export``: the generator to safetensors; ``info``: describe a checkpoint; ``evaluate``: judge a generator.
* ``stylize`` (Gatys style transfer) and ``translate`` (pix2pix: an edge image or a photo's edges to a
  picture) live in :mod:`gan_core.cli_images`.

The only modules of gan_core that talk to a terminal (argparse, tqdm, stderr messages) are this one and
gan_core.cli_images; everything they do goes through the library API.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from .checks import check_config
from .config import ConfigError, RunConfig, all_fields
from .arguments import cli_type
from .recipes import PRESETS, apply_preset, recipe_for

from .cli_common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, IMAGE_FORMATS as _IMAGE_FORMATS, err as _err  # noqa: F401

def _config_flags() -> dict[str, tuple[str, str]]:
    """``--lr-g`` style flags of ``train``, from the config fields' metadata: flag -> (section, field)."""
    return {f.metadata["flag"]: tuple(key.split(".", 1)) for key, f in all_fields() if f.metadata["flag"]}


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config field that declares one (gan_core.config.setting(..., flag=...)): its type,
    and its label and help as the flag's help. Every other field is reachable with ``--set``."""
    for key, f in all_fields():
        md = f.metadata
        if not md["flag"]:
            continue
        text = (md["label"] + (f": {md['help']}" if md["help"] else "") + f" [{key}]").replace("%", "%%")
        opt = "--" + md["flag"].replace("_", "-")
        if isinstance(f.default, bool):
            parser.add_argument(opt, dest=md["flag"], action="store_true", default=None, help=text)
        else:
            typ = int if isinstance(f.default, int) else float if isinstance(f.default, float) else str
            parser.add_argument(opt, dest=md["flag"], type=typ, help=text)


def _parse_set(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--set loss.real_label=0.9`` -> {"loss": {"real_label": 0.9}} (values parsed as JSON when possible)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError("--set", f"expects section.field=value, got {item!r}")
        key, raw = item.split("=", 1)
        sec, fld = key.split(".", 1)
        try:
            val = json.loads(raw)
        except json.JSONDecodeError:
            val = raw
        out.setdefault(sec, {})[fld] = val
    return out


def build_config(args: argparse.Namespace) -> RunConfig:
    """Config from --config (JSON file), then the loss's recommended settings, then explicit flags."""
    if args.config:
        try:
            cfg = RunConfig.from_json(Path(args.config).read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError("--config", f"cannot be read: {e.strerror or e}") from None
        except UnicodeDecodeError:
            raise ConfigError("--config", "is not UTF-8 text") from None
        except RecursionError:
            raise ConfigError("--config", "is nested too deeply to be a config") from None
    else:
        cfg = RunConfig()
    if args.dataset:  # the recipe and the preset depend on it
        cfg = cfg.replace(data={"dataset": args.dataset})
    recipe = args.arch is None and not args.config  # no architecture given: the recommended recipe
    if args.preset is not None:
        cfg = apply_preset(cfg, args.preset, _tagged(args), with_recipe=recipe)
    elif recipe:
        cfg = cfg.replace(**recipe_for(cfg.data.dataset, _tagged(args)))
    sections: dict[str, dict[str, Any]] = {}
    for flag, (sec, fld) in _config_flags().items():
        v = getattr(args, flag, None)
        if v is not None:
            sections.setdefault(sec, {})[fld] = v
    if args.preset is not None and args.steps is not None and args.seconds is None:  # steps replace the budget
        sections.setdefault("train", {})["seconds"] = 0.0
    if args.seconds is not None and args.steps is None:  # "--seconds 60" alone means: train for 60 s
        sections.setdefault("train", {})["steps"] = 0
    loss_name = sections.get("loss", {}).get("name", cfg.loss.name)
    from .losses import LOSSES

    if loss_name in LOSSES:  # the paper's optimiser settings, unless given explicitly
        rec = {k: v for k, v in LOSSES[loss_name].recommended.items() if k not in sections.get("train", {})}
        if rec:
            cfg = cfg.replace(train=rec)
    for sec, vals in _parse_set(args.set or []).items():
        sections.setdefault(sec, {}).update(vals)
    return check_config(cfg.replace(**sections))


def _tagged(args: argparse.Namespace) -> Optional[bool]:
    """Whether the data has tags, as far as the command line tells (a folder: only with a tags CSV; a
    Hugging Face dataset: only with label columns)."""
    if args.dataset == "folder":
        return bool(args.tags_csv)
    if args.dataset == "hf":
        sets = _parse_set(args.set or []).get("data", {})
        return bool(str(sets.get("hf_label_columns", "")).strip())
    return None


# what a resumed run takes from the command line; everything else comes from its checkpoint
_RESUME_FLAGS = ("steps", "seconds", "log_every", "sample_every", "checkpoint_every", "device")
_RESUME_FIELDS = _RESUME_FLAGS + ("keep_checkpoints",)


def _check_resume(args: argparse.Namespace) -> None:
    """Refuse what ``--resume`` would silently ignore (a data, model or loss setting that differs from the
    checkpoint's) and files that cannot be resumed; warn about non-finite weights."""
    from .checkpoint import CheckpointError, load_checkpoint, nonfinite_tensors

    try:
        state = load_checkpoint(args.resume)
    except CheckpointError as e:
        raise ValueError(str(e)) from None
    if state.get("generator_only"):
        raise ValueError(f"{args.resume} is a generator export: it has no discriminator or optimiser state, "
                         "so training cannot resume from it; resume from a run's last.pt or step_*.pt")
    saved = state["run_config"].to_dict()
    given: list[tuple[str, str, str, Any]] = []  # (how it was given, section, field, value)
    if args.config:
        try:
            conf = RunConfig.from_json(Path(args.config).read_text(encoding="utf-8")).to_dict()
        except (OSError, UnicodeDecodeError, RecursionError) as e:
            raise ConfigError("--config", f"cannot be read: {e}") from None
        given += [("--config", sec, f, v) for sec, vals in conf.items() for f, v in vals.items()
                  if v != getattr(RunConfig(), sec).__dict__[f]]
    given += [(f"--{flag.replace('_', '-')}", sec, fld, getattr(args, flag)) for flag, (sec, fld) in _config_flags().items()
              if getattr(args, flag, None) is not None]
    given += [(f"--set {sec}.{fld}", sec, fld, v) for sec, vals in _parse_set(args.set or []).items()
              for fld, v in vals.items()]
    changed = []
    for how, sec, fld, v in given:
        if sec == "train" and fld in _RESUME_FIELDS:
            continue
        if sec not in saved or fld not in saved[sec]:
            raise ConfigError(f"{sec}.{fld}", "is not a known field")
        old = saved[sec][fld]
        same = v == old or (isinstance(old, float) and isinstance(v, (int, float)) and float(v) == old)
        if not same:
            changed.append(f"{how} {v!r} (the checkpoint has {old!r})")
    if changed:
        raise ValueError(f"--resume continues with the checkpoint's data, model and loss, so {'; '.join(changed[:4])} "
                         "cannot be changed; only --steps, --seconds, --device and the logging / sampling / "
                         "checkpoint intervals can (start a new run to change the rest)")
    bad = nonfinite_tensors(state)
    if bad:
        sys.stderr.write(f"warning: {args.resume} holds NaN/inf values in {len(bad)} tensor(s) (e.g. {bad[0]}); "
                         "training from it will diverge at once\n")


def cmd_train(args: argparse.Namespace) -> int:
    from . import distributed
    from .trainer import Trainer

    try:
        if args.resume:
            _check_resume(args)
        cfg = build_config(args)
        dist = distributed.from_env(cfg.train.device)   # under torchrun: this process's rank (else None)
        trainer = Trainer(cfg, args.out, resume=args.resume, dist=dist)
    except (ConfigError, ValueError) as e:
        _err(str(e))
        return EXIT_USAGE
    try:
        if dist is not None and not dist.is_main:   # rank 0 reports for the run
            return max((_error_code(ev) for ev in trainer.run()), default=EXIT_OK)
        return _train_bar(trainer, args)
    finally:
        distributed.shutdown()


def _error_code(ev: Any) -> int:
    from .events import ErrorEvent

    if not isinstance(ev, ErrorEvent):
        return EXIT_OK
    return EXIT_USAGE if ev.error in ("data", "config") else EXIT_FAIL


def _train_bar(trainer: Any, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    tc = trainer.cfg.train
    by_time = not tc.steps and bool(tc.seconds)  # "--seconds N" alone: the bar counts seconds
    if by_time:
        bar = tqdm(total=int(tc.seconds), unit="s", dynamic_ncols=True, disable=args.quiet, file=sys.stderr,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]")
    else:
        bar = tqdm(total=tc.steps or None, unit="step", dynamic_ncols=True, disable=args.quiet, file=sys.stderr)
    try:
        return _train_loop(trainer, bar, by_time, args)
    except OSError as e:  # e.g. a checkpoint that cannot be written (disk full, read-only folder)
        bar.close()
        _err(str(e))
        return EXIT_USAGE


def _train_loop(trainer: Any, bar: Any, by_time: bool, args: argparse.Namespace) -> int:
    from .events import CheckpointEvent, DoneEvent, ErrorEvent, StartEvent, StatusEvent, StepEvent

    code = EXIT_OK
    for ev in trainer.run():
        if isinstance(ev, StatusEvent):
            bar.set_description(ev.status)
        elif isinstance(ev, StartEvent):
            bar.n = 0 if by_time else ev.start_step
            bar.set_description("training")
            bar.write(f"device {ev.device} | {ev.dataset_size} training items | G {ev.params_g:,} params, "
                      f"D {ev.params_d:,} params | run dir {ev.run_dir}" +
                      (f" | resumed at step {ev.start_step}" if ev.start_step else ""))
            for n in ev.notes:
                bar.write(f"note: {n}", file=sys.stderr)
        elif isinstance(ev, StepEvent):
            bar.n = min(int(ev.elapsed), bar.total) if by_time else ev.step
            bar.set_postfix(step=ev.step, D=f"{ev.d_loss:.3f}", G=f"{ev.g_loss:.3f}", img_s=f"{ev.img_per_s:.0f}", refresh=False)
            bar.refresh()
        elif isinstance(ev, CheckpointEvent) and args.verbose:
            bar.write(f"checkpoint: {ev.path} (step {ev.step})", file=sys.stderr)
        elif isinstance(ev, ErrorEvent):
            bar.write(f"error: {ev.message}", file=sys.stderr)
            code = _error_code(ev)  # bad input: like other input errors
        elif isinstance(ev, DoneEvent):
            bar.close()
            if ev.reason != "error":
                sys.stdout.write(f"done: {ev.step} steps ({ev.reason}); checkpoint {ev.last_checkpoint}\n")
    return code


def _parse_tags_arg(tags: str, spec) -> Any:
    import torch

    if not spec.num_classes:
        raise ValueError("this generator is unconditional: --tags cannot be used")
    from .tags import parse_tags_for

    return torch.tensor(parse_tags_for(zip(spec.group_names, spec.class_names), tags))


def _warn_nonfinite(path: str, state: dict, keys: Sequence[str] = ("G", "G_ema", "D", "opt_g", "opt_d")) -> int:
    from .checkpoint import nonfinite_tensors

    bad = nonfinite_tensors({k: state.get(k) for k in keys})
    if bad:
        sys.stderr.write(f"warning: {path} holds NaN/inf values in {len(bad)} tensor(s) (e.g. {bad[0]}); "
                         "it comes from a diverged run\n")
    return len(bad)


def cmd_sample(args: argparse.Namespace) -> int:
    import io

    import numpy as np
    from PIL import Image
    from tqdm import tqdm

    from . import latent
    from .checkpoint import CheckpointError, generator_from_state, load_checkpoint, resolve_device
    from .data.images import make_grid_uint8, scatter_image
    from .fileio import atomic_write_bytes

    if args.n < 1 or args.n > 100_000:
        _err("--n must be between 1 and 100000")
        return EXIT_USAGE
    fmt = None
    if args.out:
        fmt = _IMAGE_FORMATS.get(Path(args.out).suffix.lower())
        if fmt is None:
            _err(f"--out {args.out}: the file name must end in {', '.join(_IMAGE_FORMATS)} (the image format)")
            return EXIT_USAGE
    if args.npy and not args.npy.endswith(".npy"):
        _err(f"--npy {args.npy}: the file name must end in .npy")
        return EXIT_USAGE
    try:
        resolve_device(args.device)
        state = load_checkpoint(args.checkpoint)
        use_ema = not args.no_ema and state.get("G_ema") is not None
        _warn_nonfinite(args.checkpoint, state, ("G_ema",) if use_ema else ("G",))
        G, cfg, spec = generator_from_state(state, device=args.device, use_ema=not args.no_ema)
        del state
        if getattr(G, "takes_image", False):
            raise ValueError(f"{args.checkpoint} holds a pix2pix generator, which turns edge images into pictures "
                             "and draws nothing from z: use `python -m gan_core translate`")
        labels = None
        if args.tags:
            if not G.num_classes:  # trained on tagged data without a conditional arch
                raise ValueError("this generator is unconditional: --tags cannot be used")
            labels = _parse_tags_arg(args.tags, spec).repeat(args.n, 1)
    except (CheckpointError, ValueError) as e:
        _err(str(e))
        return EXIT_USAGE
    with tqdm(total=args.n, desc="sampling", unit="img", disable=args.quiet, file=sys.stderr) as bar:
        x = latent.sample(G, args.n, seed=args.seed, labels=labels,
                          progress=lambda done, total: bar.update(done - bar.n)).images
    try:
        if args.out:
            img = scatter_image(x.numpy()) if spec.kind == "points" else make_grid_uint8(x, nrow=args.nrow)
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
            atomic_write_bytes(args.out, lambda f: f.write(buf.getvalue()))
        if args.npy:
            atomic_write_bytes(args.npy, lambda f: np.save(f, x.numpy()))
    except OSError as e:  # fileio.WriteError: one line (read-only folder, a file in the path, disk full)
        _err(str(e))
        return EXIT_USAGE
    sys.stdout.write(f"wrote {args.n} samples" + (f" grid {args.out}" if args.out else "") +
                     (f" array {args.npy}" if args.npy else "") + "\n")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from .checkpoint import CheckpointError, export_generator, load_checkpoint

    try:
        state = load_checkpoint(args.checkpoint)
        path = export_generator(state, args.out, use_ema=not args.no_ema)
    except (CheckpointError, OSError) as e:  # NonFiniteError, WriteError included
        _err(str(e))
        return EXIT_USAGE
    sys.stdout.write(f"exported generator to {path}\n")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from .checkpoint import CheckpointError, checkpoint_summary, load_checkpoint

    try:
        state = load_checkpoint(args.checkpoint)
    except CheckpointError as e:
        _err(str(e))
        return EXIT_USAGE
    summary = checkpoint_summary(state)
    summary["nonfinite_tensors"] = _warn_nonfinite(args.checkpoint, state)
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Judge a generator with the project's classifier: tag accuracy, same-tag diversity, precision /
    recall / density / coverage and FID, each with its sample sizes."""
    from . import latent
    from .checkpoint import CheckpointError, load_generator
    from .classifiers import ClassifierUnavailable
    from .data import DataError
    from . import metrics as M

    if not 8 <= args.n <= 100_000:
        _err(f"--n must be between 8 and 100000, got {args.n}")
        return EXIT_USAGE
    try:
        G, cfg, spec = load_generator(args.checkpoint)
        data = cfg.data if args.cache_dir is None else dataclasses.replace(cfg.data, cache_dir=args.cache_dir)
        if getattr(G, "takes_image", False):   # pix2pix: L1 and FID on the held-out pairs of its data
            from .data import load_dataset

            ext = M.load_classifier("faces") if cfg.data.dataset == "faces-edges" else None
            row = M.evaluate_translator(G, M.paired_reference(load_dataset(data), ext, args.n), ext, args.seed)
            sys.stdout.write(json.dumps({k: v for k, v in row.items() if k != "label"}, indent=2) + "\n")
            sys.stderr.write(row["label"] + "\n")
            return EXIT_OK
        ext, ref = M.classifier_reference(data, args.n, args.seed, spec)
    except (CheckpointError, ClassifierUnavailable, DataError, ConfigError, ValueError) as e:
        _err(str(e))
        return EXIT_USAGE
    row = M.evaluate_generator(G, spec, ext, ref, args.n, latent.rng(args.seed, latent.EVAL_SEED_OFFSET), seed=args.seed)
    sys.stdout.write(json.dumps(M.judged_fields(row), indent=2) + "\n")
    sys.stderr.write(row["label"] + "\n")
    ratio = row.get("diversity_ratio")
    if ratio is not None and ratio < M.ModeCollapseMonitor().min_tag_ratio:
        sys.stderr.write(f"warning: samples with the same tags differ only {ratio:.2f} times as much as real "
                         "ones: this generator ignores z\n")
    return EXIT_OK


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gan_core", description="GAN Studio command line")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN")
    t.add_argument("--config", help="JSON config file (fields not given keep defaults)")
    t.add_argument("--out", required=True, help="run directory (checkpoints, samples, metrics.jsonl)")
    t.add_argument("--resume", help="checkpoint to resume from (e.g. runs/x/last.pt)")
    t.add_argument("--preset", help="a time budget and size: " + ", ".join(PRESETS) +
                   " (with no --arch, tagged data also gets the recommended tag-conditional recipe)")
    _add_config_flags(t)
    t.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE", help="any other config field")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--verbose", action="store_true")
    t.set_defaults(fn=cmd_train)

    s = sub.add_parser("sample", help="sample images from a checkpoint")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--seed", type=cli_type("seed"), default=0)
    s.add_argument("--tags", help='e.g. "blue hair,red eyes" (conditional models)')
    s.add_argument("--out", help="PNG grid")
    s.add_argument("--npy", help="raw samples as a .npy array (N, C, H, W) in [-1, 1]")
    s.add_argument("--nrow", type=int, default=8)
    s.add_argument("--device", default="cpu")
    s.add_argument("--no-ema", action="store_true", help="use raw G weights even when EMA weights exist")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_sample)

    e = sub.add_parser("export", help="export the generator to safetensors")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--no-ema", action="store_true")
    e.set_defaults(fn=cmd_export)

    i = sub.add_parser("info", help="describe a checkpoint")
    i.add_argument("--checkpoint", required=True)
    i.set_defaults(fn=cmd_info)

    v = sub.add_parser("evaluate", help="judge a generator: tag accuracy, same-tag diversity, precision/recall, FID")
    v.add_argument("--checkpoint", required=True)
    v.add_argument("--n", type=int, default=1000, help="generated and real samples (default 1000)")
    v.add_argument("--seed", type=cli_type("seed"), default=0)
    v.add_argument("--cache-dir", help="dataset cache folder (default: the one in the checkpoint's config)")
    v.set_defaults(fn=cmd_evaluate)

    from .cli_images import add_image_commands   # stylize, translate

    add_image_commands(sub)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = make_parser().parse_args(argv)
    if args.command == "sample" and not (args.out or args.npy):
        _err("give --out (PNG grid) and/or --npy")
        return EXIT_USAGE
    return args.fn(args)

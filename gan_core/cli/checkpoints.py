"""The checkpoint commands: ``sample`` (images from a generator), ``export`` (the generator to
safetensors), ``info`` (describe a checkpoint) and ``evaluate`` (judge a generator)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from gan_core.config import ConfigError
from gan_core.config.arguments import cli_type
from gan_core.cli.common import EXIT_OK, EXIT_USAGE, IMAGE_FORMATS as _IMAGE_FORMATS, err as _err


def _parse_tags_arg(tags: str, spec) -> Any:
    import torch

    if not spec.num_classes:
        raise ValueError("this generator is unconditional: --tags cannot be used")
    from gan_core.data.tags import parse_tags_for

    return torch.tensor(parse_tags_for(zip(spec.group_names, spec.class_names), tags))


def _warn_nonfinite(path: str, state: dict, keys: Sequence[str] = ("G", "G_ema", "D", "opt_g", "opt_d")) -> int:
    from gan_core.storage.checkpoint import nonfinite_tensors

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

    from gan_core.models import latent
    from gan_core.storage.checkpoint import CheckpointError, generator_from_state, load_checkpoint, resolve_device
    from gan_core.data.images import make_grid_uint8, scatter_image
    from gan_core.storage.fileio import atomic_write_bytes

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
    from gan_core.storage.checkpoint import CheckpointError, export_generator, load_checkpoint

    try:
        state = load_checkpoint(args.checkpoint)
        path = export_generator(state, args.out, use_ema=not args.no_ema)
    except (CheckpointError, OSError) as e:  # NonFiniteError, WriteError included
        _err(str(e))
        return EXIT_USAGE
    sys.stdout.write(f"exported generator to {path}\n")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from gan_core.storage.checkpoint import CheckpointError, checkpoint_summary, load_checkpoint

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
    from gan_core.models import latent
    from gan_core.storage.checkpoint import CheckpointError, load_generator
    from gan_core.metrics.classifiers import ClassifierUnavailable
    from gan_core.data import DataError
    from gan_core import metrics as M

    if not 8 <= args.n <= 100_000:
        _err(f"--n must be between 8 and 100000, got {args.n}")
        return EXIT_USAGE
    try:
        G, cfg, spec = load_generator(args.checkpoint)
        data = cfg.data if args.cache_dir is None else dataclasses.replace(cfg.data, cache_dir=args.cache_dir)
        if getattr(G, "takes_image", False):   # pix2pix: L1 and FID on the held-out pairs of its data
            from gan_core.data import load_dataset

            from gan_core.metrics.classifiers import classifier_for

            name = classifier_for(cfg.data.dataset)   # the shipped classifier of the data (faces-edges: faces)
            ext = M.load_classifier(name) if name else None
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


def add_checkpoint_commands(sub: Any) -> None:
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

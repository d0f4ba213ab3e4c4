"""Command line: ``python -m gan_core train|sample|export|info``.

The only module of gan_core that talks to a terminal (argparse, tqdm, stderr messages); everything it
does goes through the library API.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from .config import ConfigError, RunConfig

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

# flag -> (section, field)
_TRAIN_FLAGS: dict[str, tuple[str, str]] = {
    "dataset": ("data", "dataset"), "image_size": ("data", "image_size"), "data_path": ("data", "path"),
    "tags_csv": ("data", "tags_csv"), "num_samples": ("data", "num_samples"), "flip": ("data", "augment_flip"),
    "rotate": ("data", "augment_rotate"), "arch": ("model", "arch"), "z_dim": ("model", "z_dim"),
    "g_width": ("model", "g_width"), "d_width": ("model", "d_width"), "spectral_norm": ("model", "spectral_norm"),
    "g_dropout": ("model", "g_dropout"), "loss": ("loss", "name"), "steps": ("train", "steps"),
    "seconds": ("train", "seconds"), "batch_size": ("train", "batch_size"), "lr_g": ("train", "lr_g"),
    "lr_d": ("train", "lr_d"), "n_critic": ("train", "n_critic"), "ema": ("train", "ema_decay"),
    "seed": ("train", "seed"), "device": ("train", "device"), "optimizer": ("train", "optimizer"),
    "sample_every": ("train", "sample_every"), "checkpoint_every": ("train", "checkpoint_every"),
    "log_every": ("train", "log_every"),
}


def _err(msg: str) -> None:
    sys.stderr.write(f"error: {msg}\n")


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
            cfg = RunConfig.from_json(Path(args.config).read_text())
        except OSError as e:
            raise ConfigError("--config", f"cannot be read: {e}") from None
    else:
        cfg = RunConfig()
    sections: dict[str, dict[str, Any]] = {}
    for flag, (sec, fld) in _TRAIN_FLAGS.items():
        v = getattr(args, flag, None)
        if v is not None:
            sections.setdefault(sec, {})[fld] = v
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
    return cfg.replace(**sections).validate()


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .events import CheckpointEvent, DoneEvent, ErrorEvent, StartEvent, StatusEvent, StepEvent
    from .trainer import Trainer

    try:
        cfg = build_config(args)
        trainer = Trainer(cfg, args.out, resume=args.resume)
    except (ConfigError, ValueError) as e:
        _err(str(e))
        return EXIT_USAGE
    tc = trainer.cfg.train
    by_time = not tc.steps and bool(tc.seconds)  # "--seconds N" alone: the bar counts seconds
    if by_time:
        bar = tqdm(total=int(tc.seconds), unit="s", dynamic_ncols=True, disable=args.quiet, file=sys.stderr,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]")
    else:
        bar = tqdm(total=tc.steps or None, unit="step", dynamic_ncols=True, disable=args.quiet, file=sys.stderr)
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
                bar.write(f"note: {n}")
        elif isinstance(ev, StepEvent):
            bar.n = min(int(ev.elapsed), bar.total) if by_time else ev.step
            bar.set_postfix(step=ev.step, D=f"{ev.d_loss:.3f}", G=f"{ev.g_loss:.3f}", img_s=f"{ev.img_per_s:.0f}", refresh=False)
            bar.refresh()
        elif isinstance(ev, CheckpointEvent) and args.verbose:
            bar.write(f"checkpoint: {ev.path} (step {ev.step})")
        elif isinstance(ev, ErrorEvent):
            bar.write(f"error: {ev.message}")
            code = EXIT_FAIL
        elif isinstance(ev, DoneEvent):
            bar.close()
            if ev.reason != "error":
                sys.stdout.write(f"done: {ev.step} steps ({ev.reason}); checkpoint {ev.last_checkpoint}\n")
    return code


def _parse_tags_arg(tags: str, spec) -> Any:
    import torch

    if not spec.num_classes:
        raise ValueError("this generator is unconditional: --tags cannot be used")
    if spec.group_names == ("hair", "eye"):
        from .tags import parse_tags

        return torch.tensor(parse_tags(tags))
    values = []
    names = [t.strip() for t in tags.split(",")]
    if len(names) != len(spec.num_classes):
        raise ValueError(f"give one value for each of {', '.join(spec.group_names)}")
    for name, classes, group in zip(names, spec.class_names, spec.group_names):
        if name not in classes:
            raise ValueError(f"unknown {group} {name!r}; choose from {', '.join(classes)}")
        values.append(classes.index(name))
    return torch.tensor(values)


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from .checkpoint import CheckpointError, load_generator
    from .data.images import make_grid_uint8, save_png, scatter_image
    from .latent import sample_z
    from .models import is_conditional

    if args.n < 1 or args.n > 100_000:
        _err("--n must be between 1 and 100000")
        return EXIT_USAGE
    try:
        G, cfg, spec = load_generator(args.checkpoint, device=args.device, use_ema=not args.no_ema)
        z = sample_z(args.n, cfg.model.z_dim, seed=args.seed)
        labels = None
        if is_conditional(cfg.model.arch):
            if args.tags:
                labels = _parse_tags_arg(args.tags, spec).repeat(args.n, 1)
            else:  # random tags, seeded
                g = torch.Generator().manual_seed(args.seed + 1)
                labels = torch.stack([torch.randint(n, (args.n,), generator=g) for n in spec.num_classes], 1)
        elif args.tags:
            raise ValueError("this generator is unconditional: --tags cannot be used")
    except (CheckpointError, ValueError) as e:
        _err(str(e))
        return EXIT_USAGE
    out = []
    bs = 256
    with torch.no_grad():
        for i in tqdm(range(0, args.n, bs), desc="sampling", unit="batch", disable=args.quiet, file=sys.stderr):
            y = labels[i:i + bs].to(args.device) if labels is not None else None
            out.append(G(z[i:i + bs].to(args.device), y).float().cpu())
    x = torch.cat(out)
    if args.out:
        img = scatter_image(x.numpy()) if spec.kind == "points" else make_grid_uint8(x, nrow=args.nrow)
        save_png(img, args.out)
    if args.npy:
        Path(args.npy).parent.mkdir(parents=True, exist_ok=True)
        np.save(args.npy, x.numpy())
    sys.stdout.write(f"wrote {args.n} samples" + (f" grid {args.out}" if args.out else "") +
                     (f" array {args.npy}" if args.npy else "") + "\n")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from .checkpoint import CheckpointError, export_generator, load_checkpoint

    try:
        state = load_checkpoint(args.checkpoint)
        path = export_generator(state, args.out, use_ema=not args.no_ema)
    except CheckpointError as e:
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
    sys.stdout.write(json.dumps(checkpoint_summary(state), indent=2) + "\n")
    return EXIT_OK


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gan_core", description="GAN Studio command line")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN")
    t.add_argument("--config", help="JSON config file (fields not given keep defaults)")
    t.add_argument("--out", required=True, help="run directory (checkpoints, samples, metrics.jsonl)")
    t.add_argument("--resume", help="checkpoint to resume from (e.g. runs/x/last.pt)")
    t.add_argument("--dataset")
    t.add_argument("--image-size", type=int)
    t.add_argument("--data-path", help="image folder or .zip for --dataset folder")
    t.add_argument("--tags-csv")
    t.add_argument("--num-samples", type=int)
    t.add_argument("--flip", action="store_true", default=None, help="random horizontal flips")
    t.add_argument("--rotate", type=float, help="random rotation up to this many degrees")
    t.add_argument("--arch")
    t.add_argument("--z-dim", type=int)
    t.add_argument("--g-width", type=int)
    t.add_argument("--d-width", type=int)
    t.add_argument("--spectral-norm", action="store_true", default=None)
    t.add_argument("--g-dropout", type=float)
    t.add_argument("--loss")
    t.add_argument("--steps", type=int)
    t.add_argument("--seconds", type=float)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr-g", type=float)
    t.add_argument("--lr-d", type=float)
    t.add_argument("--n-critic", type=int)
    t.add_argument("--ema", type=float, help="EMA decay of G (e.g. 0.999)")
    t.add_argument("--optimizer")
    t.add_argument("--seed", type=int)
    t.add_argument("--device")
    t.add_argument("--sample-every", type=int)
    t.add_argument("--checkpoint-every", type=int)
    t.add_argument("--log-every", type=int)
    t.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE", help="any other config field")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--verbose", action="store_true")
    t.set_defaults(fn=cmd_train)

    s = sub.add_parser("sample", help="sample images from a checkpoint")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--seed", type=int, default=0)
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
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = make_parser().parse_args(argv)
    if args.command == "sample" and not (args.out or args.npy):
        _err("give --out (PNG grid) and/or --npy")
        return EXIT_USAGE
    return args.fn(args)

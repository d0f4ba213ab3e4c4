"""``train``: its flags generated from the config's metadata, the config a command line makes (the
dataset's recipe, a preset, the loss's optimiser settings, then explicit flags), resuming, and a progress
bar over the trainer's events."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from gan_core.config.checks import check_config
from gan_core.config import ConfigError, RunConfig, all_fields, field_info
from gan_core.storage.checkpoint import CheckpointError
from gan_core.train.recipes import PRESETS, apply_preset, recipe_for
from gan_core.cli.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, err as _err


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
    from gan_core.losses import LOSSES

    if loss_name in LOSSES:  # the paper's optimiser settings, unless given explicitly
        rec = {k: v for k, v in LOSSES[loss_name].recommended.items() if k not in sections.get("train", {})}
        if rec:
            cfg = cfg.replace(train=rec)
    for sec, vals in _parse_set(args.set or []).items():
        sections.setdefault(sec, {}).update(vals)
    return check_config(cfg.replace(**sections))


def _tagged(args: argparse.Namespace) -> Optional[bool]:
    """Whether the data has tags, as far as the command line tells: for a dataset whose tags come from a
    setting (the registry's ``labels_field``: a folder's tags CSV, a Hugging Face dataset's label columns),
    whether that setting is given, by its flag or ``--set``; None for the others."""
    from gan_core.data.registry import DATASETS

    spec = DATASETS.get(args.dataset or "")
    if spec is None or not spec.labels_field:
        return None
    flag = field_info(f"data.{spec.labels_field}").metadata["flag"]
    value = getattr(args, flag, None) if flag else None
    if value is None:
        value = _parse_set(args.set or []).get("data", {}).get(spec.labels_field, "")
    return bool(str(value or "").strip())


# what a resumed run takes from the command line; everything else comes from its checkpoint
_RESUME_FLAGS = ("steps", "seconds", "log_every", "sample_every", "checkpoint_every", "device")
_RESUME_FIELDS = _RESUME_FLAGS + ("keep_checkpoints",)


def _check_resume(args: argparse.Namespace) -> None:
    """Refuse what ``--resume`` would silently ignore (a data, model or loss setting that differs from the
    checkpoint's) and files that cannot be resumed; warn about non-finite weights."""
    from gan_core.storage.checkpoint import CheckpointError, load_checkpoint, nonfinite_tensors

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
    from gan_core.train import distributed
    from gan_core.train.trainer import Trainer

    try:
        if args.resume:
            _check_resume(args)
        cfg = build_config(args)
        dist = distributed.from_env(cfg.train.device)   # under torchrun: this process's rank (else None)
        trainer = Trainer(cfg, args.out, resume=args.resume, dist=dist, init_g=args.init_g)
    except (ConfigError, ValueError, CheckpointError) as e:
        _err(str(e))
        return EXIT_USAGE
    try:
        if dist is not None and not dist.is_main:   # rank 0 reports for the run
            return max((_error_code(ev) for ev in trainer.run()), default=EXIT_OK)
        return _train_bar(trainer, args)
    finally:
        distributed.shutdown()


def _error_code(ev: Any) -> int:
    from gan_core.train.events import ErrorEvent

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
    from gan_core.train.events import CheckpointEvent, DoneEvent, ErrorEvent, StartEvent, StatusEvent, StepEvent

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
            if ev.shortfall:
                sys.stdout.write(f"note: {ev.shortfall}\n")
    return code


def add_train_command(sub: Any) -> None:
    t = sub.add_parser("train", help="train a GAN")
    t.add_argument("--config", help="JSON config file (fields not given keep defaults)")
    t.add_argument("--out", required=True, help="run directory (checkpoints, samples, metrics.jsonl)")
    t.add_argument("--resume", help="checkpoint to resume from (e.g. runs/x/last.pt)")
    t.add_argument("--init-g", help="start a new run from this generator (a checkpoint or .safetensors export of "
                   "the same size and tags; its EMA weights where saved): fine-tuning, D starts afresh")
    t.add_argument("--preset", help="a time budget and size: " + ", ".join(PRESETS) +
                   " (with no --arch, tagged data also gets the recommended tag-conditional recipe)")
    _add_config_flags(t)
    t.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE", help="any other config field")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--verbose", action="store_true")
    t.set_defaults(fn=cmd_train)

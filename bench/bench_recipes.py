"""Tag-conditional recipes at equal seconds, and the learning targets of the time presets.

    python bench/bench_recipes.py --compare              # every recipe for --seconds (default 60) each
    python bench/bench_recipes.py --compare --steps 1400 --seeds 0,1,2 --recipe acgan-cbn-ms
                                                         # by steps (quality independent of the load), per seed
    python bench/bench_recipes.py --targets              # 1min + 5min faces presets, digits in 30 s
    python bench/bench_recipes.py --judge checkpoints/faces.safetensors --judge checkpoints/digits.safetensors
    python bench/bench_recipes.py --compare --quick      # smoke test: tiny sizes, numbers mean nothing

Every run trains in this process on the CPU (or --device), stopped by the clock, then its generator
(EMA weights when on) is judged on ``--n`` samples (fixed z, tags drawn uniformly at random) against
``--n`` real training images with the project's classifier (gan_core/assets):

* tag accuracy: both tags (faces) / the digit read as asked;
* same-tag diversity: spread of samples that share tags / spread of real images with those tags, in
  pixels and in classifier features (gan_core.metrics.fidelity.diversity_ratio; ~1 = as varied as the data);
* precision / recall / density / coverage (k = 5) and FID on the classifier's features.

Run it on a quiet machine: the recipes are compared at equal training seconds, so another job on
the same cores changes the figures. With ``--steps N`` they are compared at equal *steps* instead
(``train.seconds`` 0): the quality figures then do not depend on the load, only the ms/step column
does. ``--seeds`` repeats every recipe for several training seeds (printed per seed, then the mean and
the minimum); ``--set section.field=value`` changes every recipe (exploration); ``--also-raw`` judges
the raw G beside its EMA and ``--ema-windows 0.2,0.5`` longer averages of the same run. It prints the
CPU model with every table.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_common_args, emit, machine_info, setup  # noqa: E402

import torch  # noqa: E402

from gan_core import metrics as M  # noqa: E402
from gan_core.storage.checkpoint import load_generator  # noqa: E402
from gan_core.config import RunConfig  # noqa: E402
from gan_core.train.events import ErrorEvent, SampleEvent  # noqa: E402
from gan_core.train.recipes import TAGGED_RECIPE, apply_preset, merge_sections  # noqa: E402
from gan_core.train.trainer import Trainer  # noqa: E402

_HINGE_OPT = {"optimizer": "adam", "lr_g": 1e-4, "lr_d": 4e-4, "beta1": 0.0, "beta2": 0.9}
_NS_OPT = {"optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999}

# name -> (what it is, config sections on top of the 1min preset's sizes)
RECIPES: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "acgan": ("ACGAN, NS loss, tags concatenated to z (the old shipped recipe)",
              {"model": {"arch": "acgan", "g_cond": "concat", "spectral_norm": False},
               "loss": {"name": "ns", "ms_weight": 0.0}, "train": _NS_OPT}),
    "tacgan": ("TAC-GAN (twin tag heads on fakes), NS, concat",
               {"model": {"arch": "tacgan", "g_cond": "concat", "spectral_norm": False},
                "loss": {"name": "ns", "ms_weight": 0.0}, "train": _NS_OPT}),
    "proj-hinge-sn": ("projection D + hinge + spectral norm (Miyato & Koyama), concat",
                      {"model": {"arch": "cgan", "g_cond": "concat", "spectral_norm": True},
                       "loss": {"name": "hinge", "ms_weight": 0.0}, "train": _HINGE_OPT}),
    "proj-hinge-sn-cbn": ("projection D + hinge + spectral norm, conditional BN in G",
                          {"model": {"arch": "cgan", "g_cond": "cbn", "spectral_norm": True},
                           "loss": {"name": "hinge", "ms_weight": 0.0}, "train": _HINGE_OPT}),
    "proj-ns-cbn": ("projection D, NS, conditional BN in G",
                    {"model": {"arch": "cgan", "g_cond": "cbn", "spectral_norm": False},
                     "loss": {"name": "ns", "ms_weight": 0.0}, "train": _NS_OPT}),
    "acgan-cbn": ("ACGAN, NS, conditional BN in G",
                  {"model": {"arch": "acgan", "g_cond": "cbn", "spectral_norm": False},
                   "loss": {"name": "ns", "ms_weight": 0.0}, "train": _NS_OPT}),
    "acgan-ms": ("ACGAN, NS, concat + mode-seeking term (MSGAN, weight 1)",
                 {"model": {"arch": "acgan", "g_cond": "concat", "spectral_norm": False},
                  "loss": {"name": "ns", "ms_weight": 1.0}, "train": _NS_OPT}),
    "proj-hinge-sn-cbn-ms": ("projection D + hinge + spectral norm, conditional BN + mode-seeking, lr 2e-4",
                             {"model": {"arch": "cgan", "g_cond": "cbn", "spectral_norm": True},
                              "loss": {"name": "hinge", "ms_weight": 1.0}, "train": _NS_OPT}),
    "tacgan-cbn-ms": ("TAC-GAN, NS, conditional BN + mode-seeking",
                      {"model": {"arch": "tacgan", "g_cond": "cbn", "spectral_norm": False},
                       "loss": {"name": "ns", "ms_weight": 1.0}, "train": _NS_OPT}),
    "acgan-cbn-ms": ("ACGAN, NS, conditional BN + mode-seeking: the recommended recipe (TAGGED_RECIPE)",
                     TAGGED_RECIPE),
    "acgan-cbn-ms-aux3": ("ACGAN, NS, conditional BN + mode-seeking, tag loss weight 3",
                          merge_sections(TAGGED_RECIPE, {"loss": {"aux_weight": 3.0}})),
}


class Judge:
    """Real reference features for one dataset, reused for every generator."""

    def __init__(self, cfg: RunConfig, n: int, seed: int = 0):
        try:
            self.ext, self.ref = M.classifier_reference(cfg.data, n, seed)
        except ValueError as e:
            raise SystemExit(f"error: {e}") from None
        self.n = n

    def __call__(self, G, spec) -> dict[str, Any]:
        G.eval()
        g = torch.Generator().manual_seed(1)
        return M.judged_fields(M.evaluate_generator(G, spec, self.ext, self.ref, self.n, g, seed=0))


class ExtraEMAs:
    """More averages of G kept beside the trainer's EMA, over a longer share of the run: weight decay
    ``1 - 1 / (1 + r * (step + 1))`` for each ratio r (the trainer's TF warm-up ``(1 + step) / (10 + step)``
    is r = 1/9). Installed by wrapping the trainer's EMA class; they draw no random numbers, so the run
    itself is unchanged."""

    def __init__(self, ratios: list[float]):
        self.ratios, self.models = ratios, {}

    def install(self) -> Any:
        import gan_core.train.trainer as trainer_mod

        base, extra = trainer_mod.EMA, self

        class Hooked(base):  # type: ignore[misc, valid-type]
            @torch.no_grad()
            def update(self, G, step):
                super().update(G, step)
                for r in extra.ratios:
                    if r not in extra.models:
                        extra.models[r] = base(G, 1.0).model
                    m = extra.models[r]
                    d = 1.0 - 1.0 / (1.0 + r * (step + 1))
                    torch._foreach_lerp_(list(m.parameters()), [p.detach() for p in G.parameters()], 1.0 - d)
                    for be, b in zip(m.buffers(), G.buffers()):
                        be.copy_(b)

        trainer_mod.EMA = Hooked
        return lambda: setattr(trainer_mod, "EMA", base)


def train_for(cfg: RunConfig, device: torch.device, out_dir: Optional[Path] = None,
              extra_emas: Optional[ExtraEMAs] = None) -> tuple[Trainer, dict[str, Any]]:
    t0 = time.perf_counter()
    undo = extra_emas.install() if extra_emas is not None else None
    try:
        tr = Trainer(cfg, out_dir, device=device)
        return _train(tr, t0)
    finally:
        if undo is not None:
            undo()


def _train(tr: Trainer, t0: float) -> tuple[Trainer, dict[str, Any]]:
    first_grid = None
    error = None
    for ev in tr.run():
        if isinstance(ev, SampleEvent) and first_grid is None:
            first_grid = time.perf_counter() - t0
        if isinstance(ev, ErrorEvent):
            error = ev.message
    info = {"steps": tr.step, "train_s": round(tr.elapsed, 1), "wall_s": round(time.perf_counter() - t0, 1),
            "first_grid_s": round(first_grid, 2) if first_grid is not None else None,
            "precision_layout": tr.speed.chosen.label, "error": error}
    return tr, info


def fmt_row(name: str, info: dict[str, Any], q: dict[str, Any]) -> str:
    def f(k: str, pct: bool = False) -> str:
        v = q.get(k)
        if v is None:
            return "-"
        return f"{100 * v:.1f} %" if pct else f"{v:.3f}" if k != "fid" else f"{v:.2f}"

    ms = f"{1000 * info['train_s'] / info['steps']:.0f}" if info.get("steps") else "-"
    return (f"| {name} | {info['steps']} | {info['train_s']} | {ms} | {f('tag_accuracy', True)} | "
            f"{f('hair_accuracy', True)} | {f('eye_accuracy', True)} | {f('diversity_ratio')} | "
            f"{f('diversity_ratio_features')} | {f('precision')} | {f('recall')} | {f('density')} | "
            f"{f('coverage')} | {f('fid')} |")


HEADER = ("| recipe | steps | train s | ms/step | tag accuracy | hair | eye | same-tag diversity (pixels) | "
          "(classifier features) | precision | recall | density | coverage | FID (classifier) |\n" + "|---" * 14 + "|")
SUMMARY_KEYS = ("tag_accuracy", "hair_accuracy", "eye_accuracy", "diversity_ratio")


def summary_row(name: str, rows: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Mean and minimum over seeds of the headline figures (and the mean ms/step)."""
    out: dict[str, Any] = {}
    for k in SUMMARY_KEYS:
        vals = [r[k] for r in rows if r.get(k) is not None]
        if vals:
            out[f"{k}_mean"], out[f"{k}_min"] = statistics.fmean(vals), min(vals)
    out["ms_per_step_mean"] = statistics.fmean(1000 * r["train_s"] / r["steps"] for r in rows if r["steps"])

    def pct(k: str) -> str:
        return f"{100 * out[k + '_mean']:.1f} % (min {100 * out[k + '_min']:.1f} %)" if k + "_mean" in out else "-"

    div = (f"{out['diversity_ratio_mean']:.3f} (min {out['diversity_ratio_min']:.3f})"
           if "diversity_ratio_mean" in out else "-")
    return (f"| {name}: mean of {len(rows)} seeds | {out['ms_per_step_mean']:.0f} ms/step | tag {pct('tag_accuracy')} | "
            f"hair {pct('hair_accuracy')} | eye {pct('eye_accuracy')} | diversity {div} |"), out


def base_config(args: argparse.Namespace, dataset: str = "faces", preset: str = "1min") -> RunConfig:
    cfg = RunConfig().replace(data={"dataset": dataset, "cache_dir": args.cache_dir},
                              train={"seed": args.seed, "device": args.device})
    cfg = apply_preset(cfg, preset)
    if args.quick:
        cfg = cfg.replace(data={"num_samples": 512, "image_size": 16},
                          model={"g_width": 8, "d_width": 8, "z_dim": 16, "embed_dim": 4})
    return cfg


def parse_sets(items: list[str]) -> dict[str, dict[str, Any]]:
    """``--set loss.aux_weight=2`` -> {"loss": {"aux_weight": 2}}: the CLI's own ``--set`` parser."""
    from gan_core.cli.train import _parse_set
    from gan_core.config import ConfigError

    try:
        return _parse_set(items)
    except ConfigError as e:
        raise SystemExit(f"error: {e}") from None


def compare(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Every recipe for ``--seconds`` of training, or for ``--steps`` steps (then per ``--seeds``)."""
    seconds = 3.0 if args.quick else args.seconds
    steps = (20 if args.quick else args.steps) if args.steps else 0
    budget = ({"steps": steps, "seconds": 0.0} if steps else {"steps": 0, "seconds": seconds})
    seeds = [int(v) for v in args.seeds.split(",")] if args.seeds else [args.seed]
    base = base_config(args)
    judge = Judge(base, 64 if args.quick else args.n)
    names = args.recipe or list(RECIPES)
    extra = parse_sets(args.set)
    what_budget = f"{steps} steps" if steps else f"{seconds:g} s of training"
    print(f"# recipes at equal {'steps' if steps else 'seconds'}: {what_budget} each, training seeds {seeds}, "
          f"faces 32 px (1min preset sizes){', with ' + ' '.join(args.set) if args.set else ''}, judged on "
          f"{judge.n} samples vs {judge.n} real; {machine_info(device).get('cpu', '')}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(HEADER)
    results: dict[str, Any] = {}
    for name in names:
        what, sections = RECIPES[name]
        rows = []
        for seed in seeds:
            cfg = base.replace(**merge_sections(sections, extra, {"train": {**budget, "seed": seed, "sample_every": 0,
                                                                           "sample_seconds": 0.0}}))
            emas = ExtraEMAs([float(v) for v in args.ema_windows.split(",")]) if args.ema_windows else None
            tr, info = train_for(cfg, device, extra_emas=emas)
            q = judge(tr.G_ema if tr.G_ema is not None else tr.G, tr.spec)
            label = name if len(seeds) == 1 else f"{name}, seed {seed}"
            print(fmt_row(label, info, q), flush=True)
            if args.also_raw and tr.G_ema is not None:   # the raw G too: what the EMA adds
                q["raw_g"] = judge(tr.G, tr.spec)
                print(fmt_row(label + " (raw G, no EMA)", info, q["raw_g"]), flush=True)
            for r, m in (emas.models.items() if emas is not None else ()):   # longer averages of the same run
                q[f"ema_r{r:g}"] = judge(m, tr.spec)
                print(fmt_row(f"{label} (average over {r:g} of the run)", info, q[f"ema_r{r:g}"]), flush=True)
            rows.append({"seed": seed, **info, **q})
        res: dict[str, Any] = {"what": what, **rows[0]} if len(seeds) == 1 else {"what": what, "seeds": rows}
        if len(seeds) > 1:
            line, res["summary"] = summary_row(name, rows)
            print(line, flush=True)
        results[name] = res
    return results


def targets(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    out: dict[str, Any] = {}
    runs = [("faces 1min", "faces", "1min", None), ("faces 5min", "faces", "5min", None),
            ("digits 30 s", "digits", "1min", 30.0)]
    for label, dataset, preset, seconds in runs:
        if args.only and label.split()[0] + "-" + label.split()[1] not in args.only:
            continue
        cfg = base_config(args, dataset, preset)
        if seconds is not None:
            cfg = cfg.replace(train={"seconds": seconds})
        if args.quick:
            cfg = cfg.replace(train={"seconds": 3.0})
        judge = Judge(cfg, 64 if args.quick else args.n)
        tr, info = train_for(cfg, device)
        q = judge(tr.G_ema if tr.G_ema is not None else tr.G, tr.spec)
        print(f"# {label}: preset {preset}, {cfg.train.seconds:g} s budget, {info['steps']} steps "
              f"({info['precision_layout']}), first grid {info['first_grid_s']} s after the trainer started")
        print(HEADER)
        print(fmt_row(label, info, q), flush=True)
        out[label] = {**info, **q}
    return out


def first_grid(args: argparse.Namespace, device: torch.device, repeats: int = 3) -> dict[str, Any]:
    """Seconds from Start (the job manager's start(), as the Train page calls it; the trainer in its own
    process) to the first sample grid and to the next ones, for the 1min faces preset."""
    import tempfile

    from gan_core.jobs.manager import JobManager

    cfg = base_config(args).replace(train={"seconds": 12.0})
    out: dict[str, Any] = {"first_grid_s": [], "grid_gaps_s": []}
    with tempfile.TemporaryDirectory() as tmp:
        mgr = JobManager(runs_dir=Path(tmp), mode="process")
        for _ in range(repeats):
            t0 = time.perf_counter()
            job = mgr.start(cfg, owner="bench")
            seen: list[float] = []
            last_step = -1
            while job.active or job.queued:
                snap = job.snapshot()
                if snap.sample is not None and snap.sample_step != last_step:
                    seen.append(time.perf_counter() - t0)
                    last_step = snap.sample_step
                time.sleep(0.05)
            job.wait(30)
            out["first_grid_s"].append(round(seen[0], 2) if seen else None)
            out["grid_gaps_s"].append([round(b - a, 1) for a, b in zip(seen, seen[1:])])
    print(f"# Start -> first sample grid, 1min faces preset, trainer process spawned by the job manager: "
          f"{out['first_grid_s']} s ({repeats} starts); gaps between the next grids: {out['grid_gaps_s'][0]} s")
    return out


def judge_files(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    out = {}
    for path in args.judge:
        G, cfg, spec = load_generator(path, device)
        cfg = cfg.replace(data={"cache_dir": args.cache_dir})
        judge = Judge(cfg, args.n)
        q = judge(G, spec)
        print(f"# {path}: {args.n} samples (tags uniformly at random) vs {args.n} real")
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in q.items()}))
        out[path] = q
    return out


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--compare", action="store_true")
    p.add_argument("--targets", action="store_true")
    p.add_argument("--only", action="append", help="with --targets: faces-1min, faces-5min, digits-30")
    p.add_argument("--first-grid", action="store_true", help="Start -> first grid through the job manager")
    p.add_argument("--judge", action="append", default=[], help="a generator file to judge")
    p.add_argument("--recipe", action="append", choices=list(RECIPES), help="with --compare: only these")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--steps", type=int, default=0, help="with --compare: train N steps (seconds 0) instead")
    p.add_argument("--seeds", help="with --compare: training seeds, e.g. 0,1,2 (default: --seed)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="with --compare: a config change on top of every recipe")
    p.add_argument("--also-raw", action="store_true", help="with --compare: judge the raw G as well as its EMA")
    p.add_argument("--ema-windows", help="with --compare: also judge averages of G over these shares of the run, "
                   "e.g. 0.2,0.5 (the trainer's EMA warm-up is 1/9)")
    p.add_argument("--n", type=int, default=1000, help="generated and real samples for every figure")
    args = p.parse_args(argv)
    device = setup(args)
    res: dict[str, Any] = {}
    if args.compare:
        res["compare"] = compare(args, device)
    if args.targets:
        res["targets"] = targets(args, device)
    if args.first_grid:
        res["first_grid"] = first_grid(args, device)
    if args.judge:
        res["judge"] = judge_files(args, device)
    if not (args.compare or args.targets or args.judge or args.first_grid):
        p.error("give --compare, --targets, --first-grid or --judge")
    emit(args, "recipes", res, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

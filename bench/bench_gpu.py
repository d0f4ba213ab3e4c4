"""The GPU path, exercised: the trainer on CUDA for every image architecture at 32 and 64 px, and the
`1min` faces preset judged after 10 s of training.

    python bench/bench_gpu.py                          # needs a CUDA GPU; exits with a message otherwise
    python bench/bench_gpu.py --arch dcgan --size 64   # a subset
    python bench/bench_gpu.py --device cpu --quick     # smoke test of this script on a CPU: numbers mean nothing

For each architecture and size it reports the trainer's img/s (real images through D per second, the
config defaults: the timed probe of ``gan_core.train.speed`` picks fp32, fp16 + a grad scaler or bf16 (where the
card has it, natively or emulated as on T4-class cards), and the memory layout), the peak GPU memory (``torch.cuda.max_memory_allocated``) and the
precision / layout chosen. DCGAN is also raced, in interleaved rounds, against the pytorch/examples-style
DCGAN loop of ``bench_trainer.py`` (same layer shapes and batch; reused from there, not copied). Then the
`1min` faces preset trains for 10 s and is judged by ``bench_recipes.py``'s functions against the preset's
quality targets (tag accuracy >= 85 %, same-tag diversity >= 0.5, as in bench/RESULTS.md).

Then several `1min` faces runs share the GPU as they do in the app: the job manager ("process" mode, one
child process per run, ``max_concurrent`` = N) starts N runs at once, for N = 1, 4, 8 (``--concurrent``);
for each N it reports the runs' combined img/s (the sum of each run's mean img/s over its second half), the
GPU memory in use while they trained (``torch.cuda.mem_get_info`` sampled by this process: CUDA contexts
included), and from the 1-run figure how many such runs fit on this GPU at once: the suggested
``GAN_STUDIO_MAX_CONCURRENT``.

Without a CUDA GPU (and without ``--device cpu``) the script prints that it skips and exits 0.
Not measured yet: no GPU has been lent to this project so far (see bench/RESULTS.md).
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_common_args, emit, machine_info, median, setup, sync  # noqa: E402

import torch  # noqa: E402

from bench_recipes import HEADER, Judge, base_config, fmt_row, train_for  # noqa: E402
from bench_trainer import PlainContender, TrainerContender, make_cfg  # noqa: E402
from gan_core.data import load_dataset  # noqa: E402
from gan_core.models import ARCHITECTURES  # noqa: E402

SIZES = (32, 64)
PRESET_SECONDS = 10.0
CONCURRENT = (1, 4, 8)
CONCURRENT_SECONDS = 30.0     # each run's time budget in the concurrency rounds
HEADROOM = 0.9                # share of the GPU's memory the runs may fill when computing what fits
TARGETS = {"tag_accuracy": 0.85, "diversity_ratio": 0.5}   # the 1min faces preset's (bench/RESULTS.md)


def image_archs() -> list[str]:
    """Every architecture that makes images (the 2D-points MLP has no pixel size)."""
    return [a for a in ARCHITECTURES if a != "mlp"]


def dataset_for(arch: str) -> str:
    return "faces-edges" if ARCHITECTURES[arch].conditioning == "image" else "faces"


def _peak_reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mib(device: torch.device) -> Optional[float]:
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None


def speed_row(arch: str, size: int, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """The trainer's img/s (median of interleaved rounds), its peak memory and AMP mode; for DCGAN also the
    plain pytorch/examples loop in the same rounds and the paired ratio."""
    a = SimpleNamespace(**{**vars(args), "arch": arch, "image_size": size, "dataset": dataset_for(arch)})
    ds = load_dataset(make_cfg(a).data)
    _peak_reset(device)
    trainer = TrainerContender(ds, a, device, {})
    trainer.warmup(args.warmup)
    peak = _peak_mib(device)
    contenders: dict[str, Any] = {"trainer": trainer}
    if arch == "dcgan":
        images_f32 = ds.images.float().div(255.0).sub(0.5).div(0.5)   # ToTensor + Normalize, as the example
        contenders["plain"] = PlainContender(images_f32, a, device)
        contenders["plain"].warmup(args.warmup)
    runs: dict[str, list[float]] = {k: [] for k in contenders}
    for r in range(args.rounds):
        for name in (list(contenders) if r % 2 == 0 else list(contenders)[::-1]):
            runs[name].append(contenders[name].chunk(args.log_every)[0])
    tr = trainer.tr
    row: dict[str, Any] = {
        "arch": arch, "size": size, "img_per_s": round(median(runs["trainer"]), 1), "peak_mib": peak,
        "amp": tr.speed.chosen.label, "grad_scaler": tr.scaler is not None, "probe": tr.speed.describe(),
    }
    if "plain" in runs:
        row["plain_img_per_s"] = round(median(runs["plain"]), 1)
        row["vs_plain"] = round(median([t / p for t, p in zip(runs["trainer"], runs["plain"])]), 2)
    for c in contenders.values():
        c.close()
    sync(device)
    return row


def preset_10s(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """The 1min faces preset trained for 10 s, judged as bench_recipes judges the presets."""
    seconds = 3.0 if args.quick else PRESET_SECONDS
    cfg = base_config(args, "faces", "1min").replace(train={"seconds": seconds})
    judge = Judge(cfg, 64 if args.quick else args.n)
    tr, info = train_for(cfg, device)
    q = judge(tr.G_ema if tr.G_ema is not None else tr.G, tr.spec)
    met = {k: q.get(k) is not None and q[k] >= v for k, v in TARGETS.items()}
    print(f"# 1min faces preset, {seconds:g} s on {device}: {info['steps']} steps ({info['precision_layout']}), "
          f"judged on {judge.n} samples vs {judge.n} real")
    print(HEADER)
    print(fmt_row(f"faces 1min in {seconds:g} s", info, q))
    print("targets: " + ", ".join(f"{k} >= {v} {'met' if met[k] else 'NOT met'}" for k, v in TARGETS.items()),
          flush=True)
    return {**info, **q, "seconds": seconds, "targets": TARGETS, "met": met}


def _gpu_used_mib(device: torch.device) -> Optional[float]:
    if device.type != "cuda":
        return None
    free, total = torch.cuda.mem_get_info(device)
    return (total - free) / 2**20


def concurrent_round(n: int, args: argparse.Namespace, device: torch.device, seconds: float) -> dict[str, Any]:
    """``n`` 1min faces runs started at once through the app's job manager (process mode); their combined
    img/s and the GPU memory in use (all processes, sampled here) while they trained."""
    from gan_core.jobs.manager import JobManager

    cfg = base_config(args, "faces", "1min").replace(train={"seconds": seconds, "device": args.device,
                                                             **({"log_every": 2} if args.quick else {})})
    with tempfile.TemporaryDirectory(prefix="bench_gpu_conc_") as tmp:
        mgr = JobManager(runs_dir=Path(tmp), mode="process", max_concurrent=n, max_per_visitor=1, max_queue=n)
        base = _gpu_used_mib(device)
        peak = [base]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                used = _gpu_used_mib(device)
                if used is not None:
                    peak[0] = max(peak[0] or 0.0, used)

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        t0 = time.perf_counter()
        jobs = [mgr.start(cfg, owner=f"bench-{i}") for i in range(n)]
        for j in jobs:
            j.wait(seconds * 4 + 300)
        stop.set()
        watcher.join()
        wall = time.perf_counter() - t0
        snaps = [j.snapshot() for j in jobs]
    rates, errors = [], [s.error for s in snaps if s.status != "done"]
    for s in snaps:
        h = [r["img_per_s"] for r in s.history[len(s.history) // 2:]]
        rates.append(sum(h) / len(h) if h else 0.0)
    row: dict[str, Any] = {
        "runs": n, "combined_img_per_s": round(sum(rates), 1), "per_run_img_per_s": [round(r, 1) for r in rates],
        "steps": [s.step for s in snaps], "wall_s": round(wall, 1),
        "gpu_used_mib": round(peak[0], 1) if peak[0] is not None else None,
        "runs_mib": round(peak[0] - base, 1) if peak[0] is not None and base is not None else None,
    }
    if errors:
        row["errors"] = errors
    return row


def concurrency(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Rounds of 1, 4 and 8 concurrent 1min runs, and how many fit on this GPU."""
    seconds = 2.0 if args.quick else args.concurrent_seconds
    counts = args.concurrent or ([1, 2] if args.quick else list(CONCURRENT))
    print(f"# 1min faces runs sharing {device}: each {seconds:g} s, through the job manager (process mode)")
    print("| runs | combined img/s | per run img/s | GPU MiB in use (runs' share) | wall s |")
    print("|---|---|---|---|---|")
    rows = []
    for n in counts:
        try:
            row = concurrent_round(n, args, device, seconds)
        except Exception as e:   # e.g. out of memory at 8: the other rounds' figures still count
            row = {"runs": n, "errors": [f"{type(e).__name__}: {e}"]}
        rows.append(row)
        per = ", ".join(f"{r:.0f}" for r in row.get("per_run_img_per_s", []))
        mem = "-" if row.get("gpu_used_mib") is None else f"{row['gpu_used_mib']:.0f} ({row['runs_mib']:.0f})"
        err = f" · errors: {'; '.join(row['errors'])}" if row.get("errors") else ""
        print(f"| {n} | {row.get('combined_img_per_s', '-')} | {per} | {mem} | {row.get('wall_s', '-')}{err} |",
              flush=True)
    out: dict[str, Any] = {"rounds": rows, "seconds": seconds}
    one = next((r for r in rows if r["runs"] == 1 and r.get("runs_mib")), None)
    if device.type == "cuda" and one is not None:
        total = torch.cuda.get_device_properties(device).total_memory / 2**20
        fits = max(1, math.floor(total * HEADROOM / one["runs_mib"]))
        out.update(total_mib=round(total), per_run_mib=one["runs_mib"], fit=fits)
        print(f"one 1min run takes {one['runs_mib']:.0f} MiB of GPU memory (its CUDA context included): about {fits} "
              f"fit in {HEADROOM:.0%} of this GPU's {total:.0f} MiB -> GAN_STUDIO_MAX_CONCURRENT={fits} "
              "(the combined img/s above says whether that many also run faster together)", flush=True)
    return out


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.set_defaults(device="cuda")
    p.add_argument("--arch", action="append", choices=image_archs(), help="only these (default: all image archs)")
    p.add_argument("--size", action="append", type=int, choices=SIZES, help="only these sizes (default 32, 64)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=64, help="g_width = d_width")
    p.add_argument("--z-dim", type=int, default=100)
    p.add_argument("--num-samples", type=int, default=2048)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--warmup", type=int, default=20, help="untimed steps (a multiple of --log-every)")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--n", type=int, default=1000, help="generated and real samples for the preset's figures")
    p.add_argument("--no-preset", action="store_true", help="skip the 1min preset run")
    p.add_argument("--concurrent", action="append", type=int, help="runs at once (default 1, 4, 8; repeatable)")
    p.add_argument("--concurrent-seconds", type=float, default=CONCURRENT_SECONDS, help="each concurrent run's budget")
    p.add_argument("--no-concurrent", action="store_true", help="skip the concurrent 1min runs")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_gpu.py: SKIPPED: no CUDA GPU is available here (torch.cuda.is_available() is False), so "
              "there is nothing to measure. Run it on a machine with an NVIDIA GPU, or `--device cpu --quick` "
              "to smoke-test the script.", flush=True)
        return 0
    if args.quick:
        args.batch_size, args.width, args.z_dim, args.num_samples = 8, 8, 16, 64
        args.rounds, args.warmup, args.log_every = 1, 2, 2
    args.warmup = max(args.log_every, args.warmup - args.warmup % args.log_every)
    device = setup(args)
    archs = args.arch or (["dcgan", "acgan"] if args.quick else image_archs())
    sizes = args.size or ([32] if args.quick else list(SIZES))
    info = machine_info(device)
    print(f"# bench_gpu on {info.get('gpu') or info.get('cpu')} ({device}), torch {torch.__version__}, batch "
          f"{args.batch_size}, width {args.width}, {args.rounds} rounds x {args.log_every} steps", flush=True)
    print("| arch | px | trainer img/s | peak MiB | precision / layout | grad scaler | plain loop img/s | vs plain |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for arch in archs:
        for size in sizes:
            t0 = time.perf_counter()
            try:
                row = speed_row(arch, size, args, device)
            except Exception as e:   # one failing arch must not hide the others' figures
                row = {"arch": arch, "size": size, "error": f"{type(e).__name__}: {e}"}
                print(f"| {arch} | {size} | failed: {row['error']} |", flush=True)
                rows.append(row)
                continue
            row["wall_s"] = round(time.perf_counter() - t0, 1)
            rows.append(row)
            print(f"| {arch} | {size} | {row['img_per_s']:.0f} | {row['peak_mib'] if row['peak_mib'] is not None else '-'} "
                  f"| {row['amp']} | {'yes' if row['grad_scaler'] else 'no'} | {row.get('plain_img_per_s', '-')} "
                  f"| {row.get('vs_plain', '-')} |", flush=True)
    results: dict[str, Any] = {"speed": rows}
    if not args.no_preset:
        results["preset_1min_10s"] = preset_10s(args, device)
    if not args.no_concurrent:
        results["concurrent"] = concurrency(args, device)
    emit(args, "gpu", results, device)
    failed = any("error" in r for r in rows) or any(r.get("errors") for r in results.get("concurrent", {}).get("rounds", []))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

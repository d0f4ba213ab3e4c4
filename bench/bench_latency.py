"""Latency of what the Generate and Interpolate pages compute per rerun, from a DCGAN generator.

    python bench/bench_latency.py                 # CPU, 32 and 64 px, default model width (64)
    python bench/bench_latency.py --checkpoint checkpoints/faces.pt
    python bench/bench_latency.py --quick         # smoke test

* grid: ``studio.sample_grid(n=64)`` + the PNG the page shows (``upscale`` to >= 512 px, then PNG) +
  the PNG of the download button (``png_bytes`` of the grid)
* interpolation: ``studio.interpolation_frames(steps=32, slerp)`` + ``frames_strip`` shown as PNG
  (upscaled to >= 160 px) + the PNG download + ``frames_to_gif`` (boomerang, >= 192 px)

The generators are randomly initialised DCGANs of the default config (z 100, width 64) unless a
checkpoint is given: the amount of compute is the same. Each case is run ``--repeats`` times in
interleaved order after a warm-up; medians are compared with the 100 ms target.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_common_args, emit, median, setup  # noqa: E402

import torch  # noqa: E402

from gan_core import studio  # noqa: E402
from gan_core.storage.checkpoint import load_generator  # noqa: E402
from gan_core.config import RunConfig  # noqa: E402
from gan_core.models import DataSpec, build_models  # noqa: E402

TARGET_MS = 100.0


def make_generator(size: int, width: int, z_dim: int, checkpoint: Optional[str]):
    if checkpoint:
        G, cfg, spec = load_generator(checkpoint, device="cpu")
        return G.eval(), cfg, spec
    cfg = RunConfig().replace(data={"image_size": size}, model={"arch": "dcgan", "g_width": width, "d_width": width,
                                                               "z_dim": z_dim})
    spec = DataSpec(kind="image", channels=3, image_size=size)
    torch.manual_seed(0)
    G, _ = build_models(cfg.model, spec)
    return G.eval(), cfg, spec


def grid_case(G, cfg, spec, n: int) -> Callable[[], dict[str, float]]:
    def run() -> dict[str, float]:
        t0 = time.perf_counter()
        grid = studio.sample_grid(G, cfg, spec, n=n, seed=7, nrow=8)
        t1 = time.perf_counter()
        shown = studio.png_bytes(studio.upscale(grid, min_size=512))    # show_image(grid, min_size=512)
        download = studio.png_bytes(grid)                                # png_download(grid)
        t2 = time.perf_counter()
        assert shown and download
        return {"total": t2 - t0, "generate": t1 - t0, "encode": t2 - t1}
    return run


def interp_case(G, cfg, spec, frames: int) -> Callable[[], dict[str, float]]:
    def run() -> dict[str, float]:
        t0 = time.perf_counter()
        fr = studio.interpolation_frames(G, cfg, spec, 3, 11, steps=frames, method="slerp")
        t1 = time.perf_counter()
        strip = studio.frames_strip(fr, per_row=min(16, len(fr)))
        shown = studio.png_bytes(studio.upscale(strip, min_size=160))   # show_image(strip, min_size=160)
        download = studio.png_bytes(strip)
        gif = studio.frames_to_gif(fr, fps=10, boomerang=True, min_size=192)
        t2 = time.perf_counter()
        assert shown and download and gif
        return {"total": t2 - t0, "generate": t1 - t0, "encode": t2 - t1}
    return run


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--sizes", default="32,64", help="image sizes (comma list)")
    p.add_argument("--width", type=int, default=64, help="g_width of the random DCGANs")
    p.add_argument("--z-dim", type=int, default=100)
    p.add_argument("--grid", type=int, default=64, help="samples in the grid")
    p.add_argument("--frames", type=int, default=32, help="interpolation frames")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--checkpoint", help="time this generator instead of random DCGANs (--sizes is ignored)")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats = "32", 3
    device = setup(args)
    if device.type != "cpu":
        print("note: the pages generate on the CPU; --device is ignored here")
    sizes = [int(s) for s in args.sizes.split(",")] if not args.checkpoint else [0]

    cases: dict[str, Callable[[], dict[str, float]]] = {}
    for size in sizes:
        G, cfg, spec = make_generator(size, args.width, args.z_dim, args.checkpoint)
        tag = f"{spec.image_size}px"
        cases[f"grid{args.grid}@{tag}"] = grid_case(G, cfg, spec, args.grid)
        cases[f"interp{args.frames}@{tag}"] = interp_case(G, cfg, spec, args.frames)
    print(f"# latency on cpu, threads {torch.get_num_threads()}, {args.repeats} interleaved repeats"
          + (f", checkpoint {args.checkpoint}" if args.checkpoint else f", random DCGAN width {args.width}"), flush=True)
    for fn in cases.values():  # warm-up (first calls allocate, load PIL plugins ...)
        fn()
        fn()
    times: dict[str, list[dict[str, float]]] = {k: [] for k in cases}
    for r in range(args.repeats):
        for name, fn in cases.items():
            times[name].append(fn())

    results: dict[str, Any] = {"target_ms": TARGET_MS, "cases": {}}
    ok = True
    for name, ts in times.items():
        med = {k: 1000 * median([t[k] for t in ts]) for k in ts[0]}
        best = 1000 * min(t["total"] for t in ts)
        verdict = "OK" if med["total"] < TARGET_MS else "OVER"
        ok &= med["total"] < TARGET_MS
        print(f"{name}: median {med['total']:.1f} ms (generate {med['generate']:.1f} + encode {med['encode']:.1f}), "
              f"best {best:.1f} ms -> {verdict} (target < {TARGET_MS:.0f} ms)")
        results["cases"][name] = {"median_ms": med, "best_ms": best, "all_total_ms": [1000 * t["total"] for t in ts]}
    results["all_under_target"] = ok
    emit(args, "latency", results, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

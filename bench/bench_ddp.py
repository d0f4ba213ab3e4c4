"""Data-parallel training on this machine's CPU: one process vs torchrun with N gloo processes, the same
global batch, side by side in one run (issue 12).

    PYTHONPATH=. cpu-exclusive python bench/bench_ddp.py            # faces, DCGAN 32 px, global batch 64, 30 s each

Each configuration trains through the real CLI (``python -m gan_core train`` or ``torchrun ... -m gan_core
train``) for ``--seconds``; img/s is the global images per second of the logged windows after the first
quarter of the run (the speed probe and start-up excluded), median over the windows. One process gets all
the cores as torch threads; N processes get cores / N threads each. On one machine's CPU, data
parallelism only trades threads for processes: it is there for several GPUs, and this bench says what it
costs or gains on a CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from _common import ROOT, emit, machine_info

COMMON = ["--dataset", "faces", "--arch", "dcgan", "--loss", "ns", "--image-size", "32", "--log-every", "10",
          "--sample-every", "0", "--checkpoint-every", "0", "--quiet"]


def run(nproc: int, global_batch: int, seconds: float, cache: str, threads: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"bench-ddp-{nproc}-"))
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m"]
                if nproc > 1 else [sys.executable, "-m"])
    cmd = launcher + ["gan_core", "train", *COMMON, "--batch-size", str(global_batch // nproc), "--seconds",
                      str(seconds), "--set", f"data.cache_dir={cache}", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{nproc} process(es) failed:\n{r.stderr[-2000:]}")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    late = [row for row in rows if row["elapsed"] >= seconds / 4] or rows
    precision = next((ln.split("precision / layout: ")[1].split(" (")[0] for ln in r.stderr.splitlines()
                      if "precision / layout:" in ln), "?")
    return {"processes": nproc, "threads_each": threads, "batch_each": global_batch // nproc,
            "img_per_s": statistics.median(row["img_per_s"] for row in late), "steps": rows[-1]["step"],
            "windows": len(late), "precision": precision}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--batch", type=int, default=64, help="global batch")
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--cache-dir", default=str(ROOT / ".cache" / "gan_studio"))
    p.add_argument("--json")
    args = p.parse_args()
    cores = os.cpu_count() or 1
    cpu = machine_info(torch.device("cpu")).get("cpu", "?")
    print(f"CPU: {cpu} ({cores} logical cores); {args.seconds:g} s each, global batch {args.batch}")
    results = []
    for n in (1, args.nproc):
        res = run(n, args.batch, args.seconds, args.cache_dir, max(1, cores // n))
        results.append(res)
        print(f"{n} process(es) x {res['threads_each']} thread(s), batch {res['batch_each']} each: "
              f"{res['img_per_s']:.0f} img/s (median of {res['windows']} windows; {res['steps']} steps; {res['precision']})")
    ratio = results[1]["img_per_s"] / results[0]["img_per_s"]
    print(f"{args.nproc} processes / 1 process: {ratio:.2f}x")
    emit(args, "ddp", {"runs": results, "ratio": ratio}, torch.device("cpu"))


if __name__ == "__main__":
    main()

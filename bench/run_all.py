"""Run every benchmark one after the other (never in parallel: they would skew each other) and print
a summary of the headline numbers against their targets.

    python bench/run_all.py            # full sizes (tens of minutes on a small CPU box)
    python bench/run_all.py --quick    # smoke test of every script (a minute or two; numbers mean nothing)
    python bench/run_all.py --json runs/bench/all.json
    python bench/run_all.py --threads 1 --server   # polling against a real server + headless Chromium

Each script runs in its own process; its ``RESULT {json}`` line is collected.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

BENCHES = {
    "trainer": "bench_trainer.py",
    "polling": "bench_polling.py",
    "latency": "bench_latency.py",
}
EXTRA = {"trainer": ["--variants", "default,amp_off"]}  # also show what bf16 autocast buys


def run_one(script: str, extra: list[str]) -> tuple[Optional[dict[str, Any]], int, float]:
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(HERE / script), *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    result = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
        else:
            print("    " + line.rstrip(), flush=True)
    rc = proc.wait()
    return result, rc, time.perf_counter() - t


def summary(name: str, r: dict[str, Any]) -> list[str]:
    if name == "trainer":
        lines = [f"trainer vs plain pytorch/examples DCGAN loop: {r['ratio']:.2f}x img/s wall, "
                 f"{r['ratio_cpu']:.2f}x img per CPU-second (target >= {r['target']})"]
        for v, x in r.get("variant_ratios", {}).items():
            if v not in ("plain", "default"):
                lines.append(f"  variant {v}: {x:.2f}x wall, {r['variant_ratios_cpu'][v]:.2f}x per CPU-second")
        return lines
    if name == "polling":
        return [f"training with the Train page polling vs headless: {r['ratio']:.2f} (target >= {r['target']})"
                + (" [emulated polling]" if r.get("emulated") else " [real server + Chromium]")]
    if name == "latency":
        return [f"{case}: median {c['median_ms']['total']:.0f} ms (target < {r['target_ms']:.0f} ms)"
                for case, c in r["cases"].items()]
    return [json.dumps(r)[:200]]


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks that every bench runs")
    p.add_argument("--only", help="comma list of: " + ", ".join(BENCHES))
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", help="write all results to this file")
    p.add_argument("--server", action="store_true",
                   help="polling bench against a real streamlit server + headless Chromium (not emulated)")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHES)
    for n in names:
        if n not in BENCHES:
            p.error(f"unknown bench {n!r}")
    extra = ["--device", args.device] + (["--quick"] if args.quick else []) + (
        ["--threads", str(args.threads)] if args.threads else [])
    if args.server:
        EXTRA["polling"] = EXTRA.get("polling", []) + ["--server"]
    results: dict[str, Any] = {}
    failed = []
    for n in names:
        print(f"== {n} ({BENCHES[n]} {' '.join(extra + EXTRA.get(n, []))})", flush=True)
        r, rc, dt = run_one(BENCHES[n], extra + EXTRA.get(n, []))
        print(f"== {n}: exit {rc} in {dt:.0f} s", flush=True)
        if rc != 0 or r is None:
            failed.append(n)
        else:
            results[n] = r
    print("\nSUMMARY" + (" (--quick: the numbers mean nothing)" if args.quick else ""))
    for n, r in results.items():
        for line in summary(n, r):
            print("  " + line)
    for n in failed:
        print(f"  {n}: FAILED")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

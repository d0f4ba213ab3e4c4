"""Helpers shared by the bench scripts (not a library: the scripts import it as ``_common``).

Every script prints human-readable lines plus one ``RESULT {json}`` line at the end, and can write
the same JSON to ``--json PATH``; ``run_all.py`` collects those.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

DEFAULT_CACHE = str(ROOT / ".cache" / "gan_studio")


def add_common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device to benchmark on")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, the numbers mean nothing")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = leave the default)")
    p.add_argument("--cache-dir", default=DEFAULT_CACHE, help="dataset cache folder")
    p.add_argument("--json", help="also write the results as JSON to this file")
    p.add_argument("--seed", type=int, default=0)


def setup(args: argparse.Namespace) -> torch.device:
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda but no CUDA GPU is available")
    return torch.device(args.device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def machine_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "python": platform.python_version(),
        "torch": torch.__version__, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "device": str(device), "platform": platform.platform(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes (device synchronised before and after)."""
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def ratio_line(name: str, value: float, target: str, unit: str = "ratio") -> str:
    return f"{name} {unit}: {value:.2f} ({target})"


def emit(args: argparse.Namespace, name: str, results: dict[str, Any], device: torch.device) -> None:
    """Print the RESULT line and write --json."""
    payload = {"bench": name, "machine": machine_info(device), "args": {k: v for k, v in vars(args).items()},
               **results}
    text = json.dumps(payload, default=_jsonable)
    print("RESULT " + text, flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")


def _jsonable(o: Any) -> Any:
    if isinstance(o, float):
        return o
    return str(o)


def bench_dir(sub: Optional[str] = None) -> Path:
    """A scratch folder for runs made by the benches (gitignored: runs/)."""
    p = ROOT / "runs" / "bench"
    if sub:
        p = p / sub
    p.mkdir(parents=True, exist_ok=True)
    return p

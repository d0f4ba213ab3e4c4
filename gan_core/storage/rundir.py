"""The layout of a run folder, in one place, and reading its JSON-lines files (which a crash may cut short).

    runs/<run>/                  runs_root() = $GAN_STUDIO_RUNS or ./runs
        config.json              the RunConfig (written at start)
        metrics.jsonl            one StepEvent row per line (trainer)
        eval_metrics.jsonl       {"extra": kind, "row": {...}} per line (metrics listener)
        samples/step_0000100.png fixed-noise grids
        tb/                      TensorBoard event files: the metrics.jsonl scalars, the grids, the hparams
        last.pt                  the newest checkpoint (resume from it)
        step_0000100.pt          the newest ``train.keep_checkpoints`` others
"""
from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

from gan_core.config import envvars
from gan_core.storage.fileio import atomic_write_text, remove_stale_temp_files

PathLike = Union[str, os.PathLike]

RUNS_ENV = envvars.RUNS.name
CONFIG = "config.json"
METRICS = "metrics.jsonl"
EVAL_METRICS = "eval_metrics.jsonl"
SAMPLES = "samples"
TENSORBOARD = "tb"
LAST = "last.pt"
STEP_GLOB = "step_*.pt"
ZEROGPU_COMMANDS = ".zerogpu-commands.jsonl"   # steering of a run training in ZeroGPU calls (gan_core.jobs.zerogpu_backend)


RESUME_HINT = "the newest checkpoint in the run directory can be resumed"   # after a training process died


def runs_root() -> Path:
    """Training runs: ``$GAN_STUDIO_RUNS`` or ``./runs``."""
    return Path(os.environ.get(RUNS_ENV) or "runs")


def new_run_dir(stem: str, root: Optional[Path] = None) -> Path:
    """A fresh ``<root>/<time>-<stem>`` folder name (not created), made unique with ``-1``, ``-2``..."""
    root = root or runs_root()
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", time.strftime("%Y%m%d-%H%M%S") + f"-{stem}")
    for i in itertools.count():
        p = root / (stem if i == 0 else f"{stem}-{i}")
        if not p.exists():
            return p
    raise AssertionError("unreachable")


def is_run(d: Path) -> bool:
    """A run folder: it holds a config.json (written first) or a metrics.jsonl."""
    return (d / CONFIG).is_file() or (d / METRICS).is_file()


def step_checkpoint(run_dir: PathLike, step: int) -> Path:
    return Path(run_dir) / f"step_{step:07d}.pt"


def sample_path(run_dir: PathLike, step: int) -> Path:
    return Path(run_dir) / SAMPLES / f"step_{step:07d}.png"


def tensorboard_dir(run_dir: PathLike) -> Path:
    return Path(run_dir) / TENSORBOARD


def prepare(run_dir: Path, config_json: str, step: int) -> None:
    """Make a run folder ready for a (fresh or resumed) run owned by this process: samples/ exists,
    temp files of a run killed mid-write are gone, config.json is written, and metrics.jsonl keeps
    only the lines up to ``step`` (the step it resumes from; all go when starting over, and so do the
    TensorBoard files: a resumed run's writer purges their steps after ``step`` itself)."""
    (run_dir / SAMPLES).mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(run_dir)
    atomic_write_text(run_dir / CONFIG, config_json)
    truncate_jsonl(run_dir / METRICS, lambda d: d.get("step", 0) <= step)
    if step == 0:
        shutil.rmtree(tensorboard_dir(run_dir), ignore_errors=True)


def rotate_checkpoints(run_dir: PathLike, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` step checkpoints; returns what was deleted."""
    olds = sorted(Path(run_dir).glob(STEP_GLOB))[:-keep] if keep > 0 else []
    for p in olds:
        p.unlink(missing_ok=True)
    return olds


def newest_sample(run_dir: PathLike) -> Optional[Path]:
    """The newest ``samples/step_*.png`` of a run (by step in the name, then mtime)."""
    files = [p for p in (Path(run_dir) / SAMPLES).glob("*.png") if not p.name.startswith(".")]
    return max(files, key=lambda p: (p.name, p.stat().st_mtime)) if files else None


def read_json(p: PathLike) -> Optional[dict[str, Any]]:
    """A JSON object file, or None when missing, unreadable or not an object."""
    try:
        d = json.loads(Path(p).read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def read_jsonl(p: PathLike, tail_bytes: int = 0) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, oldest first. Lines a crash cut short (or any line that is
    not an object) are skipped; a missing file yields nothing. ``tail_bytes`` > 0 reads only the end."""
    try:
        with open(p, "rb") as f:
            if tail_bytes:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - tail_bytes))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return
    for line in text.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict):
            yield d


def last_row(p: PathLike) -> Optional[dict[str, Any]]:
    """The last row with an integer ``step`` of a JSON-lines file (reads only its end)."""
    rows = [d for d in read_jsonl(p, tail_bytes=65536) if isinstance(d.get("step"), int)]
    return rows[-1] if rows else None


def truncate_jsonl(p: PathLike, keep: Callable[[dict[str, Any]], bool]) -> None:
    """Rewrite a JSON-lines file (atomically) with only the lines whose object ``keep`` accepts, e.g.
    those up to the step a resumed run starts from; broken lines go too. Kept lines are unchanged."""
    p = Path(p)
    try:
        lines = p.read_text().splitlines()
    except OSError:
        return
    kept = []
    for line in lines:
        try:
            d = json.loads(line)
            if isinstance(d, dict) and keep(d):
                kept.append(line)
        except (ValueError, AttributeError, KeyError, TypeError):
            continue
    atomic_write_text(p, "".join(k + "\n" for k in kept))


def step_rows(run_dir: PathLike) -> list[dict[str, Any]]:
    """The StepEvent rows of a run's metrics.jsonl, oldest first."""
    return [d for d in read_jsonl(Path(run_dir) / METRICS)
            if isinstance(d.get("step"), int) and d.get("kind", "step") == "step"]


def eval_rows(run_dir: PathLike, kinds: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """The metrics listener's rows of ``eval_metrics.jsonl`` by kind, oldest first."""
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for d in read_jsonl(Path(run_dir) / EVAL_METRICS):
        if d.get("extra") in out and isinstance(d.get("row"), dict):
            out[d["extra"]].append(d["row"])
    return out

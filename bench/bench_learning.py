"""Time to reach a quality threshold: evaluate the checkpoints of training runs with the shipped
classifiers and report when a threshold is first met.

    python bench/bench_learning.py --run-dir runs/pretrained_faces_acgan --run-dir runs/pretrained_digits_cgan
    python bench/bench_learning.py --run-dir runs/X --checkpoints-dir runs/learning_ckpts/X   # more step_*.pt
    python bench/bench_learning.py --checkpoint checkpoints/faces_acgan.safetensors --n 1000   # one file
    python bench/bench_learning.py --quick          # smoke test: a tiny run made on the spot

For every ``step_*.pt`` (and ``last.pt``) of a run, oldest first, it samples ``--n`` images from the
checkpoint's generator (EMA weights when present, as exported; ``--raw`` for the raw G; fixed z
and uniformly random tags, the same for every checkpoint) and reports

* faces (conditional): tag accuracy, i.e. the share of samples whose hair AND eye colour (as judged by
  the faces classifier) are the requested ones, plus hair and eye accuracy separately;
* digits: classifier confidence in the requested digit (``label_confidence``: the digits
  classifier's mean softmax probability of the digit G was asked for; for an unconditional G the
  mean max-softmax probability instead), class accuracy (predicted digit == requested digit) and the
  number of distinct digits predicted (a collapsed G draws one clear digit: its max-softmax
  confidence is high, so that alone is not the threshold);
* both: FID and KID on the classifier's features, against ``--n`` real images.

Wall-clock time comes from the run's ``metrics.jsonl`` (``elapsed``: training seconds at that step,
pauses excluded). The threshold line says at which step / after how many seconds the threshold was
first reached at a checkpoint (so the resolution is the checkpoint interval), or "not reached in N s".

Thresholds: faces ``--faces-threshold`` (default 0.90 both-tag accuracy); digits
``--digits-threshold`` (default 0.90 label confidence; for reference the script prints the same
figures on ``--n`` real images with their true labels).

``--checkpoints-dir`` adds ``step_*.pt`` files kept elsewhere (the trainer keeps only the newest
``train.keep_checkpoints`` in the run dir): pair them with ``--run-dir`` in the same order.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_common_args, bench_dir, emit, setup  # noqa: E402

import torch  # noqa: E402

from gan_core import metrics as M  # noqa: E402
from gan_core.storage.checkpoint import load_generator  # noqa: E402
from gan_core.metrics.classifiers import classifier_for, load_classifier  # noqa: E402
from gan_core.config import RunConfig  # noqa: E402
from gan_core.data import load_dataset  # noqa: E402

STEP_RE = re.compile(r"step_(\d+)\.pt$")


def elapsed_by_step(run_dir: Path) -> dict[int, float]:
    out: dict[int, float] = {}
    p = run_dir / "metrics.jsonl"
    if not p.exists():
        return out
    for line in p.read_text().splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and d.get("kind", "step") == "step" and "elapsed" in d:
            out[int(d["step"])] = float(d["elapsed"])
    return out


def elapsed_at(table: dict[int, float], step: int) -> Optional[float]:
    if step in table:
        return table[step]
    before = [s for s in table if s <= step]
    return table[max(before)] if before else None


def checkpoints(run_dir: Path, extra: Optional[Path]) -> list[tuple[int, Path]]:
    found: dict[int, Path] = {}
    for d in (extra, run_dir):  # the run dir wins for equal steps
        if d is None or not d.is_dir():
            continue
        for p in d.glob("step_*.pt"):
            m = STEP_RE.search(p.name)
            if m:
                found[int(m.group(1))] = p
    last = run_dir / "last.pt"
    if last.exists():
        step = int(torch.load(last, map_location="cpu", weights_only=False)["step"])
        found.setdefault(step, last)
    return sorted(found.items())


class Judge:
    """The dataset's classifier, a fixed set of real images and their reference figures."""

    def __init__(self, cfg: RunConfig, spec, args, device):
        name = classifier_for(cfg.data.dataset, spec)
        if name is None:
            raise SystemExit(f"error: no shipped classifier judges dataset {cfg.data.dataset!r}")
        self.ext = load_classifier(name, device)
        self.faces = name == "faces"
        self.conditional = bool(spec.num_classes) and tuple(spec.num_classes) == tuple(self.ext.num_classes)
        ds = load_dataset(cfg.replace(data={"cache_dir": args.cache_dir}).data)
        self.ref = M.real_reference(ds.images, self.ext, args.n, args.seed)
        idx = torch.randperm(len(ds.images), generator=torch.Generator().manual_seed(args.seed))[:args.n]
        self.n_real_labelled = len(idx)
        self.real_acc = M.accuracy_on(ds.images[idx], ds.labels[idx], self.ext).value
        self.real_lconf = M.label_confidence(self.ext.logits(ds.images[idx]), ds.labels[idx])
        self.metric = "tag_accuracy" if self.faces else ("label_confidence" if self.conditional else "confidence")
        self.threshold = args.faces_threshold if self.faces else args.digits_threshold
        self.n, self.seed = args.n, args.seed
        self.cols = (["tag_acc", "hair_acc", "eye_acc", "label_conf"] if self.faces else
                     ["label_conf", "max_conf", "class_acc", "classes_seen"]) + ["FID", "KID", "IS"]

    def describe(self) -> None:
        print(f"judge: {self.ext.name}; {self.n} generated samples per checkpoint vs {self.ref.n} real images; "
              f"threshold: {self.metric} >= {self.threshold:.2f}")
        print(f"real images ({self.n_real_labelled}, true labels): classifier accuracy {self.real_acc:.3f}, "
              f"label confidence {self.real_lconf:.3f}, IS {self.ref.inception_score:.2f}")

    def evaluate(self, G, spec) -> dict[str, Any]:
        g = torch.Generator().manual_seed(self.seed + 1)  # the same z and tags for every checkpoint
        r = M.evaluate_generator(G, spec, self.ext, self.ref, self.n, g, seed=self.seed)
        return {k: r.get(k) for k in (
            "tag_accuracy", "hair_accuracy", "eye_accuracy", "label_confidence", "confidence", "digit_accuracy",
            "digit_classes_seen", "hair_classes_seen", "eye_classes_seen", "fid", "kid", "kid_std", "is",
            "is_real", "n_real", "n_fake")}

    def cells(self, row: dict[str, Any]) -> list[str]:
        vals = ([row["tag_accuracy"], row["hair_accuracy"], row["eye_accuracy"], row["label_confidence"]]
                if self.faces else
                [row["label_confidence"], row["confidence"], row["digit_accuracy"], row["digit_classes_seen"]])
        out = [f"{v:>12.3f}" if isinstance(v, float) else f"{str(v):>12}" for v in vals]
        return out + [f"{row['fid']:>12.2f}", f"{row['kid']:>12.4f}", f"{row['is']:>12.2f}"]


def bench_run(run_dir: Path, extra: Optional[Path], args, device) -> dict[str, Any]:
    cfg = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    ckpts = checkpoints(run_dir, extra)
    if not ckpts:
        raise SystemExit(f"error: no checkpoints in {run_dir}" + (f" or {extra}" if extra else ""))
    times = elapsed_by_step(run_dir)
    _, _, spec = load_generator(ckpts[0][1], device=device, use_ema=not args.raw)
    judge = Judge(cfg, spec, args, device)
    metric, threshold = judge.metric, judge.threshold
    print(f"\n== {run_dir} ({cfg.data.dataset}, {cfg.model.arch}, {cfg.loss.name}; {len(ckpts)} checkpoints) ==")
    print(f"generator weights: {'raw G' if args.raw else 'EMA when the run keeps one (what export ships)'}")
    judge.describe()
    print("  ".join(f"{c:>12}" for c in ["step", "elapsed_s"] + judge.cols))
    rows, reached = [], None
    for step, path in ckpts:
        G, _, spec = load_generator(path, device=device, use_ema=not args.raw)
        el = elapsed_at(times, step)
        row = {"step": step, "elapsed_s": el, "checkpoint": str(path), **judge.evaluate(G, spec)}
        rows.append(row)
        cells = [f"{step:>12d}", f"{el:>12.0f}" if el is not None else f"{'?':>12}"] + judge.cells(row)
        print("  ".join(cells), flush=True)
        value = row[metric]
        if reached is None and value is not None and value >= threshold:
            reached = row
    total = max(times.values(), default=None)
    if reached is not None:
        el = f"{reached['elapsed_s']:.0f} s" if reached["elapsed_s"] is not None else "? s"
        line = (f"{metric} >= {threshold:.2f} first reached at step {reached['step']} after {el} of training "
                f"(checkpoint resolution; {args.n} samples per checkpoint)")
    else:
        line = (f"{metric} >= {threshold:.2f} not reached in {total or 0:.0f} s ({ckpts[-1][0]} steps; best "
                f"{max(r[metric] for r in rows):.3f}; {args.n} samples per checkpoint)")
    print(line)
    return {"run_dir": str(run_dir), "weights": "raw" if args.raw else "ema", "dataset": cfg.data.dataset,
            "arch": cfg.model.arch, "judge": judge.ext.name, "n_fake": args.n, "n_real": judge.ref.n,
            "metric": metric, "threshold": threshold, "reached_step": reached["step"] if reached else None,
            "reached_seconds": reached["elapsed_s"] if reached else None, "train_seconds": total,
            "real_accuracy": judge.real_acc, "real_label_confidence": judge.real_lconf, "summary": line,
            "rows": rows}


def bench_file(path: Path, args, device) -> dict[str, Any]:
    """One checkpoint / safetensors export (no timing): the figures for checkpoints/README.md."""
    G, cfg, spec = load_generator(path, device=device, use_ema=not args.raw)
    judge = Judge(cfg, spec, args, device)
    print(f"\n== {path} ({cfg.data.dataset}, {cfg.model.arch}, {cfg.loss.name}) ==")
    judge.describe()
    row = {"checkpoint": str(path), **judge.evaluate(G, spec)}
    print("  ".join(f"{c:>12}" for c in judge.cols))
    print("  ".join(judge.cells(row)))
    return {"checkpoint": str(path), "dataset": cfg.data.dataset, "arch": cfg.model.arch, "judge": judge.ext.name,
            "real_accuracy": judge.real_acc, "real_label_confidence": judge.real_lconf, **row}


def quick_run(args) -> Path:
    """A tiny digits cGAN trained on the spot (smoke test: the numbers mean nothing)."""
    from gan_core.train.trainer import Trainer

    out = bench_dir("learning_quick")
    cfg = RunConfig().replace(
        data={"dataset": "digits", "image_size": 16, "cache_dir": args.cache_dir},
        model={"arch": "cgan", "z_dim": 16, "g_width": 8, "d_width": 8},
        train={"steps": 20, "batch_size": 16, "log_every": 5, "sample_every": 0, "checkpoint_every": 10,
               "device": "cpu"})
    for _ in Trainer(cfg, out).run():
        pass
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--run-dir", action="append", default=[], help="a training run folder (repeatable)")
    p.add_argument("--checkpoints-dir", action="append", default=[],
                   help="more step_*.pt of the run with the same position (repeatable)")
    p.add_argument("--checkpoint", action="append", default=[],
                   help="evaluate one checkpoint / .safetensors export (repeatable; no timing)")
    p.add_argument("--n", type=int, default=512, help="generated (and real) images per checkpoint")
    p.add_argument("--raw", action="store_true", help="evaluate the raw G weights, not the EMA copy")
    p.add_argument("--faces-threshold", type=float, default=0.90, help="both-tag accuracy")
    p.add_argument("--digits-threshold", type=float, default=0.90,
                   help="classifier confidence in the requested digit (label_confidence)")
    args = p.parse_args()
    device = setup(args)
    if args.quick:
        args.n = min(args.n, 64)
        args.run_dir = [str(quick_run(args))]
    if not args.run_dir and not args.checkpoint:
        p.error("give at least one --run-dir or --checkpoint (or --quick)")
    t0 = time.perf_counter()
    results, files = [], []
    for f in args.checkpoint:
        files.append(bench_file(Path(f), args, device))
    for i, rd in enumerate(args.run_dir):
        extra = Path(args.checkpoints_dir[i]) if i < len(args.checkpoints_dir) else None
        results.append(bench_run(Path(rd), extra, args, device))
    if results:
        print("\nsummary:")
        for r in results:
            print(f"  {r['run_dir']}: {r['summary']}")
    emit(args, "learning", {"runs": results, "files": files, "seconds": round(time.perf_counter() - t0, 1)}, device)


if __name__ == "__main__":
    main()

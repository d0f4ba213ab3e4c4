"""Choose precision and memory layout by timing a few training steps on this machine.

Whether bf16 autocast or channels_last pays off depends on the processor, not only on its feature
flags: bf16 autocast was 1.8x faster on an AMD Zen 4 and 0.9x on an Intel Xeon with AVX512-BF16 but
no AMX. So at the start of a run the trainer times a few steps of each allowed option (on copies of
its networks, with their own RNG: the run itself is not touched) and keeps the fastest. The choice is
cached per machine and network shape in ``<data.cache_dir>/speed_probe.json``.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch

from gan_core.storage.fileio import atomic_write_text

__all__ = ["Option", "ProbeResult", "machine_name", "candidate_options", "probe", "load_cached", "store_cached"]

PROBE_VERSION = 2
MAX_SPREAD = 1.5   # a probe whose step times vary more than this (another job on the cores) is not cached


@dataclass(frozen=True)
class Option:
    precision: str        # "fp32" | "bf16" | "fp16"
    channels_last: bool

    @property
    def label(self) -> str:
        return f"{self.precision}{' + channels_last' if self.channels_last else ''}"

    @property
    def dtype(self) -> Optional[torch.dtype]:
        return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]


@dataclass
class ProbeResult:
    chosen: Option
    ms_per_step: dict[str, float]          # option label -> median ms per G step (n_critic D steps included)
    machine: str
    cached: bool = False
    steps_timed: int = 0
    stable: bool = True                    # every option's timed steps within MAX_SPREAD of each other
    kept: bool = False                     # the option a resumed checkpoint was trained in (not timed)

    @property
    def cacheable(self) -> bool:
        return bool(self.ms_per_step) and self.stable and not self.cached

    @property
    def best_ms(self) -> float:
        return self.ms_per_step.get(self.chosen.label, float("nan"))

    def describe(self) -> str:
        if self.kept:
            return f"precision / layout: {self.chosen.label} (kept from the checkpoint, so the resumed run goes on as it began; {self.machine})"
        if not self.ms_per_step:
            return f"precision / layout: {self.chosen.label} (the only option allowed; not timed; {self.machine})"
        others = ", ".join(f"{k} {v:.1f} ms" for k, v in self.ms_per_step.items() if k != self.chosen.label)
        src = "cached for this machine" if self.cached else f"timed {self.steps_timed} steps each"
        if not self.stable:
            src += "; the machine was busy, so the timings are rough and were not cached"
        return (f"precision / layout: {self.chosen.label} ({self.best_ms:.1f} ms per step"
                + (f"; {others}" if others else "") + f"; {src}; {self.machine})")

    def to_dict(self) -> dict:
        return {"chosen": asdict(self.chosen), "ms_per_step": self.ms_per_step, "machine": self.machine,
                "steps_timed": self.steps_timed}

    @classmethod
    def from_dict(cls, d: dict) -> "ProbeResult":
        return cls(Option(**d["chosen"]), {k: float(v) for k, v in d["ms_per_step"].items()}, d["machine"],
                   True, int(d.get("steps_timed", 0)))


def machine_name(device: torch.device) -> str:
    """The processor (or GPU) model, as people know it: "AMD EPYC 9B14", "NVIDIA H100 80GB HBM3"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name or platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def candidate_options(device: torch.device, allow_amp: bool, allow_channels_last: bool, conv: bool) -> list[Option]:
    """The options worth timing on ``device`` (the first is the fallback when nothing is timed)."""
    precisions = ["fp32"]
    if allow_amp and conv:
        if device.type == "cpu" and getattr(torch.backends, "mkldnn", None) is not None and \
                torch.backends.mkldnn.is_available():
            precisions.append("bf16")
        elif device.type == "cuda":
            # fp16 with a grad scaler always; bf16 where the card has it, natively or emulated (T4-class cards
            # emulate it, slowly): the timed probe decides, as on the CPU
            precisions.append("fp16")
            if torch.cuda.is_bf16_supported():
                precisions.append("bf16")
    layouts = [False, True] if (conv and allow_channels_last) else [False]
    return [Option(p, cl) for p in precisions for cl in layouts]


def _cache_key(device: torch.device, shape: str) -> str:
    h = hashlib.sha1(f"{PROBE_VERSION}|{machine_name(device)}|{torch.__version__}|{shape}".encode()).hexdigest()
    return h[:16]


def load_cached(path: Path, device: torch.device, shape: str) -> Optional[ProbeResult]:
    try:
        d = json.loads(path.read_text())
        return ProbeResult.from_dict(d[_cache_key(device, shape)])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_cached(path: Path, device: torch.device, shape: str, result: ProbeResult) -> None:
    """Remember a probe for this machine and shape; a rough one (busy machine) is not kept."""
    if not result.cacheable:
        return
    try:
        try:
            d = json.loads(path.read_text())
            if not isinstance(d, dict):
                d = {}
        except (OSError, ValueError):
            d = {}
        d[_cache_key(device, shape)] = {**result.to_dict(), "shape": shape}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(d, indent=1, sort_keys=True))
    except OSError:
        pass  # a read-only cache folder only costs a probe next time


def probe(options: Sequence[Option], step_fn: Callable[[Option], None], device: torch.device,
          warmup: int = 2, rounds: int = 4) -> ProbeResult:
    """Time ``step_fn(option)`` (one training step) for each option, interleaved round by round so
    that a slow moment of the machine hits every option alike; keep the lowest median."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for opt in options:
        for _ in range(warmup):
            step_fn(opt)
    sync()
    times: dict[str, list[float]] = {o.label: [] for o in options}
    for _ in range(rounds):
        for opt in options:
            t0 = time.perf_counter()
            step_fn(opt)
            sync()
            times[opt.label].append(1000 * (time.perf_counter() - t0))
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    best = min(options, key=lambda o: med[o.label])
    stable = all(max(v) <= MAX_SPREAD * min(v) for v in times.values())
    return ProbeResult(best, med, machine_name(device), False, rounds, stable)


def probe_trainer(trainer: Any, keep: Optional[str] = None) -> ProbeResult:
    """Time a few steps of a gan_core.train.trainer.Trainer in each allowed precision / layout, on copies of G
    and D (own RNG; the run is untouched), and return the fastest; cached per machine and network shape.
    ``keep``: the label of the option a resumed checkpoint trained in; used as it is when allowed here."""
    self = trainer
    tc, dev = self.cfg.train, self.device
    options = candidate_options(dev, tc.amp, tc.channels_last, self.conv)
    kept = [o for o in options if o.label == keep]
    if kept:
        return ProbeResult(kept[0], {}, machine_name(dev), kept=True)
    if len(options) == 1:
        return ProbeResult(options[0], {}, machine_name(dev), False, 0)
    shape = json.dumps({"model": dataclasses.asdict(self.cfg.model), "loss": self.cfg.loss.name,
                        "ms": self.cfg.loss.ms_weight > 0, "n_critic": self.n_critic, "batch": tc.batch_size,
                        "spec": [self.spec.channels, self.spec.image_size, list(self.spec.num_classes)],
                        "diffaug": self.cfg.data.diffaugment, "threads": torch.get_num_threads(),
                        "device": dev.type}, sort_keys=True)
    cache = Path(self.cfg.data.cache_dir) / "speed_probe.json"
    cached = load_cached(cache, dev, shape)
    if cached is not None and cached.chosen in options:
        return cached
    clones: dict[str, Any] = {}
    for o in options:
        p = copy.copy(self)
        p.G, p.D, p.ema, p._stash = copy.deepcopy(self.G), copy.deepcopy(self.D), None, None
        p._use_option(o)
        if p.mem_format is not None:
            p.G.to(memory_format=p.mem_format)
            p.D.to(memory_format=p.mem_format)
        p.opt_g, p.opt_d = p._make_opt(p.G, tc.lr_g), p._make_opt(p.D, tc.lr_d)
        p.gen = torch.Generator(device=self.data_device).manual_seed(1)
        p.dev_gen = p.gen if p.gen.device == dev else torch.Generator(device=dev).manual_seed(2)
        clones[o.label] = p

    def one_step(o: Option) -> None:
        p = clones[o.label]
        for i in range(p.n_critic):
            p._d_step(keep_fake=i == p.n_critic - 1)
        p._g_step()

    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        result = probe(options, one_step, dev)
    store_cached(cache, dev, shape, result)
    return result

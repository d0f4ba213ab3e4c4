"""The trainer's small collaborators: the EMA of G, the log window that becomes a StepEvent (and a line
of metrics.jsonl, and TensorBoard scalars), and the schedule of periodic actions (grids, checkpoints) by
steps or by clock."""
from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor, nn

from gan_core.storage import rundir
from gan_core.config import TrainConfig
from gan_core.train import schedule
from gan_core.train.events import StepEvent
from gan_core.train.tblog import TBLog

LOGGED_EXTRAS = ("penalty", "aux_d", "aux_g", "twin_d", "ms", "d_adv", "g_adv", "l1")   # StepEvent.extra


class EMA:
    """An exponential moving average of G's weights (buffers copied), with TF's warm-up: early on the
    average follows G closely, so a short run's EMA generator is not still mostly the initialisation."""

    def __init__(self, G: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(G).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, G: nn.Module, step: int) -> None:
        d = min(self.decay, (1.0 + step) / (10.0 + step))
        torch._foreach_lerp_(list(self.model.parameters()), [p.detach() for p in G.parameters()], 1.0 - d)
        for be, b in zip(self.model.buffers(), G.buffers()):
            be.copy_(b)


def due(step: int, every_steps: int, run_time: float, mark: float, every_s: float,
        end: float = 0.0) -> tuple[bool, float]:
    """Whether a periodic action (grid, checkpoint) is due after ``step``: every ``every_steps`` steps,
    and each time the run time passes ``mark`` (then the next mark is the following multiple of
    ``every_s``). A clock mark reached at the time limit ``end`` is left to the end-of-run action.
    Returns (due, next mark)."""
    is_due = bool(every_steps) and step % every_steps == 0
    if run_time >= mark:
        mark = (run_time // every_s + 1) * every_s
        is_due = not (end and run_time >= end)
    return is_due, mark


def grad_norm(m: nn.Module) -> float:
    norms = [p.grad.detach().norm() for p in m.parameters() if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


def weights_finite(nets: Sequence[Optional[nn.Module]]) -> bool:
    """Every floating-point weight and buffer of the networks (None skipped) is finite."""
    return all(bool(torch.isfinite(t).all()) for m in nets if m is not None for t in m.state_dict().values()
               if t.is_floating_point())


class StepLog:
    """The current log window: per-step loss tensors (kept on the device, averaged once per window),
    images seen, run time net of pauses; :meth:`event` turns it into a StepEvent, :meth:`write` appends
    it to the run's metrics.jsonl and to ``tb``'s TensorBoard scalars (``run_dir`` None: no file)."""

    def __init__(self, tc: TrainConfig, start_step: int, elapsed0: float, run_dir: Optional[Path],
                 tb: Optional[TBLog] = None, reduce: Optional[Callable[[dict[str, float]], dict[str, float]]] = None):
        self.tc, self.start_step, self.elapsed0 = tc, start_step, elapsed0
        self.t_start = self.win_t0 = time.perf_counter()
        self.paused = 0.0
        self.window: list[dict[str, Tensor]] = []
        self.imgs = 0
        self.file = open(Path(run_dir) / rundir.METRICS, "a") if run_dir is not None else None
        self.tb = tb
        self.reduce = reduce   # data-parallel: the means over all processes

    @property
    def run_time(self) -> float:
        return time.perf_counter() - self.t_start - self.paused

    def add_pause(self, seconds: float) -> None:
        self.paused += seconds
        self.win_t0 += seconds

    def add(self, out: dict[str, Tensor], imgs: int) -> None:
        self.window.append(out)
        self.imgs += imgs

    def event(self, step: int, D: nn.Module, G: nn.Module, lr_g: float, lr_d: float, n_critic: int,
              lr_scale: float = 1.0) -> StepEvent:
        """The window's means as a StepEvent; the window starts over."""
        tc = self.tc
        means = {k: float(torch.stack([w[k].float() for w in self.window]).mean()) for k in self.window[0]}
        if self.reduce is not None:
            means = self.reduce(means)
        run_time = self.run_time
        steps_per_s = (step - self.start_step) / max(run_time, 1e-9)
        etas = []
        if tc.steps:
            etas.append((tc.steps - step) / max(steps_per_s, 1e-9))
        if tc.seconds:
            etas.append(max(tc.seconds - run_time, 0.0))
        progress = schedule.progress(step, tc.steps, run_time, tc.seconds)
        ev = StepEvent(
            step=step, total_steps=tc.steps, d_loss=means["d_loss"], g_loss=means["g_loss"],
            d_real=means["d_real"], d_fake=means["d_fake"], grad_norm_d=grad_norm(D), grad_norm_g=grad_norm(G),
            img_per_s=self.imgs / max(time.perf_counter() - self.win_t0, 1e-9), lr_g=lr_g, lr_d=lr_d,
            n_critic=n_critic, elapsed=self.elapsed0 + run_time, eta=min(etas) if etas else None,
            progress=progress, lr_scale=lr_scale, extra={k: v for k, v in means.items() if k in LOGGED_EXTRAS},
        )
        self.window, self.win_t0, self.imgs = [], time.perf_counter(), 0
        return ev

    def write(self, ev: StepEvent) -> None:
        if self.file is not None:
            self.file.write(json.dumps(ev.to_dict()) + "\n")
            self.file.flush()
        if self.tb is not None:
            self.tb.scalars(ev)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def grid_labels(num_classes: tuple[int, ...], n: int) -> Optional[Tensor]:
    """Labels for the fixed sample grid: group 0 varies along rows, group 1 along columns."""
    if not num_classes:
        return None
    ncol = max(1, int(math.ceil(math.sqrt(n))))
    i = torch.arange(n)
    cols = [(i // ncol) % num_classes[0]]
    if len(num_classes) > 1:
        cols.append((i % ncol) % num_classes[1])
    cols += [torch.zeros(n, dtype=torch.long)] * (len(num_classes) - len(cols))
    return torch.stack(cols, dim=1)

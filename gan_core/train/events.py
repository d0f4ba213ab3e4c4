"""Typed events the trainer yields. CLI, job manager and UIs subscribe to these."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import numpy as np


@dataclass
class Event:
    kind = "event"
    # wall-clock time the event was made (time.time()); it may be handled later, e.g. in another process
    created: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if not isinstance(v, np.ndarray)}
        d["kind"] = self.kind
        return d


@dataclass
class StartEvent(Event):
    run_dir: Optional[str]
    config: dict[str, Any]
    data_spec: dict[str, Any]
    device: str
    dataset_size: int
    params_g: int
    params_d: int
    start_step: int                      # > 0 when resumed
    notes: list[str] = field(default_factory=list)
    kind = "start"


@dataclass
class StatusEvent(Event):
    status: str                          # "loading data" | "paused" | "running" | "stopping"
    step: int = 0
    message: str = ""
    kind = "status"


@dataclass
class StepEvent(Event):
    step: int                            # generator steps done
    total_steps: int                     # 0 when only a time limit is set
    d_loss: float                        # D loss incl. penalty and aux terms (mean over the log window)
    g_loss: float
    d_real: float                        # mean D(x) (probability for BCE losses, raw score otherwise)
    d_fake: float                        # mean D(G(z)) during the D step
    grad_norm_d: float
    grad_norm_g: float
    img_per_s: float                     # real images through D per second (batch x n_critic x steps)
    lr_g: float
    lr_d: float
    n_critic: int
    elapsed: float                       # training seconds (pauses excluded)
    eta: Optional[float]                 # seconds left, None when unknown
    progress: float                      # 0..1
    extra: dict[str, float] = field(default_factory=dict)  # penalty, aux losses, ...
    lr_scale: float = 1.0                # train.lr_decay's factor: the optimisers use lr_g / lr_d times this
    kind = "step"


@dataclass
class SampleEvent(Event):
    step: int
    image: np.ndarray                    # (H, W, 3) uint8: fixed-noise grid or 2D scatter plot
    path: Optional[str] = None
    kind = "sample"


@dataclass
class CheckpointEvent(Event):
    step: int
    path: str
    kind = "checkpoint"


@dataclass
class ErrorEvent(Event):
    step: int
    message: str
    error: str = "exception"             # "nan" | "exception" | "data" | "config"
    kind = "error"


@dataclass
class DoneEvent(Event):
    step: int
    reason: str                          # "steps" | "time" | "stopped" | "error"
    run_dir: Optional[str] = None
    last_checkpoint: Optional[str] = None
    shortfall: str = ""                  # a time-budget run with fewer steps than its preset needs says so
    kind = "done"

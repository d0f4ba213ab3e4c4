"""How far a run is, and the learning-rate decay over the last part of its budget.

A run's budget is ``train.steps`` G steps, ``train.seconds`` of training time, or both (it ends at the
first reached): :func:`progress` is the share of it spent, in either mode. ``train.lr_decay`` (off,
linear or cosine) lowers both learning rates to 0 from ``train.lr_decay_start`` (a share of the budget)
to the end: :func:`lr_scale` is the factor applied to the steered learning rates (the base a live change
sets), so a run stopped by its clock ends with the same small steps as one stopped by its step count.
"""
from __future__ import annotations

import math

from gan_core.config import LR_DECAYS

__all__ = ["progress", "lr_scale", "LR_DECAYS"]


def progress(step: int, steps: int, run_time: float, seconds: float) -> float:
    """Share of the budget spent, 0..1: ``step / steps``, ``run_time / seconds``, the larger when both are
    set (the run ends at the first); 0 when there is no limit."""
    p = step / steps if steps else 0.0
    if seconds:
        p = max(p, run_time / seconds)
    return min(max(p, 0.0), 1.0)


def lr_scale(kind: str, start: float, frac: float) -> float:
    """Factor on the learning rates at ``frac`` of the budget: 1 until ``start``, then down to 0 at the end
    (``linear``: a straight line; ``cosine``: half a cosine); ``none`` (or start 1) is always 1."""
    if kind == "none" or frac <= start or start >= 1.0:
        return 1.0
    t = min((frac - start) / (1.0 - start), 1.0)
    if kind == "linear":
        return 1.0 - t
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"unknown lr decay {kind!r}; choose from {', '.join(LR_DECAYS)}")

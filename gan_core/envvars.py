"""Numbers from environment variables (the server's settings, e.g. ``GAN_STUDIO_MAX_CONCURRENT``): unset or
empty gives the default; anything else must be a number in range, or a one-line ValueError says so."""
from __future__ import annotations

import os
from typing import Union

Number = Union[int, float]


def env_number(name: str, default: Number, lo: Number, hi: Number, kind: type = int) -> Number:
    """``$name`` as ``kind`` (int or float) in [lo, hi]; ``default`` when it is unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    what = "an integer" if kind is int else "a number"
    try:
        v = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be {what} between {lo:g} and {hi:g}, got {raw!r}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be {what} between {lo:g} and {hi:g}, got {raw!r}")
    return v

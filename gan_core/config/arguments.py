"""Arguments of the explore tools (sample grids, sweeps, interpolation, latent arithmetic, sketches), declared
once with :func:`gan_core.config.setting` like the run settings.

The UI fields, the HTTP API (``/generate``, ``/interpolate``) and the CLI (``sample --seed``) all check a
value with :func:`check_args` / :func:`check_arg`, so each gives the same range and the same message:
``seed must be between 0 and 9223372036854775807, got -5``. :func:`arg_spec` gives a UI widget's label,
help, range and step (with the integer range cut to what a browser's number input holds exactly).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

from gan_core.config import SEED_MAX, ConfigError, check_value, setting

MAX_WIDGET_INT = 2**53 - 1   # the largest integer a browser's number input (a double) holds exactly


@dataclass(frozen=True)
class ExploreArgs:
    seed: int = setting(0, "Seed", "Same seed, same z: the picture is reproducible.", lo=0, hi=SEED_MAX, step=1)
    n: int = setting(64, "Images", lo=1, hi=64, step=1)
    nrow: int = setting(8, "Images per row", lo=1, hi=32, step=1)
    rows: int = setting(4, "Rows (different z)", lo=1, hi=8, step=1)
    frames: int = setting(16, "Frames", lo=2, hi=64, step=1)
    fps: float = setting(10.0, "GIF frames / s", lo=1.0, hi=30.0, step=1.0)
    method: str = setting("slerp", "Path", "slerp follows the sphere where Gaussian z's live; lerp is a "
                          "straight line.", choices=("slerp", "lerp"))
    loop_seeds: int = setting(4, "Seeds in the loop", "The GIF walks through this many seeds and back to the first.",
                              lo=2, hi=12, step=1)


_FIELDS = {f.name: f for f in dataclasses.fields(ExploreArgs)}
SEED_ARGS = ("seed", "seed_a", "seed_b", "seed1", "seed2", "seed3")   # every seed argument: the seed's range


def _field(name: str) -> dataclasses.Field:
    base = "seed" if name in SEED_ARGS else name
    if base not in _FIELDS:
        raise KeyError(f"no explore argument {name!r}")
    return _FIELDS[base]


def check_arg(name: str, value: Any) -> Any:
    """``value`` of argument ``name`` checked against its declaration and converted: a whole float such as
    3.0 (what a number box or a JSON client sends) becomes the int 3; 2.5, -5, 2**70, 1e300 or NaN for an
    integer raise :class:`ConfigError` naming ``name``, as does a number out of range or an unknown choice."""
    f = _field(name)
    default = f.default
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)     # numpy / torch integers
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = float(value)
    if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ConfigError(name, f"must be an integer, got {value!r}")
        lo, hi = f.metadata["lo"], f.metadata["hi"]
        if not lo <= value <= hi:   # said as sent (1e+300), not as a 301-digit integer
            raise ConfigError(name, f"must be between {lo} and {hi}, got {value:g}")
        value = int(value)
    elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif isinstance(value, str) and not isinstance(default, str):
        raise ConfigError(name, f"must be a number, got {value!r}")
    check_value(name, value, f)
    return value


def check_args(**values: Any) -> dict[str, Any]:
    """Every ``name=value`` checked and converted by :func:`check_arg`; the first bad one raises."""
    return {k: check_arg(k, v) for k, v in values.items()}


@dataclass(frozen=True)
class ArgSpec:
    """A UI widget for one explore argument, from its declaration."""
    name: str
    label: str
    help: str
    default: Any
    lo: Any
    hi: Any            # cut to MAX_WIDGET_INT for integers: a browser's number box holds no more
    step: Any
    choices: tuple


def arg_spec(name: str) -> ArgSpec:
    f = _field(name)
    md = f.metadata
    hi = md["hi"]
    if isinstance(f.default, int) and hi is not None:
        hi = min(hi, MAX_WIDGET_INT)
    return ArgSpec(name, md["label"], md["help"], f.default, md["lo"], hi, md["step"], tuple(md["choices"] or ()))


def cli_type(name: str):
    """An argparse ``type=`` for argument ``name``: the same range and message on the command line."""
    def parse(text: str) -> Any:
        f = _field(name)
        try:
            value = int(text) if isinstance(f.default, int) else float(text) if isinstance(f.default, float) else text
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        try:
            return check_arg(name, value)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = name
    return parse

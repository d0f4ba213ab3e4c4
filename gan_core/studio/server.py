"""What an app server does once at start, for both front ends: serve below training priority
(gan_core.jobs.priority), and in the background make the default preset's data pool and probe this machine's
speed (gan_core.train.timeplan), so that the first run does not spend its first half-minute drawing faces and
the Train page can say before Start how many steps a time preset gives here.

``$GAN_STUDIO_PROBE=0`` turns the background pool and speed probe off (plans then say "not measured");
``$GAN_STUDIO_SERVER_NICE=0`` leaves the server's priority alone.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Optional

from gan_core.config import envvars
from gan_core.jobs import priority
from gan_core.train import timeplan, timeprobe
from gan_core.train.recipes import DEFAULT_PRESET

PROBE_ENV = envvars.PROBE.name

_lock = threading.Lock()
_done: dict[str, Any] = {}


def probe_enabled() -> bool:
    return os.environ.get(PROBE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def prepare_server(preset: str = DEFAULT_PRESET, dataset: str = "faces") -> dict[str, Any]:
    """Once per process (later calls return the first result): nice the server below its training
    children, then start the background pool + speed probe of ``preset`` on ``dataset``."""
    with _lock:
        if _done:
            return dict(_done)
        _done["priority"] = priority.serve_below_training()
        _done["probe"] = bool(probe_enabled() and timeprobe.speed_book().prepare(
            [timeplan.preset_config(preset, dataset)] + [timeplan.preset_config(preset, dataset, v)
                                                         for v in timeplan.VARIANTS]))
        return dict(_done)


def preset_plan(preset: str, dataset: str, busy_with: int = 0) -> timeplan.PresetPlan:
    """What the Train form shows under a time preset (both fronts): a dict look-up; a missing speed starts
    the one background probe unless probing is off or runs are training (``busy_with``)."""
    return timeprobe.preset_plan(preset, dataset, busy_with=busy_with, probe=probe_enabled())


def plan_markdown(plan: timeplan.PresetPlan) -> str:
    """The plan as one short paragraph for either front (markdown)."""
    word = {"enough": "enough steps", "tight": "short", "too few": "too few steps", "by steps": "by steps",
            "measuring": "measuring", "unknown": "not measured"}[plan.verdict]
    out = f"**{plan.preset} on this machine: {word}.** {plan.message[0].upper()}{plan.message[1:]}."
    if plan.suggestion:
        out += f" {plan.suggestion}"
    return out


def server_state() -> Optional[dict[str, Any]]:
    with _lock:
        return dict(_done) if _done else None

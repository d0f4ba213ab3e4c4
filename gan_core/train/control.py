"""Steering a run from another thread (the job manager, a UI): stop, pause, and the live settings
(learning rates, n_critic) whose ranges come from the config's metadata. Also the device a run uses."""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional, Union

import torch

from gan_core.config import ConfigError, check_value, field_info

LIVE_FIELDS = ("train.lr_g", "train.lr_d", "train.n_critic")   # the settings a running job accepts


class TrainControl:
    """Thread-safe handle to steer a running trainer from another thread (UI, job manager)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._updates: dict[str, Any] = {}

    def stop(self) -> None:
        self._stop.set()
        self._resume.set()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def wait_resumed(self, timeout: float) -> bool:
        return self._resume.wait(timeout)

    def _queue_update(self, key: str, v: Any) -> None:
        """Check ``v`` against the config's own range for ``key`` and queue it for the trainer."""
        try:
            check_value(key, v, field_info(key))
        except ConfigError as e:
            raise ValueError(str(e)) from None
        with self._lock:
            self._updates[key.split(".", 1)[1]] = v

    def set_lr(self, lr_g: Optional[float] = None, lr_d: Optional[float] = None) -> None:
        for name, v in (("lr_g", lr_g), ("lr_d", lr_d)):
            if v is not None:
                self._queue_update(f"train.{name}", float(v) if isinstance(v, int) and not isinstance(v, bool) else v)

    def set_n_critic(self, n: int) -> None:
        self._queue_update("train.n_critic", n)

    def take_updates(self) -> dict[str, Any]:
        with self._lock:
            u, self._updates = self._updates, {}
        return u


class ForwardingControl(TrainControl):
    """TrainControl whose commands are also forwarded to a trainer elsewhere: a child process, torchrun's
    rank 0, a Ray actor. :meth:`attach` gives it the sink (anything with ``put((name, args))``); commands
    given before that are kept and replayed in order."""

    def __init__(self) -> None:
        super().__init__()
        self._queue: Any = None
        self._pending: list[tuple[str, tuple]] = []

    @property
    def sink(self) -> Any:
        """Where commands go now (None before the trainer is up and after it ended)."""
        return self._queue

    def attach(self, q: Any) -> None:
        with self._lock:
            self._queue = q
            pending, self._pending = self._pending, []
        for name, args in pending:
            self._send(name, *args)

    def _send(self, name: str, *args: Any) -> None:
        with self._lock:
            if self._queue is None:
                self._pending.append((name, args))
                return
            q = self._queue
        try:
            q.put((name, args))
        except Exception:  # noqa: BLE001 - the sink is gone (queue closed, actor dead): the run has ended
            pass

    def stop(self) -> None:
        super().stop()
        self._send("stop")

    def pause(self) -> None:
        super().pause()
        self._send("pause")

    def resume(self) -> None:
        super().resume()
        self._send("resume")

    def set_lr(self, lr_g: Optional[float] = None, lr_d: Optional[float] = None) -> None:
        super().set_lr(lr_g, lr_d)  # validates
        self.take_updates()
        self._send("set_lr", lr_g, lr_d)

    def set_n_critic(self, n: int) -> None:
        super().set_n_critic(n)
        self.take_updates()
        self._send("set_n_critic", n)


def apply_commands(receive: Callable[[], tuple[str, tuple]], control: TrainControl) -> None:
    """The far side of a ForwardingControl: apply each ``(name, args)`` that ``receive()`` returns to
    ``control`` until the sender is gone. Commands were validated where they were given."""
    while True:
        try:
            name, args = receive()
        except (EOFError, OSError, ValueError):
            return
        try:
            getattr(control, name)(*args)
        except Exception:  # noqa: BLE001 - a command for a run that has moved on
            pass


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available())


def resolve_device(name: Union[str, torch.device]) -> torch.device:
    """"auto" -> CUDA, else MPS, else CPU; an explicit device must exist (ValueError in one line)."""
    if isinstance(name, str) and name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {str(name)[:40]!r}; use cpu, cuda or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available; use 'cpu' or 'auto'")
    if dev.type == "mps" and not _mps_available():
        raise ValueError("device 'mps' was asked for but Apple MPS is not available; use 'cpu' or 'auto'")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {str(name)[:40]!r} is not supported; use cpu, cuda or mps")
    return dev

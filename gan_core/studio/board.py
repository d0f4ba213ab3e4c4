"""The class board: every run on this server in one sortable table, what a class discusses ("why did
WGAN-GP beat minimax on this data?"). Both front ends render these rows; nothing here imports a UI toolkit.

* :class:`BoardStore`: what the board keeps server-wide, in ``<runs>/.class_board.json`` (written
  atomically under a file lock, so a Streamlit and a Gradio server on one machine share it): the
  visitors' display names (keyed by a hash of the owner secret; the secret is never stored or shown),
  which visitor started which run (so names survive a server restart), and the runs the teacher pinned.
* :func:`board_rows`: one row per run (the job manager's runs and the run folders on disk): visitor,
  status (saying who stopped it), loss, architecture, preset, steps, the newest grid, tag accuracy and
  same-tag diversity; :func:`sort_rows` sorts them; :func:`permissions` says what this visitor may do.
* :func:`projector_cards`: the pinned runs side by side, grids and key figures large.
* :func:`stop_run`, :func:`delete_run`, :func:`set_pinned`: the teacher's (admin's) actions; students
  get :class:`~gan_core.jobs.sharing.PermissionDenied` with the reason.
"""
from __future__ import annotations

import json
import math
import re
import shutil
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from gan_core.storage import rundir
from gan_core.storage.fileio import atomic_write_text
from gan_core.metrics.listener import load_eval_metrics
from gan_core.train.recipes import PRESETS
from gan_core.jobs.sharing import PermissionDenied, owner_hash
from gan_core.studio.classroom import is_mine, status_text
from gan_core.studio.form import flatten
from gan_core.studio.pictures import png_bytes, upscale
from gan_core.studio.runs import format_metric, list_runs

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the lock covers this process only
    fcntl = None  # type: ignore[assignment]

BOARD_FILE = ".class_board.json"
ANONYMOUS = "anonymous"
MAX_NAME = 24
_NAME_RE = re.compile(r"^[\w .'-]+$")
VIEW_ONLY = "View only: the teacher (admin) can pin, stop and delete runs here."
_LOCK = threading.Lock()


# ---- what the board keeps server-wide -----------------------------------------------------------------
def clean_name(name: str) -> str:
    """A display name as given (spaces collapsed), or ValueError saying what is allowed; '' = anonymous."""
    name = " ".join((name or "").split())
    if len(name) > MAX_NAME:
        raise ValueError(f"a name has at most {MAX_NAME} characters")
    if name and not _NAME_RE.match(name):
        raise ValueError("a name may hold letters, digits, spaces and . ' - _ only")
    return name


class BoardStore:
    """Names, run owners and pins of one runs folder (``.class_board.json`` in it)."""

    def __init__(self, root: Optional[Union[str, Path]] = None):
        self.root = Path(root) if root is not None else rundir.runs_root()
        self.path = self.root / BOARD_FILE

    def read(self) -> dict[str, Any]:
        """``{"names": {hash: name}, "owners": {run: hash}, "pins": [run, ...]}`` (empty when unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            data = {}
        data = data if isinstance(data, dict) else {}
        names, owners, pins = data.get("names"), data.get("owners"), data.get("pins")
        return {"names": {k: v for k, v in names.items() if isinstance(v, str)} if isinstance(names, dict) else {},
                "owners": {k: v for k, v in owners.items() if isinstance(v, str)} if isinstance(owners, dict) else {},
                "pins": [p for p in pins if isinstance(p, str)] if isinstance(pins, list) else []}

    def _update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Read, change and write back under a lock (this process's and, where there is fcntl, a file
        lock shared with the other servers on this machine); the write is atomic."""
        self.root.mkdir(parents=True, exist_ok=True)
        with _LOCK, open(self.root / (BOARD_FILE + ".lock"), "a+") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            data = self.read()
            change(data)
            atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True))
            return data

    # names
    def set_name(self, owner: str, name: str) -> str:
        """Set (or, with '', clear) the name a visitor is shown by on the board; returns it cleaned."""
        name, key = clean_name(name), owner_hash(owner)

        def change(d: dict[str, Any]) -> None:
            if name:
                d["names"][key] = name
            else:
                d["names"].pop(key, None)
        self._update(change)
        return name

    def own_name(self, owner: str) -> str:
        """The name this visitor set ('' when anonymous): what their name box starts with."""
        return self.read()["names"].get(owner_hash(owner), "")

    def name_of(self, owner: Optional[str], data: Optional[Mapping[str, Any]] = None) -> str:
        return display_name((data or self.read())["names"], owner_hash(owner) if owner else None)

    # run owners
    def remember_owners(self, owners: Mapping[str, str]) -> None:
        """Record ``{run name: owner secret}`` (as hashes) for runs not yet recorded."""
        def change(d: dict[str, Any]) -> None:
            for run, owner in owners.items():
                d["owners"].setdefault(run, owner_hash(owner))
        self._update(change)

    # pins
    def pins(self) -> list[str]:
        return self.read()["pins"]

    def set_pinned(self, run: str, pinned: bool) -> list[str]:
        def change(d: dict[str, Any]) -> None:
            if pinned and run not in d["pins"]:
                d["pins"].append(run)
            elif not pinned and run in d["pins"]:
                d["pins"].remove(run)
        return self._update(change)["pins"]

    def forget_run(self, run: str) -> None:
        def change(d: dict[str, Any]) -> None:
            d["owners"].pop(run, None)
            if run in d["pins"]:
                d["pins"].remove(run)
        self._update(change)


def namer(store: "BoardStore") -> Callable[[str], str]:
    """owner secret -> display name, from one read of the store (for lists of many runs)."""
    names = store.read()["names"]
    return lambda owner: display_name(names, owner_hash(owner))


def display_name(names: Mapping[str, str], key: Optional[str]) -> str:
    """The name a visitor set, else ``anonymous #3f2a`` (the first 4 hex digits of the owner's hash, to
    tell anonymous visitors apart; it reveals nothing of the secret), else ``unknown``."""
    if key is None:
        return "unknown"
    return names.get(key) or f"{ANONYMOUS} #{key[:4]}"


# ---- the rows ---------------------------------------------------------------------------------------------
def preset_of(config: Optional[Mapping[str, Any]]) -> str:
    """Which preset's sizes a run used (its data and model sections and batch size match), else "custom"."""
    if not config:
        return "?"
    flat = flatten(config)
    for name, p in PRESETS.items():
        want = flatten({k: v for k, v in p.sections.items() if k in ("data", "model")})
        want["train.batch_size"] = p.sections.get("train", {}).get("batch_size")
        if all(flat.get(k) == v for k, v in want.items() if v is not None):
            return name
    return "custom"


_GRIDS: "OrderedDict[tuple[str, int], np.ndarray]" = OrderedDict()


def _disk_grid(path: Optional[Path]) -> Optional[np.ndarray]:
    """A run's newest grid PNG as an array, cached by (path, mtime): a board poll decodes nothing twice."""
    if path is None:
        return None
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return None
    with _LOCK:
        if key in _GRIDS:
            return _GRIDS[key]
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except (OSError, ValueError):
        return None
    with _LOCK:
        _GRIDS[key] = arr
        while len(_GRIDS) > 256:
            _GRIDS.popitem(last=False)
    return arr


def _num(v: Any) -> Optional[float]:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _quality(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    m = [r for r in rows if isinstance(r, Mapping)]
    last = m[-1] if m else {}
    return {"tag_accuracy": _num(last.get("tag_accuracy")), "diversity": _num(last.get("diversity_ratio")),
            "fid": _num(last.get("fid")), "eval_step": last.get("step")}


def board_rows(mgr: Any, me: Optional[str], store: Optional[BoardStore] = None,
               root: Optional[Union[str, Path]] = None) -> list[dict[str, Any]]:
    """One row per run on this server, newest first: the manager's runs (live status, who stopped them)
    and the other run folders under the runs root (earlier servers). Each row:

    ``run`` (folder name), ``job`` (id or None), ``visitor`` (display name), ``mine``, ``status``,
    ``status_text`` ("stopped by the teacher at step 120"), ``active``, ``dataset``, ``arch``, ``loss``,
    ``preset``, ``step``, ``total_steps``, ``tag_accuracy`` and ``diversity`` (same-tag diversity ratio,
    from the newest evaluation; None when none), ``fid``, ``eval_step``, ``eval_pending``, ``grid`` (the
    newest grid, (H, W, 3) uint8, or None), ``grid_step``, ``pinned``, ``started`` (a time, for sorting).
    The owner secret is in no row.
    """
    store = store or BoardStore(root if root is not None else getattr(mgr, "runs_dir", None))
    data = store.read()
    jobs: dict[str, Any] = {}
    for j in mgr.jobs():   # oldest first: a continued run's newest job wins its folder
        jobs[Path(j.run_dir).name] = j
    unrecorded = {run: j.owner for run, j in jobs.items() if run not in data["owners"]}
    if unrecorded:
        try:
            store.remember_owners(unrecorded)
            data = store.read()
        except OSError:
            pass
    rows: list[dict[str, Any]] = []
    for run, j in jobs.items():
        snap = j.snapshot(since=1 << 62)   # no step history: the board needs the newest figures only
        c = snap.config
        rows.append({
            "run": run, "job": j.id, "visitor": display_name(data["names"], owner_hash(j.owner)),
            "mine": is_mine(j, me), "status": snap.status, "status_text": status_text(snap, is_mine(j, me)),
            "active": snap.active or snap.queued, "dataset": c["data"]["dataset"], "arch": c["model"]["arch"],
            "loss": c["loss"]["name"], "preset": preset_of(c), "step": int(snap.step),
            "total_steps": int(snap.total_steps or 0), **_quality(snap.extras.get("metrics") or []),
            "eval_pending": bool(snap.eval_pending), "grid": snap.sample,
            "grid_step": snap.sample_step if snap.sample is not None else None, "pinned": run in data["pins"],
            "started": snap.queued_at,
        })
    base = Path(root) if root is not None else (getattr(mgr, "runs_dir", None) or store.root)
    for r in list_runs(base):
        if r.name in jobs:
            continue
        c = r.config or {}
        key = data["owners"].get(r.name)
        rows.append({
            "run": r.name, "job": None, "visitor": display_name(data["names"], key),
            "mine": bool(me) and key == owner_hash(me), "status": "ended",
            "status_text": f"ended at step {r.step} (earlier server)", "active": False,
            "dataset": c.get("data", {}).get("dataset", "?"), "arch": c.get("model", {}).get("arch", "?"),
            "loss": c.get("loss", {}).get("name", "?"), "preset": preset_of(c), "step": r.step,
            "total_steps": int(c.get("train", {}).get("steps") or 0),
            **_quality(load_eval_metrics(r.path)["metrics"]), "eval_pending": False,
            "grid": _disk_grid(r.sample), "grid_step": r.sample_step, "pinned": r.name in data["pins"],
            "started": r.mtime,
        })
    return sort_rows(rows, "newest")


SORT_KEYS: dict[str, tuple[str, bool]] = {   # label -> (row field, descending by default)
    "newest": ("started", True), "tag accuracy": ("tag_accuracy", True), "same-tag diversity": ("diversity", True),
    "steps": ("step", True), "visitor": ("visitor", False), "loss": ("loss", False), "architecture": ("arch", False),
    "preset": ("preset", False), "FID": ("fid", False),
}


def sort_rows(rows: Sequence[Mapping[str, Any]], by: str = "newest", descending: Optional[bool] = None) -> list[dict[str, Any]]:
    """Rows sorted by a :data:`SORT_KEYS` label (its natural direction unless ``descending`` is given);
    rows without the figure (not evaluated yet) always come last."""
    if by not in SORT_KEYS:
        raise ValueError(f"sort by one of {', '.join(SORT_KEYS)}, got {by!r}")
    field, natural = SORT_KEYS[by]
    desc = natural if descending is None else bool(descending)
    have = [dict(r) for r in rows if r.get(field) is not None]
    missing = [dict(r) for r in rows if r.get(field) is None]
    have.sort(key=lambda r: (r[field].lower() if isinstance(r[field], str) else r[field]), reverse=desc)
    return have + missing


def cells(row: Mapping[str, Any]) -> dict[str, str]:
    """A row's figures as the table shows them (both fronts)."""
    steps = f"{row['step']} / {row['total_steps']}" if row.get("total_steps") else str(row.get("step", 0))
    pending = " (final figures coming)" if row.get("eval_pending") else ""
    evald = f" at step {row['eval_step']}" if row.get("eval_step") is not None else ""
    return {"visitor": row["visitor"] + (" (you)" if row.get("mine") else ""), "status": row["status_text"],
            "loss": row["loss"], "architecture": row["arch"], "preset": row["preset"], "dataset": row["dataset"],
            "steps": steps, "tag accuracy": format_metric("tag_accuracy", row.get("tag_accuracy")) + pending,
            "same-tag diversity": format_metric("diversity_ratio", row.get("diversity")),
            "evaluated": evald.strip() or "not yet", "pinned": "pinned" if row.get("pinned") else ""}


_PNGS: "OrderedDict[tuple[str, Any, int], bytes]" = OrderedDict()


def grid_png(row: Mapping[str, Any], min_size: int = 0) -> Optional[bytes]:
    """A row's grid as PNG bytes (upscaled with crisp pixels to ``min_size`` for the projector), cached by
    (run, grid step, size): many viewers polling the board encode each new grid once."""
    grid = row.get("grid")
    if grid is None:
        return None
    key = (str(row["run"]), row.get("grid_step"), int(min_size))
    with _LOCK:
        if key in _PNGS:
            return _PNGS[key]
    data = png_bytes(upscale(grid, min_size=min_size) if min_size else grid)
    with _LOCK:
        _PNGS[key] = data
        while len(_PNGS) > 256:
            _PNGS.popitem(last=False)
    return data


def permissions(admin: bool) -> dict[str, Any]:
    """What the board lets this visitor do: the teacher (admin) pins, stops and deletes any run; students
    only watch (``reason`` says so, shown where the controls would be)."""
    return {"pin": admin, "stop": admin, "delete": admin, "reason": "" if admin else VIEW_ONLY}


def projector_cards(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The pinned runs, in pin order where known, for the projector: ``{"run", "title", "grid", "figures"}``
    with the title ``"Ana · wgan-gp · acgan · 1min"`` and figures [(label, value), ...]."""
    out = []
    for r in rows:
        if not r.get("pinned"):
            continue
        c = cells(r)
        out.append({"run": r["run"], "title": f"{r['visitor']} · {r['loss']} · {r['arch']} · {r['preset']}",
                    "grid": r.get("grid"), "grid_step": r.get("grid_step"),
                    "figures": [("tag accuracy", c["tag accuracy"]), ("same-tag diversity", c["same-tag diversity"]),
                                ("steps", c["steps"]), ("status", c["status"])]})
    return out


# ---- the teacher's actions ---------------------------------------------------------------------------------
def _need_admin(admin: bool, what: str) -> None:
    if not admin:
        raise PermissionDenied(f"only the teacher (admin) can {what} runs on the class board")


def set_pinned(store: BoardStore, run: str, pinned: bool, admin: bool) -> list[str]:
    """Pin (or unpin) a run for the projector view; the pins are kept server-wide."""
    _need_admin(admin, "pin")
    return store.set_pinned(run, pinned)


def stop_run(mgr: Any, job_id: int, me: str, admin: bool) -> Any:
    """The teacher stops any run (or takes it out of the queue); the student's page then says so."""
    _need_admin(admin, "stop")
    job = mgr.get(int(job_id))
    if job is None:
        raise ValueError(f"no run {job_id} on this server")
    job.stop(me, admin=True)
    return job


def delete_run(mgr: Any, run: str, admin: bool, store: Optional[BoardStore] = None,
               root: Optional[Union[str, Path]] = None) -> Path:
    """The teacher deletes a run that has ended: its folder under the runs root (nothing outside it),
    its job in the manager and its pin. A run training or queued must be stopped first."""
    _need_admin(admin, "delete")
    base = Path(root if root is not None else (getattr(mgr, "runs_dir", None) or rundir.runs_root()))
    if not run or Path(run).name != run or run.startswith("."):
        raise ValueError(f"not a run name: {run!r}")
    folder = base / run
    for j in mgr.jobs():
        if Path(j.run_dir).name == run:
            mgr.forget(j.id)   # JobBusyError when it is training or queued
    if folder.is_dir() and not folder.is_symlink() and rundir.is_run(folder):
        shutil.rmtree(folder)
    (store or BoardStore(base)).forget_run(run)
    return folder

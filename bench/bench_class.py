"""A class on one link (issue 22): N visitors watch one training run, on each front end.

For each front end (``--fronts streamlit,gradio``) a real app server is started on loopback, and for each N
in ``--viewers`` (default 0,1,10,30; 0 is the baseline) one run of ``--preset`` (default ``5min``: the 1min
networks, 32 px faces, long enough to outlast the connecting and the window) is started by an "owner" visitor; once it trains, N simulated visitors open the Train page and watch
it for ``--window`` seconds, the way a browser does, at the protocol level:

* Streamlit: a websocket session each (``bench_viewers.Session``: protobuf BackMsg / ForwardMsg), answering
  the live panel's auto-reruns (``run_every``) like a browser;
* Gradio: the page (``GET /`` and ``/config``), then the Train tab's ``gr.Timer`` tick every tick interval,
  like a browser: as one ``POST /gradio_api/run/predict`` for an event that skips the queue (the tick), else
  through the queue (``POST /gradio_api/queue/join`` + the ``queue/data`` event stream), and the change
  events a tick's reply sets off (the slower outputs);

each visitor also fetches every new grid picture an update names, as a browser does. Before the window,
``--browsers`` real Chromium pages (Playwright, ``/usr/bin/chromium``) open the same server's Train page
while the run trains (their page-usable time); they close before the window unless ``--browsers-in-window``:
in a class they render on the students' computers, and on a 2-vCPU machine their rendering (~0.2-0.3 cores
a Gradio page) would compete with the server the window measures. Then
``--burst`` of them press Generate at once (Streamlit: open the Generate page, which draws on load;
Gradio: the ``/generate`` API). The run is stopped by its owner and the next N begins.

Measured per front and N:
* **server CPU**: cores used by the app server process itself during the window (utime + stime from
  ``/proc/<pid>/stat``; the trainer is a child process and is not included), and per visitor above the
  N = 0 baseline; the nice values of the server and of the trainer child (from /proc);
* **page usable**: Streamlit: websocket open -> first complete script run; Gradio: ``/`` + ``/config``;
  Chromium: navigation -> the "Start training" button visible;
* **updates per viewer per second** and the longest gap between two updates of one viewer (target: every
  viewer at least one update every 2 s);
* **Generate latency** when ``--burst`` visitors press it at once (p50 / max);
* **trainer speed**: steps per second of the run during the window (its metrics.jsonl).

Targets (issue 22), per front with 30 visitors watching: <= 0.3 cores of serving, every viewer >= 1 update
per 2 s. Loopback only; every phase is bounded in time and the whole bench stops by itself (``--max-s``).

    PYTHONPATH=. python bench/bench_class.py                          # both fronts, N = 0, 1, 10, 30 (<= 15 min)
    PYTHONPATH=. python bench/bench_class.py --write-results          # ... and bench/RESULTS_class.md
    PYTHONPATH=. python bench/bench_class.py --quick                  # smoke test: N = 0, 2, short windows
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine_info  # noqa: E402
from bench_polling import _proc_cpu  # noqa: E402
from bench_viewers import FINISHED, FRAGMENT_FINISHED, Session, _metrics, _pct  # noqa: E402

import httpx  # noqa: E402  (installed with gradio)
from streamlit.proto.ClientState_pb2 import ClientState  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from gan_core.train.recipes import DEFAULT_PRESET, PRESETS  # noqa: E402

from apps.devserver import GRADIO_STOP, start_gradio, start_streamlit, stop_server  # noqa: E402

CHROMIUM = os.environ.get("GAN_STUDIO_CHROMIUM", "/usr/bin/chromium")
OWNER_KEY = "bench-class-owner"
TARGET_CORES, TARGET_GAP_S = 0.3, 2.0


# ---- /proc ------------------------------------------------------------------------------------------------
def _stat(pid: int) -> Optional[list[str]]:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()


def nice(pid: int) -> Optional[int]:
    s = _stat(pid)
    return int(s[16]) if s else None


def alive(pid: int) -> bool:
    """Running (a zombie, ended but not yet reaped by the server, counts as ended)."""
    s = _stat(pid)
    return s is not None and s[0] != "Z"


def _helper(pid: int) -> bool:
    """multiprocessing's resource tracker: started with the first run, it lives as long as the server."""
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def children(pid: int) -> list[int]:
    """The server's child processes (the trainer, the speed probe)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = _stat(int(d))
            if s and int(s[1]) == pid:
                out.append(int(d))
    return out


# ---- servers ---------------------------------------------------------------------------------------------
def start_front(front: str, base: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    log = open(base / f"{front}.log", "wb")
    if front == "streamlit":
        return start_streamlit(env, log)
    return start_gradio(base, dict(env, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1"), log)


def stop_front(front: str, proc: subprocess.Popen) -> None:
    stop_server(proc, GRADIO_STOP if front == "gradio" else signal.SIGTERM, timeout=20)


# ---- Streamlit visitors ----------------------------------------------------------------------------------
class StViewer(Session):
    """A Streamlit session that notes when each live-panel update (fragment run) arrives."""

    def __init__(self, url: str, page: str, cookie: Optional[str] = None):
        super().__init__(url, page, cookie)
        self.updates: list[float] = []
        self.selects: dict[str, str] = {}   # selectbox label -> widget id
        self.media = MediaFetcher(url)

    def _scan(self, fm: Any) -> None:
        super()._scan(fm)
        kind = fm.WhichOneof("type")
        if kind == "script_finished" and fm.script_finished in (FINISHED, FRAGMENT_FINISHED):
            self.updates.append(time.monotonic())
        elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
            el = fm.delta.new_element
            if el.WhichOneof("type") == "selectbox":
                self.selects[el.selectbox.label] = el.selectbox.id
            elif el.WhichOneof("type") == "imgs":   # the grid: a browser fetches each new picture
                for img in el.imgs.imgs:
                    self.media.get(img.url)

    async def close(self) -> None:
        await super().close()
        await self.media.close()

    async def select(self, label: str, option: str) -> None:
        """Choose ``option`` (as the page shows it) in the selectbox ``label``, like a browser."""
        cs = ClientState(query_string="", page_name=self.page, page_script_hash=self.page_hash)
        cs.widget_states.widgets.append(WidgetState(id=self.selects[label], string_value=option))
        await self._send(cs)
        await self.until_finished(FINISHED, timeout=120)


class MediaFetcher:
    """Fetches each new picture a page shows (Streamlit's /media/..., Gradio's /gradio_api/file=...) once, in
    the background, as a browser does after an update names it."""

    def __init__(self, base: str, client: Optional[httpx.AsyncClient] = None):
        self.base, self.seen, self.tasks = base.rstrip("/"), set(), []
        self.client, self.own = client, client is None
        self.fetched = self.failed = 0

    def get(self, url: str) -> None:
        if not url or url in self.seen:
            return
        self.seen.add(url)
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=60)
        full = url if url.startswith("http") else self.base + "/" + url.lstrip("/")
        self.tasks.append(asyncio.get_running_loop().create_task(self._fetch(full)))

    def scan(self, value: Any) -> None:
        """Every file URL in a Gradio reply's output data."""
        if isinstance(value, dict):
            u = value.get("url")
            if isinstance(u, str) and "/file=" in u:
                self.get(u)
            for v in value.values():
                self.scan(v)
        elif isinstance(value, list):
            for v in value:
                self.scan(v)

    async def _fetch(self, url: str) -> None:
        try:
            (await self.client.get(url)).raise_for_status()
            self.fetched += 1
        except Exception:  # noqa: BLE001 - counted
            self.failed += 1

    async def close(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.own and self.client is not None:
            await self.client.aclose()

    @staticmethod
    def tally(fetchers: list["MediaFetcher"], result: dict[str, Any]) -> None:
        """The pictures the (closed) fetchers got into ``result["pictures"]``, failures into its errors."""
        failed, result["pictures"] = sum(f.failed for f in fetchers), sum(f.fetched for f in fetchers)
        if failed:
            result["errors"].append(f"picture: {failed} of {failed + result['pictures']} fetches failed")


async def st_owner(url: str, action: str, cookie: str, preset: Optional[str] = None) -> None:
    s = StViewer(url, "train", cookie)
    try:
        await s.open()
        if preset is not None and preset != DEFAULT_PRESET:
            await s.select("Preset", PRESETS[preset].title)
        if action in s.buttons and not s.buttons[action][1]:
            await s.click(action)
        elif action == "Start training":
            raise RuntimeError(f"no enabled {action!r} button on the Train page: {s.buttons}")
    finally:
        await s.close()


async def st_watch(url: str, n: int, window: float, result: dict[str, Any]) -> None:
    viewers = [StViewer(url, "train") for _ in range(n)]

    async def one(i: int, v: StViewer) -> None:
        await asyncio.sleep(i * 0.05)
        try:
            result["loads"].append(await v.open())
        except Exception as e:  # noqa: BLE001 - counted
            result["errors"].append(f"open: {type(e).__name__}: {e}")

    await asyncio.gather(*(one(i, v) for i, v in enumerate(viewers)))
    live = [v for v in viewers if v.ws is not None]
    t0, cpu0 = _window_start(result)
    await asyncio.gather(asyncio.sleep(window), *(v.watch(window) for v in live), return_exceptions=True)
    _window_end(result, t0, cpu0, [[u for u in v.updates if u >= t0] for v in live])
    for v in viewers:
        await v.close()
    MediaFetcher.tally([v.media for v in viewers], result)


async def st_generate(url: str, burst: int) -> list[float]:
    async def one() -> float:
        s = StViewer(url, "generate")
        try:
            return await s.open()
        finally:
            await s.close()

    got = await asyncio.gather(*(one() for _ in range(burst)), return_exceptions=True)
    return [g for g in got if isinstance(g, float)]


# ---- Gradio visitors -------------------------------------------------------------------------------------
def gr_ticks(config: dict) -> list[tuple[tuple, float, dict]]:
    """(event, interval, follow) of each of the Train tab's live timers, an event being (fn_index, trigger id,
    input data, queued): the ticks that feed the run head or the Pause button (the slower part of the same
    panel, directly or through a component whose change event sends them). follow maps that component's id
    to (the event to run next, its place among the tick's outputs, or None for a gr.State), as a browser runs
    it: a State's change event when a queued event's reply names it among its changed states, another
    component's when the value the tick sent differs from its last one."""
    comps = {c["id"]: c for c in config["components"]}
    live = {c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") in ("run-head", "pause")}
    data = lambda dep: [None if comps[c]["type"] == "state" else comps[c].get("props", {}).get("value")  # noqa: E731
                        for c in dep["inputs"]]
    on_change = {target: (dep.get("id", i), target, data(dep), dep.get("queue") is not False)
                 for i, dep in enumerate(config["dependencies"]) for target, event in dep.get("targets", [])
                 if event == "change" and live & set(dep["outputs"])}
    out = []
    for i, dep in enumerate(config["dependencies"]):
        for target, event in dep.get("targets", []):
            follow = {c: (on_change[c], None if comps[c]["type"] == "state" else k)
                      for k, c in enumerate(dep["outputs"]) if c in on_change}
            if event == "tick" and comps.get(target, {}).get("type") == "timer" and (live & set(dep["outputs"]) or follow):
                out.append(((dep.get("id", i), target, data(dep), dep.get("queue") is not False),
                            float(comps[target].get("props", {}).get("value") or 1.0), follow))
    if not out:
        raise RuntimeError("no live gr.Timer tick on the Train tab in the Gradio config")
    return out


async def gr_event(client: httpx.AsyncClient, url: str, session: str, fn: int, trigger: int, data: list[Any],
                   queued: bool = True) -> dict:
    """One event as a browser sends it: through the queue (its process_completed message) or, for an event
    declared queue=False, as one POST to run/predict (its reply, in the same shape: {"output": ...})."""
    if not queued:
        r = await client.post(url + "gradio_api/run/predict", json={
            "data": data, "fn_index": fn, "trigger_id": trigger, "session_hash": session})
        r.raise_for_status()
        return {"output": r.json()}
    r = await client.post(url + "gradio_api/queue/join", json={
        "data": data, "event_data": None, "fn_index": fn, "trigger_id": trigger, "session_hash": session})
    r.raise_for_status()
    async with client.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}) as s:
        async for line in s.aiter_lines():
            if line.startswith("data:") and '"process_completed"' in line:
                return json.loads(line[5:])
    raise RuntimeError("the event stream ended before process_completed")


async def gr_viewer(client: httpx.AsyncClient, url: str, ticks: list[tuple], stop_at: float, out: list[float],
                    errors: list[str]) -> MediaFetcher:
    """One viewer: every live timer of the page ticks at its own interval, as in a browser (each timer on its
    own session hash here: one event stream per session carries one event at a time in this client); a tick
    that changed a component with a live change event runs that event next (gr_ticks: follow). Returns its
    (closed) picture fetcher."""

    media = MediaFetcher(url, client)

    async def timer(event: tuple, interval: float, follow: dict) -> None:
        session = secrets.token_hex(6)
        last: dict[int, Any] = {}
        while time.monotonic() < stop_at:
            t = time.monotonic()
            try:
                done = (await gr_event(client, url, session, *event)).get("output") or {}
                out.append(time.monotonic())
                media.scan(done.get("data"))   # the grid's new picture, fetched as a browser does
                states = set(done.get("changed_state_ids") or [])
                for cid, (then, k) in follow.items():
                    if k is None and cid in states:
                        await gr_event(client, url, session, *then)
                    elif k is not None:
                        value = (done.get("data") or [None] * (k + 1))[k]
                        if not (isinstance(value, dict) and value.get("__type__") == "update") and value != last.get(cid):
                            last[cid] = value
                            await gr_event(client, url, session, *then)
            except Exception as e:  # noqa: BLE001 - counted
                errors.append(f"tick: {type(e).__name__}: {e}")
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - t)))   # the timer's next tick

    await asyncio.gather(*(timer(*tick) for tick in ticks))
    await media.close()
    return media


async def gr_watch(url: str, n: int, window: float, result: dict[str, Any]) -> None:
    limits = httpx.Limits(max_connections=4 * n + 8)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        config: dict = {}

        async def load(i: int) -> None:
            nonlocal config
            await asyncio.sleep(i * 0.05)
            t = time.monotonic()
            try:
                (await client.get(url)).raise_for_status()
                r = await client.get(url + "config")
                r.raise_for_status()
                config = r.json()
                result["loads"].append(time.monotonic() - t)
            except Exception as e:  # noqa: BLE001
                result["errors"].append(f"open: {type(e).__name__}: {e}")

        await asyncio.gather(*(load(i) for i in range(n)))
        if not n:
            t0, cpu0 = _window_start(result)
            await asyncio.sleep(window)
            _window_end(result, t0, cpu0, [])
            return
        ticks = gr_ticks(config)
        t0, cpu0 = _window_start(result)
        outs: list[list[float]] = [[] for _ in range(n)]
        got = await asyncio.gather(*(gr_viewer(client, url, ticks, t0 + window, outs[i], result["errors"]) for i in range(n)))
        MediaFetcher.tally(list(got), result)
        for u in outs:
            u.sort()
        _window_end(result, t0, cpu0, outs)


def gr_call(url: str, api: str, args: list[Any], timeout: float = 120) -> Any:
    """One call of a named Gradio API (gradio_client), returning its (last) output."""
    from gradio_client import Client

    return Client(url, verbose=False, httpx_kwargs={"timeout": timeout}).predict(*args, api_name=api)


def gr_generate(url: str, burst: int) -> list[float]:
    from gradio_client import Client

    lat: list[float] = []
    go = threading.Barrier(burst)

    def one(i: int) -> None:
        try:
            c = Client(url, verbose=False, httpx_kwargs={"timeout": 120})
        except Exception:  # noqa: BLE001 - this visitor could not even load the app
            go.abort()
            return
        try:
            go.wait(60)
        except threading.BrokenBarrierError:
            pass
        t = time.monotonic()
        try:
            c.predict("", "", i, 16, api_name="/generate")
            lat.append(time.monotonic() - t)
        except Exception:  # noqa: BLE001 - a failed call has no latency
            pass

    threads = [threading.Thread(target=one, args=(i,)) for i in range(burst)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    return lat


# ---- windows ---------------------------------------------------------------------------------------------
STATE: dict[str, Any] = {}


def _window_start(result: dict[str, Any]) -> tuple[float, float]:
    result["step0"] = _last_step(STATE["runs"])
    return time.monotonic(), _proc_cpu(pid=STATE["pid"])


def _window_end(result: dict[str, Any], t0: float, cpu0: float, updates: list[list[float]]) -> None:
    dt = time.monotonic() - t0
    result["window_s"] = dt
    result["server_cores"] = (_proc_cpu(pid=STATE["pid"]) - cpu0) / dt
    s1 = _last_step(STATE["runs"])
    if result["step0"] and s1:
        result["steps_per_s"] = (s1[0] - result["step0"][0]) / max(s1[1] - result["step0"][1], 1e-9)
    rates, gaps = [], []
    for u in updates:
        rates.append(len(u) / dt)
        marks = [t0] + u + [t0 + dt]
        gaps.append(max(b - a for a, b in zip(marks, marks[1:])))
    result["updates_per_viewer_s"] = rates
    result["max_gaps_s"] = gaps


def _last_step(runs: Path) -> Optional[tuple[int, float]]:
    dirs = [d for d in runs.glob("*") if (d / "metrics.jsonl").exists()] if runs.exists() else []
    if not dirs:
        return None
    m = _metrics(max(dirs, key=lambda d: d.stat().st_mtime))
    return (int(m[-1]["step"]), float(m[-1]["elapsed"])) if m else None


def _wait_training(runs: Path, known: set, timeout: float) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        new = [d for d in runs.glob("*") if d not in known and (d / "metrics.jsonl").exists()] if runs.exists() else []
        if new and len(_metrics(new[0])) >= 2:
            return True
        time.sleep(0.5)
    return False


def browser_pages(front: str, url: str, k: int, hold: threading.Event, loads: list[float], errors: list[str]) -> None:
    """``k`` real Chromium pages on the Train page, kept open until ``hold`` is set."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            for _ in range(k):
                pg = b.new_context(viewport={"width": 1300, "height": 900}).new_page()
                t = time.monotonic()
                try:
                    pg.goto(url.rstrip("/") + ("/train" if front == "streamlit" else "/"), timeout=120_000)
                    pg.get_by_role("button", name="Start training").first.wait_for(state="visible", timeout=120_000)
                    loads.append(time.monotonic() - t)
                except Exception as e:  # noqa: BLE001
                    errors.append(f"chromium: {type(e).__name__}: {e}")
            hold.wait(600)
        finally:
            b.close()


def one_n(front: str, url: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    runs: Path = STATE["runs"]
    known = set(runs.glob("*")) if runs.exists() else set()
    res: dict[str, Any] = {"front": front, "viewers": n, "loads": [], "errors": [], "browser_loads": []}
    cookie = f"gan_studio_owner={secrets.token_urlsafe(24)}"
    gr_job = None
    before = set(children(STATE["pid"]))   # the server's own helpers (e.g. the resource tracker) live on
    if front == "streamlit":
        asyncio.run(st_owner(url, "Start training", cookie, args.preset))
    else:
        from gradio_client import Client

        gr_job = Client(url, verbose=False, httpx_kwargs={"timeout": 120}).submit({}, args.preset, OWNER_KEY, api_name="/train")
    if not _wait_training(runs, known, args.start_timeout):
        res["errors"].append("the run did not start training in time")
        return res
    kids = [k for k in children(STATE["pid"]) if k not in before and not _helper(k)]   # this run's trainer
    res["nice_server"], res["nice_trainer"] = nice(STATE["pid"]), [nice(k) for k in kids]
    hold = threading.Event()
    bt = None
    if args.browsers and n:
        bt = threading.Thread(target=browser_pages, args=(front, url, args.browsers, hold, res["browser_loads"],
                                                          res["errors"]), daemon=True)
        bt.start()
        t = time.monotonic()
        while len(res["browser_loads"]) + len([e for e in res["errors"] if e.startswith("chromium")]) < args.browsers \
                and time.monotonic() - t < 150:
            time.sleep(0.2)
        if not args.browsers_in_window:   # the pages' rendering would compete with the server it measures
            hold.set()
            bt.join(30)
    res["browsers_in_window"] = bool(args.browsers and n and args.browsers_in_window)
    watch = st_watch if front == "streamlit" else gr_watch
    asyncio.run(asyncio.wait_for(watch(url, n, args.window, res), args.window + 300))
    hold.set()
    if bt is not None:
        bt.join(30)
    if n and args.burst:
        b = min(n, args.burst)
        res["generate_s"] = asyncio.run(st_generate(url, b)) if front == "streamlit" else gr_generate(url, b)
    # the owner stops the run; wait until it ended
    if front == "streamlit":
        asyncio.run(st_owner(url, "Stop", cookie))
    else:
        try:
            job = gr_call(url, "/train_status", [0])
            gr_call(url, "/train_stop", [int(job["job"]), OWNER_KEY])
        except Exception as e:  # noqa: BLE001
            res["errors"].append(f"stop: {e}")
        if gr_job is not None:
            gr_job.cancel()
    t = time.monotonic()
    while any(alive(k) for k in kids) and time.monotonic() - t < 60:
        time.sleep(0.5)
    return res


# ---- report ----------------------------------------------------------------------------------------------
def _fmt(xs: list[float], q: float = 0.5, nd: int = 2) -> str:
    return "-" if not xs else f"{_pct(xs, q):.{nd}f}"


def table(results: list[dict[str, Any]], browsers: int) -> str:
    base = {r["front"]: r.get("server_cores") for r in results if r["viewers"] == 0}
    lines = ["| front | visitors | server cores (OS) | per visitor above N=0 | page usable p50 / p95 s "
             f"| Chromium usable s ({browsers} pages) | updates / viewer / s: median (min) | longest gap s: median (max) "
             "| Generate burst p50 / max s | trainer steps/s | nice server / trainer | errors |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        n, cores = r["viewers"], r.get("server_cores")
        b = base.get(r["front"])
        per = (cores - b) / n if n and cores is not None and b is not None else None
        ups, gaps, gen = r.get("updates_per_viewer_s") or [], r.get("max_gaps_s") or [], r.get("generate_s") or []
        sps = r.get("steps_per_s")
        cells = [r["front"], str(n), "-" if cores is None else f"{cores:.2f}", "-" if per is None else f"{per:.3f}",
                 f"{_fmt(r['loads'])} / {_fmt(r['loads'], 0.95)}", _fmt(r["browser_loads"]),
                 f"{_fmt(ups)} ({min(ups):.2f})" if ups else "-", f"{_fmt(gaps, nd=1)} ({max(gaps):.1f})" if gaps else "-",
                 f"{_fmt(gen)} / {max(gen):.2f}" if gen else "-", "-" if sps is None else f"{sps:.1f}",
                 f"{r.get('nice_server')} / {r.get('nice_trainer')}", str(len(r["errors"]))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(results: list[dict[str, Any]]) -> list[str]:
    out = []
    for front in sorted({r["front"] for r in results}):
        rs = [r for r in results if r["front"] == front and r["viewers"]]
        if not rs:
            continue
        top = max(rs, key=lambda r: r["viewers"])
        cores, gaps = top.get("server_cores"), top.get("max_gaps_s") or []
        out.append(f"{front}, {top['viewers']} visitors: server {cores if cores is None else round(cores, 2)} cores "
                   f"(target <= {TARGET_CORES}: {'met' if cores is not None and cores <= TARGET_CORES else 'NOT met'}); "
                   f"longest gap between two updates of one viewer {max(gaps) if gaps else float('nan'):.1f} s "
                   f"(target <= {TARGET_GAP_S:g} s: {'met' if gaps and max(gaps) <= TARGET_GAP_S else 'NOT met'})")
    return out


def write_results(path: Path, results: list[dict[str, Any]], args: argparse.Namespace, text: str) -> None:
    info = machine_info(__import__("torch").device("cpu"))
    where = ("open during the window" if args.browsers_in_window else "opened while the run trains, closed before "
             "the window: on this machine their rendering would compete with the server it measures")
    path.write_text(
        "# A class on one link: many viewers of one run (issue 22)\n\n"
        "`bench/bench_class.py` (see its docstring for what each column measures). Written by the bench itself.\n\n"
        f"    {' '.join(['PYTHONPATH=. python bench/bench_class.py'] + sys.argv[1:])}\n\n"
        f"## {info['date']}, {info.get('cpu', '?')}, {info['cpu_count']} CPUs\n\n"
        f"Fronts {args.fronts}; N = {args.viewers} protocol-level visitors plus {args.browsers} Chromium page(s) "
        f"for N > 0 ({where}); "
        f"the visitors fetch each new grid picture as a browser does; each window {args.window:g} s while one `{args.preset}` run trains; Generate pressed by "
        f"min(N, {args.burst}) at once. Sample sizes: page loads = N per row, updates = every answered poll of "
        f"every viewer in the window; server CPU from /proc/<server pid>/stat (the trainer child excluded).\n\n"
        + text + "\n")


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fronts", default="streamlit,gradio")
    p.add_argument("--viewers", default="0,1,10,30", help="comma-separated N (0 = the no-viewer baseline)")
    p.add_argument("--window", type=float, default=20.0, help="seconds each N watches")
    p.add_argument("--browsers", type=int, default=2, help="real Chromium pages next to the N visitors (N > 0): "
                   "their page-usable time is measured with the run training, then they close before the window")
    p.add_argument("--browsers-in-window", action="store_true",
                   help="keep the Chromium pages open during the window: on a small machine their rendering "
                        "competes with the server it measures (in a class they run on the students' computers)")
    p.add_argument("--burst", type=int, default=10, help="visitors pressing Generate at once (at most N)")
    p.add_argument("--preset", default="5min", help="the run watched (5min: the 1min networks for long enough that "
                   "30 visitors connect and watch before it ends; the owner stops it after each N)")
    p.add_argument("--start-timeout", type=float, default=180.0, help="longest wait for a run to start training")
    p.add_argument("--max-s", type=float, default=900.0, help="the whole bench stops after this many seconds (each "
                   "front gets an equal share; an N that would not fit in its front's share is skipped and said so)")
    p.add_argument("--quick", action="store_true", help="smoke test: N = 0, 2; 6 s windows; 1 browser; burst 2; "
                   "the tiny preset (300 steps at 16 px), so that its runs start at once even on a busy machine")
    p.add_argument("--json", help="also write the raw results here")
    p.add_argument("--write-results", action="store_true", help="write bench/RESULTS_class.md")
    args = p.parse_args(argv)
    if args.quick:
        args.viewers, args.window, args.browsers, args.burst, args.preset = "0,2", 6.0, 1, 2, "tiny"
    signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(BenchExpired(f"--max-s {args.max_s:g} reached")))
    signal.alarm(int(args.max_s))
    ns = [int(x) for x in args.viewers.split(",") if x.strip()]
    results: list[dict[str, Any]] = []
    fronts = [f.strip() for f in args.fronts.split(",") if f.strip()]
    t_start = time.monotonic()
    try:
        _run_fronts(fronts, ns, args, results, t_start)
    except BenchExpired as e:   # the hard limit: what was measured so far is still reported
        print(f"# {e}: stopped", flush=True)
    signal.alarm(0)
    text = table(results, args.browsers) + "\n\n" + "\n".join(f"- {v}" for v in verdicts(results))
    print(text)
    print("RESULT " + json.dumps({"results": results}, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    if args.write_results:
        write_results(ROOT / "bench" / "RESULTS_class.md", results, args, text)
    return 0


class BenchExpired(BaseException):
    """--max-s reached (a BaseException: a failing N's ``except Exception`` must not swallow it)."""


def _run_fronts(fronts: list[str], ns: list[int], args: argparse.Namespace, results: list[dict[str, Any]],
                t_start: float) -> None:
    share = args.max_s / max(1, len(fronts))
    for k, front in enumerate(fronts):
        front_end = t_start + share * (k + 1) - 10   # this front's share of --max-s (an earlier front's leftover too)
        t_front = time.monotonic()
        base = Path(tempfile.mkdtemp(prefix=f"bench-class-{front}-"))
        runs, ckpts = base / "runs", base / "checkpoints"
        ckpts.mkdir(parents=True)
        (ckpts / "faces.safetensors").write_bytes((ROOT / "checkpoints" / "faces.safetensors").read_bytes())
        env = dict(os.environ, GAN_STUDIO_RUNS=str(runs), GAN_STUDIO_CHECKPOINTS=str(ckpts), GAN_STUDIO_METRICS="0",
                   GAN_STUDIO_MAX_CONCURRENT="1", GAN_STUDIO_PROBE="0", PYTHONPATH=str(ROOT),
                   STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
        proc, url = start_front(front, base, env)
        STATE.update(pid=proc.pid, runs=runs)
        print(f"# {front} at {url} (pid {proc.pid})", flush=True)
        try:
            last = 0.0
            for n in ns:
                left = front_end - time.monotonic()
                if left < max(args.window + 45, last):   # an N takes about as long as the one before it
                    results.append({"front": front, "viewers": n, "loads": [], "browser_loads": [],
                                    "errors": [f"skipped: {left:.0f} s left of this front's share of --max-s"]})
                    print(f"  N={n}: skipped ({left:.0f} s left of this front's share of --max-s)", flush=True)
                    continue
                t_n = time.monotonic()
                try:
                    r = one_n(front, url, n, args)
                except Exception as e:  # noqa: BLE001 - one N failing (e.g. the server timed out) is reported, the rest go on
                    r = {"front": front, "viewers": n, "loads": [], "errors": [f"{type(e).__name__}: {e}"], "browser_loads": []}
                results.append(r)
                last = time.monotonic() - t_n
                ups = r.get("updates_per_viewer_s") or []
                print(f"  N={n}: server {r.get('server_cores', float('nan')):.2f} cores, loads p50 {_fmt(r['loads'])} s, "
                      f"updates/viewer/s {_fmt(ups)}, longest gap {max(r.get('max_gaps_s') or [0]):.1f} s, "
                      f"generate {_fmt(r.get('generate_s', []))} s, trainer {r.get('steps_per_s', float('nan')):.1f} steps/s, "
                      f"nice {r.get('nice_server')}/{r.get('nice_trainer')}, pictures {r.get('pictures', 0)}, errors {len(r['errors'])} {r['errors'][:2]} "
                      f"({last:.0f} s; {time.monotonic() - t_front:.0f} s into {front})",
                      flush=True)
        finally:
            stop_front(front, proc)
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

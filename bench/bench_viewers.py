"""Load test (issue 8): one run trains while 20 simulated viewers watch the Train page.

Starts the real app server (``streamlit run app.py``) on loopback and talks to it as browsers do, over
Streamlit's websocket protocol (protobuf ``BackMsg`` / ``ForwardMsg``): an "owner" session presses
Start training with the page's default settings (the default preset), then N viewer sessions open the
Train page and keep it open for ``--dwell`` seconds, answering the live panel's auto-reruns (the
once-a-second polling a browser does), then reload (a new session) and so on until the run ends.

Measured, two runs of the same config one after the other:
* training throughput (img/s from the run's metrics.jsonl, mean over the logged windows after the
  first few) with no viewers vs with N viewers;
* page-load time of each viewer session: from opening the websocket to the first complete run of
  the Train page script (``script_finished``), as p50 / p95 / max over all loads.

Loopback only; every session and the whole test are bounded in time. Rendering in a real browser
(JS, plotly) is not included: this measures what the server does for each viewer.

    PYTHONPATH=. python bench/bench_viewers.py --viewers 20 --json out.json
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402  (installed with streamlit)
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ClientState_pb2 import ClientState  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from apps.devserver import start_streamlit, stop_server  # noqa: E402

FINISHED = 0           # ScriptFinishedStatus.FINISHED_SUCCESSFULLY
FRAGMENT_FINISHED = 3  # FINISHED_FRAGMENT_RUN_SUCCESSFULLY


class Session:
    """One browser tab's websocket session on a page."""

    def __init__(self, url: str, page: str, cookie: Optional[str] = None):
        self.ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.origin, self.page, self.cookie = url, page, cookie
        self.page_hash = ""
        self.buttons: dict[str, tuple[str, bool]] = {}   # label -> (widget id, disabled)
        self.fragments: dict[str, float] = {}             # fragment id -> interval (s)
        self.ws: Any = None

    async def open(self) -> float:
        """Connect and run the page once; returns the page-load time in seconds."""
        t0 = time.perf_counter()
        headers = {"Origin": self.origin}
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"], additional_headers=headers,
                                           max_size=64 * 2**20, open_timeout=60)
        await self._send(ClientState(query_string="", page_name=self.page))
        await self.until_finished(FINISHED, timeout=120)
        t_end = time.perf_counter()
        while True:  # a first visit may rerun itself once (navigation set-up): wait for the page's own run
            try:
                await self.until_finished(FINISHED, timeout=1.0)
                t_end = time.perf_counter()
            except (TimeoutError, asyncio.TimeoutError):
                break
        return t_end - t0

    async def _send(self, cs: ClientState) -> None:
        msg = BackMsg()
        msg.rerun_script.CopyFrom(cs)
        await self.ws.send(msg.SerializeToString())

    def _scan(self, fm: ForwardMsg) -> None:
        kind = fm.WhichOneof("type")
        if kind == "new_session":
            self.page_hash = fm.new_session.page_script_hash or self.page_hash
        elif kind == "page_info_changed" or kind == "navigation":
            h = getattr(getattr(fm, kind), "page_script_hash", "")
            self.page_hash = h or self.page_hash
        elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
            el = fm.delta.new_element
            if el.WhichOneof("type") == "button":
                self.buttons[el.button.label] = (el.button.id, el.button.disabled)
        elif kind == "auto_rerun":
            self.fragments[fm.auto_rerun.fragment_id] = fm.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            self.fragments.clear()

    async def until_finished(self, status: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no script_finished({status}) within {timeout:.0f} s")
            data = await asyncio.wait_for(self.ws.recv(), left)
            if isinstance(data, str):
                continue
            fm = ForwardMsg.FromString(data)
            self._scan(fm)
            if fm.WhichOneof("type") == "script_finished" and fm.script_finished == status:
                return

    async def click(self, label: str) -> None:
        wid, disabled = self.buttons[label]
        if disabled:
            raise RuntimeError(f"button {label!r} is disabled")
        ws = WidgetState(id=wid, trigger_value=True)
        cs = ClientState(query_string="", page_name=self.page, page_script_hash=self.page_hash)
        cs.widget_states.widgets.append(ws)
        await self._send(cs)
        await self.until_finished(FINISHED, timeout=120)

    async def watch(self, seconds: float) -> int:
        """Keep the tab open: answer the live panel's auto-reruns like a browser. Returns fragment runs."""
        end = time.monotonic() + seconds
        runs = 0
        next_at: dict[str, float] = {}
        while time.monotonic() < end:
            now = time.monotonic()
            for fid, interval in list(self.fragments.items()):
                if fid not in next_at:
                    next_at[fid] = now + interval
                elif now >= next_at[fid]:
                    next_at[fid] = now + interval
                    await self._send(ClientState(query_string="", page_name=self.page,
                                                 page_script_hash=self.page_hash, fragment_id=fid,
                                                 is_auto_rerun=True))
                    runs += 1
            try:
                data = await asyncio.wait_for(self.ws.recv(), 0.2)
                if not isinstance(data, str):
                    self._scan(ForwardMsg.FromString(data))
            except asyncio.TimeoutError:
                pass
        return runs

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def _metrics(run_dir: Path) -> list[dict]:
    p = run_dir / "metrics.jsonl"
    out = []
    if p.exists():
        for line in p.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def _newest_run(runs: Path, known: set) -> Optional[Path]:
    new = [p for p in runs.iterdir() if p.is_dir() and p not in known] if runs.exists() else []
    return max(new, key=lambda p: p.stat().st_mtime) if new else None


async def one_run(url: str, runs: Path, viewers: int, dwell: float, max_s: float) -> dict[str, Any]:
    known = set(runs.iterdir()) if runs.exists() else set()
    cookie = f"gan_studio_owner={secrets.token_urlsafe(24)}"
    owner = Session(url, "train", cookie)
    await owner.open()
    await owner.click("Start training")
    await owner.close()
    t0 = time.monotonic()
    run_dir = None
    while run_dir is None and time.monotonic() - t0 < 60:
        await asyncio.sleep(0.5)
        run_dir = _newest_run(runs, known)
    if run_dir is None:
        raise RuntimeError("the run did not start")
    loads: list[float] = []
    errors: list[str] = []
    fragment_runs = 0
    done = asyncio.Event()

    async def viewer(i: int) -> None:
        nonlocal fragment_runs
        await asyncio.sleep(i * 0.1)  # they do not all arrive in the same millisecond
        while not done.is_set():
            s = Session(url, "train")
            try:
                loads.append(await s.open())
                fragment_runs += await s.watch(dwell)
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(f"{type(e).__name__}: {e}")
                await asyncio.sleep(1.0)
            finally:
                await s.close()

    tasks = [asyncio.create_task(viewer(i)) for i in range(viewers)]
    mp = run_dir / "metrics.jsonl"
    while time.monotonic() - t0 < max_s:  # the default preset trains for a fixed time
        await asyncio.sleep(1.0)
        # ended: no new logged step for 8 s (steps are logged several times a second while it trains)
        if mp.exists() and len(_metrics(run_dir)) >= 5 and time.time() - mp.stat().st_mtime > 8:
            break
    done.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    if time.monotonic() - t0 >= max_s:  # still training: stop it as its owner
        owner = Session(url, "train", cookie)
        await owner.open()
        if "Stop" in owner.buttons and not owner.buttons["Stop"][1]:
            await owner.click("Stop")
        await owner.close()
    m = _metrics(run_dir)
    rates = [r["img_per_s"] for r in m[3:]] or [r["img_per_s"] for r in m]
    return {"run": run_dir.name, "logged_windows": len(m), "img_per_s": statistics.mean(rates) if rates else 0.0,
            "steps": m[-1]["step"] if m else 0, "loads": loads, "load_errors": errors,
            "fragment_runs": fragment_runs, "wall_s": time.monotonic() - t0}


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[k]


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--viewers", type=int, default=20)
    p.add_argument("--dwell", type=float, default=8.0, help="seconds a viewer keeps the page open before reloading")
    p.add_argument("--max-s", type=float, default=240.0, help="longest a run is watched before it is stopped")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="gan-viewers-"))
    runs, ckpts = base / "runs", base / "checkpoints"
    ckpts.mkdir(parents=True)
    env = dict(os.environ, GAN_STUDIO_RUNS=str(runs), GAN_STUDIO_CHECKPOINTS=str(ckpts), GAN_STUDIO_METRICS="0",
               PYTHONPATH=str(ROOT), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    with open(base / "server.log", "wb") as log:
        proc, url = start_streamlit(env, log)
        try:
            alone = asyncio.run(one_run(url, runs, 0, args.dwell, args.max_s))
            watched = asyncio.run(one_run(url, runs, args.viewers, args.dwell, args.max_s))
        finally:
            stop_server(proc)
    loads = watched["loads"]
    res = {
        "viewers": args.viewers, "dwell_s": args.dwell,
        "img_per_s_alone": round(alone["img_per_s"], 1), "img_per_s_watched": round(watched["img_per_s"], 1),
        "throughput_ratio": round(watched["img_per_s"] / max(alone["img_per_s"], 1e-9), 3),
        "page_loads": len(loads), "load_errors": len(watched["load_errors"]),
        "load_p50_s": round(_pct(loads, 0.5), 3), "load_p95_s": round(_pct(loads, 0.95), 3),
        "load_max_s": round(max(loads), 3) if loads else None, "fragment_runs": watched["fragment_runs"],
        "logged_windows": [alone["logged_windows"], watched["logged_windows"]],
        "steps": [alone["steps"], watched["steps"]], "errors_sample": watched["load_errors"][:3],
    }
    print(f"training alone: {res['img_per_s_alone']} img/s over {alone['logged_windows']} logged windows")
    print(f"with {args.viewers} viewers: {res['img_per_s_watched']} img/s (ratio {res['throughput_ratio']})")
    print(f"page loads: {res['page_loads']} (errors {res['load_errors']}), p50 {res['load_p50_s']} s, "
          f"p95 {res['load_p95_s']} s, max {res['load_max_s']} s; {res['fragment_runs']} live-panel polls")
    print("RESULT " + json.dumps(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

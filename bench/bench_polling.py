"""Training throughput while the Train page polls the job vs headless (target >= 0.9).

    python bench/bench_polling.py                  # emulated polling, CPU
    python bench/bench_polling.py --quick

The app trains through gan_core.jobs.manager.JobManager: by default in a child process (mode "process"; the
server's Python thread then never holds the trainer's GIL), or in a thread of the server ("thread",
``GAN_STUDIO_JOB_MODE=thread``; ``--job-mode`` here). The Train page's polling fragment (apps/streamlit/views/train.py ``live_panel``, every ``POLL_S`` = 1 s) takes a
``job.snapshot()``, builds the plotly figures of the curves (apps/charts.py), which Streamlit
serialises to JSON, and shows the sample grid upscaled as PNG. This bench runs one training job through a
JobManager of this process and, in alternating windows (A B B A ...), either leaves it
alone (headless) or runs that same per-poll work in another thread at the page's rate (polled).
Throughput in a window comes from the times of the StepEvents inside it (a listener records them in
the training thread). The ratio is the median over window pairs of polled / headless img/s of the
same job.

What it does not include: Streamlit's own protobuf/websocket work and the browser. ``--clients N``
emulates N browser sessions polling at once.

``--server``: the real thing instead. Starts ``streamlit run app.py``, opens the Train page in headless
Chromium (Playwright; ``$GAN_STUDIO_CHROMIUM``, default /usr/bin/chromium), starts a run from the
"CPU demo" preset with a huge step count, then alternates windows with the page open (the fragment
polls every second and the browser draws the charts) and with the browser on about:blank (no
session: headless). Throughput comes from the run's metrics.jsonl (step and trainer time). On a
small box the browser itself competes with the training for the cores.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CACHE, add_common_args, emit, median, ratio_line, setup  # noqa: E402

import torch  # noqa: E402

from gan_core import studio  # noqa: E402
from gan_core.config import RunConfig  # noqa: E402
from gan_core.train.events import StepEvent  # noqa: E402
from gan_core.jobs.manager import JobManager  # noqa: E402

TARGET = 0.9
POLL_S = 1.0  # apps/streamlit/views/train.py POLL_S


def poll_once(job) -> int:
    """The work of one rerun of the Train page's live_panel fragment (minus Streamlit's own)."""
    from apps import charts

    snap = job.snapshot()
    payload = 0
    studio.format_duration(snap.eta)
    studio.curve_help(snap.config["loss"]["name"])
    if snap.history:
        figs = [charts.curves_figure(snap.history, ["d_loss", "g_loss"], "Losses"),
                charts.curves_figure(snap.history, ["d_real", "d_fake"], "D outputs"),
                charts.curves_figure(snap.history, ["grad_norm_d", "grad_norm_g"], "Gradient norms"),
                charts.curves_figure(snap.history, ["lr_d", "lr_g"], "Learning rates")]
        payload += sum(len(f.to_json()) for f in figs)  # st.plotly_chart sends the figure as JSON
    if snap.sample is not None:
        payload += len(studio.png_bytes(studio.upscale(snap.sample, min_size=384)))  # show_image(min_size=384)
    return payload


class Poller:
    """``clients`` threads each running poll_once every POLL_S while enabled."""

    def __init__(self, job, clients: int, period: float):
        self.job, self.period = job, period
        self.enabled = threading.Event()
        self.stop = threading.Event()
        self.polls, self.poll_s = 0, 0.0
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            if not self.enabled.wait(0.05):
                continue
            t = time.perf_counter()
            poll_once(self.job)
            dt = time.perf_counter() - t
            with self._lock:
                self.polls += 1
                self.poll_s += dt
            self.stop.wait(max(0.0, self.period - dt))  # run_every: the next rerun a period later

    def close(self) -> None:
        self.stop.set()
        self.enabled.set()
        for t in self.threads:
            t.join(timeout=10)


class StepClock:
    """(time, step) of every StepEvent: the wall-clock time the trainer made it (it may run in a child
    process and reach this listener a little later)."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, int]] = []
        self._lock = threading.Lock()

    def __call__(self, job, ev) -> None:
        if isinstance(ev, StepEvent):
            with self._lock:
                self.marks.append((ev.created, ev.step))

    def count(self) -> int:
        with self._lock:
            return len(self.marks)

    def rate(self, t0: float, t1: float, batch: int) -> float:
        """img/s between the first and the last StepEvent inside [t0, t1] (whole log windows only)."""
        with self._lock:
            inside = [(t, s) for t, s in self.marks if t0 <= t <= t1]
        if len(inside) < 2:
            return float("nan")
        (ta, sa), (tb, sb) = inside[0], inside[-1]
        return (sb - sa) * batch / (tb - ta)


def window(clock: StepClock, seconds: float, batch: int, min_events: int = 4) -> float:
    """img/s of the job over the next ``seconds`` (longer until ``min_events`` StepEvents were seen)."""
    t0, n0 = time.time(), clock.count()
    time.sleep(seconds)
    while clock.count() - n0 < min_events:
        time.sleep(0.05)
    return clock.rate(t0, time.time(), batch)


# ---- --server: a real streamlit server and a headless browser -----------------------------------------


def _last_metrics(run_dir: Path) -> Optional[tuple[int, float]]:
    import json

    mp = run_dir / "metrics.jsonl"
    if not mp.exists():
        return None
    lines = [ln for ln in mp.read_text().splitlines() if ln.strip()]
    for ln in reversed(lines):
        try:
            d = json.loads(ln)
            return int(d["step"]), float(d["elapsed"])
        except (ValueError, KeyError):
            continue
    return None


def _proc_cpu(pid: Optional[int] = None, comm: Optional[str] = None) -> float:
    """CPU seconds (user + system) used so far by process ``pid``, or by all processes whose name
    contains ``comm`` (Linux /proc; 0.0 elsewhere)."""
    import os

    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    pids = [str(pid)] if pid is not None else [d for d in os.listdir("/proc") if d.isdigit()] if Path("/proc").is_dir() else []
    for d in pids:
        try:
            raw = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        name, rest = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
        if comm is not None and comm not in name:
            continue
        total += (int(rest[11]) + int(rest[12])) / tick  # utime, stime (fields 14, 15)
    return total


def server_main(args: argparse.Namespace, device: torch.device) -> int:
    import os
    import re

    from playwright.sync_api import sync_playwright

    from apps.devserver import start_streamlit, stop_server

    root = Path(__file__).resolve().parents[1]
    chromium = os.environ.get("GAN_STUDIO_CHROMIUM", "/usr/bin/chromium")
    base = Path(tempfile.mkdtemp(prefix="bench_polling_server_"))
    runs = base / "runs"
    env = dict(os.environ, GAN_STUDIO_RUNS=str(runs), PYTHONPATH=str(root), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    env["GAN_STUDIO_JOB_MODE"] = args.job_mode
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    if args.switch_interval:  # experiment: the server's GIL switch interval, via a sitecustomize of our own
        site = base / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(f"import sys\nsys.setswitchinterval({args.switch_interval!r})\n")
        env["PYTHONPATH"] = str(site) + os.pathsep + env["PYTHONPATH"]
    log = open(base / "server.log", "wb")
    try:
        proc, url = start_streamlit(env, log, root=root)
    except RuntimeError as e:
        sys.exit(str(e))
    polled: list[float] = []
    headless: list[float] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            pg = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            pg.set_default_timeout(120_000)

            def idle() -> None:
                pg.wait_for_timeout(300)
                pg.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=120_000)

            pg.goto(url + "/train")
            pg.get_by_role("button", name="Start training").wait_for(state="visible")
            idle()
            if os.environ.get("BENCH_SHOTS"):
                pg.screenshot(path=os.path.join(os.environ["BENCH_SHOTS"], "train_form.png"), full_page=True)
            # the form opens on the default preset, "CPU demo" (32 px, batch 64, width 32, log every 5 steps,
            # a sample grid every 25): only the step count is changed
            steps = pg.get_by_label("Steps", exact=True)
            steps.fill("1000000")
            steps.press("Enter")
            idle()
            pg.get_by_role("button", name="Start training").click()
            pg.locator('[data-testid="stPlotlyChart"]').first.wait_for(state="visible", timeout=180_000)
            train_url = pg.url  # keeps ?owner=
            t0 = time.time()
            while True:
                run_dirs = [d for d in runs.glob("*") if (d / "metrics.jsonl").exists()]
                if run_dirs and (_last_metrics(run_dirs[0]) or (0, 0))[0] >= 20:
                    break
                if time.time() - t0 > 300:
                    sys.exit("the run made no progress:\n" + (base / "server.log").read_text()[-3000:])
                time.sleep(0.5)
            run_dir = run_dirs[0]
            batch = 64
            print(f"# real server + headless Chromium on the Train page, run {run_dir.name} (CPU demo preset), "
                  f"{args.pairs} pairs of {args.window:.0f} s windows", flush=True)

            cpu_use: dict[str, list[tuple[float, float]]] = {"polled": [], "headless": []}

            def measure(mode: str) -> float:
                time.sleep(2.0)  # settle after navigating
                t_a, srv_a, br_a = time.perf_counter(), _proc_cpu(pid=proc.pid), _proc_cpu(comm="chrom")
                a = _last_metrics(run_dir)
                time.sleep(args.window)
                b = _last_metrics(run_dir)
                while b is None or a is None or b[0] - a[0] < 10:
                    time.sleep(0.2)
                    a = a or _last_metrics(run_dir)
                    b = _last_metrics(run_dir)
                dt = time.perf_counter() - t_a
                cpu_use[mode].append(((_proc_cpu(pid=proc.pid) - srv_a) / dt, (_proc_cpu(comm="chrom") - br_a) / dt))
                return (b[0] - a[0]) * batch / max(b[1] - a[1], 1e-9)

            for i in range(args.pairs):
                order = ("polled", "headless") if i % 2 == 0 else ("headless", "polled")
                for mode in order:
                    if mode == "polled":
                        pg.goto(train_url)
                        pg.locator('[data-testid="stPlotlyChart"]').first.wait_for(state="visible")
                        polled.append(measure("polled"))
                    else:
                        pg.goto("about:blank")
                        headless.append(measure("headless"))
                (sp, bp), (sh, bh) = cpu_use["polled"][-1], cpu_use["headless"][-1]
                print(f"  pair {i + 1}: polled {polled[-1]:.0f} img/s, headless {headless[-1]:.0f} img/s, "
                      f"ratio {polled[-1] / max(headless[-1], 1e-9):.2f}; cores used by the server "
                      f"{sp:.2f} / {sh:.2f}, by Chromium {bp:.2f} / {bh:.2f} (polled / headless)", flush=True)
            browser.close()
    finally:
        stop_server(proc)
        log.close()
        shutil.rmtree(base, ignore_errors=True)
    ratios = [a / max(b, 1e-9) for a, b in zip(polled, headless)]
    ratio = median(ratios)
    print(f"polled {median(polled):.1f} img/s, headless {median(headless):.1f} img/s (medians)")
    print(ratio_line("polled_vs_headless img/s (real server + browser, paired windows)", ratio, f"target >= {TARGET}"),
          flush=True)
    emit(args, "polling", {"polled_img_per_s": polled, "headless_img_per_s": headless, "ratio": ratio,
                           "pair_ratios": ratios, "target": TARGET, "emulated": False,
                           "cores_used": cpu_use}, device)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--dataset", default="faces")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--window", type=float, default=10.0, help="seconds per measurement window")
    p.add_argument("--pairs", type=int, default=6, help="polled/headless window pairs")
    p.add_argument("--clients", type=int, default=1, help="browser sessions polling at once")
    p.add_argument("--poll-s", type=float, default=POLL_S)
    p.add_argument("--log-every", type=int, default=10, help="train.log_every (the app default is 10)")
    p.add_argument("--job-mode", choices=("process", "thread"), default="process",
                   help="where the job trains (GAN_STUDIO_JOB_MODE of the app)")
    p.add_argument("--server", action="store_true", help="a real streamlit server + headless Chromium (see above)")
    p.add_argument("--switch-interval", type=float, default=0.0,
                   help="with --server: sys.setswitchinterval in the server process (experiment; python default 0.005)")
    args = p.parse_args(argv)
    if args.quick:
        args.image_size, args.batch_size, args.width, args.window, args.pairs = 16, 16, 16, 2.0, 2
    device = setup(args)
    if args.server:
        return server_main(args, device)
    runs = Path(tempfile.mkdtemp(prefix="bench_polling_"))
    cfg = RunConfig().replace(
        data={"dataset": args.dataset, "image_size": args.image_size, "num_samples": 2048,
              "cache_dir": args.cache_dir or DEFAULT_CACHE},
        model={"g_width": args.width, "d_width": args.width},
        train={"batch_size": args.batch_size, "steps": 10**8, "device": args.device, "log_every": args.log_every,
               "sample_every": 100, "checkpoint_every": 0, "seed": args.seed},
    )
    if args.threads:  # a "process" job does not inherit torch.set_num_threads, only the environment
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    mgr = JobManager(runs_dir=runs, mode=args.job_mode)
    clock = StepClock()
    mgr.add_listener(clock)
    job = mgr.start(cfg, owner="bench")
    t0 = time.perf_counter()
    while job.snapshot().step < 20:  # data loaded, warmed up, first samples and history exist
        if not job.active or time.perf_counter() - t0 > 600:
            sys.exit(f"the training job did not start: {job.snapshot().error}")
        time.sleep(0.2)
    poller = Poller(job, args.clients, args.poll_s)
    print(f"# {args.dataset} {args.image_size}px, batch {args.batch_size}, width {args.width}, device {device}, "
          f"{args.pairs} pairs of {args.window:.0f} s windows, {args.clients} polling client(s) every {args.poll_s} s",
          flush=True)
    polled: list[float] = []
    headless: list[float] = []
    try:
        for i in range(args.pairs):
            order = ("polled", "headless") if i % 2 == 0 else ("headless", "polled")
            for mode in order:
                if mode == "polled":
                    poller.enabled.set()
                    polled.append(window(clock, args.window, args.batch_size))
                    poller.enabled.clear()
                else:
                    headless.append(window(clock, args.window, args.batch_size))
            print(f"  pair {i + 1}: polled {polled[-1]:.0f} img/s, headless {headless[-1]:.0f} img/s, "
                  f"ratio {polled[-1] / max(headless[-1], 1e-9):.2f}", flush=True)
    finally:
        poller.close()
        job.stop("bench")
        job.wait(60)
        shutil.rmtree(runs, ignore_errors=True)
    ratios = [a / max(b, 1e-9) for a, b in zip(polled, headless)]
    ratio = median(ratios)
    per_poll_ms = 1000 * poller.poll_s / max(poller.polls, 1)
    print(f"polled {median(polled):.1f} img/s, headless {median(headless):.1f} img/s (medians); "
          f"{poller.polls} polls, {per_poll_ms:.1f} ms of work each")
    print(ratio_line("polled_vs_headless img/s (paired windows)", ratio, f"target >= {TARGET}"), flush=True)
    results: dict[str, Any] = {"polled_img_per_s": polled, "headless_img_per_s": headless, "ratio": ratio,
                               "pair_ratios": ratios, "target": TARGET, "polls": poller.polls,
                               "ms_per_poll": per_poll_ms, "emulated": True}
    emit(args, "polling", results, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""2D lab: steps/s headless vs with the view open in Chromium, the refresh rate seen in the browser,
the cost and size of one frame, and the presets' metric checks with their wall time.

    PYTHONPATH=. python bench/bench_lab2d.py [--quick] [--seconds 20] [--no-browser] [--seeds 0,1,2,3,4]
                                             [--loads 0,2]

Headless: ``Lab2D.train_step`` in a loop (1 torch thread, as the lab's process runs), then the same
config in a ``LabRunner`` (its child process) with a reader asking for a frame every 0.25 s. With the view: the real ``streamlit run app.py`` server and Debian Chromium on /lab2d, the
same config started from the page; steps/s read from the page's Step metric over the window, and
the refresh rate = distinct heatmap pictures Chromium drew per second. ``--loads 0,2`` measures the view once
per load: 0 = quiet (nothing else of the bench runs), N = while N processes each keep one core busy (a stated,
reproducible stand-in for "other work shares the machine"; they stop when that measurement ends).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import re
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, add_common_args, machine_info, setup  # noqa: F401  (sets sys.path)

from gan_core.lab2d import LAB_PRESETS, Lab2D, LabConfig, LabRunner, run_preset

CHROMIUM = os.environ.get("GAN_STUDIO_CHROMIUM", "/usr/bin/chromium")


def bench_config() -> LabConfig:
    """What the page starts with the "Custom" preset and default widgets: NS loss, 8 Gaussians,
    the LabConfig defaults (batch 128, MLP width 32, z_dim 2), Adam 1e-3, n_critic 1."""
    return LabConfig().replace(**{"loss.name": "ns", "train.steps": 100_000_000})


def headless(seconds: float) -> dict:
    lab = Lab2D(bench_config())
    for _ in range(50):
        lab.train_step()
    s0, t0 = lab.step, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(20):
            lab.train_step()
    loop = (lab.step - s0) / (time.perf_counter() - t0)
    fr_t = []
    for _ in range(20):
        t = time.perf_counter()
        lab.frame()
        fr_t.append(time.perf_counter() - t)
    fr_t.sort()
    from apps.lab2d_view import lab_figure

    fig = lab_figure(lab.frame())
    t = time.perf_counter()
    payload = fig.to_json()
    fig_ms = (time.perf_counter() - t) * 1000
    # the runner's child process with a reader asking for frames 4 times a second (what a view does)
    r = LabRunner(bench_config()).start()
    while r.step == 0:   # the child process is starting (spawn + import torch)
        if not r.active:
            raise SystemExit(f"the lab's process did not start: {r.status} {r.error}")
        r.frame()
        time.sleep(0.05)
    time.sleep(1.0)
    s0, t0, f0 = r.step, time.perf_counter(), r.frames_published
    while time.perf_counter() - t0 < seconds:
        r.frame()
        time.sleep(0.25)
    runner = (r.step - s0) / (time.perf_counter() - t0)
    frames = (r.frames_published - f0) / (time.perf_counter() - t0)
    r.stop()
    return {"loop_steps_per_s": loop, "runner_steps_per_s": runner, "runner_frames_per_s": frames,
            "frame_ms_median": fr_t[len(fr_t) // 2] * 1000, "figure_json_kb": len(payload) / 1024,
            "figure_to_json_ms": fig_ms}


def _spin(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(20_000))


@contextlib.contextmanager
def cpu_load(n: int):
    """``n`` processes each keeping one core busy while the block runs (none for n = 0); always stopped."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(n)]
    for pr in procs:
        pr.start()
    try:
        yield
    finally:
        stop.set()
        for pr in procs:
            pr.join(timeout=5)
            if pr.is_alive():
                pr.terminate()


def with_browser(seconds: float) -> dict:
    from playwright.sync_api import sync_playwright

    from apps.devserver import start_streamlit, stop_server

    tmp = Path(tempfile.mkdtemp(prefix="bench_lab2d_"))
    env = dict(os.environ, GAN_STUDIO_RUNS=str(tmp / "runs"), GAN_STUDIO_CHECKPOINTS=str(tmp / "ck"),
               OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    with open(tmp / "server.log", "wb") as log:
        proc, url = start_streamlit(env, log)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
                pg = browser.new_page(viewport={"width": 1500, "height": 1300})
                pg.set_default_timeout(90_000)
                pg.goto(url + "/lab2d")
                pg.get_by_role("heading", name="2D lab").wait_for()
                pg.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
                pg.get_by_role("combobox", name="Preset", exact=True).click()
                pg.get_by_role("option", name="Custom (runs until stopped)").click()
                pg.wait_for_timeout(500)
                pg.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
                pg.get_by_role("combobox", name="Loss", exact=True).click()
                pg.get_by_role("option", name="Non-saturating GAN", exact=True).click()
                pg.wait_for_timeout(500)
                pg.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
                pg.get_by_role("button", name="Start").click()
                heat = pg.locator(".js-plotly-plot .heatmaplayer image")
                heat.first.wait_for(state="attached")

                def step() -> int:
                    return int(pg.locator('[data-testid="stMetric"]').filter(has_text=re.compile(r"^Step\s*\d")).locator(
                        '[data-testid="stMetricValue"]').last.inner_text())

                def src() -> str:
                    try:
                        return heat.first.get_attribute("href") or ""
                    except Exception:
                        return ""

                pg.wait_for_timeout(2000)
                s0, t0, last, changes = step(), time.perf_counter(), src(), 0
                while time.perf_counter() - t0 < seconds:
                    pg.wait_for_timeout(50)
                    s = src()
                    if s and s != last:
                        changes, last = changes + 1, s
                s1, t1 = step(), time.perf_counter()
                pg.screenshot(path=str(tmp / "bench_view.png"), full_page=True)
                browser.close()
        finally:
            stop_server(proc)
    return {"view_steps_per_s": (s1 - s0) / (t1 - t0), "browser_refresh_per_s": changes / (t1 - t0),
            "window_s": t1 - t0, "screenshot": str(tmp / "bench_view.png")}


def presets(seeds: list[int]) -> list[dict]:
    out = []
    for name in LAB_PRESETS:
        for seed in seeds:
            r = run_preset(name, seed=seed)
            row = {"preset": name, "seed": seed, "steps": r.steps, "seconds": round(r.seconds, 2),
                   "passed": r.passed, "failures": r.failures, **{k: round(v, 6) for k, v in r.values.items()}}
            out.append(row)
            print(f"preset {name:18s} seed {seed}: {r.steps} steps in {r.seconds:5.1f} s  "
                  f"{json.dumps({k: round(v, 4) for k, v in r.values.items()})}  {'ok' if r.passed else r.failures}",
                  flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    add_common_args(p)
    p.add_argument("--seconds", type=float, default=20.0, help="measuring window of each speed figure")
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--no-presets", action="store_true")
    p.add_argument("--seeds", default="0,1,2,3,4", help="seeds for each preset")
    p.add_argument("--loads", default="0,2", help="measure the view once per load: 0 = quiet, N = while N "
                                                  "processes each keep a core busy (e.g. 0,2)")
    args = p.parse_args()
    loads = [int(n) for n in args.loads.split(",") if n.strip()]
    if any(n < 0 or n > 64 for n in loads):
        p.error("--loads: numbers of busy processes between 0 and 64")
    args.threads = args.threads or 1
    dev = setup(args)
    secs = 2.0 if args.quick else args.seconds
    res: dict = {"machine": machine_info(dev), "window_s": secs}
    h = headless(secs)
    res.update(h)
    print(f"headless loop: {h['loop_steps_per_s']:.0f} steps/s; in the runner process with frames: "
          f"{h['runner_steps_per_s']:.0f} steps/s, {h['runner_frames_per_s']:.1f} frames/s; one frame "
          f"{h['frame_ms_median']:.1f} ms; figure JSON {h['figure_json_kb']:.0f} KiB ({h['figure_to_json_ms']:.0f} ms)",
          flush=True)
    if not args.no_browser and Path(CHROMIUM).exists():
        res["browser"] = []
        for n in loads:
            with cpu_load(n):
                b = with_browser(secs)
            b["load_procs"], b["cores"] = n, os.cpu_count()
            b["view_vs_headless"] = b["view_steps_per_s"] / h["loop_steps_per_s"]
            res["browser"].append(b)
            if n == 0:
                res.update({k: v for k, v in b.items() if k != "load_procs"})   # the quiet figures, as before
            under = "quiet" if n == 0 else f"under load: {n} busy process(es) on {os.cpu_count()} cores"
            print(f"with the view open in Chromium ({under}): {b['view_steps_per_s']:.0f} steps/s = "
                  f"{b['view_vs_headless']:.2f} of the headless loop; refresh seen in Chromium "
                  f"{b['browser_refresh_per_s']:.2f}/s over {b['window_s']:.0f} s", flush=True)
    if not args.no_presets:
        res["presets"] = presets([0] if args.quick else [int(s) for s in args.seeds.split(",")])
    print("RESULT " + json.dumps(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    sys.exit(main())

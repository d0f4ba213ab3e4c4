"""Many viewers from one computation (issue 22, part 4): a run's view is made once per new state and
shared by every session of both front ends."""
import threading

import numpy as np
import pytest

from gan_core.config import RunConfig
from gan_core.train.events import DoneEvent, SampleEvent, StartEvent, StepEvent
from gan_core.jobs.job import Job
from gan_core.studio import live
from gan_core.studio.live import RunViewCache, run_view


def _step(step: int) -> StepEvent:
    return StepEvent(step, 0, 1.0, 2.0, 0.6, 0.4, 1.0, 1.0, 640.0, 2e-4, 2e-4, 1, step * 0.1, None, step / 10)


@pytest.fixture
def job(tmp_path):
    """A job whose events the test feeds by hand (nothing trains)."""
    cfg = RunConfig().replace(data={"dataset": "faces"}, train={"steps": 0, "seconds": 60.0})
    j = Job(1, "alice", cfg, tmp_path / "run", None, [], mode="thread")
    j._on_event(StartEvent(str(tmp_path / "run"), cfg.to_dict(), {}, "cpu", 100, 1, 1, 0))
    return j


@pytest.fixture(autouse=True)
def curves_every_row(monkeypatch):
    """Curves follow every new row in these tests (the pause of a training run's curves has its own test)."""
    monkeypatch.setattr(live, "CURVES_EVERY_S", 0.0)


def test_n_sessions_polling_one_run_cause_one_computation_per_step(job):
    counted = []

    def compute(j, version, prev=None):
        counted.append(version)
        return run_view(j, version, prev)

    cache = RunViewCache(compute=compute)
    sessions, polls = 30, 5
    barrier = threading.Barrier(sessions)
    seen: list = []

    def session():
        for _ in range(polls):   # every session polls the same step several times, all at once
            barrier.wait()
            seen.append(cache.view(job))

    for step in range(1, 5):
        job._on_event(_step(step))
        if step == 2:
            job._on_event(SampleEvent(step, np.full((20, 20, 3), 128, np.uint8)))
        threads = [threading.Thread(target=session) for _ in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(counted) == step, f"step {step}: {len(counted)} computations for {sessions} sessions"
        views = seen[-sessions * polls:]
        assert all(v is views[0] for v in views)   # the very same object for every viewer
        assert views[0].status["step"] == step and len(views[0].history) == step
    assert cache.computations == 4 and cache.hits == 4 * sessions * polls - 4
    v = cache.view(job)
    assert v.grid is not None and v.grid.shape[0] > 20 and v.grid_png.startswith(b"\x89PNG") and v.grid_step == 2


def test_a_view_changes_with_everything_a_viewer_sees(job):
    cache = RunViewCache()
    a = cache.view(job)
    job.add_extra("metrics", {"step": 0, "tag_accuracy": 0.5})
    b = cache.view(job)
    assert b is not a and b.metrics["latest"]["tag_accuracy"] == 0.5
    job._on_event(DoneEvent(3, "time", shortfall="The machine was busy: 3 steps in 60 s, where this preset needs about 1,400; expect noise."))
    c = cache.view(job)
    assert c is not b and c.shortfall.startswith("The machine was busy: 3 steps") and c.status["status"] == "done"
    assert cache.view(job) is c


def test_curves_and_grid_are_made_once_per_new_row_and_sample_not_per_version(job):
    """The version changes with every step and every evaluator row; the heavy parts (chart groups, figures,
    the labelled grid and its PNG) only with a new history row or a new sample."""
    from apps import charts

    cache = RunViewCache()
    job._on_event(_step(1))
    job._on_event(SampleEvent(1, np.full((20, 20, 3), 100, np.uint8)))
    a = cache.view(job)
    assert [g["title"] for g in a.groups][:2] == ["Losses", "D outputs"] and a.groups[0]["keys"] == ["d_loss", "g_loss"]
    assert a.grid_png.startswith(b"\x89PNG") and a.grid_caption == "Fixed-noise samples at step 1"
    made = []
    real = charts.curves_spec
    try:
        charts.curves_spec = lambda *args, **kw: made.append(args[2]) or real(*args, **kw)
        figs = [charts.live_figure(a, g) for g in a.groups]
        jsons = [charts.live_json(a, g) for g in a.groups]   # Gradio's payload: from the same spec, no second make
        assert len(made) == len(a.groups)
        job.add_extra("metrics", {"step": 1, "tag_accuracy": 0.5})   # a new version: same curves, same grid
        b = cache.view(job)
        assert b is not a and b.curves is a.curves and b.grid_view is a.grid_view
        assert [charts.live_figure(b, g) for g in b.groups] == figs and len(made) == len(a.groups)
        assert all(charts.live_json(b, g) is j for g, j in zip(b.groups, jsons))
        job._on_event(SampleEvent(2, np.full((20, 20, 3), 200, np.uint8)))   # a new grid, the same curves
        c = cache.view(job)
        assert c.curves is a.curves and c.grid_view is not a.grid_view and c.grid[0, 0, 0] == 200
        assert c.grid_caption == "Fixed-noise samples at step 2"
        job._on_event(_step(2))   # a new row: new curves and figures, the same grid
        d = cache.view(job)
        assert d.curves is not a.curves and d.grid_view is c.grid_view and len(d.history) == 2
        assert charts.live_figure(d, d.groups[0]) is not figs[0] and len(made) == len(a.groups) + 1
        assert charts.live_json(d, d.groups[0]) != jsons[0] and len(made) == len(a.groups) + 1
    finally:
        charts.curves_spec = real


def test_memo_makes_a_front_end_derivative_once_per_history_row(job):
    cache = RunViewCache()
    made = []
    v = cache.view(job)
    for _ in range(10):
        v.curves.memo("fig.losses", lambda: made.append(1) or "figure")
    assert made == [1]
    job._on_event(_step(1))
    cache.view(job).curves.memo("fig.losses", lambda: made.append(2) or "figure")
    assert made == [1, 2]


def test_bounded_and_a_failed_computation_is_retried(tmp_path):
    cfg = RunConfig()
    jobs = [Job(i, "a", cfg, tmp_path / str(i), None, [], mode="thread") for i in range(5)]
    cache = RunViewCache(max_jobs=3)
    for j in jobs:
        cache.view(j)
    assert len(cache) == 3
    calls = []

    def flaky(j, version, prev=None):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return run_view(j, version, prev)

    cache = RunViewCache(compute=flaky)
    with pytest.raises(RuntimeError):
        cache.view(jobs[0])
    assert cache.view(jobs[0]).job == 0 and len(calls) == 2


def test_prepare_server_is_once_per_process_and_the_plan_is_a_lookup(monkeypatch):
    from gan_core import studio
    from gan_core.studio import server

    monkeypatch.setattr(server, "_done", {})
    assert server.probe_enabled() is False   # tests/conftest: GAN_STUDIO_PROBE=0
    first = studio.prepare_server()
    assert first["probe"] is False and first["priority"]["nice"] == 0   # GAN_STUDIO_SERVER_NICE=0
    assert studio.prepare_server() == first
    plan = studio.preset_plan("1min", "faces")
    assert plan.verdict == "unknown" and plan.steps_needed == 1400 and "needs about 1,400" in plan.message
    assert studio.plan_markdown(plan).startswith("**1min on this machine: not measured.** This machine's speed")


def test_equal_job_ids_of_two_managers_do_not_share_a_view(tmp_path):
    cfg = RunConfig()
    a = Job(1, "a", cfg, tmp_path / "a", None, [], mode="thread")
    b = Job(1, "b", cfg, tmp_path / "b", None, [], mode="thread")
    cache = RunViewCache()
    assert cache.view(a).run == "a" and cache.view(b).run == "b" and cache.computations == 2


def test_the_live_chart_json_is_what_plotly_sends_for_the_same_figure():
    """Gradio's live charts are written as plotly JSON without building a figure (issue 22: a figure cost
    3-4 ms per chart per new row): after decoding the typed arrays it equals plotly's own JSON of the figure
    Streamlit draws, template included, for long, short, log-axis and empty charts."""
    import base64
    import json

    from apps import charts

    codes = {"i1": np.int8, "i2": np.int16, "i4": np.int32, "f4": np.float32, "f8": np.float64}

    def decoded(text: str) -> dict:
        fig = json.loads(text)
        for trace in fig["data"]:
            for k in ("x", "y"):
                v = trace[k]
                if isinstance(v, dict):
                    trace[k] = np.frombuffer(base64.b64decode(v["bdata"]), codes[v["dtype"]]).tolist()
        return fig

    rng = np.random.default_rng(0)
    hist = [{"step": s, "d_loss": float(rng.random()), "g_loss": float(rng.random()), "lr_d": 2e-4, "gp": 0.1}
            for s in range(0, 40000, 10)]   # steps past int16, more rows than a chart sends
    for rows in (hist, hist[:5], hist[:1]):
        for keys in (["d_loss", "g_loss"], ["lr_d"], ["gp"], ["not_logged"]):
            ours = decoded(charts.spec_json(charts.curves_spec(rows, keys, "T")))
            theirs = decoded(charts.curves_figure(rows, keys, "T").to_json())
            assert ours == theirs, (len(rows), keys)
            assert ours["layout"]["template"]["layout"]   # the figure's look, not plotly.js's bare one


def test_a_training_runs_curves_move_on_at_most_every_CURVES_EVERY_S(job, monkeypatch):
    """While a run trains its charts are redrawn at most every CURVES_EVERY_S (every page redrew two charts per
    new row, several a second); the first rows come at once, the step count stays live, and an ended run shows
    all its rows at once."""
    monkeypatch.setattr(live, "CURVES_EVERY_S", 3600.0)
    cache = RunViewCache()
    empty = cache.view(job)
    job._on_event(_step(1))
    a = cache.view(job)
    assert len(a.history) == 1 and a.curves is not empty.curves   # the first row is not held back
    for step in (2, 3):
        job._on_event(_step(step))
        b = cache.view(job)
        assert b is not a and b.status["step"] == step   # live step count ...
        assert b.curves is a.curves and len(b.history) == 1   # ... with the charts held
    job._on_event(DoneEvent(3, "steps"))
    c = cache.view(job)
    assert c.status["status"] == "done" and len(c.history) == 3   # ended: every row at once
    # the pause itself: rows held while younger than `every`, new curves once it has passed
    snap = job.snapshot()
    snap_active = type("S", (), {"history": snap.history, "config": snap.config, "active": True})()
    held = live._curves(snap_active, a.curves, every=2.0, now=a.curves.made + 1.9)
    fresh = live._curves(snap_active, a.curves, every=2.0, now=a.curves.made + 2.0)
    assert held is a.curves and fresh is not a.curves and len(fresh.history) == 3 and fresh.made == a.curves.made + 2.0

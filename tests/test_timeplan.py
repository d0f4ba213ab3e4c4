"""Honest time presets (issue 22, part 3): the plan before Start, the step plan, the note of a short run."""
import time

from gan_core.train import timeplan, timeprobe, trainer as trainer_mod
from gan_core.config import RunConfig
from gan_core.train.events import DoneEvent, StartEvent
from gan_core.jobs.manager import JobManager
from gan_core.train.recipes import PRESETS, apply_preset, preset_of, steps_needed
from gan_core.train.speed import Option, ProbeResult
from gan_core.train.trainer import Trainer

ONE_OPTION = {"amp": False, "channels_last": False}   # nothing to probe: the run starts at once


def test_each_time_preset_states_the_steps_it_needs_for_the_faces_recipe():
    assert steps_needed("1min", "faces") == 1400
    for name, p in PRESETS.items():
        if p.seconds and name != "full":   # full: paper-sized networks, not measured on CPUs
            assert steps_needed(name, "faces"), name
    cfg = apply_preset(RunConfig().replace(data={"dataset": "faces"}), "1min")
    assert preset_of(cfg) == "1min" and steps_needed(cfg) == 1400
    assert preset_of(cfg.replace(model={"g_width": 48})) is None and steps_needed(cfg.replace(model={"g_width": 48})) is None


def test_plan_verdicts_and_the_variant_that_fits():
    fast = timeplan.plan_for("1min", "faces", 38.0)
    assert fast.verdict == "enough" and fast.steps_expected == 1578 and fast.steps_needed == 1400
    assert "enough" in fast.message and not fast.suggestion
    busy = timeplan.plan_for("1min", "faces", 749.0, {"16px": 30.0, "narrow": 400.0}, busy_with=1)
    assert busy.verdict == "too few" and busy.steps_expected == 80
    assert "expect noise" in busy.message
    fits = {v.key: v.fits for v in busy.variants}
    assert fits == {"16px": True, "narrow": False}
    assert busy.suggestion.startswith("The 16 px images variant fits: about 2,000 steps")
    assert "wait in the queue" in busy.suggestion and "train by steps (1,400 steps" in busy.suggestion
    tight = timeplan.plan_for("1min", "faces", 60.0)
    assert tight.verdict == "tight" and "rough pictures" in tight.message
    assert "wait in the queue" not in tight.suggestion   # nothing else trains: waiting would not help
    assert timeplan.plan_for("1min", "faces", None, measuring=True).verdict == "measuring"
    assert timeplan.plan_for("1min", "cifar10", 38.0).verdict == "unknown"
    assert timeplan.plan_for("tiny", "faces", 10.0).verdict == "by steps"
    assert fast.to_dict()["verdict"] == "enough"


def test_the_book_probes_once_in_the_background_and_plans_are_lookups(monkeypatch):
    calls = []

    def fake_measure(cfg, steps=timeprobe.PROBE_STEPS):
        calls.append(cfg.data.image_size)
        time.sleep(0.05)
        return 749.0 if cfg.data.image_size == 32 and cfg.model.g_width == 32 else 30.0

    monkeypatch.setattr(timeprobe, "measure_step_ms", fake_measure)
    book = timeprobe.SpeedBook(measure_in_child=False)
    first = timeprobe.preset_plan("1min", "faces", book=book)
    assert first.verdict == "measuring"
    for _ in range(20):   # many page views while it measures: still one probe
        timeprobe.preset_plan("1min", "faces", book=book)
    deadline = time.monotonic() + 10
    while book.measuring(timeplan.preset_config("1min", "faces")) and time.monotonic() < deadline:
        time.sleep(0.02)
    plan = timeprobe.preset_plan("1min", "faces", book=book)
    assert len(calls) == 1 + len(timeplan.VARIANTS)
    assert plan.verdict == "too few" and plan.steps_expected == 80 and plan.source.startswith("timed")
    assert plan.variants[0].fits and "16 px" in plan.suggestion
    timeprobe.preset_plan("5min", "faces", book=book)   # the same networks: the same probe
    assert len(calls) == 1 + len(timeplan.VARIANTS)
    book2 = timeprobe.SpeedBook(measure_in_child=False)
    assert timeprobe.preset_plan("1min", "faces", book=book2, busy_with=1).verdict == "unknown"   # no probe while a run trains
    assert len(calls) == 1 + len(timeplan.VARIANTS)


def test_the_step_plan_compares_with_what_the_preset_needs():
    assert timeplan.plan_line(60, 40.0, 1400).endswith("this preset needs about 1,400: enough")
    line = timeplan.plan_line(60, 749.0, 1400)
    assert "about 80 steps" in line and "expect noise" in line and "--steps 1400 --seconds 0" in line
    assert timeplan.plan_line(60, 40.0, None).startswith("time budget 60 s: about 1,500 steps")


def _slow(monkeypatch, seconds_per_step):
    orig = Trainer._g_step

    def slow_g_step(self, *a, **k):
        time.sleep(seconds_per_step)
        return orig(self, *a, **k)

    monkeypatch.setattr(Trainer, "_g_step", slow_g_step)


def test_a_slowed_time_budget_run_says_the_machine_was_busy(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_mod, "steps_needed", lambda cfg: 40)   # the preset needs 40 steps
    _slow(monkeypatch, 0.25)
    mgr = JobManager(runs_dir=tmp_path, mode="thread")
    job = mgr.start(tiny_cfg(steps=0, train={"seconds": 1.5, **ONE_OPTION}), owner="alice")
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == "done" and snap.step < 20
    assert snap.shortfall.startswith(f"The machine was busy: {snap.step} steps in 1.5 s")
    assert "needs about 40; expect noise" in snap.shortfall and snap.shortfall in snap.notes


def test_a_normal_run_gets_no_busy_note(tiny_cfg, monkeypatch):
    monkeypatch.setattr(trainer_mod, "steps_needed", lambda cfg: 1)   # any machine makes one step in 2 s
    monkeypatch.setattr(trainer_mod, "probe_trainer", lambda tr, keep=None: ProbeResult(Option("fp32", False), {"fp32": 40.0}, "test"))
    events = list(Trainer(tiny_cfg(steps=0, train={"seconds": 2.0, **ONE_OPTION})).run())
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.reason == "time" and done.step >= 1 and done.shortfall == ""
    start = next(e for e in events if isinstance(e, StartEvent))
    assert "time budget 2 s: about 50 steps at the probed speed (40.0 ms per step); this preset needs about 1: enough" in start.notes
    monkeypatch.setattr(trainer_mod, "steps_needed", lambda cfg: 10_000)
    by_steps = list(Trainer(tiny_cfg(steps=4, train=ONE_OPTION)).run())[-1]   # a run by steps never gets it
    assert by_steps.reason == "steps" and by_steps.shortfall == ""


def test_a_pool_being_drawn_is_waited_for_not_drawn_twice(tiny_cfg, monkeypatch):
    import threading

    from gan_core.data import faces

    calls = []
    orig = faces.generate_faces

    def counted(*a, **k):
        calls.append(a)
        time.sleep(0.3)   # long enough for the second loader to find the lock held
        return orig(*a, **k)

    monkeypatch.setattr(faces, "generate_faces", counted)
    cfg = tiny_cfg(data={"num_samples": 48}).data
    got = []
    threads = [threading.Thread(target=lambda: got.append(faces.load_faces(cfg))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(calls) == 1 and len(got) == 2
    assert all(g.images.shape == (48, 3, 16, 16) for g in got) and (got[0].images == got[1].images).all()


def test_the_server_probe_makes_the_data_pool_in_a_child_process(tiny_cfg):
    """The real background path: a spawned child draws the pool into the cache and times the steps."""
    from pathlib import Path

    cfg = tiny_cfg(data={"num_samples": 40}, train=ONE_OPTION)
    book = timeprobe.SpeedBook()
    assert book.prepare([cfg]) and not book.prepare([cfg])   # one probe per shape at a time
    deadline = time.monotonic() + 120
    while book.measuring(cfg) and time.monotonic() < deadline:
        time.sleep(0.2)
    entry = book.get(cfg)
    assert entry.error == "" and entry.ms is not None and entry.ms > 0
    assert book.data_seconds is not None
    assert list(Path(cfg.data.cache_dir).glob("faces_v*_n40_16px.npz"))

"""Issue 22 (a class on one link), the core: every visitor keeps their own run in view, a teacher's stop
is recorded and explained, the final figures are waited for, a new visitor's form starts from the
preset, the collapse alert waits for structure, and the class board's rows, sorting, names, pins and
permissions (gan_core.studio.classroom / board)."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from gan_core import metrics as M
from gan_core import studio
from gan_core.train.events import DoneEvent
from gan_core.jobs.manager import JobBusyError, JobManager
from gan_core.jobs.sharing import PermissionDenied, owner_hash
from gan_core.studio import board, classroom

A, B, C, TEACHER = "a" * 20, "b" * 20, "c" * 20, "t" * 20


@pytest.fixture
def quick(tiny_cfg):
    """tiny_cfg without the start-up precision probe (fp32 only): a run starts in a second."""
    def make(steps: int = 2, **kw):
        cfg = tiny_cfg(steps=steps, **kw)
        return cfg.replace(train={"amp": False, "channels_last": False})
    return make


@pytest.fixture
def mgr(tmp_path):
    m = JobManager(runs_dir=tmp_path / "runs", mode="thread", max_concurrent=1, max_per_visitor=5)
    yield m
    for j in reversed(m.jobs()):   # nothing left training after a test
        if j.active or j.queued:
            j.stop(j.owner)
    for j in m.jobs():
        j.wait(60)


def _run(mgr, cfg, owner):
    job = mgr.start(cfg, owner)
    assert job.wait(120)
    return job


# ---- whose run a page shows ------------------------------------------------------------------------
def test_a_finished_run_stays_on_a_page_when_b_starts(mgr, quick):
    a = _run(mgr, quick(steps=2), A)
    assert classroom.shown_run(mgr, A).id == a.id
    b = mgr.start(quick(steps=200_000), B)      # B's run trains now
    try:
        assert b.active or b.queued
        assert classroom.shown_run(mgr, A).id == a.id       # A still sees A's finished run
        assert classroom.shown_run(mgr, B).id == b.id
        assert classroom.shown_run(mgr, C).id == b.id       # C has no run: watches the one training
        # A chooses B's run from the list, then goes back to their own
        rows = classroom.run_list(mgr, A, classroom.shown_run(mgr, A))
        assert [r["job"] for r in rows] == [b.id, a.id] and rows[1]["mine"] and rows[1]["shown"]
        assert "yours" in rows[1]["label"] and "another visitor" in rows[0]["label"]
        assert classroom.shown_run(mgr, A, chosen=b.id).id == b.id
        assert classroom.shown_run(mgr, A, chosen=999).id == a.id   # a deleted choice falls back
        # A's second run, queued behind B's, is A's newest: it is shown in place of the finished one
        a2 = mgr.start(quick(steps=2), A)
        assert a2.queued and classroom.shown_run(mgr, A).id == a2.id
    finally:
        b.stop(B)
        b.wait(60)


def test_teacher_stop_is_recorded_and_explained(mgr, quick):
    job = mgr.start(quick(steps=200_000), A)
    for _ in range(400):
        if job.snapshot().step >= 2:
            break
        threading.Event().wait(0.05)
    with pytest.raises(PermissionDenied):
        board.stop_run(mgr, job.id, B, admin=False)        # a student cannot stop it from the board
    board.stop_run(mgr, job.id, TEACHER, admin=True)
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == "stopped" and snap.stopped_by == "teacher"
    note = classroom.end_note(snap, mine=True)
    assert note.startswith(f"Stopped by the teacher at step {snap.step}.")
    assert classroom.status_text(snap) == f"stopped by the teacher at step {snap.step}"
    assert TEACHER not in json.dumps(studio.job_status(snap))   # no secret in what the pages get
    # the owner's own stop reads differently, and a second stop does not rewrite who stopped it
    own = mgr.start(quick(steps=200_000), B)
    own.stop(B)
    own.wait(60)
    own.stop(TEACHER, admin=True)
    s = own.snapshot()
    assert s.stopped_by == "owner" and classroom.end_note(s, mine=True) == f"Stopped by you at step {s.step}."
    # the teacher takes a queued run out of the queue
    busy = mgr.start(quick(steps=200_000), A)
    queued = mgr.start(quick(steps=2), C)
    assert queued.queued
    queued.stop(TEACHER, admin=True)
    assert classroom.end_note(queued.snapshot()) == "Taken out of the queue by the teacher before it started."
    busy.stop(A)
    busy.wait(60)


def test_final_evaluation_is_pending_until_it_is_in(mgr, quick):
    """The snapshot says "done" only together with eval_pending until the end-of-run listeners are
    through, so a page keeps polling and shows the final figures without a reload."""
    release, seen = threading.Event(), []

    def slow_final_eval(job, ev):
        if isinstance(ev, DoneEvent):
            seen.append(job.snapshot())
            release.wait(30)
            job.add_extra("metrics", {"step": ev.step, "tag_accuracy": 0.9})

    mgr.add_listener(slow_final_eval)
    job = mgr.start(quick(steps=2), A)
    for _ in range(600):
        if seen:
            break
        threading.Event().wait(0.05)
    snap = job.snapshot()
    assert snap.status == "done" and snap.eval_pending and not snap.settled
    assert classroom.needs_polling(snap) and "final quality figures" in classroom.pending_text(snap)
    release.set()
    assert job.wait(30)
    snap = job.snapshot()
    assert not snap.eval_pending and snap.settled and not classroom.needs_polling(snap)
    assert snap.extras["metrics"][-1]["step"] == snap.step
    assert seen[0].status == "done" and seen[0].eval_pending


def test_new_visitor_form_starts_from_the_preset_not_another_run(mgr, quick):
    _run(mgr, quick(steps=2, loss="hinge"), A)
    defaults = studio.initial_form_values("1min")
    assert classroom.form_start_values(mgr, B, "1min") == defaults
    mine = classroom.form_start_values(mgr, A, "1min")
    assert mine["loss.name"] == "hinge" and mine["train.steps"] == 2


# ---- the collapse alert waits for structure --------------------------------------------------------------
NOISE = {"coverage": 0.03, "tag_accuracy": 0.012, "confident_fraction": 0.0}   # the 1min recipe at steps 10-80


def test_alert_waits_for_structure_rule_stated():
    mon = M.ModeCollapseMonitor()
    # a faces run's first evaluations: grey noise, same-tag ratio near 0 -> no alert (it used to fire at 4, 18, 34)
    for step in (4, 18, 34, 80):
        assert mon.observe_diversity_ratio(step, 0.02, evidence=NOISE) is None
    assert mon.observe_diversity_ratio(5000, 0.02, evidence=NOISE) is None     # late, but still noise
    assert mon.observe_diversity_ratio(5000, 0.02) is None                      # no evaluation row: not judged
    faces = {"coverage": 0.9, "tag_accuracy": 0.85, "confident_fraction": 0.1}
    assert mon.observe_diversity_ratio(150, 0.02, evidence=faces) is None       # structure, but before the minimum
    msg = mon.observe_diversity_ratio(M.listener.MIN_ALERT_STEP, 0.02, evidence=faces)
    assert msg is not None and "ignores z" in msg and M.listener.structure_rule() in msg
    assert "step 200" in M.listener.structure_rule() and "M.listener" not in M.ModeCollapseMonitor.__doc__
    assert "must have structure" in M.ModeCollapseMonitor.__doc__
    # the diversity-drop alert is gated the same way: noise neither alerts nor sets the running maximum
    mon2 = M.ModeCollapseMonitor(warmup=1)
    assert mon2.observe_diversity(10, 5.0, 5.0, evidence=NOISE) is None and mon2.running_max is None


@pytest.fixture(scope="module")
def faces_reference(cache_dir):
    from gan_core.metrics.classifiers import load_classifier
    from gan_core.config import DataConfig
    from gan_core.data import load_dataset

    # the same faces as test_fidelity's (one cached set in a suite run)
    ds = load_dataset(DataConfig(dataset="faces", image_size=32, num_samples=600, seed=3, cache_dir=cache_dir))
    ext = load_classifier("faces")
    return ext, M.real_reference(ds.images, ext, n=200, seed=0, labels=ds.labels)


def test_listener_rule_on_real_generators(faces_reference):
    """An untrained G (grey noise) raises no alert even late; the shipped-until-2026 G that ignores z does
    once past the minimum step (evaluation rows computed for real, 128 samples)."""
    from gan_core.storage.checkpoint import load_generator
    from gan_core.models import build_models

    ext, ref = faces_reference
    fixture = Path(__file__).parent / "fixtures" / "faces_ignores_z.safetensors"
    collapsed, cfg, spec = load_generator(fixture)
    torch.manual_seed(0)
    fresh, _ = build_models(cfg.model, spec)
    fresh.eval()
    noise_row = M.evaluate_generator(fresh, spec, ext, ref, n=128, seed=0)
    bad_row = M.evaluate_generator(collapsed, spec, ext, ref, n=128, seed=0)
    assert noise_row["diversity_ratio"] < 0.3 and bad_row["diversity_ratio"] < 0.3   # both would have fired
    mon = M.ModeCollapseMonitor()
    assert not mon.has_structure(4000, noise_row)
    for step in (4, 18, 34, 4000):
        assert mon.observe_diversity_ratio(step, noise_row["diversity_ratio"], evidence=noise_row) is None
    assert mon.observe_diversity_ratio(34, bad_row["diversity_ratio"], evidence=bad_row) is None
    assert mon.observe_diversity_ratio(600, bad_row["diversity_ratio"], evidence=bad_row) is not None


# ---- the class board -------------------------------------------------------------------------------------------
def test_names_pins_and_owners_persist_without_the_secret(tmp_path):
    store = board.BoardStore(tmp_path)
    assert store.name_of(A) == f"anonymous #{owner_hash(A)[:4]}"
    assert store.set_name(A, "  Ana   B. ") == "Ana B."
    with pytest.raises(ValueError):
        store.set_name(A, "<script>")
    with pytest.raises(ValueError):
        store.set_name(A, "x" * 30)
    assert board.BoardStore(tmp_path).name_of(A) == "Ana B."          # server-wide, from the file
    assert store.own_name(A) == "Ana B." and store.own_name(B) == ""
    store.remember_owners({"run1": A})
    with pytest.raises(PermissionDenied):
        board.set_pinned(store, "run1", True, admin=False)
    assert board.set_pinned(store, "run1", True, admin=True) == ["run1"]
    assert board.BoardStore(tmp_path).pins() == ["run1"]
    text = (tmp_path / board.BOARD_FILE).read_text()
    assert A not in text and owner_hash(A) in text
    store.set_name(A, "")
    assert store.name_of(A).startswith("anonymous")


def test_board_rows_sorting_permissions_and_projector(mgr, quick):
    store = board.BoardStore(mgr.runs_dir)
    store.set_name(A, "Ana")
    a = _run(mgr, quick(steps=3, loss="hinge"), A)
    b = _run(mgr, quick(2, train={"steps": 2, "sample_every": 1}), B)
    a.add_extra("metrics", {"step": 3, "tag_accuracy": 0.5, "diversity_ratio": 0.8})
    b.add_extra("metrics", {"step": 2, "tag_accuracy": 0.9, "diversity_ratio": 0.1})
    rows = board.board_rows(mgr, B, store)
    assert [r["job"] for r in rows] == [b.id, a.id]                   # newest first
    ra, rb = rows[1], rows[0]
    assert ra["visitor"] == "Ana" and rb["visitor"].startswith("anonymous") and rb["mine"] and not ra["mine"]
    assert (ra["loss"], ra["arch"], ra["step"], ra["tag_accuracy"]) == ("hinge", "dcgan", 3, 0.5)
    assert rb["grid"] is not None and rb["grid"].dtype.name == "uint8"
    assert ra["preset"] == "custom"
    png = board.grid_png(rb)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and board.grid_png(rb) is png        # encoded once, then cached
    assert board.grid_png({**rb, "grid": None}) is None                               # no grid yet: nothing
    assert not any(A in json.dumps({k: v for k, v in r.items() if k != "grid"}) for r in rows)
    assert [r["job"] for r in board.sort_rows(rows, "tag accuracy")] == [b.id, a.id]
    assert [r["job"] for r in board.sort_rows(rows, "same-tag diversity")] == [a.id, b.id]
    assert [r["job"] for r in board.sort_rows(rows, "tag accuracy", descending=False)] == [a.id, b.id]
    with pytest.raises(ValueError):
        board.sort_rows(rows, "colour")
    cells = board.cells(rb)
    assert cells["visitor"].endswith("(you)") and cells["tag accuracy"] == "90.0%" and cells["steps"] == "2 / 2"
    assert board.permissions(False) == {"pin": False, "stop": False, "delete": False, "reason": board.VIEW_ONLY}
    assert all(board.permissions(True)[k] for k in ("pin", "stop", "delete"))
    # the teacher pins A's run: the projector shows it, large
    board.set_pinned(store, ra["run"], True, admin=True)
    cards = board.projector_cards(board.board_rows(mgr, TEACHER, store))
    assert [c["run"] for c in cards] == [ra["run"]] and cards[0]["title"].startswith("Ana · hinge · dcgan")
    assert ("tag accuracy", "50.0%") in cards[0]["figures"]
    # a new server (fresh manager) still knows whose runs they were, from the store and the folders
    again = board.board_rows(JobManager(runs_dir=mgr.runs_dir, mode="thread"), A, store)
    assert {r["run"]: r["visitor"] for r in again}[ra["run"]] == "Ana"
    assert {r["run"]: r["mine"] for r in again}[ra["run"]]


def test_teacher_deletes_an_ended_run_only(mgr, quick):
    store = board.BoardStore(mgr.runs_dir)
    done = _run(mgr, quick(steps=2), A)
    name = Path(done.run_dir).name
    board.set_pinned(store, name, True, admin=True)
    with pytest.raises(PermissionDenied):
        board.delete_run(mgr, name, admin=False, store=store)
    live = mgr.start(quick(steps=200_000), B)
    try:
        with pytest.raises(JobBusyError):
            board.delete_run(mgr, Path(live.run_dir).name, admin=True, store=store)
        with pytest.raises(ValueError):
            board.delete_run(mgr, "../elsewhere", admin=True, store=store)
        board.delete_run(mgr, name, admin=True, store=store)
        assert not Path(done.run_dir).exists() and mgr.get(done.id) is None and store.pins() == []
        assert name not in [r["run"] for r in board.board_rows(mgr, TEACHER, store)]
    finally:
        live.stop(B)
        live.wait(60)

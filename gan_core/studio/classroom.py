"""A class on one server, the Train page's side: which run a visitor sees, how a run's end is explained,
whether a page must keep polling, and where a new visitor's form starts. Both front ends call these, so
the rules are written once:

* :func:`shown_run`: a visitor sees the run they chose, else their own newest run (training, queued or
  finished), never someone else's in place of theirs; a visitor without runs watches the run training now.
* :func:`end_note`: "Stopped by the teacher at step 120." (the job records who stopped it).
* :func:`needs_polling`: keep polling until the run has settled (ended *and* its final evaluation is in).
* :func:`form_start_values`: the preset defaults, then this visitor's own newest run, never another's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from gan_core.studio.form import flatten
from gan_core.studio.views import initial_form_values

TEACHER = "teacher"   # Job.stopped_by when the admin stopped someone else's run


def my_jobs(mgr: Any, me: Optional[str]) -> list[Any]:
    """This visitor's jobs in the manager, oldest first."""
    return [j for j in mgr.jobs() if me is not None and j.owner == me]


def own_run(mgr: Any, me: Optional[str]) -> Optional[Any]:
    """This visitor's run to show: the newest one training, else the next one queued, else the newest
    that ended (finished, stopped, failed or cancelled)."""
    mine = my_jobs(mgr, me)
    for pick in ([j for j in mine if j.active], [j for j in mine if j.queued]):
        if pick:
            return pick[-1] if pick[0].active else pick[0]
    return mine[-1] if mine else None


def shown_run(mgr: Any, me: Optional[str], chosen: Optional[int] = None) -> Optional[Any]:
    """The run a visitor's Train page shows: the one they chose from the list (``chosen``, a job id),
    else their own (:func:`own_run`), else (a visitor who has started nothing) the run training now,
    view only. Another visitor's run never replaces one's own: A's finished run stays on A's page
    when B starts one."""
    try:   # a widget may hand back something else than a job id while its options change: ignore it
        job = mgr.get(int(chosen)) if chosen is not None else None
    except (TypeError, ValueError):
        job = None
    if job is not None:
        return job
    mine = own_run(mgr, me)
    if mine is not None:
        return mine
    return mgr.active_job()


def is_mine(job: Any, me: Optional[str]) -> bool:
    return job is not None and me is not None and job.owner == me


def run_list(mgr: Any, me: Optional[str], shown: Optional[Any] = None,
             names: Optional[Any] = None) -> list[dict[str, Any]]:
    """The runs a visitor may switch to (newest first): ``{"job", "label", "mine", "shown"}``, the label
    ``"#3 · yours · faces / acgan / ns · done at step 300"``. ``names``: a callable owner -> display name
    (the class board's), else "another visitor"."""
    rows = []
    for j in reversed(mgr.jobs()):
        snap = j.snapshot(since=1 << 62)   # no history: only the status line is needed
        c = snap.config
        whose = "yours" if is_mine(j, me) else (names(j.owner) if names is not None else "another visitor")
        what = f"{c['data']['dataset']} / {c['model']['arch']} / {c['loss']['name']}"
        rows.append({"job": j.id, "label": f"#{j.id} · {whose} · {what} · {status_text(snap, is_mine(j, me))}",
                     "mine": is_mine(j, me), "shown": shown is not None and j.id == shown.id})
    return rows


def status_text(snap: Any, mine: bool = False) -> str:
    """The status in a few words, saying who stopped it: ``"running, step 40 / 300"``,
    ``"stopped by the teacher at step 120"``, ``"done at step 300"``, ``"queued"``."""
    if snap.queued:
        return "queued"
    if snap.active:
        total = f" / {snap.total_steps}" if snap.total_steps else ""
        verb = "being stopped by the teacher" if snap.status == "stopping" and snap.stopped_by == TEACHER else snap.status
        return f"{verb}, step {snap.step}{total}"
    if snap.status == "cancelled":
        return "taken out of the queue by the teacher" if snap.stopped_by == TEACHER else "cancelled"
    if snap.status == "stopped":
        by = {TEACHER: " by the teacher", "owner": " by you" if mine else " by its owner"}.get(snap.stopped_by or "", "")
        return f"stopped{by} at step {snap.step}"
    return f"{snap.status} at step {snap.step}"


def end_note(snap: Any, mine: bool = False) -> Optional[str]:
    """One sentence for a run that ended, or is being stopped, by someone's hand (None otherwise):
    ``"Stopped by the teacher at step 120."`` for the student whose run the admin stopped."""
    if snap.stopped_by == TEACHER:
        if snap.status == "stopping":
            return "The teacher is stopping this run; it ends after the current step."
        if snap.status == "stopped":
            return (f"Stopped by the teacher at step {snap.step}. The run is kept: its grid, curves and last "
                    "checkpoint stay here" + (", and you can continue it." if mine and snap.checkpoints else "."))
        if snap.status == "cancelled":
            return "Taken out of the queue by the teacher before it started."
    if snap.status == "stopped":
        return f"Stopped {'by you' if mine else 'by its owner'} at step {snap.step}."
    return None


def needs_polling(snap: Any) -> bool:
    """Whether a page showing this run must keep polling: it is queued or training, or it ended and its
    end-of-run evaluation is still being computed (the final quality figures arrive after "done")."""
    return snap.queued or snap.active or bool(snap.eval_pending)


def pending_text(snap: Any) -> Optional[str]:
    """What a page says while the final figures are still coming (None when nothing is pending)."""
    if snap.eval_pending:
        return f"The run ended at step {snap.step}; computing its final quality figures..."
    return None


def form_start_values(mgr: Any, me: Optional[str], preset: str, fields: Optional[Any] = None) -> dict[str, Any]:
    """Where a visitor's Train form starts: the preset's defaults, then the settings of this visitor's own
    newest run (after a reload), never another visitor's run. ``fields``: keep only these keys."""
    values = initial_form_values(preset)
    mine = own_run(mgr, me)
    if mine is not None:
        values.update(flatten(mine.cfg.to_dict()))
    return {k: v for k, v in values.items() if fields is None or k in fields}


def run_name(job: Any) -> str:
    return Path(job.run_dir).name

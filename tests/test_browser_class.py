"""Issue 22 in a real browser, Streamlit: a class on one server. Three visitors (three Chromium contexts,
three owner secrets) and the teacher (a fourth, signed in with the admin token):

* A trains a tiny run to the end; B then starts one: A's page still shows A's finished run (not B's run,
  no "View only"), and lists B's run under "Watch a run";
* C opens the Class board: both runs are listed with their visitor names; C has no pin / stop / delete
  controls and a line says why;
* the teacher opens the board, pins A's run (the projector section shows it) and stops B's run; B's Train
  page then says "Stopped by the teacher at step N".

Skipped when Chromium or Playwright is missing. Screenshots go to ``$GAN_STUDIO_SCREENSHOTS``.
"""
from __future__ import annotations

import re

import pytest

from browser_helpers import app_env, require_browser, screenshots_dir, serve_app
from browser_helpers import choose as _choose, set_number as _set_number, wait_idle as _wait_idle
from browser_helpers import run_status as _status, wait_status as _wait_status

pytestmark = pytest.mark.browser

expect, sync_playwright = require_browser()
TOKEN = "teacher-secret-123"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    runs, ckpts = base / "runs", base / "checkpoints"
    ckpts.mkdir()
    env = app_env(runs, ckpts, GAN_STUDIO_METRICS="0", GAN_STUDIO_MAX_CONCURRENT="1", GAN_STUDIO_JOB_MODE="thread",
                  GAN_STUDIO_ADMIN_TOKEN=TOKEN)
    yield from serve_app(base, env, runs=runs)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return screenshots_dir(tmp_path_factory)


def _main(pg):
    return pg.get_by_test_id("stMainBlockContainer")






def _set_name(pg, url: str, name: str) -> None:
    pg.goto(url + "/board")
    expect(pg.get_by_role("heading", name="Class board")).to_be_visible()
    _wait_idle(pg)
    inp = pg.get_by_label("Your name on the board", exact=True)
    inp.fill(name)
    inp.press("Enter")
    _wait_idle(pg)
    _main(pg).get_by_role("button", name="Save name").click()
    _wait_idle(pg)


def _start(pg, url: str, steps: int) -> None:
    pg.goto(url + "/train")
    expect(pg.get_by_role("heading", name="Train")).to_be_visible()
    _wait_idle(pg)
    _choose(pg, "Preset", "Tiny (smoke test, seconds)")
    _set_number(pg, "Steps", steps)
    _set_number(pg, "Samples to draw", 64)
    _main(pg).get_by_role("button", name="Start training", exact=True).click()
    _wait_idle(pg)


def test_class_on_one_server_streamlit(server, shots):
    url = server["url"]
    with sync_playwright() as p:
        from browser_helpers import launch_chromium

        browser = launch_chromium(p)
        try:
            a, b, c, t = (browser.new_context(viewport={"width": 1400, "height": 1500}).new_page() for _ in range(4))
            for pg in (a, b, c, t):
                pg.set_default_timeout(60_000)
            _set_name(a, url, "Ana")
            _set_name(b, url, "Ben")

            # A trains a short run to the end
            _start(a, url, 12)
            _wait_status(a, "done", timeout=180)
            # B starts a long one: A keeps A's finished run in view
            _start(b, url, 100_000)
            _wait_status(b, "running", timeout=180)
            a.wait_for_timeout(4000)                      # A's page polls for new runs every 3 s
            assert _status(a) == "done"
            expect(a.get_by_text("View only", exact=False)).to_have_count(0)
            expect(a.get_by_text(re.compile(r"Fixed-noise samples at step 12"))).to_be_visible()
            a.reload()                                   # and after a reload too
            _wait_status(a, "done")
            expect(_main(a).get_by_role("combobox", name="Watch a run")).to_be_visible()
            a.screenshot(path=str(shots / "class_a_keeps_own_run.png"), full_page=True)

            # C (a student) on the board: both runs, by name; view only, no controls
            c.goto(url + "/board")
            expect(c.get_by_role("heading", name="Class board")).to_be_visible()
            expect(c.get_by_text(re.compile(r"Ana · done at step 12")).first).to_be_visible()
            expect(c.get_by_text(re.compile(r"Ben · running")).first).to_be_visible()
            expect(c.get_by_text(re.compile("View only: the teacher"))).to_be_visible()
            for name in ("Pin", "Stop", "Delete"):
                assert _main(c).get_by_role("button", name=name, exact=True).count() == 0
            c.screenshot(path=str(shots / "class_board_student.png"), full_page=True)

            # the teacher signs in on the board, pins A's run and stops B's
            t.goto(url + "/board")
            expect(t.get_by_role("heading", name="Class board")).to_be_visible()
            _wait_idle(t)
            t.get_by_test_id("stSidebar").get_by_text("Admin", exact=True).click()
            t.get_by_label("Admin token").fill(TOKEN)
            t.get_by_role("button", name="Sign in").click()
            _wait_idle(t)
            def row(who):
                return t.locator('[class*="st-key-boardrow-"]').filter(has_text=re.compile(rf"{who} · "))

            row("Ana").get_by_role("button", name="Pin").click()
            expect(t.get_by_role("heading", name="Pinned runs, side by side")).to_be_visible()
            row("Ben").get_by_role("button", name="Stop").click()
            expect(row("Ben").get_by_text(re.compile(r"Ben · stopped by the teacher at step \d+")).first).to_be_visible()
            t.screenshot(path=str(shots / "class_board_teacher.png"), full_page=True)

            # B's page says who stopped it; C's board shows the pinned run too
            _wait_status(b, "stopped")
            expect(b.get_by_text(re.compile(r"Stopped by the teacher at step \d+")).first).to_be_visible()
            b.screenshot(path=str(shots / "class_b_stopped_by_teacher.png"), full_page=True)
            expect(c.get_by_role("heading", name="Pinned runs, side by side")).to_be_visible()
            c.screenshot(path=str(shots / "class_board_student_pinned.png"), full_page=True)
        finally:
            browser.close()
    log = server["log"].read_text()
    assert "Traceback" not in log, log[-3000:]

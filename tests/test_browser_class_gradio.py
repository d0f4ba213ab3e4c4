"""Issue 22 in a real browser, Gradio: a class on one server. Three visitors (three Chromium contexts, three
owner secrets in localStorage) and the teacher (a fourth, signed in with the admin token):

* A trains a tiny run to the end; B then starts one: A's Train tab still shows A's finished run (not B's,
  no "view only"), and lists B's run under "Watch a run";
* C opens the Class board tab: both runs are listed by visitor name; C sees no pin / stop / delete
  controls, and a line says why;
* the teacher pins A's run (the projector section shows it large) and stops B's run; B's Train tab then
  says "Stopped by the teacher at step N".

Skipped when Chromium or Playwright is missing. Screenshots go to ``$GAN_STUDIO_SCREENSHOTS``.
"""
from __future__ import annotations

import re

import pytest

from browser_helpers import require_browser, screenshots_dir
from test_gradio_api import gradio_env, serve_gradio

pytestmark = pytest.mark.browser
pytest.importorskip("gradio")
expect, sync_playwright = require_browser()
TOKEN = "teacher-secret-123"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("class_gradio")
    env = gradio_env(base, GAN_STUDIO_JOB_MODE="thread", GAN_STUDIO_ADMIN_TOKEN=TOKEN)
    yield from serve_gradio(base, env)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return screenshots_dir(tmp_path_factory)


def _page(browser, url: str):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1400})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(url)
    expect(pg.get_by_role("tab", name="Train")).to_be_visible()
    return ctx, pg


def _choose(pg, elem_id: str, option) -> None:
    pg.locator(f"#{elem_id} input").first.click()
    pg.get_by_role("option", name=option).first.click()


def _set(pg, elem_id: str, value) -> None:
    inp = pg.locator(f"#{elem_id} input, #{elem_id} textarea").first
    inp.fill(str(value))
    inp.press("Tab")


def _set_after_preset(pg, values: dict) -> None:
    """Type values after choosing a preset (its own updates may still land): again until each stays."""
    for elem_id, value in values.items():
        for _ in range(6):
            _set(pg, elem_id, value)
            pg.wait_for_timeout(500)
            if pg.locator(f"#{elem_id} input").first.input_value() == str(value):
                break


def _name(pg, name: str) -> None:
    pg.get_by_role("tab", name="Class board").click()
    _set(pg, "board-name", name)
    pg.locator("#board-save-name").click()
    expect(pg.locator("#board-name-msg")).to_contain_text(f"you are now {name}")
    pg.get_by_role("tab", name="Train").click()


def _start(pg, steps: int) -> None:
    if not pg.locator("#preset input").first.is_visible():   # the form folds while someone's run trains
        pg.get_by_text("Run configuration").first.click()
    _choose(pg, "preset", "Tiny (smoke test, seconds)")
    expect(pg.locator("#f-train-steps input")).to_have_value("300")
    _set_after_preset(pg, {"f-train-steps": steps, "f-data-num_samples": 64})
    expect(pg.locator("#form-check")).to_contain_text("Ready to train")
    pg.locator("#start").click()


def test_class_on_one_server_gradio(server, browser, shots):
    url = server["url"]
    ctxs = []
    try:
        (ca, a), (cb, b), (cc, c), (ct, t) = (_page(browser, url) for _ in range(4))
        ctxs += [ca, cb, cc, ct]
        _name(a, "Ana")
        _name(b, "Ben")

        # A trains a short run to the end
        _start(a, 12)
        expect(a.locator("#run-title")).to_contain_text("done", timeout=180_000)
        # B starts a long one: A keeps A's finished run in view
        _start(b, 100_000)
        expect(b.locator("#run-title")).to_contain_text("running", timeout=180_000)
        a.wait_for_timeout(2500)
        expect(a.locator("#run-title")).to_contain_text("done")
        expect(a.locator("#run-title")).to_contain_text("yours")
        expect(a.locator("#stats")).not_to_contain_text("view only")
        expect(a.locator("#watch")).to_be_visible()
        a.screenshot(path=str(shots / "gradio_class_a_keeps_own_run.png"), full_page=True)

        # C (a student) on the board: both runs by name; view only, no controls
        c.get_by_role("tab", name="Class board").click()
        expect(c.locator("#board-table")).to_contain_text("Ana")
        expect(c.locator("#board-table")).to_contain_text("done at step 12")
        expect(c.locator("#board-table")).to_contain_text("Ben")
        expect(c.locator("#board-permissions")).to_contain_text("View only: the teacher")
        for elem in ("board-pin", "board-stop", "board-delete"):
            expect(c.locator(f"#{elem}")).to_be_hidden()
        assert c.locator("#board-table img").count() >= 1       # grid thumbnails
        c.screenshot(path=str(shots / "gradio_class_board_student.png"), full_page=True)

        # the teacher signs in, pins A's run and stops B's
        t.get_by_text("Admin", exact=True).first.click()
        t.get_by_label("Admin token").fill(TOKEN)
        t.get_by_role("button", name="Sign in").click()
        t.get_by_role("tab", name="Class board").click()
        expect(t.locator("#board-pin")).to_be_visible()
        _choose(t, "board-run", re.compile(r"^Ana · "))
        t.locator("#board-pin").click()
        expect(t.locator("#board-projector")).to_contain_text("Pinned runs, side by side")
        expect(t.locator("#board-projector")).to_contain_text("Ana · ns · acgan")
        _choose(t, "board-run", re.compile(r"^Ben · "))
        t.locator("#board-stop").click()
        expect(t.locator("#board-table")).to_contain_text("stopped by the teacher at step")
        t.screenshot(path=str(shots / "gradio_class_board_teacher.png"), full_page=True)

        # B's tab says who stopped it; C's board shows the pinned run
        expect(b.locator("#stats")).to_contain_text(re.compile(r"Stopped by the teacher at step \d+"), timeout=60_000)
        b.screenshot(path=str(shots / "gradio_class_b_stopped_by_teacher.png"), full_page=True)
        expect(c.locator("#board-projector")).to_contain_text("Ana · ns · acgan")
        c.screenshot(path=str(shots / "gradio_class_board_student_pinned.png"), full_page=True)
    finally:
        for ctx in ctxs:
            ctx.close()
    log = (server["base"] / "gradio.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]

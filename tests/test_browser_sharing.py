"""Issue 8 in a real browser: three Chromium contexts (three browsers) on one studio server.

* A starts a run; B opens A's copied address: view only (Pause / Stop disabled, a "View only" note);
* A reloads: the owner cookie brings control back (Stop enabled, no note);
* C starts a run while A's trains: it is queued with its position and expected start, and it starts
  by itself once A's run ends.

Skipped when Chromium or Playwright is missing. Screenshots go to ``$GAN_STUDIO_SCREENSHOTS``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser_helpers import app_env, launch_chromium, require_browser, screenshots_dir, serve_app
from browser_helpers import choose as _choose, set_number as _set_number, wait_idle as _wait_idle
from browser_helpers import open_run_form, wait_status as _wait_status

pytestmark = pytest.mark.browser

expect, sync_playwright = require_browser()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("sharing")
    runs, ckpts = base / "runs", base / "checkpoints"
    ckpts.mkdir()
    env = app_env(runs, ckpts, GAN_STUDIO_METRICS="0", GAN_STUDIO_MAX_CONCURRENT="1")
    yield from serve_app(base, env, runs=runs)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return screenshots_dir(tmp_path_factory)








def _button(pg, name: str):
    """A button of the page itself (not Streamlit's own run indicator, which has a "Stop" too)."""
    return pg.get_by_test_id("stMainBlockContainer").get_by_role("button", name=name, exact=True)






def _start_tiny_run(pg, url: str, steps: int) -> None:
    pg.goto(url + "/train")
    expect(pg.get_by_role("heading", name="Train")).to_be_visible()
    _wait_idle(pg)
    open_run_form(pg)   # folded while another visitor's run trains
    _choose(pg, "Preset", "Tiny (smoke test, seconds)")
    _set_number(pg, "Steps", steps)
    _button(pg, "Start training").click()
    _wait_idle(pg)


def test_copied_link_is_view_only_reload_reattaches_and_queue_starts(server, shots):
    url = server["url"]
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            ctx_a, ctx_b, ctx_c = (browser.new_context(viewport={"width": 1400, "height": 1600}) for _ in range(3))
            a, b, c = ctx_a.new_page(), ctx_b.new_page(), ctx_c.new_page()
            for pg in (a, b, c):
                pg.set_default_timeout(60_000)

            # A starts a long run (stopped below)
            _start_tiny_run(a, url, 100_000)
            _wait_status(a, "running")
            assert "owner=" not in a.url
            secret = [ck["value"] for ck in ctx_a.cookies() if ck["name"] == "gan_studio_owner"]
            assert secret and len(secret[0]) >= 16 and secret[0] not in a.url
            expect(_button(a, "Stop")).to_be_enabled()
            a.screenshot(path=str(shots / "s1_owner.png"), full_page=True)

            # B opens the address A would copy from the address bar: view only
            b.goto(a.url)
            expect(b.get_by_text("View only", exact=False)).to_be_visible()
            _wait_status(b, "running")
            expect(_button(b, "Stop")).to_be_disabled()
            expect(_button(b, "Pause")).to_be_disabled()
            assert _button(b, "Apply to the running job").count() == 0
            b.screenshot(path=str(shots / "s2_copied_link_view_only.png"), full_page=True)

            # A reloads: the cookie brings the same identity back, with control
            a.reload()
            expect(a.get_by_role("heading", name="Train")).to_be_visible()
            _wait_status(a, "running")
            expect(_button(a, "Stop")).to_be_enabled()
            assert a.get_by_text("View only", exact=False).count() == 0
            a.screenshot(path=str(shots / "s3_owner_reloaded.png"), full_page=True)

            # C starts a run while A's trains: queued, with its position and expected start
            _start_tiny_run(c, url, 20)
            expect(c.get_by_text(re.compile(r"Queued: your run starts"))).to_be_visible()
            expect(c.get_by_text(re.compile(r"#1 · your run .* expected start"))).to_be_visible()
            expect(_button(c, "Cancel")).to_be_visible()
            c.screenshot(path=str(shots / "s4_queued.png"), full_page=True)
            # B sees the queue but cannot cancel C's run
            b.reload()
            expect(b.get_by_text(re.compile(r"#1 · another visitor's run"))).to_be_visible()
            assert _button(b, "Cancel").count() == 0

            # A stops its run; C's queued run then starts by itself and finishes
            _button(a, "Stop").click()
            _wait_status(a, "stopped")
            _wait_status(c, "running|done", timeout=180)
            _wait_status(c, "done", timeout=180)
            expect(c.get_by_text(re.compile(r"Queued: your run"))).to_have_count(0)
            c.screenshot(path=str(shots / "s5_queued_run_done.png"), full_page=True)
            runs = sorted(server["runs"].glob("*/last.pt"))
            assert len(runs) == 2, runs  # A's stopped run and C's finished one
        finally:
            browser.close()
    log = server["log"].read_text()
    assert "Traceback" not in log, log[-3000:]

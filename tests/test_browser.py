"""End to end: the real ``streamlit run app.py`` server in headless Chromium (Debian chromium + Playwright).

Starts a short training on the Train page and waits for the loss chart and the fixed-noise grid to
appear and update; then on the Generate page changes a tag and checks that the picture changes.
Screenshots go to ``$GAN_STUDIO_SCREENSHOTS`` (default: a pytest tmp dir; the path is printed).

Run: ``pytest -m browser tests/test_browser.py -s``. Skipped when Chromium or Playwright is missing.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from browser_helpers import app_env, export_tiny_generator, launch_chromium, require_browser, screenshots_dir, serve_app
from browser_helpers import choose as _choose, set_number as _set_number, wait_idle as _wait_idle

pytestmark = pytest.mark.browser

expect, sync_playwright = require_browser()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    runs, ckpts, cache = base / "runs", base / "checkpoints", base / "cache"
    export_tiny_generator(ckpts, cache, "tiny_acgan.safetensors", {"dataset": "faces", "image_size": 16},
                          {"arch": "acgan", "z_dim": 16, "g_width": 8, "d_width": 8, "embed_dim": 4})
    env = app_env(runs, ckpts, GAN_STUDIO_EVAL_SAMPLES="32")
    yield from serve_app(base, env, runs=runs, checkpoints=ckpts)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return screenshots_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def page(server):
    with sync_playwright() as p:
        browser = launch_chromium(p)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1800})
        pg = ctx.new_page()
        pg.set_default_timeout(60_000)
        yield pg
        ctx.close()
        browser.close()








def _wait_for_text(loc, pattern: "re.Pattern[str]", timeout: float = 60.0) -> str:
    """Until one of the elements matched by ``loc`` shows text matching ``pattern`` (a fragment
    redraw can briefly show an old and a new copy of an element)."""
    t0 = time.time()
    seen: list[str] = []
    while time.time() - t0 < timeout:
        try:
            seen = loc.all_inner_texts()
        except Exception:
            seen = []
        for t in seen:
            if pattern.search(t):
                return t
        time.sleep(0.3)
    pytest.fail(f"no text matching {pattern.pattern!r} within {timeout:.0f} s; last seen: {seen}")


def _sample_grid_src(pg) -> str:
    img = pg.locator('[data-testid="stImage"]').filter(has_text="Fixed-noise samples").locator("img")
    return img.last.get_attribute("src") or ""


def _step_value(pg) -> int:
    txt = pg.locator('[data-testid="stMetric"]').filter(has_text="Step").locator(
        '[data-testid="stMetricValue"]').last.inner_text()
    return int(txt.split("/")[0].strip())


def test_train_then_generate_in_the_browser(server, page, shots):
    pg = page
    pg.goto(server["url"] + "/train")
    expect(pg.get_by_role("heading", name="Train")).to_be_visible()
    _wait_idle(pg)
    # the owner secret lives in a cookie, never in the URL (a copied link must not hand over control)
    assert "owner=" not in pg.url
    assert any(c["name"] == "gan_studio_owner" for c in pg.context.cookies())
    _choose(pg, "Preset", "Tiny (smoke test, seconds)")
    _set_number(pg, "Steps", 5000)  # long enough to be seen running (then stopped below)
    pg.screenshot(path=str(shots / "01_train_form.png"), full_page=True)

    pg.get_by_role("button", name="Start training").click()
    # the live fragment: plotly loss chart and the fixed-noise grid appear ...
    chart = pg.locator('[data-testid="stPlotlyChart"]').first
    chart.wait_for(state="visible", timeout=90_000)
    expect(pg.locator(".js-plotly-plot .scatterlayer .trace").first).to_be_attached(timeout=30_000)
    pg.locator('[data-testid="stImage"]').filter(has_text="Fixed-noise samples").wait_for(timeout=60_000)
    first_src, first_step = _sample_grid_src(pg), _step_value(pg)
    pg.screenshot(path=str(shots / "02_training_live.png"), full_page=True)
    # ... and update while the job trains (new step count, new grid picture)
    t0 = time.time()
    while time.time() - t0 < 90:
        pg.wait_for_timeout(700)
        try:
            if _sample_grid_src(pg) != first_src and _step_value(pg) > first_step:
                break
        except Exception:  # the fragment may be redrawing
            continue
    else:
        pytest.fail(f"the sample grid / step did not update (step {first_step})")
    pg.screenshot(path=str(shots / "03_training_updated.png"), full_page=True)
    # "More curves" draws its charts only while open (nothing to send every poll for a closed box): open it
    n_charts = pg.locator('[data-testid="stPlotlyChart"]').count()
    pg.get_by_test_id("stMainBlockContainer").get_by_text("More curves", exact=False).first.click()
    expect(pg.locator('[data-testid="stPlotlyChart"]').nth(n_charts)).to_be_visible(timeout=30_000)
    pg.wait_for_timeout(2500)   # and it stays open while the panel polls
    expect(pg.locator('[data-testid="stPlotlyChart"]').nth(n_charts)).to_be_visible()
    pg.screenshot(path=str(shots / "03b_more_curves.png"), full_page=True)

    # the same session may stop it; it then shows as stopped or done
    stop = pg.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop")  # not the run indicator's
    if stop.is_enabled():
        stop.click()
    _wait_for_text(pg.locator('[data-testid="stMetric"]').filter(has_text="Status"), re.compile("stopped|done"))
    _wait_idle(pg)
    pg.wait_for_timeout(4000)   # the live fragment's last poll and the page's rerun have settled
    pg.screenshot(path=str(shots / "04_training_finished.png"), full_page=True)
    assert pg.locator('[data-testid="stMetric"]').filter(has_text="Status").count() == 1, "status shown twice"
    assert list(server["runs"].glob("*/last.pt")), "the run wrote no checkpoint"

    # Generate: the shipped (fixture) conditional checkpoint comes first; change a tag, the image changes
    pg.goto(server["url"] + "/generate")
    expect(pg.get_by_role("heading", name="Generate")).to_be_visible()
    _wait_idle(pg)
    main = pg.locator('[data-testid="stImage"]').first.locator("img")
    main.wait_for()
    before = main.get_attribute("src")
    pg.screenshot(path=str(shots / "05_generate.png"), full_page=True)
    _choose(pg, "Hair tag", "blue")
    expect(main).not_to_have_attribute("src", before, timeout=30_000)
    after = main.get_attribute("src")
    assert after and after != before
    caption = pg.locator('[data-testid="stImage"]').first.inner_text()
    assert "blue hair" in caption
    pg.screenshot(path=str(shots / "06_generate_blue_hair.png"), full_page=True)

    ready = {"interpolate": pg.locator('[data-testid="stImage"]').filter(has_text="Animated GIF").locator("img"),
             "compare": pg.locator(".js-plotly-plot").first,
             "checkpoints": pg.locator('[data-testid="stDataFrame"] canvas').first}
    for name in ("interpolate", "compare", "checkpoints"):
        pg.goto(server["url"] + "/" + name)
        ready[name].wait_for(state="visible")
        _wait_idle(pg)
        pg.wait_for_timeout(500)
        assert pg.locator('[data-testid="stException"]').count() == 0, f"exception on {name}"
        pg.screenshot(path=str(shots / f"07_{name}.png"), full_page=True)
    log = server["log"].read_text()
    assert "Traceback" not in log, log[-3000:]

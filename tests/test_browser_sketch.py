"""The Sketch page in the real server and headless Chromium: the canvas (streamlit-drawable-canvas) shows
the edges of a random face, a stroke drawn with the mouse changes what the generator sees and its output
picture (live, without a button); with the shipped generator, which takes colour hints, a stroke with the
"colour dab" pen shows in colour in what the generator sees and turns that region of the picture towards
its colour. Screenshots go to ``$GAN_STUDIO_SCREENSHOTS`` (default: a pytest tmp dir).

Run: ``pytest -m browser tests/test_browser_sketch.py -s``. Skipped when Chromium or Playwright is missing.
"""
from __future__ import annotations

import shutil
import time

import pytest

from browser_helpers import (REPO, app_env, export_tiny_generator, require_browser, screenshots_dir,
                             serve_app, wait_idle)

pytestmark = pytest.mark.browser

expect, sync_playwright = require_browser()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser_sketch")
    runs, ckpts, cache = base / "runs", base / "checkpoints", base / "cache"
    export_tiny_generator(ckpts, cache, "faces_pix2pix.safetensors", {"dataset": "faces-edges", "image_size": 32},
                          {"arch": "pix2pix", "g_width": 8, "d_width": 8})
    shutil.copy(REPO / "checkpoints" / "faces_pix2pix.safetensors", ckpts / "zz_shipped_hints.safetensors")
    yield from serve_app(base, app_env(runs, ckpts))


def _sketch_page(browser, url: str, height: int):
    """A fresh browser context on the Sketch page, its pictures drawn."""
    ctx = browser.new_context(viewport={"width": 1300, "height": height})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(url + "/sketch")
    expect(pg.get_by_text("Sketch to face")).to_be_visible()
    return ctx, pg


def _src(pg, caption: str) -> str:
    img = pg.locator('[data-testid="stImage"]').filter(has_text=caption).locator("img")
    return img.last.get_attribute("src") or ""


def _changed(pg, caption: str, before: str, timeout: float = 60.0) -> str:
    t0 = time.time()
    while time.time() - t0 < timeout:
        now = _src(pg, caption)
        if now and now != before:
            return now
        pg.wait_for_timeout(300)
    pytest.fail(f"the '{caption}' picture did not change within {timeout:.0f} s")


def test_draw_on_the_canvas_and_see_the_output_follow(server, browser, tmp_path_factory):
    shots = screenshots_dir(tmp_path_factory)
    ctx, pg = _sketch_page(browser, server["url"], 1100)
    try:
        expect(pg.locator('[data-testid="stImage"]').filter(has_text="pix2pix output")).to_be_visible()
        wait_idle(pg)
        out0, seen0 = _src(pg, "pix2pix output"), _src(pg, "what the generator sees")
        canvas = pg.locator("canvas").last          # fabric's top canvas takes the mouse
        expect(canvas).to_be_visible()
        pg.screenshot(path=str(shots / "sketch_01_start.png"), full_page=True)
        box = canvas.bounding_box()
        assert box and box["width"] >= 200
        x0, y0 = box["x"] + 0.15 * box["width"], box["y"] + 0.85 * box["height"]
        pg.mouse.move(x0, y0)
        pg.mouse.down()
        for k in range(1, 21):                      # a thick diagonal stroke across the chin
            pg.mouse.move(x0 + k * 0.035 * box["width"], y0 - k * 0.01 * box["height"])
        pg.mouse.up()
        seen1 = _changed(pg, "what the generator sees", seen0)
        out1 = _changed(pg, "pix2pix output", out0)
        wait_idle(pg)
        assert seen1 != seen0 and out1 != out0
        pg.screenshot(path=str(shots / "sketch_02_drawn.png"), full_page=True)
        # a new starting point: the edges of another random face
        before = _src(pg, "what the generator sees")
        pg.get_by_role("button", name="Edges of a random face").click()
        _changed(pg, "what the generator sees", before)
        wait_idle(pg)
        pg.screenshot(path=str(shots / "sketch_03_random_face.png"), full_page=True)
        assert "Traceback" not in pg.content()
    finally:
        ctx.close()


def _pixels(pg, caption: str):
    import base64
    import io

    import numpy as np
    from PIL import Image

    src = _src(pg, caption)
    if src.startswith("data:"):
        data = base64.b64decode(src.split(",", 1)[1])
    else:
        data = pg.request.get(src if src.startswith("http") else pg.url.split("/sketch")[0] + src).body()
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def test_a_colour_dab_on_the_canvas_paints_its_region(server, browser, tmp_path_factory):
    import numpy as np

    shots = screenshots_dir(tmp_path_factory)
    ctx, pg = _sketch_page(browser, server["url"], 1300)
    try:
        wait_idle(pg)
        pg.get_by_role("combobox", name="pix2pix generator").click()
        pg.get_by_role("option").filter(has_text="zz_shipped_hints").first.click()
        wait_idle(pg)
        expect(pg.get_by_text("colour dab", exact=True)).to_be_visible()
        out0, seen0 = _src(pg, "pix2pix output"), _src(pg, "what the generator sees")
        before = _pixels(pg, "pix2pix output")
        pg.get_by_text("colour dab", exact=True).click()                # the pen: dabs in the picker's colour (red)
        pg.get_by_label("Pen width").focus()
        for _ in range(9):                                    # a wide pen: 3 -> 12 screen pixels
            pg.keyboard.press("ArrowRight")
        wait_idle(pg)
        canvas = pg.locator("canvas").last
        box = canvas.bounding_box()
        assert box and box["width"] >= 200
        x0, y0 = box["x"] + 0.03 * box["width"], box["y"] + 0.05 * box["height"]
        pg.mouse.move(x0, y0)
        pg.mouse.down()
        for k in range(1, 13):                                # a dab in the top left corner (background)
            pg.mouse.move(x0 + 0.1 * box["width"] * (k % 2), y0 + k * 0.008 * box["height"])
        pg.mouse.up()
        _changed(pg, "what the generator sees", seen0)
        _changed(pg, "pix2pix output", out0)
        wait_idle(pg)
        pg.screenshot(path=str(shots / "sketch_04_colour_dab.png"), full_page=True)
        seen = _pixels(pg, "what the generator sees")
        after = _pixels(pg, "pix2pix output")
        corner = (slice(0, 40), slice(0, 40))
        red = np.array((216, 30, 40))
        assert (seen[corner].max(2) - seen[corner].min(2)).max() > 100          # the dab, in colour
        assert np.abs(after[corner] - red).mean() < np.abs(before[corner] - red).mean() - 10
        # the random face can start with dabs of its true colours
        seen1 = _src(pg, "what the generator sees")
        pg.get_by_role("slider", name="Dabs of the face's true colours").focus()
        for _ in range(8):
            pg.keyboard.press("ArrowRight")
        _changed(pg, "what the generator sees", seen1)
        wait_idle(pg)
        pg.screenshot(path=str(shots / "sketch_05_true_dabs.png"), full_page=True)
        # moving that slider keeps the student's drawing: the red dab is still there (#23 item 7)
        kept = _pixels(pg, "what the generator sees")
        reddish = lambda a: int((np.abs(a[corner] - red).max(2) < 40).sum())   # noqa: E731
        assert reddish(seen) > 20 and reddish(kept) >= 0.8 * reddish(seen), (reddish(seen), reddish(kept))
        assert "Traceback" not in pg.content()
    finally:
        ctx.close()

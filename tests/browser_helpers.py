"""Playwright steps shared by the browser tests (a module, not a test file)."""
from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = os.environ.get("GAN_STUDIO_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]


def require_browser():
    """Playwright's ``(expect, sync_playwright)``; skips the calling test module (at import) when
    Python Playwright or Debian's Chromium is missing. Assertions wait up to 60 s: on a loaded 2-core
    CPU the first script runs import torch."""
    import pytest

    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - depends on the machine
        pytest.skip("playwright (Python) is not installed", allow_module_level=True)
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set GAN_STUDIO_CHROMIUM)", allow_module_level=True)
    expect.set_options(timeout=60_000)
    return expect, sync_playwright


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def launch_chromium(playwright):
    """Debian's headless Chromium through ``playwright`` (a sync_playwright() context)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def app_env(runs, checkpoints, **extra: str) -> dict:
    """The environment of a test app server: its own runs and checkpoints folders, one torch thread, this
    checkout importable, no usage statistics; ``extra`` on top (e.g. GAN_STUDIO_METRICS="0")."""
    return dict(os.environ, GAN_STUDIO_RUNS=str(runs), GAN_STUDIO_CHECKPOINTS=str(checkpoints), OMP_NUM_THREADS="1",
                PYTHONPATH=str(REPO), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", **extra)


def wait_idle(pg, timeout: float = 60.0) -> None:
    """Until Streamlit's "Running..." indicator is gone (the script run finished)."""
    pg.wait_for_timeout(300)
    pg.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=timeout * 1000)


def choose(pg, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    pg.get_by_role("combobox", name=label, exact=True).click()
    pg.get_by_role("option", name=option, exact=True).first.click()
    wait_idle(pg)


def set_number(pg, label: str, value) -> None:
    """Type ``value`` into the number input labelled ``label`` and submit it."""
    inp = pg.get_by_label(label, exact=True)
    inp.fill(str(value))
    inp.press("Enter")
    wait_idle(pg)


def screenshots_dir(tmp_path_factory):
    """$GAN_STUDIO_SCREENSHOTS, or a fresh temporary folder; printed so a person can look."""
    d = Path(os.environ.get("GAN_STUDIO_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {d}")
    return d


def serve_app(base, env: dict, **info):
    """Run the real app server with ``env`` (its log in ``base/server.log``) and yield
    ``{"url", "log", **info}``; fails the test when it does not come up. Use with ``yield from``."""
    import pytest

    from apps.devserver import start_streamlit, stop_server

    with open(base / "server.log", "wb") as log:
        try:
            proc, url = start_streamlit(env, log)
        except RuntimeError as e:
            pytest.fail(str(e))
        try:
            yield {"url": url, "log": base / "server.log", **info}
        finally:
            stop_server(proc)


def export_tiny_generator(folder, cache, name: str, data: dict, model: dict, steps: int = 3):
    """A few CPU steps of a tiny generator, exported as ``folder/name`` (safetensors) for a test server."""
    from gan_core.storage.checkpoint import export_generator, load_checkpoint
    from gan_core.config import RunConfig
    from gan_core.train.trainer import Trainer

    cfg = RunConfig().replace(
        data={"num_samples": 64, "cache_dir": str(cache), **data}, model=model,
        train={"steps": steps, "batch_size": 8, "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
               "device": "cpu", "grid_size": 4})
    run = folder.parent / "fixture_run"
    list(Trainer(cfg, run).run())
    folder.mkdir(parents=True, exist_ok=True)
    return export_generator(load_checkpoint(run / "last.pt"), folder / name)


def run_status(pg) -> str:
    """The Streamlit Train page's "Status" metric ('' while the live fragment redraws)."""
    try:
        return pg.locator('[data-testid="stMetric"]').filter(has_text="Status").locator(
            '[data-testid="stMetricValue"]').last.inner_text(timeout=2000)
    except Exception:  # noqa: BLE001 - the fragment may be redrawing
        return ""


def wait_status(pg, pattern: str, timeout: float = 120.0) -> str:
    """Poll :func:`run_status` until it matches the regex ``pattern``; fail the test with the last status."""
    import re
    import time

    import pytest

    t0, s = time.time(), ""
    while time.time() - t0 < timeout:
        s = run_status(pg)
        if re.search(pattern, s):
            return s
        pg.wait_for_timeout(400)
    pytest.fail(f"status never matched {pattern!r} within {timeout:.0f} s (last: {s!r})")


def open_run_form(pg, timeout: float = 60.0) -> None:
    """Open the Streamlit Train page's "Run configuration" expander when it is folded (it folds for a visitor
    while someone's run trains, so that watchers get a light page); return once its Preset box can be used.

    The expander's own state decides (its content is ``inert`` while folded), never whether the Preset box is
    visible yet: on a loaded machine the box can still be rendering, and a click then folds an open form."""
    import time

    import pytest

    exp = pg.get_by_test_id("stExpander").filter(has=pg.get_by_text("Run configuration", exact=True)).first
    preset = pg.get_by_role("combobox", name="Preset", exact=True)
    exp.wait_for(state="visible", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while True:
        wait_idle(pg)
        if exp.get_by_test_id("stExpanderDetails").get_attribute("inert") is not None:
            exp.locator("summary").first.click()
            wait_idle(pg)
        try:
            preset.wait_for(state="visible", timeout=5_000)
            if preset.is_enabled():
                return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError; checked again below
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the Run configuration form did not open within {timeout:.0f} s")

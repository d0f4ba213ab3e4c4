"""The README and docs/: the README stays short, links only to files that exist and quotes no dated
figure; the generated parts of docs/ (CLI reference, environment variable table, curve notes) match the
code; every GAN_STUDIO_* variable the code reads is declared once in gan_core.config.envvars.ENV_VARS."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from gan_core.config.envvars import ENV_VARS, env_table_markdown, env_var

ROOT = Path(__file__).resolve().parents[1]


def _make_docs():
    spec = importlib.util.spec_from_file_location("make_docs", ROOT / "scripts" / "make_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_docs_are_current():
    stale = [str(p.relative_to(ROOT)) for p, text in _make_docs().generated().items()
             if not p.exists() or p.read_text() != text]
    assert not stale, f"out of date: {stale}; run python scripts/make_docs.py"


def test_env_table_lists_every_declared_server_variable():
    table = env_table_markdown()
    assert "`GAN_STUDIO_MAX_CONCURRENT`" in table and "`GAN_STUDIO_JOB_KEY`" not in table   # internal ones left out
    assert (ROOT / "docs" / "deploy.md").read_text().count("`GAN_STUDIO_RUNS`") >= 1


def _code_files():
    yield from (ROOT / "gan_core").rglob("*.py")
    for d in ("apps", "pages", "ui", "space"):
        if (ROOT / d).exists():
            yield from (ROOT / d).rglob("*.py")
    for f in ("app.py", "gradio_app.py"):
        if (ROOT / f).exists():
            yield ROOT / f


def test_every_variable_the_code_reads_is_declared():
    used = {m for p in _code_files() if "__pycache__" not in p.parts
            for m in re.findall(r"GAN_STUDIO_[A-Z0-9_]*[A-Z0-9]", p.read_text())}
    declared = {v.name for v in ENV_VARS}
    assert used - declared == set(), f"declare these in gan_core/config/envvars.py ENV_VARS: {sorted(used - declared)}"
    assert len(declared) == len(ENV_VARS)   # each declared once
    assert env_var("GAN_STUDIO_RUNS").default == "./runs"


def test_readme_is_short_links_to_files_that_exist_and_quotes_no_dated_figure():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    assert "pip install -r requirements.txt && streamlit run app.py" in text
    assert "bash scripts/test.sh" in text
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert "docs/img/train.png" in links
    missing = [link for link in links if not link.startswith("http") and not (ROOT / link).exists()]
    assert not missing, missing
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "dated figures belong in bench/RESULTS*.md"


def test_docs_named_by_the_issue_exist():
    for name in ("teaching", "deploy", "cli", "scaling", "limits"):
        assert (ROOT / "docs" / f"{name}.md").stat().st_size > 500, name

"""pyproject.toml mirrors requirements*.txt (Spaces and Docker install from requirements.txt, pip from
pyproject), and its console script is the CLI that ``python -m gan_core`` runs."""
from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _reqs(name: str) -> set[str]:
    """The requirement lines of a requirements file (comments and -r includes left out), spaces removed."""
    out = set()
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            out.add(re.sub(r"\s+", "", line))
    return out


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_dependencies_mirror_the_requirements_files():
    p = _project()
    extras = p["optional-dependencies"]
    assert set(p["dependencies"]) | set(extras["gradio"]) == _reqs("requirements.txt")
    assert set(extras["scale"]) == _reqs("requirements-scale.txt")
    assert {d for d in extras["dev"] if not d.startswith("gan-studio[")} == _reqs("requirements-dev.txt")
    assert "gan-studio[gradio,scale]" in extras["dev"]


def test_console_script_is_the_cli(capsys):
    import pytest

    target = _project()["scripts"]["gan-studio"]
    module, _, fn = target.partition(":")
    main = getattr(importlib.import_module(module), fn)
    # python -m gan_core runs the same function
    tree = ast.parse((ROOT / "gan_core" / "__main__.py").read_text(encoding="utf-8"))
    assert any(isinstance(n, ast.ImportFrom) and n.module in ("cli", "gan_core.cli") and
               [a.name for a in n.names] == ["main"] for n in ast.walk(tree))
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert all(c in out for c in ("train", "sample", "export", "info", "evaluate", "stylize", "translate"))

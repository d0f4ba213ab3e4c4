"""The layering rules of ARCHITECTURE.md, checked on the source: gan_core has no import circle (local
imports inside functions count too), no file of it is over 500 lines, it never imports a UI toolkit,
and each fact named in the redesign issue has one home."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "gan_core"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in CORE.rglob("*.py") if "__pycache__" not in p.parts}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """gan_core modules that ``name`` imports anywhere in its file (top level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # "from . import rundir" imports the module rundir; "from .data import DataError" the package
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in known and t != name}
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as a list of modules, or [] when there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str]:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return []

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return []


def test_gan_core_has_no_import_circle():
    mods = _modules()
    graph = {n: _imports(n, p, set(mods)) for n, p in mods.items()}
    assert "gan_core.losses" in graph["gan_core.checks"]   # the graph sees real imports
    assert not _cycle(graph), " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_no_core_file_is_over_500_lines_and_none_imports_a_ui_toolkit():
    for name, path in _modules().items():
        text = path.read_text()
        assert len(text.splitlines()) <= 500, f"{path.relative_to(ROOT)} has {len(text.splitlines())} lines"
        assert not re.search(r"^\s*(import|from)\s+(streamlit|gradio)\b", text, re.M), name


def _files_defining(pattern: str, where: list[Path]) -> list[str]:
    rx = re.compile(pattern, re.M)
    return sorted(str(p.relative_to(ROOT)) for d in where for p in d.rglob("*.py")
                  if "__pycache__" not in p.parts and rx.search(p.read_text()))


def test_each_fact_has_one_home():
    code = [CORE, ROOT / "pages", ROOT / "ui"]
    # run-folder file names are spelled only in gan_core/rundir.py
    for name in ("metrics.jsonl", "eval_metrics.jsonl", "last.pt"):
        assert _files_defining(rf"[\"']{re.escape(name)}[\"']", code) == ["gan_core/rundir.py"], name
    # the seed offsets of sampling live in gan_core/latent.py
    assert _files_defining(r"\+\s*12345\b", code) == []
    assert _files_defining(r"^GRID_SEED_OFFSET\s*=", code) == ["gan_core/latent.py"]
    # "D outputs are probabilities" is a property of LossSpec, not a list of loss names
    assert _files_defining(r"\(\s*\"minimax\",\s*\"ns\",\s*\"dragan\"\s*\)", code) == []
    assert _files_defining(r"penalty\s*==\s*\"", code) == []
    # the settings' ranges are written once: in config.py's field metadata
    assert _files_defining(r"min_value\s*=\s*1e-8|0\s*<\s*v\s*<=\s*1\b", code) == []
    # metric display names: one table
    assert _files_defining(r"^(METRICS: dict|_LABELS\s*=)", code) == ["gan_core/metrics/scores.py"]


def test_arch_and_dataset_facts_are_registry_properties_not_name_tests():
    """What an arch or a dataset implies (tag heads, pairs, points, tags, path, recipe, form fields) is a
    property of its ArchSpec / DatasetSpec (gan_core/models/registry.py, gan_core/data/registry.py), never
    a test of its name, and the trainer holds its step strategy instead of swapping its class."""
    fronts = [ROOT / d for d in ("pages", "ui", "apps") if (ROOT / d).is_dir()]
    code = [CORE] + fronts
    arch_names = r"(acgan|tacgan|cgan|pix2pix|dcgan|srresnet|srresnet-acgan|mlp|none|image)"
    assert _files_defining(rf"conditioning\s*(==|!=|in)\s*[\"'(]", code) == []
    assert _files_defining(rf"backbone\s*(==|!=|in)\s*[\"'(]", code) == []
    assert _files_defining(rf"\.arch\s*(==|!=|in)\s*[\"'(]\s*{arch_names}?", [CORE]) == []
    assert _files_defining(r"[\"']acgan[\"']\s*,\s*[\"']tacgan[\"']", code) == []
    assert _files_defining(r"^\s*ARCHITECTURES\s*[:=]", code) == [_rel(CORE / "models" / "registry.py")]
    # datasets: the registry is the one list of names; no dataset name is tested in the core
    assert _files_defining(r"^\s*DATASETS\s*[:=]", code) == [_rel(CORE / "data" / "registry.py")]
    assert _files_defining(r"dataset\s*(==|!=|in)\s*[\"'(]", [CORE]) == []
    assert _files_defining(r"^TAGGED_DATASETS\s*=", code) == []
    # one D loss with the penalty (the trainer's step strategies share it), no class swap at run time
    shared = _files_defining(r"spec\.penalty\(t\.", [CORE])
    assert len(shared) == 1 and shared[0].endswith("/steps.py"), shared
    assert _files_defining(r"__class__\s*=", [CORE]) == []


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def test_architecture_md_module_map_matches_the_package_tree():
    """ARCHITECTURE.md's module map is generated (scripts/module_map.py --write), never hand-kept."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("module_map", ROOT / "scripts" / "module_map.py")
    mm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mm)
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert mm.section(text) == mm.render(), "out of date: run python3 scripts/module_map.py --write"
    shown = {name.rstrip("/").removesuffix(".py") for name, _, _ in mm.entries()}
    on_disk = {p.stem if p.suffix == ".py" else p.name for p in CORE.iterdir()
               if not p.name.startswith(("_", ".")) and (p.suffix == ".py" or (p / "__init__.py").is_file())}
    assert shown == on_disk

"""The layering rules of ARCHITECTURE.md, checked on the source: gan_core has no import circle (local
imports inside functions count too), no file of it is over 500 lines, it never imports a UI toolkit (apps/ and
the two launchers do; the same size and circle rules hold there), the pages come from one registry,
and each fact named in the redesign issue has one home."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "gan_core"
APPS = ROOT / "apps"
LAUNCHERS = ("app.py", "gradio_app.py")   # the two root launchers (streamlit run app.py, python gradio_app.py)
UI_IMPORT = re.compile(r"^\s*(import|from)\s+(streamlit|gradio)\b", re.M)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules(root: Path = CORE) -> dict[str, Path]:
    return {_module_name(p): p for p in root.rglob("*.py") if "__pycache__" not in p.parts}


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
    assert "gan_core.losses" in graph["gan_core.config.checks"]   # the graph sees real imports
    assert not _cycle(graph), " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_no_core_file_is_over_500_lines_and_none_imports_a_ui_toolkit():
    for name, path in _modules().items():
        text = path.read_text()
        assert len(text.splitlines()) <= 500, f"{path.relative_to(ROOT)} has {len(text.splitlines())} lines"
        # nor ``spaces`` (Hugging Face's ZeroGPU package imports gradio): the front end hands its decorator in
        assert not re.search(r"^\s*(import|from)\s+(streamlit|gradio|spaces)\b", text, re.M), name


def _files_defining(pattern: str, where: list[Path]) -> list[str]:
    rx = re.compile(pattern, re.M)
    return sorted(str(p.relative_to(ROOT)) for d in where for p in d.rglob("*.py")
                  if "__pycache__" not in p.parts and rx.search(p.read_text()))


def test_each_fact_has_one_home():
    code = [CORE, APPS]
    # run-folder file names are spelled only in gan_core/storage/rundir.py
    for name in ("metrics.jsonl", "eval_metrics.jsonl", "last.pt"):
        assert _files_defining(rf"[\"']{re.escape(name)}[\"']", code) == ["gan_core/storage/rundir.py"], name
    # the seed offsets of sampling live in gan_core/models/latent.py
    assert _files_defining(r"\+\s*12345\b", code) == []
    assert _files_defining(r"^GRID_SEED_OFFSET\s*=", code) == ["gan_core/models/latent.py"]
    # "D outputs are probabilities" is a property of LossSpec, not a list of loss names
    assert _files_defining(r"\(\s*\"minimax\",\s*\"ns\",\s*\"dragan\"\s*\)", code) == []
    assert _files_defining(r"penalty\s*==\s*\"", code) == []
    # the settings' ranges are written once: in config.py's field metadata
    assert _files_defining(r"min_value\s*=\s*1e-8|0\s*<\s*v\s*<=\s*1\b", code) == []
    # ZeroGPU: the per-call cap and the duration of a training call are computed in gan_core/jobs/zerogpu.py
    assert _files_defining(r"^MAX_CALL_S\s*=|^def call_duration\b", code) == ["gan_core/jobs/zerogpu.py"]
    assert _files_defining(r"[\"']SPACES_ZERO_GPU[\"']", code) == ["gan_core/jobs/zerogpu.py"]
    # metric display names: one table
    assert _files_defining(r"^(METRICS: dict|_LABELS\s*=)", code) == ["gan_core/metrics/scores.py"]
    # which run a visitor's Train page shows (their own, never another's in its place) is decided once,
    # in gan_core/studio/classroom.py (shown_run): the fronts never pick "the latest run" themselves
    assert _files_defining(r"mgr\.latest\(owner", code) == []
    assert _files_defining(r"^def shown_run\(", code) == ["gan_core/studio/classroom.py"]


ENV_NAME = re.compile(r"GAN_STUDIO_[A-Z0-9_]+")
ENVVARS = CORE / "config" / "envvars.py"


def _env_name_literals(source: str) -> list[str]:
    """Strings in code (docstrings aside) that are a whole GAN_STUDIO_* variable name, e.g. the constant
    ``X_ENV = "GAN_STUDIO_X"`` or ``os.environ.get("GAN_STUDIO_X")``."""
    tree = ast.parse(source)
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs and ENV_NAME.fullmatch(n.value)]


def test_environment_variable_names_are_written_only_in_their_declaration():
    """Each GAN_STUDIO_* name is written once, in gan_core/config/envvars.py (a constant named after it, in
    ENV_VARS); the modules that read one take the name from there (``envvars.RUNS.name``)."""
    from gan_core.config import envvars

    files = [p for d in (CORE, APPS, ROOT / "space", ROOT / "scripts") for p in d.rglob("*.py")
             if "__pycache__" not in p.parts] + [ROOT / f for f in LAUNCHERS]
    found = {str(p.relative_to(ROOT)): names for p in files if p != ENVVARS
             for names in [_env_name_literals(p.read_text())] if names}
    assert found == {}, f"take these names from gan_core.config.envvars (e.g. envvars.RUNS.name): {found}"
    assert _env_name_literals('"""GAN_STUDIO_X in a docstring"""\nX_ENV = "GAN_STUDIO_X"\n') == ["GAN_STUDIO_X"]
    declared = {k: v for k, v in vars(envvars).items() if isinstance(v, envvars.EnvVar)}
    assert set(declared.values()) == set(envvars.ENV_VARS)     # every constant is in the table and back
    assert all(envvars.PREFIX + k == v.name for k, v in declared.items())   # named after the variable


def test_training_children_start_at_training_priority():
    """Every child process gan_core starts (trainer, torchrun, 2D lab, speed probe) starts through
    gan_core.jobs.priority's launcher (spawn.start_child or priority.launch), so it keeps priority over the
    niced app server (issue 22); the steps a time preset needs are written once, in recipes.py."""
    assert _files_defining(r"with main_not_reimported\(\)", [CORE]) == ["gan_core/jobs/spawn.py"]
    assert _files_defining(r"proc\.start\(\)", [CORE]) == []   # a Process is started by start_child(proc)
    popen = re.compile(r"^(?!.*launch\().*subprocess\.Popen\(", re.M)
    assert [p for p in _files_defining(r"subprocess\.Popen\(", [CORE]) if popen.search((ROOT / p).read_text())] == []
    assert _files_defining(r"^STEPS_NEEDED\b", [CORE]) == ["gan_core/train/recipes.py"]
    assert _files_defining(r"\b1400\b", [CORE]) == ["gan_core/train/recipes.py"]


def test_arch_and_dataset_facts_are_registry_properties_not_name_tests():
    """What an arch or a dataset implies (tag heads, pairs, points, tags, path, recipe, form fields) is a
    property of its ArchSpec / DatasetSpec (gan_core/models/registry.py, gan_core/data/registry.py), never
    a test of its name, and the trainer holds its step strategy instead of swapping its class."""
    fronts = [ROOT / d for d in ("pages", "ui", "apps") if (ROOT / d).is_dir()]
    code = [CORE] + fronts
    arch_names = r"(acgan|tacgan|cgan|pix2pix|dcgan|srresnet|srresnet-acgan|mlp|none|image)"
    assert _files_defining(r"conditioning\s*(==|!=|in)\s*[\"'(]", code) == []
    assert _files_defining(r"backbone\s*(==|!=|in)\s*[\"'(]", code) == []
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


# ---- the front ends: apps/ ------------------------------------------------------------------------------
def test_apps_have_no_import_circle_and_no_file_over_500_lines():
    mods = _modules(APPS)
    graph = {n: _imports(n, p, set(mods)) for n, p in mods.items()}
    assert "apps.gradio.common" in graph["apps.gradio.train"]   # the graph sees real (relative) imports
    assert not _cycle(graph), " -> ".join(_cycle(graph))
    for path in [*mods.values(), *(ROOT / f for f in LAUNCHERS)]:
        n = len(path.read_text().splitlines())
        assert n <= 500, f"{path.relative_to(ROOT)} has {n} lines"


def test_no_ui_toolkit_is_imported_outside_apps_and_the_launchers():
    """streamlit and gradio are imported only by apps/ and app.py / gradio_app.py (tests drive the fronts and
    bench/ talks Streamlit's wire protocol: both are exempt). The plotly builders both fronts share import
    neither (the Gradio Space has no Streamlit)."""
    exempt = {"tests", "bench", "apps", ".git"}
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
                 if not exempt & set(p.relative_to(ROOT).parts) and p.name not in LAUNCHERS
                 and UI_IMPORT.search(p.read_text())]
    assert offenders == []
    for shared in ("charts.py", "lab2d_view.py", "__init__.py"):
        assert not UI_IMPORT.search((APPS / shared).read_text()), shared
    assert not any(UI_IMPORT.search(p.read_text()) and "streamlit" in UI_IMPORT.search(p.read_text()).group(0)
                   for p in (APPS / "gradio").rglob("*.py"))
    assert not any("gradio" in m.group(0) for p in (APPS / "streamlit").rglob("*.py")
                   for m in UI_IMPORT.finditer(p.read_text()))


def test_both_fronts_and_home_come_from_one_page_registry():
    """gan_core.studio.pages.PAGES: every page has its Streamlit script and its Gradio tab module with a
    ``build(ctx)``; no ``pages/`` folder next to app.py (it would start Streamlit's legacy page discovery)."""
    from gan_core.studio.pages import HOME, PAGES

    assert not (ROOT / "pages").exists()
    keys = [p.key for p in PAGES]
    assert len(set(keys)) == len(keys) and {"train", "style", "sketch", "lab2d"} <= set(keys)
    for p in (HOME, *PAGES):
        assert (ROOT / p.streamlit).is_file() and p.title and p.blurb and p.icon.startswith(":material/"), p
    for p in PAGES:
        tab = APPS / "gradio" / f"{p.gradio}.py"
        assert tab.is_file() and re.search(r"^def build\(ctx", tab.read_text(), re.M), p
    # the fronts iterate the registry rather than spelling the page list again
    assert "PAGES" in (ROOT / "app.py").read_text() and "st.Page(\"" not in (ROOT / "app.py").read_text()
    assert "PAGES" in (APPS / "streamlit" / "views" / "home.py").read_text()
    assert "st.page_link(\"" not in (APPS / "streamlit" / "views" / "home.py").read_text()
    assert not re.search(r"gr\.Tab\(\"", "".join(p.read_text() for p in (APPS / "gradio").rglob("*.py")))
    # links to a page go through the registry too (an old "pages/x.py" path fails only when clicked or rendered)
    assert not re.search(r"[\"']pages/\w+\.py", "".join(p.read_text() for p in APPS.rglob("*.py")))


def test_the_view_logic_both_fronts_show_has_one_home_in_studio():
    """Issue 19: what both fronts say and compute for a view is written once in gan_core/studio (live.py,
    tools.py); the fronts only lay it out. Each string or table below is spelled in one file."""
    code = [CORE, APPS]
    once = {
        r"8 Gaussians on a ring": ["gan_core/studio/tools.py"],                    # the 2D lab's shape names
        r"What it should show:": ["gan_core/studio/tools.py"],                     # its preset note
        r"Each row keeps one noise vector z": ["gan_core/studio/tools.py"],        # the sweep note
        r"View only: this run was started": ["gan_core/studio/panel.py"],           # view-only line
        r"Quality metrics \(FID, KID": ["gan_core/studio/panel.py"],                # metrics text
        r"Queued: your run starts": ["gan_core/studio/panel.py"],                   # queue line
        r"\*\*Queue\*\* ·": ["gan_core/studio/panel.py"],
        r"No run yet\. Choose a preset": ["gan_core/studio/panel.py"],
        r"Real/fake labels and label noise are not used": ["gan_core/studio/panel.py"],  # field notes
        r"No local VGG19 weights": ["gan_core/studio/tools.py"],                   # VGG loading
        r"It is a photo: compute its edges": ["gan_core/studio/tools.py"],         # the Sketch upload's box
    }
    for pattern, homes in once.items():
        assert _files_defining(pattern, code) == homes, pattern
    # the live chart groups: the curve keys are grouped once
    assert _files_defining(r"\[\"grad_norm_d\",\s*\"grad_norm_g\"\]|\(\"grad_norm_d\",\s*\"grad_norm_g\"\)", code) == \
        ["gan_core/studio/panel.py"]
    # export-then-record-owner, the sketch start and VGG loading: the fronts call studio, never the pieces
    fronts = [APPS]
    assert _files_defining(r"record_owner\(", fronts) == []
    assert _files_defining(r"random_face_edges\(|face_hints\(", fronts) == []
    assert _files_defining(r"load_vgg19\(|load_weights_file\(", fronts) == []
    # a run's live view (issue 22): chart groups, the labelled grid and its PNG are parts of the shared RunView
    # (studio.live), made once per new row or sample; the fronts read them. What a front derives from them is
    # memoised in one place each: the figures (apps/charts.py) and Gradio's grid file (apps/gradio/common.py)
    assert _files_defining(r"chart_groups\(|labelled_grid\(", fronts) == []
    assert _files_defining(r"\.memo\(", fronts) == ["apps/charts.py", "apps/gradio/common.py"]


def test_gan_core_is_grouped_by_subsystem():
    """gan_core has at most a dozen top-level modules and packages (issue 19), and every package states its
    one responsibility in its __init__ docstring."""
    import ast as _ast

    tops = [p for p in CORE.iterdir() if not p.name.startswith(("_", "."))
            and (p.suffix == ".py" or (p / "__init__.py").is_file())]
    assert len(tops) <= 12, sorted(p.name for p in tops)
    for init in CORE.rglob("__init__.py"):
        if "__pycache__" not in init.parts:
            assert _ast.get_docstring(_ast.parse(init.read_text(encoding="utf-8"))), init

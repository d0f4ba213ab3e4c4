"""Assemble a Hugging Face **Gradio Space** for GAN Studio in a folder (then push that folder to the
Space's git repository).

    python space/build_space.py --out /tmp/gan-studio-space [--torch-index URL] [--title "GAN Studio"]
    python space/build_space.py --out /tmp/gan-studio-zero --zerogpu     # a ZeroGPU Space

The folder gets ``gradio_app.py`` (the Space's ``app_file``), the ``gan_core`` package, the Gradio front end
(``apps/gradio/``) with the Streamlit-free ``apps`` modules it draws with (``charts.py``, ``lab2d_view.py``), the
shipped checkpoints, a ``requirements.txt`` with the project's pins (torch / torchvision exactly;
gradio itself comes from the Space's ``sdk_version``) and a ``README.md`` whose front matter makes it a
Gradio Space. ``--torch-index`` names a wheel index for torch (e.g. the PyTorch project's CPU wheel
index: CPU-only wheels are several times smaller than the default CUDA ones); it is written as
``--extra-index-url`` into requirements.txt. Only the standard library is used.

``--zerogpu`` makes a ZeroGPU Space (Hugging Face's shared GPUs, Gradio SDK only): the front matter asks
for the ZeroGPU hardware (``suggested_hardware: zero-a10g``, the flavour's id whatever GPU backs it),
requirements.txt pins ``spaces`` (:data:`SPACES_PIN`), the app imports ``spaces`` first (it must come
before anything touches CUDA) and starts with ZeroGPU defaults, and the README says what the quotas mean
for training (gan_core/jobs/zerogpu.py: each Start is a chain of GPU calls of at most ``MAX_CALL_S`` s).
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from gan_core.config import envvars as E  # noqa: E402  (standard library only: the variables' declared names)

APPS_FILES = ("__init__.py", "charts.py", "lab2d_view.py", "favicon.png")   # apps/ without apps/streamlit
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".cache")
SPACE_ENV = {  # CPU-basic: 2 vCPU, 16 GB RAM, ephemeral disk
    E.MAX_CONCURRENT.name: "1", E.MAX_PER_VISITOR.name: "1", E.MAX_RUNS_MB.name: "2048", E.EVAL_SAMPLES.name: "128",
}
# ZeroGPU: each run trains in its own GPU calls (the runs' GPU time is the visitors' quota, not the
# Space's); the Space's own CPU still loads data and serves the pages. 2 at once is a guess: not measured.
ZEROGPU_ENV = {**SPACE_ENV, E.MAX_CONCURRENT.name: "2"}
SPACES_PIN = "spaces==0.51.3"   # the release gan_core/jobs/zerogpu.py was written against


def gradio_version() -> str:
    """The gradio release this checkout was tested with (requirements.txt's lower bound)."""
    text = (REPO / "requirements.txt").read_text(encoding="utf-8")
    m = re.search(r"^gradio>=([0-9][0-9.]*)", text, re.M)
    if not m:
        raise SystemExit("error: requirements.txt has no 'gradio>=X' line")
    return m.group(1) if m.group(1).count(".") == 2 else m.group(1) + ".0"


def space_requirements(torch_index: str = "", zerogpu: bool = False) -> str:
    """requirements.txt without gradio (the Space's sdk_version installs it) and without comments; with
    ``zerogpu``, the ``spaces`` package pinned."""
    lines = []
    if torch_index:
        lines.append(f"--extra-index-url {torch_index}")
    for raw in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not re.match(r"^gradio\b", line):
            lines.append(line)
    if zerogpu:
        lines.append(SPACES_PIN)
    return "\n".join(lines) + "\n"


def front_matter(title: str, version: str, zerogpu: bool = False) -> str:
    return "\n".join([
        "---", f"title: {title}", "emoji: 🎨", "colorFrom: indigo", "colorTo: pink", "sdk: gradio",
        f"sdk_version: {version}", "python_version: '3.11'", "app_file: gradio_app.py", "pinned: false",
        *(["suggested_hardware: zero-a10g"] if zerogpu else []),
        "short_description: Train and explore GANs in the browser", "---", ""])


README_BODY = """
# GAN Studio (Gradio)

Train and explore GANs in the browser: pick a loss and an architecture, start a short training run,
watch loss curves and sample grids live, change hair / eye tags of a conditional generator,
interpolate latent vectors, compare runs, and play with a 2D GAN lab.

This Space runs `gradio_app.py` on **CPU basic** hardware (2 vCPU, 16 GB RAM, a disk that is wiped
when the Space restarts or sleeps):

* one run trains at a time (`GAN_STUDIO_MAX_CONCURRENT=1`); further **Start**s wait in Gradio's
  queue with their place shown; one run per visitor;
* the `tiny` preset takes seconds, `1min` one minute; `full` is meant for a GPU;
* runs, uploads and exports are lost when the Space restarts: download what you want to keep;
* the Space sleeps after a while without visitors (the free tier's rule), which ends any run.

The API (`/generate`, `/interpolate`, `/train`, `/train_status`, `/train_stop`) is listed under
"Use via API" at the bottom of the page.
"""

ZEROGPU_BODY = """
# GAN Studio (Gradio, ZeroGPU)

Train and explore GANs in the browser on Hugging Face's shared GPUs (ZeroGPU): pick a loss and an
architecture, start a short training run, watch loss curves and sample grids live, change hair / eye
tags of a conditional generator, interpolate latent vectors, compare runs, and play with a 2D GAN lab.

How training uses the GPU here:

* A GPU is attached only while a run trains. Each **Start** trains in GPU calls of at most {max_call} s
  (about {train_s} s of training plus {margin} s to start and to save): the `1min` preset is one call, `5min`
  a chain of calls, each going on from the previous call's checkpoint exactly as an uninterrupted run would.
  **Continue this run** starts another call from the last checkpoint.
* The GPU time counts against **your** daily ZeroGPU quota (Hugging Face's Usage Tiers: a few minutes for
  visitors who are not logged in, more for logged-in and PRO accounts; log in for more). When it is used
  up the run stops with "GPU quota used up: try again in N minutes, or run on CPU" and keeps its last
  checkpoint: Continue later, or set **Device** to `cpu` to train on the Space's CPU.
* **Pause** ends the current GPU call after {pause} s (with a checkpoint) so that no GPU time is spent while
  paused; **Resume** starts the next call.
* Generate, Interpolate and Sketch run on the CPU (a 32-64 px generator is quicker there than the start of a
  GPU call) unless the work is large; Style runs in a GPU call of up to {style} s.
* Runs, uploads and exports live on the Space's disk, which is wiped when the Space restarts or sleeps:
  download what you want to keep.

The API (`/generate`, `/interpolate`, `/train`, `/train_status`, `/train_stop`) is listed under
"Use via API" at the bottom of the page; API callers spend their own quota (send a Hugging Face token).
"""


def zerogpu_readme_body() -> str:
    from gan_core.jobs import zerogpu as Z

    return ZEROGPU_BODY.format(max_call=Z.MAX_CALL_S, train_s=Z.CALL_TRAIN_S, margin=Z.MARGIN_S,
                               pause=int(Z.PAUSE_RELEASE_S), style=Z.TOOL_SECONDS["style"])


def build(out: Path, torch_index: str = "", title: str = "GAN Studio", force: bool = False,
          zerogpu: bool = False) -> Path:
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise SystemExit(f"error: {out} is not empty (use --force to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "gradio_app.py", out / "gradio_app.py")
    shutil.copytree(REPO / "gan_core", out / "gan_core", ignore=SKIP)
    (out / "apps").mkdir()
    for f in APPS_FILES:
        shutil.copy2(REPO / "apps" / f, out / "apps" / f)
    shutil.copytree(REPO / "apps" / "gradio", out / "apps" / "gradio", ignore=SKIP)
    (out / "checkpoints").mkdir()
    for p in sorted((REPO / "checkpoints").glob("*.safetensors")):
        shutil.copy2(p, out / "checkpoints" / p.name)
    (out / "requirements.txt").write_text(space_requirements(torch_index, zerogpu), encoding="utf-8")
    env_lines = "".join(f"os.environ.setdefault({k!r}, {v!r})\n" for k, v in (ZEROGPU_ENV if zerogpu else SPACE_ENV).items())
    app = (out / "gradio_app.py").read_text(encoding="utf-8")
    marker = "from __future__ import annotations\n"
    head = ("\nimport spaces  # noqa: F401  ZeroGPU: imported before anything touches CUDA\n" if zerogpu else "")
    what = "ZeroGPU" if zerogpu else "CPU-basic"
    app = app.replace(marker, marker + head + f"\nimport os\n\n# {what} Space defaults (Space variables override them)\n"
                      + env_lines, 1)
    (out / "gradio_app.py").write_text(app, encoding="utf-8")
    body = zerogpu_readme_body() if zerogpu else README_BODY
    (out / "README.md").write_text(front_matter(title, gradio_version(), zerogpu) + body, encoding="utf-8")
    (out / ".gitattributes").write_text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder to write the Space into")
    ap.add_argument("--torch-index", default="", help="extra wheel index for torch (e.g. a CPU-only wheel index)")
    ap.add_argument("--title", default="GAN Studio")
    ap.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    ap.add_argument("--zerogpu", action="store_true", help="a ZeroGPU Space (shared GPUs; needs the CUDA torch wheels)")
    a = ap.parse_args(argv)
    if a.zerogpu and "cpu" in a.torch_index.lower():
        raise SystemExit("error: --zerogpu needs torch's CUDA wheels, not a CPU-only wheel index")
    out = build(Path(a.out), a.torch_index, a.title, a.force, a.zerogpu)
    kind = "ZeroGPU Space (set its hardware to ZeroGPU)" if a.zerogpu else "Gradio Space"
    print(f"{kind} written to {out}: push it to the Space's git repository (git lfs for *.safetensors).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

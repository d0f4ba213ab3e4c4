"""space/build_space.py assembles a Gradio Space: front matter, pinned requirements, the app's files."""
from __future__ import annotations

import py_compile
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "space"))
import build_space  # noqa: E402


def test_build_space_writes_a_gradio_space(tmp_path):
    out = build_space.build(tmp_path / "space", torch_index="file:///wheels/cpu")
    readme = (out / "README.md").read_text(encoding="utf-8")
    front = readme.split("---")[1]
    assert "sdk: gradio" in front and "app_file: gradio_app.py" in front and "python_version: '3.11'" in front
    version = re.search(r"sdk_version: (\S+)", front).group(1)
    assert re.search(rf"^gradio>={re.escape(version.rsplit('.0', 1)[0])}", (REPO / "requirements.txt").read_text(),
                     re.M)
    reqs = (out / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert reqs[0] == "--extra-index-url file:///wheels/cpu"
    assert "torch==2.14.1" in reqs and "torchvision==0.29.1" in reqs
    assert not any(r.startswith("gradio") for r in reqs) and not any("#" in r for r in reqs)
    for f in ("gradio_app.py", "gan_core/studio/views.py", "gan_core/jobs/slots.py", "apps/charts.py", "apps/lab2d_view.py",
              "apps/gradio/app.py", "apps/gradio/train.py", "apps/favicon.png",
              "checkpoints/faces.safetensors", "gan_core/assets/faces_classifier.safetensors"):
        assert (out / f).is_file(), f
    assert not (out / "apps" / "streamlit").exists() and not list(out.rglob("__pycache__"))
    app = (out / "gradio_app.py").read_text(encoding="utf-8")
    assert "os.environ.setdefault('GAN_STUDIO_MAX_CONCURRENT', '1')" in app
    py_compile.compile(str(out / "gradio_app.py"), doraise=True)
    for f in (out / "apps").rglob("*.py"):  # the Space has no Streamlit
        assert not re.search(r"^\s*(import|from) streamlit", f.read_text(), re.M), f


def test_build_space_zerogpu_asks_for_zerogpu_and_pins_spaces(tmp_path):
    from gan_core.jobs import zerogpu

    out = build_space.build(tmp_path / "zero", zerogpu=True)
    readme = (out / "README.md").read_text(encoding="utf-8")
    front, body = readme.split("---")[1], readme.split("---", 2)[2]
    assert "sdk: gradio" in front and "suggested_hardware: zero-a10g" in front
    reqs = (out / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert build_space.SPACES_PIN in reqs and "torch==2.14.1" in reqs and not any(r.startswith("gradio") for r in reqs)
    assert f"at most {zerogpu.MAX_CALL_S} s" in body and "GPU quota used up" in body and "Device** to `cpu`" in body
    app = (out / "gradio_app.py").read_text(encoding="utf-8")
    head = app[:app.index("os.environ.setdefault")]
    assert "\nimport spaces" in head and "import torch" not in head and "from gan_core" not in head
    assert "os.environ.setdefault('GAN_STUDIO_MAX_CONCURRENT', '2')" in app
    py_compile.compile(str(out / "gradio_app.py"), doraise=True)
    plain = build_space.build(tmp_path / "plain")
    assert "zero-a10g" not in (plain / "README.md").read_text(encoding="utf-8")
    assert "spaces" not in (plain / "requirements.txt").read_text(encoding="utf-8")
    assert "import spaces" not in (plain / "gradio_app.py").read_text(encoding="utf-8")
    with pytest.raises(SystemExit, match="CUDA wheels"):
        build_space.main(["--out", str(tmp_path / "x"), "--zerogpu", "--torch-index", "https://example.invalid/whl/cpu"])

"""space/build_space.py assembles a Gradio Space: front matter, pinned requirements, the app's files."""
from __future__ import annotations

import py_compile
import re
import sys
from pathlib import Path

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
    for f in ("gradio_app.py", "gan_core/studio/views.py", "gan_core/slots.py", "apps/charts.py", "apps/lab2d_view.py",
              "apps/gradio/app.py", "apps/gradio/train.py", "apps/favicon.png",
              "checkpoints/faces.safetensors", "gan_core/assets/faces_classifier.safetensors"):
        assert (out / f).is_file(), f
    assert not (out / "apps" / "streamlit").exists() and not list(out.rglob("__pycache__"))
    app = (out / "gradio_app.py").read_text(encoding="utf-8")
    assert "os.environ.setdefault('GAN_STUDIO_MAX_CONCURRENT', '1')" in app
    py_compile.compile(str(out / "gradio_app.py"), doraise=True)
    for f in (out / "apps").rglob("*.py"):  # the Space has no Streamlit
        assert not re.search(r"^\s*(import|from) streamlit", f.read_text(), re.M), f

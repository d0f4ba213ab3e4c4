"""The Gradio front end's API for scripts, against a real ``python gradio_app.py`` on loopback, through
gradio_client: ``/generate`` (PNG; same arguments, same bytes; tags change the picture),
``/interpolate`` (GIF), ``/train`` + ``/train_status`` (a tiny run reports its steps), and a run that
waits for a machine-wide training slot held by another process (the Streamlit server's share)."""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
gradio_client = pytest.importorskip("gradio_client")
from PIL import Image  # noqa: E402

TINY = {  # as tests/test_app.py's tiny runs: seconds on a shared 2-core CPU
    "data.dataset": "faces", "data.image_size": 16, "data.num_samples": 64, "model.arch": "dcgan", "model.z_dim": 16,
    "model.g_width": 8, "model.d_width": 8, "train.batch_size": 8, "train.log_every": 1, "train.sample_every": 5,
    "train.device": "cpu", "train.seconds": 0.0, "train.grid_size": 4,
}


# ---- the server (also used by tests/test_browser_gradio.py) ------------------------------------------------
def gradio_env(base: Path, **extra: str) -> dict[str, str]:
    """Temporary runs / checkpoints folders (with the shipped faces generator), no metrics, no analytics."""
    runs, ckpts = base / "runs", base / "checkpoints"
    ckpts.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "checkpoints" / "faces.safetensors", ckpts / "faces.safetensors")
    return dict(os.environ, GAN_STUDIO_RUNS=str(runs), GAN_STUDIO_CHECKPOINTS=str(ckpts), GAN_STUDIO_METRICS="0",
                GAN_STUDIO_MAX_CONCURRENT="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO),
                GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", GRADIO_SERVER_NAME="127.0.0.1", **extra)


def serve_gradio(base: Path, env: dict[str, str], **info):
    """Run ``gradio_app.py`` with ``env`` for a module's tests and yield ``{"url", "base", **info}``; stops it
    after. Use with ``yield from``."""
    from apps.devserver import GRADIO_STOP, start_gradio, stop_server

    with open(base / "gradio.log", "wb") as log:
        try:
            proc, url = start_gradio(base, env, log)
        except RuntimeError as e:
            pytest.fail(str(e))
        try:
            yield {"url": url, "base": base, **info}
        finally:
            stop_server(proc, GRADIO_STOP, timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("gradio_api")
    yield from serve_gradio(base, gradio_env(base), runs=base / "runs")


@pytest.fixture(scope="module")
def client(server):
    return gradio_client.Client(server["url"], verbose=False)


def _png(path: str) -> tuple[bytes, Image.Image]:
    data = Path(path).read_bytes()
    return data, Image.open(io.BytesIO(data))


# ---- pictures ------------------------------------------------------------------------------------------------
def test_api_page_lists_the_script_endpoints(client):
    info = client.view_api(print_info=False, return_format="dict")
    names = set(info["named_endpoints"])
    assert {"/generate", "/interpolate", "/train", "/train_status", "/train_stop"} <= names
    params = [p["parameter_name"] for p in info["named_endpoints"]["/generate"]["parameters"]]
    assert params == ["checkpoint", "tags", "seed", "n"]


def test_generate_same_arguments_same_png_and_tags_change_it(client):
    a = client.predict(checkpoint="faces.safetensors", tags="blue hair, red eyes", seed=7, n=16, api_name="/generate")
    b = client.predict(checkpoint="faces.safetensors", tags="blue hair, red eyes", seed=7, n=16, api_name="/generate")
    c = client.predict(checkpoint="faces.safetensors", tags="blonde hair, green eyes", seed=7, n=16,
                       api_name="/generate")
    (da, ia), (db, _), (dc, ic) = _png(a), _png(b), _png(c)
    assert ia.format == "PNG" and ia.mode == "RGB"
    assert ia.size == ic.size and ia.width > 64 and ia.width == ia.height  # a 4 x 4 grid
    assert da == db, "the same arguments must give the same image"
    assert da != dc, "other tags must give another image"
    # defaults: the shipped faces generator, random tags; n = 1 is a single image
    one = _png(client.predict(checkpoint="", tags="", seed=0, n=1, api_name="/generate"))[1]
    assert one.width < ia.width


def test_generate_explains_bad_arguments(client):
    with pytest.raises(Exception, match="unknown hair"):
        client.predict(checkpoint="faces.safetensors", tags="plaid hair", seed=0, n=4, api_name="/generate")
    with pytest.raises(Exception, match="maximum value 64|between 1 and 64"):
        client.predict(checkpoint="faces.safetensors", tags="", seed=0, n=65, api_name="/generate")
    with pytest.raises(Exception, match="no checkpoint called"):
        client.predict(checkpoint="../../etc/passwd", tags="", seed=0, n=4, api_name="/generate")


def test_api_arguments_get_the_ui_fields_checks_and_messages(client):
    # issue 23 item 12: seed -5 was accepted, 2**70 / 1e300 gave "Overflow when unpacking long long", n=2.5 was
    # cut to 2, fps 0 / -1 / 1e9 were accepted; the messages are gan_core.config.arguments' (the UI fields' own)
    seed_range = "between 0 and 9223372036854775807"
    for seed, said in ((-5, "got -5"), (2**70, f"got {2**70}"), (1e300, "got 1e+300")):
        with pytest.raises(Exception, match=f"seed must be {seed_range}, {re.escape(said)}"):
            client.predict(checkpoint="faces.safetensors", tags="", seed=seed, n=4, api_name="/generate")
    with pytest.raises(Exception, match="n must be an integer, got 2.5"):
        client.predict(checkpoint="faces.safetensors", tags="", seed=0, n=2.5, api_name="/generate")
    for fps in (0, -1, 1e9):
        with pytest.raises(Exception, match="fps must be between 1 and 30"):
            client.predict(checkpoint="faces.safetensors", seed_a=1, seed_b=2, frames=4, method="slerp", tags_a="",
                           tags_b="", fps=fps, api_name="/interpolate")
    with pytest.raises(Exception, match=f"seed_b must be {seed_range}, got -1"):
        client.predict(checkpoint="faces.safetensors", seed_a=1, seed_b=-1, frames=4, method="slerp", tags_a="",
                       tags_b="", fps=8, api_name="/interpolate")


def test_interpolate_returns_an_animated_gif(client):
    path = client.predict(checkpoint="faces.safetensors", seed_a=1, seed_b=2, frames=6, method="slerp",
                          tags_a="blue hair, red eyes", tags_b="green hair, red eyes", fps=8, api_name="/interpolate")
    im = Image.open(path)
    assert im.format == "GIF" and getattr(im, "n_frames", 1) == 6
    again = client.predict(checkpoint="faces.safetensors", seed_a=1, seed_b=2, frames=6, method="slerp",
                           tags_a="blue hair, red eyes", tags_b="green hair, red eyes", fps=8, api_name="/interpolate")
    assert Path(path).read_bytes() == Path(again).read_bytes()


# ---- training ------------------------------------------------------------------------------------------------
def test_a_tiny_run_started_through_the_api_reports_its_steps(client):
    job = client.submit(settings={**TINY, "train.steps": 12}, preset="tiny", owner_key="", api_name="/train")
    updates = []
    for out in job:  # streamed about once a second until the run ends
        updates.append(out)
    final = job.result(timeout=300)
    assert final["status"] == "done", final
    assert final["step"] == 12 and final["total_steps"] == 12
    assert len(final["owner_key"]) >= 16
    assert any(u.get("status") in ("starting", "loading data", "running") for u in updates[:-1]), updates
    status = client.predict(job=final["job"], api_name="/train_status")
    assert status["status"] == "done" and status["step"] == 12
    steps = [h["step"] for h in status["history"]]
    assert steps and steps[-1] == 12 and steps == sorted(steps)
    assert all(isinstance(h["d_loss"], float) for h in status["history"])
    # the owner key controls it; a stranger's does not
    with pytest.raises(Exception, match="only the browser that started"):
        client.predict(job=final["job"], owner_key="someone-else-entirely", api_name="/train_stop")


def test_training_waits_for_a_slot_another_server_holds(server, client):
    """A Streamlit server on the same runs folder holds the one training slot: /train waits, saying
    so, and starts by itself once that server's run (here: its process) is gone."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys, time
            from gan_core.jobs.slots import SlotLimiter, slots_root
            # (the previous test's run frees its slot a moment after it reports "done")
            s = SlotLimiter(1, slots_root(sys.argv[1])).acquire("streamlit: faces / acgan / ns", timeout=60, poll=0.1)
            print("held" if s else "none", flush=True)
            time.sleep(300)
        """), str(server["runs"])], stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert holder.stdout.readline().strip() == "held"
        job = client.submit(settings={**TINY, "train.steps": 4}, preset="tiny", owner_key="", api_name="/train")
        deadline = time.time() + 120
        while time.time() < deadline and not any("streamlit: faces / acgan / ns" in o.get("message", "")
                                                 for o in job.outputs()):
            time.sleep(0.3)
        waiting = [o for o in job.outputs() if "streamlit: faces / acgan / ns" in o.get("message", "")]
        assert waiting, job.outputs()
        assert waiting[-1]["status"] == "queued" and "Queued" in waiting[-1]["message"]
        time.sleep(2.0)
        assert not job.done() and job.outputs()[-1]["status"] == "queued"  # not started while the slot is taken
        holder.kill()
        holder.wait(10)
        final = job.result(timeout=300)
        assert final["status"] == "done" and final["step"] == 4
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)

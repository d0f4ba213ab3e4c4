"""AppTest (streamlit.testing.v1) for every page of ``app.py``: rendering, a tiny training started
from the Train page (progress, charts, grid, live lr/n_critic, pause/resume, stop), the one-run-at-a-
time rule and ownership, tags changing the generated image bytes, uploads refused with a message.

The job manager is process-wide (as in the real server), so AppTest sessions here share it: each
test leaves no job running (see the ``no_jobs_left`` fixture).
"""
from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from gan_core.storage.checkpoint import export_generator, load_checkpoint
from gan_core.config import RunConfig
from gan_core.jobs.manager import NotOwnerError, get_manager
from gan_core.train.trainer import Trainer
from waiting import wait_until

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 60


# ---- fixtures -----------------------------------------------------------------------------------------
def _tiny_run(run_dir: Path, cache: Path, arch: str = "acgan", loss: str = "ns", steps: int = 3) -> Path:
    cfg = RunConfig().replace(
        data={"dataset": "faces", "image_size": 16, "num_samples": 64, "cache_dir": str(cache)},
        model={"arch": arch, "z_dim": 16, "g_width": 8, "d_width": 8, "embed_dim": 4},
        loss={"name": loss},
        train={"steps": steps, "batch_size": 8, "log_every": 1, "sample_every": 1, "checkpoint_every": 0,
               "device": "cpu", "grid_size": 4, "n_critic": 1},
    )
    for _ in Trainer(cfg, run_dir).run():
        pass
    return run_dir / "last.pt"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Two finished tiny runs (NS and LSGAN) and a conditional generator export, made once."""
    base = tmp_path_factory.mktemp("app")
    cache = base / "cache"
    runs = base / "runs"
    last = _tiny_run(runs / "r_ns", cache, loss="ns")
    _tiny_run(runs / "r_lsgan", cache, arch="dcgan", loss="lsgan")
    st_file = base / "shipped" / "tiny_acgan.safetensors"
    st_file.parent.mkdir()
    export_generator(load_checkpoint(last), st_file)
    return {"base": base, "cache": cache, "runs": runs, "export": st_file, "last": last}


@pytest.fixture
def env(shared, tmp_path, monkeypatch):
    """Fresh runs/checkpoints folders (checkpoints holds the conditional export) for one test."""
    runs, ck = tmp_path / "runs", tmp_path / "checkpoints"
    runs.mkdir()
    ck.mkdir()
    (ck / "tiny_acgan.safetensors").write_bytes(shared["export"].read_bytes())
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(runs))
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(ck))
    monkeypatch.setenv("GAN_STUDIO_EVAL_SAMPLES", "32")
    return {"runs": runs, "checkpoints": ck, "cache": shared["cache"]}


@pytest.fixture(autouse=True)
def no_jobs_left():
    """Stop (as its owner) and wait for any job a test left running on the process-wide manager."""
    yield
    mgr = get_manager()
    for job in mgr.jobs():
        if job.thread.is_alive():
            job.stop(job.owner)
            job.wait(60)
    assert mgr.active_job() is None


def _bytes(media: dict[str, bytes], url: str) -> bytes:
    return media[url.rsplit("/", 1)[-1].split(".")[0]]


def page(name: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if query:
        at.query_params.update(query)
    if name != "home":
        at.switch_page(f"apps/streamlit/views/{name}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader")
             for e in at.get(kind) if isinstance(getattr(e, "value", None), str)]
    return "\n".join(parts)


def _owner(at: AppTest) -> str:
    return at.session_state["_owner_token"]  # the per-browser secret (a cookie in a real browser)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _wait(pred, timeout=90.0) -> bool:
    return wait_until(pred, timeout, every=0.3)


def _tiny_form(at: AppTest, steps: int, cache: Path, **extra) -> None:
    at.selectbox(key="tr._preset").set_value("tiny").run()
    at.number_input(key="tr.train.steps").set_value(steps)
    at.number_input(key="tr.train.batch_size").set_value(8)
    at.number_input(key="tr.data.num_samples").set_value(64)
    at.number_input(key="tr.train.sample_every").set_value(2)
    at.number_input(key="tr.train.grid_size").set_value(4)
    at.number_input(key="tr.model.z_dim").set_value(16)
    at.session_state["tr.data.cache_dir"] = str(cache)
    at.selectbox(key="tr.train.device").set_value("cpu")
    for k, v in extra.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]


# ---- every page renders ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,title", [("home", "GAN Studio"), ("train", "Train"), ("generate", "Generate"),
                                        ("interpolate", "Interpolate"), ("compare", "Compare runs"),
                                        ("checkpoints", "Checkpoints"), ("sketch", "Sketch to face"),
                                        ("board", "Class board")])
def test_every_page_renders_empty(name, title, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path / "ck"))
    at = page(name)
    assert at.title[0].value == title
    assert not at.error
    if name in ("generate", "interpolate"):
        assert "No checkpoints yet" in _texts(at)
    if name == "compare":
        assert "No runs" in _texts(at)
    if name == "sketch":
        assert "No pix2pix generator yet" in _texts(at)
    if name == "board":   # a student's view: no controls, a line says why
        assert "View only: the teacher" in _texts(at) and not at.button(key="board.save_name").disabled
        assert not [b.key for b in at.button if b.key and b.key.split(".")[0] in ("pin", "stop", "del")]


def test_home_lists_losses_and_archs_from_the_registries(env):
    from gan_core.losses import LOSSES
    from gan_core.models import ARCHITECTURES

    text = _texts(page("home"))
    assert all(f"`{k}`" in text for k in LOSSES) and all(f"`{k}`" in text for k in ARCHITECTURES)


# ---- train ------------------------------------------------------------------------------------------------
def test_train_form_is_built_from_the_registries(env):
    from gan_core.data.registry import DATASETS
    from gan_core.losses import LOSSES
    from gan_core.models import ARCHITECTURES

    at = page("train")
    # the registry's short names (long titles were cut off in the narrow column); the title is in the caption
    assert list(at.selectbox(key="tr.loss.name").options) == list(LOSSES)
    assert list(at.selectbox(key="tr.model.arch").options) == list(ARCHITECTURES)
    assert list(at.selectbox(key="tr.data.dataset").options) == list(DATASETS)
    # choosing a loss fills in the optimiser its paper recommends (e.g. WGAN-GP: n_critic 5, Adam 0/0.9)
    at.selectbox(key="tr.loss.name").set_value("wgan-gp").run()
    rec = LOSSES["wgan-gp"].recommended
    assert at.number_input(key="tr.train.n_critic").value == rec.get("n_critic", 1)
    assert LOSSES["wgan-gp"].curve_help in _texts(at)
    assert LOSSES["wgan-gp"].title in _texts(at)
    # a configuration that cannot train says why
    at.selectbox(key="tr.data.dataset").set_value("toy2d").run()
    assert at.error and "cannot train" in at.error[0].value


def test_train_page_runs_a_tiny_training_and_shows_progress(env):
    at = page("train")
    _tiny_form(at, steps=30, cache=env["cache"])
    at.button(key="btn_start").click().run()
    assert not at.error, [e.value for e in at.error]
    job = get_manager().active_job() or get_manager().latest()
    assert job is not None and job.owner == _owner(at)
    assert job.cfg.train.steps == 30 and job.cfg.data.image_size == 16 and job.cfg.train.batch_size == 8

    steps_seen = set()

    def progressed():
        at.run()
        steps_seen.add(int(_metric(at, "Step").split("/")[0]))
        return len(at.get("plotly_chart")) >= 2 and at.get("image") and max(steps_seen) > 0

    assert _wait(progressed), "no curves / grid / step progress"
    assert job.wait(90)
    at.run()
    assert not at.exception
    assert "done" in _metric(at, "Status") and _metric(at, "Step") == "30 / 30"
    assert len(steps_seen) >= 2  # the page showed the run at different steps
    captions = [c for im in at.get("image") for c in im.proto.imgs and [i.caption for i in im.proto.imgs]]
    assert any("Fixed-noise samples at step 30" in c for c in captions)
    text = _texts(at)
    assert "D loss" in text and "D(x) and D(G(z))" in text  # what the curves mean, next to them
    # the metrics listener evaluated the final checkpoint: FID/KID with their sample size
    snap = job.snapshot()
    if snap.extras.get("metrics"):
        assert "FID" in [m.label for m in at.metric]
        row = snap.extras["metrics"][-1]
        assert f"{row['n_real']} real vs {row['n_fake']} generated images" in text  # the sample size
    else:
        assert snap.extras.get("metrics_status"), "metrics neither computed nor explained"
    assert (Path(snap.run_dir) / "last.pt").exists()


def test_pause_resume_live_settings_and_stop(env):
    at = page("train")
    _tiny_form(at, steps=100_000, cache=env["cache"])
    at.button(key="btn_start").click().run()
    job = get_manager().active_job()
    assert job is not None
    assert _wait(lambda: job.snapshot().step >= 2)
    at.run()
    # lr and n_critic while it runs
    jid = job.id
    at.number_input(key=f"steer.{jid}.lr_g").set_value(1e-3)
    at.number_input(key=f"steer.{jid}.n_critic").set_value(3)
    at.button(key="btn_apply").click().run()
    assert not at.error
    assert _wait(lambda: (h := job.snapshot().history) and h[-1].get("lr_g") == pytest.approx(1e-3)
                 and h[-1].get("n_critic") == 3)
    # pause / resume
    at.button(key="btn_pause").click().run()
    assert job.snapshot().status == "paused" and at.button(key="btn_resume")
    time.sleep(0.5)
    s1 = job.snapshot().step
    time.sleep(1.0)
    assert job.snapshot().step <= s1 + 1  # (a step in flight may finish)
    at.button(key="btn_resume").click().run()
    assert _wait(lambda: job.snapshot().step > s1 + 1)
    # stop
    at.button(key="btn_stop").click().run()
    assert job.wait(60)
    at.run()
    assert job.snapshot().status == "stopped" and "stopped" in _metric(at, "Status")


def test_second_run_queued_link_is_view_only_and_owner_reload_reattaches(env, monkeypatch):
    import apps.streamlit.common as common

    alice = page("train")
    _tiny_form(alice, steps=100_000, cache=env["cache"])
    alice.button(key="btn_start").click().run()
    job = get_manager().active_job()
    assert job is not None
    # another browser session (a different owner token) sees the run but cannot control it
    bob = page("train")
    assert _owner(bob) != _owner(alice)
    assert bob.button(key="btn_stop").disabled and bob.button(key="btn_pause").disabled
    assert "View only" in _texts(bob) and "started in another browser session" in _texts(bob)
    assert f"steer.{job.id}.lr_g" not in [n.key for n in bob.number_input]
    # an old-style link with Alice's token in the URL grants nothing (and the token is dropped from it)
    mallory = page("train", query={"owner": _owner(alice)})
    assert _owner(mallory) != _owner(alice) and "owner" not in mallory.query_params
    assert mallory.button(key="btn_stop").disabled
    # a second run is queued, with its position; its owner can cancel it, nobody else can
    _tiny_form(bob, steps=5, cache=env["cache"])
    bob.button(key="btn_start").click().run()
    assert not bob.error, [e.value for e in bob.error]
    queued = get_manager().queued_jobs()
    assert len(queued) == 1 and queued[0].owner == _owner(bob)
    assert "Queued" in _texts(bob) and "#1" in _texts(bob) and "your run" in _texts(bob)
    assert get_manager().active_job() is job
    alice.run()
    assert "another visitor's run" in _texts(alice)
    assert f"cancel.{queued[0].id}" not in [b.key for b in alice.button]
    bob.button(key=f"cancel.{queued[0].id}").click().run()
    assert queued[0].snapshot().status == "cancelled" and not get_manager().queued_jobs()
    # AppTest (like the browser) will not click a disabled button; a forged request with Bob's token
    # is refused by the job manager itself
    with pytest.raises(Exception, match="disabled"):
        bob.button(key="btn_stop").click()
    with pytest.raises(NotOwnerError):
        job.stop(_owner(bob))
    time.sleep(0.3)
    assert job.active
    # a reload of Alice's page (a new session; her browser sends the owner cookie) reattaches with control
    monkeypatch.setattr(common, "read_owner_cookie", lambda: _owner(alice))
    alice2 = page("train")
    assert _owner(alice2) == _owner(alice)
    assert not alice2.button(key="btn_stop").disabled
    assert any(s.value.startswith("Run ") for s in alice2.subheader)
    alice2.button(key="btn_stop").click().run()
    assert job.wait(60) and job.snapshot().status == "stopped"


# ---- generate / interpolate --------------------------------------------------------------------------------
def test_generate_tag_change_changes_the_image_bytes(env, media):
    at = page("generate")
    assert "tiny_acgan.safetensors" in at.selectbox(key="picked_checkpoint").value
    hair = at.selectbox(key="gen.tag.hair")
    eye = at.selectbox(key="gen.tag.eye")
    assert None in hair.options or "random hair" in hair.options
    hair.set_value(0)
    eye.set_value(0)
    at.run()
    url0 = at.get("image")[0].proto.imgs[0].url
    png0 = _bytes(media, url0)
    assert Image.open(io.BytesIO(png0)).format == "PNG"
    at.selectbox(key="gen.tag.hair").set_value(3).run()
    img = at.get("image")[0].proto.imgs[0]
    png3 = _bytes(media, img.url)
    assert png3 != png0
    assert not np.array_equal(np.asarray(Image.open(io.BytesIO(png0))), np.asarray(Image.open(io.BytesIO(png3))))
    assert "seed 0" in img.caption
    # the same seed and tags again: the very same picture (seeded)
    at.selectbox(key="gen.tag.hair").set_value(0).run()
    assert _bytes(media, at.get("image")[0].proto.imgs[0].url) == png0
    # "same z, change tag" grid and downloads
    assert len(at.get("image")) == 2 and len(at.get("download_button")) == 2
    assert "Same z, change one tag" in [s.value for s in at.subheader]


def test_generate_picks_a_trained_run_too(env, shared):
    import shutil

    shutil.copytree(shared["runs"] / "r_lsgan", env["runs"] / "r_lsgan")
    at = page("generate")
    opts = at.selectbox(key="picked_checkpoint").options
    assert any("run r_lsgan" in o for o in opts)
    run_opt = next(o for o in opts if "run r_lsgan" in o)
    at.selectbox(key="picked_checkpoint").select(run_opt).run()
    assert not at.exception
    assert "unconditional" in _texts(at)  # dcgan: no tag selectors
    assert not [s for s in at.selectbox if s.key and s.key.startswith("gen.tag.")]


def test_interpolate_page(env, media):
    at = page("interpolate")
    at.slider(key="int.steps").set_value(6).run()
    assert not at.exception
    imgs = at.get("image")
    captions = [i.caption for im in imgs for i in im.proto.imgs]
    assert any(c.startswith("6 frames, slerp") for c in captions)
    gif_url = next(i.url for im in imgs for i in im.proto.imgs if i.caption == "Animated GIF")
    gif = Image.open(io.BytesIO(_bytes(media, gif_url)))
    assert gif.format == "GIF" and gif.n_frames == 10  # 6 frames, back and forth
    assert "z1 - z2 + z3" in captions
    at.radio(key="int.method").set_value("lerp").run()
    assert any(c.startswith("6 frames, lerp") for im in at.get("image") for c in [i.caption for i in im.proto.imgs])
    dl = [d.proto.label for d in at.get("download_button")]
    assert "Download GIF" in dl and "Download frames (PNG)" in dl
    # issue 23 item 23: it opens on seeds whose faces differ (studio.distinct_seeds, not 0 and 1), and loops
    # through several seeds
    pair = (at.number_input(key="int.seed_a").value, at.number_input(key="int.seed_b").value)
    assert pair != (0, 1) and pair[0] != pair[1]
    loop = next(i for im in at.get("image") for i in im.proto.imgs if i.caption.startswith("32 frames through seeds"))
    assert Image.open(io.BytesIO(_bytes(media, loop.url))).n_frames == 32     # 4 seeds, 8 frames a leg


# ---- compare ----------------------------------------------------------------------------------------------
def test_compare_overlays_runs(env, shared):
    import shutil

    for r in ("r_ns", "r_lsgan"):
        shutil.copytree(shared["runs"] / r, env["runs"] / r)
    at = page("compare")
    assert set(at.multiselect(key="cmp.runs").value) == {"r_ns", "r_lsgan"}
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # D loss and G loss, one line per run
    import json

    fig = json.loads(charts[0].proto.spec)
    assert {t["name"] for t in fig["data"]} == {"r_ns", "r_lsgan"}
    assert len([im for im in at.get("image")]) == 2  # final grids
    diff = at.dataframe[-1].value
    assert "loss.name" in list(diff["field"])


# ---- checkpoints ------------------------------------------------------------------------------------------
def test_checkpoints_list_upload_refuse_and_delete(env, shared):
    at = page("checkpoints")
    table = at.dataframe[0].value
    assert list(table["file"]) == ["tiny_acgan.safetensors"] and list(table["arch"]) == ["acgan"]
    assert at.get("download_button")[0].proto.label == "Download tiny_acgan.safetensors"
    # a bad upload is refused with a message and never written
    at.file_uploader(key="ck.upload").set_value(("evil.pt", b"not a checkpoint at all", "application/octet-stream"))
    at.run()
    assert at.error and "refused" in at.error[0].value
    assert not (env["checkpoints"] / "evil.pt").exists()
    # a pickle with code is refused too (weights_only)
    buf = io.BytesIO()
    torch.save({"f": print}, buf)
    at.file_uploader(key="ck.upload").set_value(("code.pt", buf.getvalue(), "application/octet-stream")).run()
    assert at.error and "refused" in at.error[0].value
    assert not (env["checkpoints"] / "code.pt").exists()
    # a real training checkpoint is accepted and listed
    at.file_uploader(key="ck.upload").set_value(("my run.pt", shared["last"].read_bytes(),
                                                 "application/octet-stream")).run()
    assert not at.error
    assert (env["checkpoints"] / "my_run.pt").exists()
    assert any("Saved my_run.pt" in s.value for s in at.success)
    assert "my_run.pt" in list(at.dataframe[0].value["file"])
    table = at.dataframe[0].value
    assert dict(zip(table["file"], table["from"])) == {"my_run.pt": "yours",
                                                       "tiny_acgan.safetensors": "shipped (read-only)"}
    # a shipped file is read-only: no delete button, for anybody
    at.selectbox(key="ck.pick").set_value("tiny_acgan.safetensors").run()
    assert "ck.delete" not in [b.key for b in at.button] and "read-only" in _texts(at)
    # another visitor cannot delete my upload; I can
    other = page("checkpoints")
    other.selectbox(key="ck.pick").set_value("my_run.pt").run()
    assert "ck.delete" not in [b.key for b in other.button] and "another visitor" in _texts(other)
    at.selectbox(key="ck.pick").set_value("my_run.pt").run()
    at.button(key="ck.delete").click().run()
    assert not (env["checkpoints"] / "my_run.pt").exists()
    assert any("Deleted my_run.pt" in s.value for s in at.success)
    assert (env["checkpoints"] / "tiny_acgan.safetensors").exists()


def test_checkpoints_export_a_trained_run(env, shared):
    import shutil

    shutil.copytree(shared["runs"] / "r_ns", env["runs"] / "r_ns")
    at = page("checkpoints")
    at.selectbox(key="ck.export_run").set_value("r_ns").run()
    at.button(key="ck.export").click().run()
    assert (env["checkpoints"] / "r_ns.safetensors").exists()
    assert any("Exported r_ns.safetensors" in s.value for s in at.success)


def test_admin_token_stops_any_run(env, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_ADMIN_TOKEN", "teacher-secret-123")
    alice = page("train")
    _tiny_form(alice, steps=100_000, cache=env["cache"])
    alice.button(key="btn_start").click().run()
    job = get_manager().active_job()
    assert job is not None and _wait(lambda: job.snapshot().step >= 1)
    teacher = page("train")  # every page has the sidebar's admin box
    assert teacher.button(key="btn_stop").disabled
    teacher.text_input(key="admin_token_input").input("wrong").run()
    teacher.button(key="admin_login").click().run()
    assert any("Wrong admin token" in e.value for e in teacher.error)
    assert teacher.button(key="btn_stop").disabled
    teacher.text_input(key="admin_token_input").input("teacher-secret-123").run()
    teacher.button(key="admin_login").click().run()
    assert teacher.session_state["_is_admin"]
    assert not teacher.button(key="btn_stop").disabled
    teacher.button(key="btn_stop").click().run()
    assert job.wait(60) and job.snapshot().status == "stopped"


def test_train_form_states_what_the_time_preset_gives_here(env):
    """Issue 22: before Start, the plan of the chosen time preset (here not measured: the speed probe is off
    in tests) names the steps it needs."""
    at = page("train")
    text = " ".join(m.value for m in at.markdown)
    assert "**1min on this machine: not measured.**" in text and "needs about 1,400 steps" in text, text[-800:]

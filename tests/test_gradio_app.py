"""The Gradio front end without a server: both fronts list the same losses, architectures and presets
(they read the registries), the Train form is generated from the config metadata and turns into the
same RunConfig as the core's defaults, and the view helpers of gan_core.studio.views."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("gradio")

from gan_core import studio  # noqa: E402
from gan_core.config import RunConfig, all_fields  # noqa: E402
from gan_core.losses import LOSSES  # noqa: E402
from gan_core.models import ARCHITECTURES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = tmp_path_factory.mktemp("gradio_app")
    mp = pytest.MonkeyPatch()
    ck = base / "checkpoints"
    ck.mkdir()
    shutil.copy(REPO / "checkpoints" / "faces.safetensors", ck / "faces.safetensors")
    mp.setenv("GAN_STUDIO_RUNS", str(base / "runs"))
    mp.setenv("GAN_STUDIO_CHECKPOINTS", str(ck))
    mp.setenv("GAN_STUDIO_METRICS", "0")
    mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio_app

    demo = gradio_app.build_demo()
    yield gradio_app, demo
    mp.undo()


def _dropdown_values(demo, label: str) -> list:
    import gradio as gr

    found = [b for b in demo.blocks.values() if isinstance(b, gr.Dropdown) and b.label == label]
    assert found, f"no dropdown labelled {label!r}"
    return [v for _, v in found[0].choices]


def test_both_fronts_list_the_registries(app):
    _, demo = app
    loss_label = studio.field_spec("loss.name").label
    arch_label = studio.field_spec("model.arch").label
    assert _dropdown_values(demo, loss_label) == list(LOSSES)
    assert _dropdown_values(demo, arch_label) == list(ARCHITECTURES)
    assert _dropdown_values(demo, "Preset") == list(studio.PRESETS)
    # the Streamlit Train page's selectboxes (AppTest) offer the same keys
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "apps" / "streamlit" / "views" / "train.py"), default_timeout=120).run()
    assert not at.exception
    assert list(at.selectbox(key="tr.loss.name").options) == list(LOSSES)
    assert list(at.selectbox(key="tr.model.arch").options) == list(ARCHITECTURES)
    assert list(at.selectbox(key="tr._preset").options) == [p.title for p in studio.PRESETS.values()]


def test_the_form_has_a_widget_per_config_field_and_builds_the_default_config(app):
    _, demo = app
    from apps.gradio import train
    keys = [k for k, _ in all_fields() if k not in studio.SERVER_ONLY]
    assert train.KEYS == keys
    init = studio.initial_form_values(studio.DEFAULT_PRESET)
    values = [init[k] for k in keys]
    cfg = train.form_config(values)
    assert cfg == studio.config_from_flat({k: init[k] for k in keys})
    assert isinstance(cfg, RunConfig)
    # what the form shows follows form_fields for the chosen dataset / arch / loss
    flat = dict(zip(keys, values), **{"data.dataset": "toy2d", "model.arch": "mlp", "loss.name": "wgan-gp"})
    ups = train.form_view(*[flat[k] for k in keys])
    shown = {k for k, u in zip(keys, ups) if u["visible"]}
    assert shown == {s.key for s in studio.form_fields("toy2d", "mlp", "wgan-gp")}
    assert "loss.gp_lambda" in shown and "model.g_width" not in shown
    # a bad value names the field
    bad = dict(zip(keys, values), **{"train.batch_size": 0})
    assert "train.batch_size" in train.check_text(*[bad[k] for k in keys])


def test_generator_lookup_tags_and_captions(app, tmp_path):
    entries = studio.list_generators()
    assert studio.find_generator("").name == "faces.safetensors"
    assert studio.find_generator("faces").name == "faces.safetensors"
    with pytest.raises(ValueError, match="no checkpoint called"):
        studio.find_generator("../checkpoints/faces.safetensors", entries)
    G, cfg, spec = studio.load_generator_cached(studio.find_generator("faces").path)
    assert studio.load_generator_cached(studio.find_generator("faces").path)[0] is G  # cached
    groups = studio.label_groups(cfg, spec)
    hair = dict(groups)["hair"].index("blue")
    eye = dict(groups)["eye"].index("red")
    assert studio.parse_tag_text(groups, "blue hair, red eyes") == [hair, eye]
    assert studio.parse_tag_text(groups, "blue hair") == [hair, None]
    assert studio.parse_tag_text(groups, "") == [None, None]
    assert studio.tags_caption(groups, [hair, None]) == "blue hair, random eye"
    with pytest.raises(ValueError, match="unconditional"):
        studio.parse_tag_text([], "blue hair")
    assert "tags: hair, eye" in studio.generator_caption(cfg, spec)


def test_admin_token_check(monkeypatch):
    monkeypatch.delenv("GAN_STUDIO_ADMIN_TOKEN", raising=False)
    assert not studio.check_admin_token("anything") and not studio.admin_token_configured()
    monkeypatch.setenv("GAN_STUDIO_ADMIN_TOKEN", "s3cret-teacher")
    assert studio.check_admin_token(" s3cret-teacher ") and not studio.check_admin_token("s3cret")
    assert not studio.check_admin_token("")


def test_owner_secret_comes_from_the_browser_or_the_connection(app):
    from apps.gradio import common  # after the app fixture set the folders
    tok = common.init_owner(None)
    assert common.TOKEN_RE.match(tok) and common.init_owner(tok) == tok
    assert common.owner_of(tok) == tok

    class Req:
        session_hash = "abc"

    a, b = common.owner_of("bad token!", Req()), common.owner_of(None, Req())
    assert a == b and a.startswith("session-") and "abc" not in a


@pytest.fixture
def shipped_pix2pix(monkeypatch, tmp_path):
    """A checkpoints folder holding only the shipped pix2pix generator (and an empty runs folder)."""
    ck = tmp_path / "checkpoints"
    ck.mkdir()
    shutil.copy(REPO / "checkpoints" / "faces_pix2pix.safetensors", ck / "faces_pix2pix.safetensors")
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(ck))
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    return ck


def test_sketch_tab_draws_a_face_from_the_pad_and_follows_new_lines(shipped_pix2pix):
    import numpy as np

    from apps.gradio import sketch
    from gan_core.img2img import translate

    choices, default = sketch.translator_choices()
    assert default == "faces_pix2pix.safetensors" and len(choices) == 1
    pad, picture, edges, start = sketch.sketch_start(default, 3)
    size = sketch.SKETCH_PX
    assert pad["background"].shape == (size, size, 3) and picture.shape == edges.shape == (size, size, 3)
    assert picture.std() > 10   # a picture, not a flat colour
    # the pad and what G sees are dark lines on light paper, as G was trained (not inverted)
    assert pad["background"].mean() > 160 and edges.mean() > 160
    face, _ = translate.random_face_edges(3, 32)
    true = translate.enlarge(face, size // 32).astype(int)
    assert np.abs(picture.astype(int) - true).mean() < np.abs(true - true.mean((0, 1))).mean()  # nearer than a flat face
    # draw a thick dark bar across the pad: the picture changes where G sees new edges
    strokes = np.zeros((size, size, 4), np.uint8)
    strokes[120:136, 20:236] = (0, 0, 0, 255)

    composite = np.dstack([translate.compose_drawing(pad["background"], strokes), np.full((size, size), 255, np.uint8)])
    picture2, edges2 = sketch.sketch_draw(default, {"composite": composite}, 3)
    assert (edges2 != edges).any() and np.abs(picture2.astype(int) - picture.astype(int)).mean() > 1
    assert sketch.sketch_draw(default, {"composite": None}, 3) == (None, None)
    # with the start state, the pad's stroke layer goes over the start lines: the same picture as the composite
    picture3, edges3 = sketch.sketch_draw(default, {"composite": composite, "layers": [strokes]}, 3, start)
    assert np.array_equal(picture3, picture2) and np.array_equal(edges3, edges2)


def test_sketch_tab_colour_dabs(shipped_pix2pix):
    """The shipped generator takes colour hints: the pad can start with dabs of the face's true colours, and a
    coloured stroke on the pad is a dab that pulls that region towards its colour."""
    import numpy as np

    from apps.gradio import sketch
    from gan_core.img2img import translate

    _, default = sketch.translator_choices()
    colourful = lambda a: (a[..., :3].max(2).astype(int) - a[..., :3].min(2)).max()   # noqa: E731
    pad0, pic0, seen0, start0 = sketch.sketch_start(default, 3, 0)
    pad8, pic8, seen8, start8 = sketch.sketch_start(default, 3, 8)
    assert start0["hints"] is None and start8["hints"].shape == (256, 256, 4)
    assert colourful(seen0) == 0 and colourful(seen8) > 24 and colourful(pad8["background"]) > 24
    face, _ = translate.random_face_edges(3, 32)
    true = translate.enlarge(face, 8).astype(int)
    assert np.abs(pic8.astype(int) - true).mean() < np.abs(pic0.astype(int) - true).mean()   # the true dabs help
    blue = np.array((30, 70, 225))
    layer = np.zeros((256, 256, 4), np.uint8)
    layer[4:28, 4:28] = (30, 70, 225, 255)                     # a blue dab in the background's corner
    pic1, seen1 = sketch.sketch_draw(default, {"composite": pad0["composite"], "layers": [layer]}, 3, start0)
    assert tuple(seen1[12, 12]) == (30, 70, 225)
    corner = (slice(0, 40), slice(0, 40))
    assert np.abs(pic1[corner].astype(int) - blue).mean() < np.abs(pic0[corner].astype(int) - blue).mean() - 20
    # the pad's layers: the second one over the first
    two = translate.merge_layers([layer, np.zeros_like(layer)])
    assert np.array_equal(two, layer) and translate.merge_layers([]) is None
    top = np.zeros_like(layer)
    top[10:20, 10:20] = (255, 255, 255, 255)
    assert tuple(translate.merge_layers([layer, top])[15, 15]) == (255, 255, 255, 255)
    # the brush: the black pen, the white eraser, then dab colours
    assert sketch.SKETCH_COLOURS[:2] == ["#000000", "#ffffff"] and len(sketch.SKETCH_COLOURS) > 4


def test_sketch_tab_upload_reads_a_photo_as_a_photo(app, shipped_pix2pix):
    """Issue 23 items 5-6 on Gradio: the Sketch tab takes an upload with Streamlit's "It is a photo" box; a
    photo-like upload is read as a photo even unticked, and says so; a photo's edges are found at 4x the
    generator's size and thinned (gan_core's upload_drawing, as on Streamlit); a drawing goes onto the pad."""
    import gradio as gr
    import numpy as np
    from PIL import Image

    from apps.gradio import sketch
    from gan_core.img2img import translate

    _, demo = app
    blocks = demo.blocks.values()
    assert any(isinstance(b, gr.Image) and b.elem_id == "sketch-upload" and b.interactive is not False for b in blocks)
    assert any(isinstance(b, gr.Checkbox) and b.label == studio.SKETCH_PHOTO_LABEL for b in blocks)
    _, default = sketch.translator_choices()
    rng = np.random.default_rng(0)
    photo = np.zeros((64, 64, 3))
    photo[16:48, 16:48] = (250, 200, 30)
    photo = Image.fromarray((photo + rng.normal(0, 25, photo.shape) + np.linspace(0, 60, 64)[:, None, None])
                            .clip(0, 255).astype(np.uint8))
    pad, picture, seen, start, note = sketch.sketch_upload(default, photo, False, 3)
    assert "looks like a photo" in note and "Read as a photo" in note and "thinned" in note
    edges = translate.enlarge(translate.edges_of_photo(photo, 32), 8)        # at 4x the size, thinned
    assert np.array_equal(pad["background"], edges) and np.array_equal(start["lines"], edges)
    assert set(np.unique(seen)) <= {0, 255} and (seen == 0).any()          # lines only: no colour dabs
    assert picture.shape == (sketch.SKETCH_PX, sketch.SKETCH_PX, 3)
    # ticked: the same edges, without the "looks like a photo" note
    pad2, picture2, _, _, note2 = sketch.sketch_upload(default, photo, True, 3)
    assert np.array_equal(pad2["background"], edges) and np.array_equal(picture2, picture)
    assert "Read as a photo" in note2 and "looks like a photo" not in note2
    # a drawing (one dark stroke on white) is fitted to the pad and read as lines
    drawing = np.full((64, 64, 3), 255, np.uint8)
    drawing[20:44, 30:34] = 0
    pad3, picture3, seen3, _, note3 = sketch.sketch_upload(default, Image.fromarray(drawing), False, 3)
    assert "edge drawing" in note3 and pad3["background"].shape == (sketch.SKETCH_PX, sketch.SKETCH_PX, 3)
    assert (seen3[80:176, 120:136] == 0).all() and (seen3[:, :64] == 255).all()
    assert np.abs(picture3.astype(int) - picture.astype(int)).mean() > 1
    # the upload cleared: nothing changes
    assert sketch.sketch_upload(default, None, False, 3)[-1] == ""


TINY_VGG = (4, 4, "M", 8, 8, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M")   # VGG19's layout, narrow


def test_sketch_tab_tag_pickers_steer_the_picture(monkeypatch, tmp_path):
    """The shipped tag generator (faces_pix2pix_tags.safetensors) takes the tags: the tab shows Generate's hair and eye pickers (with random) and the
    picture follows them; random picks are drawn from the seed, so they repeat."""
    import numpy as np

    from apps.gradio import sketch
    from apps.gradio.common import RANDOM

    ck = tmp_path / "checkpoints"
    ck.mkdir()
    shutil.copy(REPO / "checkpoints" / "faces_pix2pix_tags.safetensors", ck / "faces_pix2pix_tags.safetensors")
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(ck))
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    _, default = sketch.translator_choices()
    hair, eye = sketch.sketch_tags(default)[:2]
    assert hair["visible"] and eye["visible"] and hair["value"] == RANDOM
    assert ("random hair", RANDOM) in hair["choices"] and ("blue", 8) in hair["choices"]
    pad, blue, _, start = sketch.sketch_start(default, 3, 0, 8, 9)           # blue hair, red eyes
    blonde, _ = sketch.sketch_draw(default, pad, 3, start, 11, 9)
    bluish = lambda a: (a[..., 2].astype(int) - a[..., 0]).mean()             # noqa: E731
    assert bluish(blue) > bluish(blonde) + 10, (bluish(blue), bluish(blonde))
    r1, _ = sketch.sketch_draw(default, pad, 3, start, RANDOM, 9)
    r2, _ = sketch.sketch_draw(default, pad, 3, start, RANDOM, 9)
    assert np.array_equal(r1, r2)


def test_style_tab_says_exactly_why_without_weights(monkeypatch):
    import gradio as gr

    from apps.gradio import style
    from gan_core.img2img import style as S

    content, style_img = style.style_example()
    assert content.shape == style_img.shape and content.dtype.name == "uint8"
    from gan_core import studio

    monkeypatch.delenv(S.ENV_VAR, raising=False)                      # no local file: torchvision's download
    monkeypatch.setenv("TORCH_HOME", "/nonexistent-torch-home")
    monkeypatch.setattr(studio, "VGG", studio.VggLoader())
    assert "will try to download" in style.style_notice()             # said before the button is pressed
    calls = []

    def offline(*a, **k):
        calls.append(1)
        raise S.WeightsUnavailable(S.offline_message("URLError: <urlopen error [Errno -2] Name or service not known>"))

    monkeypatch.setattr(S, "load_vgg19", offline)
    with pytest.raises(gr.Error) as err:
        list(style.style_run(content, style_img, 10, 64, 1.0, 1000.0, "adam"))
    # the whole reason, escaped: "<urlopen error ...>" is not swallowed as an HTML tag, the fix follows it (#23.8)
    assert "&lt;urlopen error [Errno -2] Name or service not known&gt;" in err.value.message
    assert "GAN_STUDIO_VGG19=" in err.value.message and "<urlopen" not in err.value.message
    notice = style.style_notice()                                      # and the tab says it from now on
    assert notice.startswith("**Style transfer cannot run here:**") and "&lt;urlopen error" in notice
    with pytest.raises(gr.Error):
        list(style.style_run(content, style_img, 10, 64, 1.0, 1000.0, "adam"))
    assert len(calls) == 1                                             # no second failing download per click
    # with a network (a small VGG-shaped one stands in for VGG19) it streams previews, then the result
    import torch

    torch.manual_seed(0)
    net = S.make_vgg_features(TINY_VGG)
    monkeypatch.setattr(S, "load_vgg19", lambda *a, **k: net)
    monkeypatch.setattr(studio, "VGG", studio.VggLoader())
    out = list(style.style_run(content, style_img, 10, 64, 1.0, 1000.0, "adam"))
    assert out[-1][1].startswith("done: 10 steps") and out[-1][0].shape[-1] == 3 and len(out) >= 2
    assert style.style_notice() == ""                                  # weights at hand: nothing to warn of



def test_train_tab_continues_a_finished_run_from_its_checkpoint(app, tiny_cfg, tmp_path, monkeypatch):
    """"Continue this run" (both fronts: studio.continue_run): more steps in the same folder, from last.pt,
    offered only to the run's owner once it has ended with a checkpoint."""
    from gan_core.jobs.manager import JobManager

    from apps.gradio import common, train  # after the app fixture set the folders
    mgr = JobManager(runs_dir=tmp_path, mode="thread")
    monkeypatch.setattr(common, "mgr", mgr)
    me, other = common.init_owner(None), common.init_owner(None)
    msgs = list(train.continue_run(me, 5))        # nothing to continue yet
    assert "Not started" in msgs[-1]
    job = mgr.start(tiny_cfg(steps=3), me)
    assert job.wait(60)
    snap = job.snapshot()
    assert studio.can_continue(snap, True) and not studio.can_continue(snap, False)
    panel = train.live_panel(me, False, None)
    # the outputs end with the continue box, the "Watch a run" list and "Back to my run"
    assert panel[-3]["visible"] is True and train.live_panel(other, False, None)[-3]["visible"] is False
    msgs = [m for m in train.continue_run(me, 4) if isinstance(m, str)]
    assert "ended: done at step 7" in msgs[-1], msgs
    again = mgr.latest(owner=me).snapshot()
    assert again.run_dir == snap.run_dir and again.step == 7
    assert [h["step"] for h in again.history] == list(range(1, 8))   # the curves show the whole run
    rows = [r["step"] for r in map(__import__("json").loads, (Path(snap.run_dir) / "metrics.jsonl").open())]
    assert rows == list(range(1, 8))
    assert "Not started" in list(train.continue_run(other, 4))[-1]   # another visitor's run


def test_lab_drawing_pad_clicks_become_points(app):
    from apps.gradio import lab2d as lab_tab  # after the app fixture set the folders
    from gan_core import lab2d

    extent = lab2d.LabConfig().extent
    last = lab_tab.PAD_PX - 1
    assert lab_tab.pad_point((0, 0), extent) == (-extent, extent)          # top left
    assert lab_tab.pad_point((last, last), extent) == (extent, -extent)    # bottom right
    assert lab_tab.pad_point((last / 2, last / 2), extent) == (0.0, 0.0)

    class Click:
        index = (last * 0.75, last * 0.25)

    img, drawn, note = lab_tab.lab_pad_click(None, "8gaussians", [], Click())
    assert drawn == [[extent / 2, extent / 2]] and note == "1 point(s) drawn."
    # the point is drawn where it was clicked (orange), the rest of the pad is not
    x, y = int(last * 0.75), int(last * 0.25)
    assert tuple(img[y, x]) == (230, 110, 20) and tuple(img[last - y, last - x]) != (230, 110, 20)
    img, drawn, _ = lab_tab.lab_pad_click(None, "8gaussians", drawn, Click())   # the same point once
    assert len(drawn) == 1
    cfg = lab_tab.lab_config("custom", lab_tab.lab_values(lab2d.LabConfig()), drawn)
    assert cfg.drawn == ((extent / 2, extent / 2),)
    assert lab_tab.lab_pad_clear()[1] == []


def test_train_tab_previews_a_hugging_face_dataset(app, tmp_path):
    datasets = pytest.importorskip("datasets")
    import numpy as np
    from PIL import Image

    from apps.gradio import train  # after the app fixture set the folders
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    rows = {"img": [Image.new("RGB", (20, 20), colours[i % 3]) for i in range(6)], "label": [i % 3 for i in range(6)]}
    feats = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=["red", "green", "blue"])})
    datasets.Dataset.from_dict(rows, features=feats).save_to_disk(str(tmp_path / "ds"))
    init = studio.initial_form_values(studio.DEFAULT_PRESET)
    flat = {k: init[k] for k in train.KEYS}
    flat.update({"data.dataset": "hf", "data.path": str(tmp_path / "ds"), "data.hf_label_columns": "label"})
    text, images, table = train.hf_preview(*[flat[k] for k in train.KEYS])
    assert "split `train`" in text and "6 rows" in text and "Tag group **label** (3 classes): red, green, blue" in text
    assert len(images) == 6 and images[1][1] == "green"
    assert np.asarray(images[0][0])[10, 10].tolist() == [200, 30, 30]   # the rows' own pictures, in order
    assert table["visible"] and table["value"]["headers"] == ["column", "type", "details", "use"]
    flat["data.hf_label_columns"] = "hair"
    text, images, _ = train.hf_preview(*[flat[k] for k in train.KEYS])
    assert text.startswith("**Preview failed:**") and "hair" in text and images is None
    flat["data.path"] = ""
    assert "Give a Hugging Face dataset name" in train.hf_preview(*[flat[k] for k in train.KEYS])[0]


def test_train_tab_plan_busy_note_and_nothing_sent_while_nothing_changed(app, tiny_cfg, tmp_path, monkeypatch):
    """Issue 22: the preset's plan before Start, a short run's "machine was busy" note, the form collapsed
    for a visitor who only watches, and a tick that finds nothing new sends nothing."""
    import gradio as gr

    from gan_core.train import trainer as trainer_mod
    from gan_core.jobs.manager import JobManager

    from apps.gradio import common, train
    mgr = JobManager(runs_dir=tmp_path, mode="thread")
    monkeypatch.setattr(common, "mgr", mgr)
    me, other = common.init_owner(None), common.init_owner(None)
    note = train.preset_note("1min", "faces")
    assert studio.PRESETS["1min"].description in note and "needs about 1,400 steps" in note
    assert train.form_open(other)["open"] is True   # nothing trains: the form is open
    monkeypatch.setattr(trainer_mod, "steps_needed", lambda cfg: 10_000)
    job = mgr.start(tiny_cfg(steps=0, train={"seconds": 3.0, "amp": False, "channels_last": False}), me)
    from waiting import wait_until

    # while a run trains, a visitor who only watches it gets the form collapsed
    assert wait_until(lambda: train.form_open(other)["open"] is False, 60)
    assert job.wait(60)
    panel = train.live_panel(me, False, None)   # the owner's page keeps their ended run (issue 22)
    assert "The machine was busy" in panel[1] and "expect noise" in panel[1]   # the run head: title, progress, stats
    # the grid is a plain file path and its caption its own Markdown (no per-session component rebuild), and the
    # charts' JSON is made once for the run's history and handed to every page as the same object
    assert isinstance(panel[7], str) and panel[7].endswith(".png") and panel[8].startswith("Fixed-noise samples at step")
    second_tab = train.live_panel(me, False, None)
    assert second_tab[2] is panel[2] and type(panel[2]).__name__ == "PlotData" and '"data"' in panel[2].plot
    # nothing changed: the plain text is resent as it is (cheaper for Gradio than a gr.skip()), nothing else
    again = train.live_panel(me, False, panel[0])
    assert [again[i] for i in train.TEXT] == [panel[i] for i in train.TEXT]
    assert [v for i, v in enumerate(again) if i not in train.TEXT] == [gr.skip()] * (train.N_LIVE_OUTPUTS - len(train.TEXT))
    assert all(isinstance(again[i], (str, dict)) and not (isinstance(again[i], dict) and "__type__" in again[i])
               for i in train.TEXT)
    # the 1 s tick, the 2 s tick and the "More curves" tick each send their own outputs (with their own state):
    # together every one once
    assert sorted(train.FAST[1:] + train.SLOW[1:] + train.MORE[1:]) == list(range(1, train.N_LIVE_OUTPUTS))
    fast = train._part(train.FAST)(me, False, None)
    assert len(fast) == len(train.FAST) and fast[1] == panel[1] and "<progress" in fast[1]
    assert 'id="run-title"' in fast[1] and 'id="stats"' in fast[1] and "yours" in fast[1]
    # the 2 s outputs are resent only when what they show changed: its key leaves out the step and the curves
    key = train.panel_and_slow_key(me, False, None)[1]
    assert key == train.panel_and_slow_key(me, False, None)[1] and key["status"] == "done" and key["mine"] is True
    assert key["cont"] is True and train.panel_and_slow_key(other, False, None)[1]["mine"] is False


def test_api_docs_show_plain_text_and_one_spelling_of_stylize(app):
    """#23 item 11: the API page shows each endpoint's docstring as it is: no reStructuredText ``literals``;
    and the studio says "Stylize" (as the CLI's ``stylize``), never "Stylise"."""
    import json

    _, demo = app
    info = demo.get_api_info()
    descriptions = [e.get("description", "") for e in info["named_endpoints"].values()]
    assert any("PNG grid" in d for d in descriptions)
    assert not any("``" in d for d in descriptions), [d for d in descriptions if "``" in d]
    assert "``" not in json.dumps(info["named_endpoints"])
    fronts = [p for d in ("apps", "gan_core", "docs") for p in (REPO / d).rglob("*") if p.suffix in (".py", ".md")]
    assert not [str(p) for p in fronts + [REPO / "README.md"] if "stylis" in p.read_text().lower()]


def test_live_panel_queue_table_says_the_line_in_its_label(tiny_cfg, tmp_path, monkeypatch):
    """The queue header rides on the queue table's label (one live output, not two), and the slow key changes when
    a run joins the line, so the slow outputs (the table among them) are resent."""
    from gan_core.jobs.manager import JobManager
    from apps.gradio import common, train
    mgr = JobManager(runs_dir=tmp_path, mode="thread", max_concurrent=1)
    monkeypatch.setattr(common, "mgr", mgr)
    me, other = common.init_owner(None), common.init_owner(None)
    first = mgr.start(tiny_cfg(steps=100000), me)
    before = train.panel_and_slow_key(other, False, None)[1]
    second = mgr.start(tiny_cfg(steps=3), other)
    try:
        after = train.panel_and_slow_key(other, False, None)[1]
        assert after != before and after["queue"] == [second.id]
        table = train.live_panel(other, False, None)[15]   # the queue table (a SLOW output)
        assert 15 in train.SLOW and table["visible"] is True
        assert "1 waiting" in table["label"] and "**" not in table["label"] and "yours" in str(table["value"])
    finally:
        first.stop(me)
        assert first.wait(60) and second.wait(60)


def test_a_page_without_a_run_is_sent_once_and_gradio_summarises_its_queue_rarely(tmp_path, monkeypatch):
    """A visitor with no run: the first tick fills the panel, later ticks only its text until the runs or the queue
    change. The Gradio server asks its queue for an analytics summary once per 500 events, not after each one
    (a pandas frame of up to 10,000 events) and looks for work every 10 ms, not every 1 ms, while idle."""
    import gradio as gr
    from gan_core.jobs.manager import JobManager
    from apps.gradio import app as gapp, common, train
    mgr = JobManager(runs_dir=tmp_path / "runs", mode="thread", max_concurrent=1)
    monkeypatch.setattr(common, "mgr", mgr)
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    me = common.init_owner(None)
    first = train.live_panel(me, False, None)
    assert "No run yet" in first[1] and first[0]["none"] == studio.no_run_message()
    assert first[2] is None and first[7] is None   # no curves, no grid
    again = train.live_panel(me, False, first[0])   # nothing changed: the text as it is, nothing else
    assert [again[i] for i in train.TEXT] == [first[i] for i in train.TEXT]
    assert [v for i, v in enumerate(again) if i not in train.TEXT] == [gr.skip()] * (train.N_LIVE_OUTPUTS - len(train.TEXT))
    for k in gapp.QUEUE_ANALYTICS:
        monkeypatch.delenv(k, raising=False)
    with gr.Blocks() as demo:
        gr.Markdown("x")
    q = gapp.light_queue(demo, default_concurrency_limit=1)._queue
    assert q.ANAYLTICS_CACHE_FREQUENCY == 500 and q.ANALYTICS_MAX_EVENTS == 2000
    assert q.sleep_when_free == gapp.QUEUE_IDLE_POLL_S   # Gradio's own loop reads this attribute (queueing.py)
    monkeypatch.setenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", "7")   # an operator's own value wins
    with gr.Blocks() as demo2:
        gr.Markdown("y")
    assert gapp.light_queue(demo2)._queue.ANAYLTICS_CACHE_FREQUENCY == 7


def test_lab_tick_never_shows_running_with_its_timer_off(app, monkeypatch):
    """A Stop that lands while a 2D-lab tick reads the lab: the tick may show "stopped" with the timer on for
    one more tick, never "running" with the timer off (the page then stayed on "running": seen in a browser test)."""
    from apps.gradio import lab2d as lab_tab
    from gan_core import lab2d
    from waiting import wait_until

    owner = "lab-race-owner"
    real = lab2d.get_lab_manager().start(owner, lab2d.LabConfig())
    try:
        assert wait_until(lambda: real.frame() is not None and real.frame().step > 0, 60)

        class StopAfterFirstLook:   # the Stop lands right after the tick's first look at the lab
            looked = False

            def _look(self, name):
                value = getattr(real, name)
                if not self.looked:
                    self.looked = True
                    real.stop()
                    assert wait_until(lambda: not real.active, 30)
                return value

            active = property(lambda self: self._look("active"))
            status = property(lambda self: self._look("status"))

            def __getattr__(self, name):
                return getattr(real, name)

        monkeypatch.setattr(lab_tab, "_my_lab", lambda owner_v, request: StopAfterFirstLook())
        out = lab_tab.lab_tick(owner, False)
        # the Stop came after "active" was read: this tick already says "stopped" and keeps the timer on once more
        assert out[-1].active is True and "stopped" in out[0] and "running" not in out[0], out[0][:200]
    finally:
        real.stop()


def test_the_train_tick_skips_the_queue_and_its_slow_part_follows_a_component_not_a_state(app, monkeypatch):
    """The Train tab's tick is one POST a second per page, outside Gradio's queue (issue 22: 7-10 against 10-13 ms
    of server CPU a tick). A browser runs a gr.State's change event only after a queued event, so the slow
    outputs (steering, buttons, the form folding away) must follow a component's change: with a State they never
    came (seen in the browser test). The class bench reads the same config the way a browser does."""
    _, demo = app
    config = demo.get_config_file()
    comps = {c["id"]: c for c in config["components"]}
    head = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "run-head")
    pause = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "pause")
    ticks = [d for d in config["dependencies"] if head in d["outputs"]
             and any(comps.get(t, {}).get("type") == "timer" and e == "tick" for t, e in d["targets"])]
    assert len(ticks) == 1 and ticks[0]["queue"] is False
    follows = [d for d in config["dependencies"] if pause in d["outputs"]
               and any(e == "change" and t in ticks[0]["outputs"] for t, e in d["targets"])]
    assert follows and all(comps[t]["type"] != "state" for d in follows for t, e in d["targets"] if e == "change")
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_class

    found = bench_class.gr_ticks(config)
    assert [(ev[0], ev[3]) for ev, _, _ in found][:1] == [(ticks[0]["id"], False)]
    (then, k), = found[0][2].values()
    assert then[0] == follows[0]["id"] and ticks[0]["outputs"][k] in {t for t, e in follows[0]["targets"]}
    from apps.gradio.common import POLL_S

    assert found[0][1] == POLL_S

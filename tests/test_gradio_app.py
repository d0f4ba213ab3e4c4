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
    gradio_app, demo = app
    loss_label = studio.field_spec("loss.name").label
    arch_label = studio.field_spec("model.arch").label
    assert _dropdown_values(demo, loss_label) == list(LOSSES)
    assert _dropdown_values(demo, arch_label) == list(ARCHITECTURES)
    assert _dropdown_values(demo, "Preset") == list(studio.PRESETS)
    # the Streamlit Train page's selectboxes (AppTest) offer the same keys
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "pages" / "train.py"), default_timeout=120).run()
    assert not at.exception
    assert list(at.selectbox(key="tr.loss.name").options) == list(LOSSES)
    assert list(at.selectbox(key="tr.model.arch").options) == list(ARCHITECTURES)
    assert list(at.selectbox(key="tr._preset").options) == [p.title for p in studio.PRESETS.values()]


def test_the_form_has_a_widget_per_config_field_and_builds_the_default_config(app):
    gradio_app, demo = app
    keys = [k for k, _ in all_fields() if k not in studio.SERVER_ONLY]
    assert gradio_app.KEYS == keys
    init = studio.initial_form_values(studio.DEFAULT_PRESET)
    values = [init[k] for k in keys]
    cfg = gradio_app.form_config(values)
    assert cfg == studio.config_from_flat({k: init[k] for k in keys})
    assert isinstance(cfg, RunConfig)
    # what the form shows follows form_fields for the chosen dataset / arch / loss
    flat = dict(zip(keys, values), **{"data.dataset": "toy2d", "model.arch": "mlp", "loss.name": "wgan-gp"})
    ups = gradio_app.form_view(*[flat[k] for k in keys])
    shown = {k for k, u in zip(keys, ups) if u["visible"]}
    assert shown == {s.key for s in studio.form_fields("toy2d", "mlp", "wgan-gp")}
    assert "loss.gp_lambda" in shown and "model.g_width" not in shown
    # a bad value names the field
    bad = dict(zip(keys, values), **{"train.batch_size": 0})
    assert "train.batch_size" in gradio_app.check_text(*[bad[k] for k in keys])


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
    gradio_app, _ = app
    tok = gradio_app.init_owner(None)
    assert gradio_app.TOKEN_RE.match(tok) and gradio_app.init_owner(tok) == tok
    assert gradio_app.owner_of(tok) == tok

    class Req:
        session_hash = "abc"

    a, b = gradio_app.owner_of("bad token!", Req()), gradio_app.owner_of(None, Req())
    assert a == b and a.startswith("session-") and "abc" not in a


def test_sketch_tab_draws_a_face_from_the_pad_and_follows_new_lines(monkeypatch, tmp_path):
    import numpy as np

    import gradio_app
    from gan_core import translate

    ck = tmp_path / "checkpoints"
    ck.mkdir()
    shutil.copy(REPO / "checkpoints" / "faces_pix2pix.safetensors", ck / "faces_pix2pix.safetensors")
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(ck))
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    choices, default = gradio_app.translator_choices()
    assert default == "faces_pix2pix.safetensors" and len(choices) == 1
    pad, picture, edges = gradio_app.sketch_start(default, 3)
    size = gradio_app.SKETCH_PX
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
    picture2, edges2 = gradio_app.sketch_draw(default, {"composite": composite}, 3)
    assert (edges2 != edges).any() and np.abs(picture2.astype(int) - picture.astype(int)).mean() > 1
    assert gradio_app.sketch_draw(default, {"composite": None}, 3) == (None, None)


TINY_VGG = (4, 4, "M", 8, 8, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M")   # VGG19's layout, narrow


def test_style_tab_says_exactly_why_without_weights(monkeypatch):
    import gradio as gr

    import gradio_app
    from gan_core import style as S

    content, style_img = gradio_app.style_example()
    assert content.shape == style_img.shape and content.dtype.name == "uint8"
    monkeypatch.setattr(gradio_app, "_VGG", {"error": "no VGG19 weights here: set GAN_STUDIO_VGG19"})
    with pytest.raises(gr.Error, match="GAN_STUDIO_VGG19"):
        list(gradio_app.style_run(content, style_img, 10, 64, 1.0, 1000.0, "adam"))
    # with a network (a small VGG-shaped one stands in for VGG19) it streams previews, then the result
    import torch

    torch.manual_seed(0)
    net = S.make_vgg_features(TINY_VGG)
    monkeypatch.setattr(gradio_app, "_VGG", {"net": net})
    out = list(gradio_app.style_run(content, style_img, 10, 64, 1.0, 1000.0, "adam"))
    assert out[-1][1].startswith("done: 10 steps") and out[-1][0].shape[-1] == 3 and len(out) >= 2


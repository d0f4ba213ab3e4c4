"""The Sketch page (apps/streamlit/views/sketch.py) under AppTest, and the generator lists that keep pix2pix generators
apart from those that draw from z (gan_core.studio.list_generators)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from gan_core import studio
from gan_core.storage.checkpoint import export_generator, load_checkpoint
from gan_core.config import RunConfig
from gan_core.train.trainer import Trainer

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """A tiny pix2pix export (16 px) and a tiny DCGAN export."""
    base = tmp_path_factory.mktemp("sketch")
    out = {}
    for arch, dataset in (("pix2pix", "faces-edges"), ("dcgan", "faces")):
        cfg = RunConfig().replace(
            data={"dataset": dataset, "image_size": 16, "num_samples": 64, "cache_dir": str(base / "cache")},
            model={"arch": arch, "z_dim": 8, "g_width": 8, "d_width": 8},
            train={"steps": 2, "batch_size": 8, "sample_every": 0, "checkpoint_every": 0, "device": "cpu",
                   "grid_size": 4})
        list(Trainer(cfg, base / arch).run())
        out[arch] = export_generator(load_checkpoint(base / arch / "last.pt"), base / f"tiny_{arch}.safetensors")
    return out


@pytest.fixture
def folders(exports, tmp_path, monkeypatch):
    ck, runs = tmp_path / "checkpoints", tmp_path / "runs"
    ck.mkdir()
    runs.mkdir()
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(ck))
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(runs))
    return ck


def _picture(at: AppTest, media: dict, caption: str) -> np.ndarray:
    img = next(i for i in at.image if any(caption in c for c in i.captions))
    url = img.proto.imgs[0].url
    return np.asarray(Image.open(io.BytesIO(media[url.rsplit("/", 1)[-1].split(".")[0]])))


def _sketch_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("apps/streamlit/views/sketch.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_generator_lists_keep_translators_apart(exports, folders, tmp_path):
    (folders / "a_pix2pix.safetensors").write_bytes(exports["pix2pix"].read_bytes())
    (folders / "b_dcgan.safetensors").write_bytes(exports["dcgan"].read_bytes())
    assert [e.name for e in studio.list_generators()] == ["b_dcgan.safetensors"]
    assert [e.name for e in studio.list_generators(translators=True)] == ["a_pix2pix.safetensors"]
    assert studio.is_translator_file(exports["pix2pix"].parent / "pix2pix" / "last.pt")
    assert not studio.is_translator_file(exports["dcgan"].parent / "dcgan" / "last.pt")
    assert not studio.is_translator_file(tmp_path / "missing.pt")


def test_sketch_page_without_a_pix2pix_generator_says_how_to_get_one(exports, folders):
    (folders / "b_dcgan.safetensors").write_bytes(exports["dcgan"].read_bytes())
    at = _sketch_page()
    assert "No pix2pix generator yet" in at.info[0].value and not at.image


def test_sketch_page_draws_a_face_from_the_edges_and_follows_the_seed(exports, folders, media):
    (folders / "faces_pix2pix.safetensors").write_bytes(exports["pix2pix"].read_bytes())
    at = _sketch_page()
    assert at.selectbox(key="sketch.checkpoint").value.endswith("faces_pix2pix.safetensors")
    out0 = _picture(at, media, "pix2pix output")
    edges0 = _picture(at, media, "what the generator sees (16x16 edges)")
    assert out0.shape == (256, 256, 3) and edges0.shape[:2] == (256, 256)
    assert (edges0 == 0).any() and (edges0 == 255).any()           # black lines on white
    assert [b.key for b in at.get("download_button")] == ["sketch.dl_pic", "sketch.dl_edges"]
    at.number_input(key="sketch.seed_in").set_value(5).run()       # another face's edges: another picture
    assert not at.exception
    assert not np.array_equal(_picture(at, media, "what the generator sees (16x16 edges)"), edges0)
    assert not np.array_equal(_picture(at, media, "pix2pix output"), out0)
    at.button(key="sketch.random").click().run()                  # a random face's edges, kept on reruns
    assert not at.exception and any("pix2pix output" in i.captions for i in at.image)
    seed = at.number_input(key="sketch.seed_in").value
    assert at.session_state["sketch.seed_in"] == seed and at.run().number_input(key="sketch.seed_in").value == seed


def test_sketch_page_upload_of_a_drawing_and_of_a_photo(exports, folders, media):
    (folders / "faces_pix2pix.safetensors").write_bytes(exports["pix2pix"].read_bytes())
    at = _sketch_page()
    at.radio(key="sketch.source").set_value("Upload a drawing or a photo").run()
    assert "Upload an edge drawing" in at.info[0].value
    drawing = np.full((64, 64, 3), 255, np.uint8)
    drawing[20:44, 30:34] = 0                                       # one vertical stroke
    buf = io.BytesIO()
    Image.fromarray(drawing).save(buf, format="PNG")
    at.file_uploader(key="sketch.upload").set_value(("stroke.png", buf.getvalue(), "image/png")).run()
    assert not at.exception, [e.value for e in at.exception]
    seen = _picture(at, media, "what the generator sees (16x16 edges)")[..., 0]
    small = seen[::16, ::16]                                        # back to the generator's 16 px
    assert (small[5:11, 7:9] == 0).all() and (small[:, :5] == 255).all()
    out = _picture(at, media, "pix2pix output")
    # a photo: its Canny edges (the border of a square) are what the generator sees
    photo = np.zeros((64, 64, 3), np.uint8)
    photo[16:48, 16:48] = (250, 200, 30)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="PNG")
    at.checkbox(key="sketch.photo").check()
    at.file_uploader(key="sketch.upload").set_value(("photo.png", buf.getvalue(), "image/png")).run()
    assert not at.exception
    small = _picture(at, media, "what the generator sees (16x16 edges)")[::16, ::16, 0]
    assert (small == 0).sum() >= 8 and small[8, 8] == 255           # an outline, not a filled square
    assert not np.array_equal(_picture(at, media, "pix2pix output"), out)
    # issue 23 item 5: a photo uploaded with the box unticked is read as a photo, and the page says so
    at.checkbox(key="sketch.photo").uncheck()
    rng = np.random.default_rng(0)
    noisy = (photo.astype(int) + rng.normal(0, 25, photo.shape) + np.linspace(0, 60, 64)[:, None, None])
    buf = io.BytesIO()
    Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(buf, format="PNG")
    at.file_uploader(key="sketch.upload").set_value(("snap.png", buf.getvalue(), "image/png")).run()
    assert not at.exception
    assert any("looks like a photo" in i.value for i in at.info)
    seen = _picture(at, media, "what the generator sees (16x16 edges)")
    assert set(np.unique(seen)) <= {0, 255}                         # lines only: no colour dabs


# ---- colour hints (a generator trained with them: the shipped one) -------------------------------------
SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "faces_pix2pix.safetensors"
SHIPPED_TAGS = SHIPPED.with_name("faces_pix2pix_tags.safetensors")     # pix2pix-tags (issue 21)


def _upload(at: AppTest, key: str, name: str, img: np.ndarray) -> None:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    at.file_uploader(key=key).set_value((name, buf.getvalue(), "image/png")).run()
    assert not at.exception, [e.value for e in at.exception]


def test_sketch_page_colour_dabs_paint_their_region(folders, media):
    from gan_core.img2img.translate import enlarge, random_face_edges

    (folders / "faces_pix2pix.safetensors").write_bytes(SHIPPED.read_bytes())
    at = _sketch_page()
    assert "colour dab" in at.radio(key="sketch.tool").options           # the pen offers dabs for this G
    seen0 = _picture(at, media, "what the generator sees")
    at.slider(key="sketch.true_dabs").set_value(8).run()                  # dabs of the random face's true colours
    assert not at.exception
    seen8 = _picture(at, media, "what the generator sees")
    colourful = lambda a: (a.max(2).astype(int) - a.min(2)).max()          # noqa: E731
    assert colourful(seen0) == 0 and colourful(seen8) > 24
    # an uploaded drawing: its coloured strokes are dabs; a blue dab in the background turns it blue there
    at.radio(key="sketch.source").set_value("Upload a drawing or a photo").run()
    _, edges = random_face_edges(3, 32)
    plain = enlarge(edges, 8)
    _upload(at, "sketch.upload", "plain.png", plain)
    out0 = _picture(at, media, "pix2pix output").astype(int)
    dabbed = plain.copy()
    blue = (30, 70, 225)
    dabbed[4:28, 4:28] = blue                                             # the top left corner: background
    _upload(at, "sketch.upload", "dabbed.png", dabbed)
    out1 = _picture(at, media, "pix2pix output").astype(int)
    seen = _picture(at, media, "what the generator sees")
    assert np.abs(seen[12, 12].astype(int) - blue).max() <= 3             # G sees the dab in its colour
    corner = (slice(0, 40), slice(0, 40))
    far0, far1 = (np.abs(o[corner] - np.array(blue)).mean() for o in (out0, out1))
    assert far1 < far0 - 20, (far0, far1)                                 # much nearer the dab's colour
    # a separate hints picture does the same for a plain drawing
    hp = np.zeros((256, 256, 4), np.uint8)
    hp[4:28, 4:28] = blue + (255,)
    _upload(at, "sketch.upload", "plain.png", plain)
    _upload(at, "sketch.hint_upload", "hints.png", hp)
    out2 = _picture(at, media, "pix2pix output").astype(int)
    assert np.abs(out2[corner] - np.array(blue)).mean() < far0 - 20


def test_sketch_page_with_an_edges_only_generator_offers_no_dabs(exports, folders, media):
    (folders / "faces_pix2pix.safetensors").write_bytes(exports["pix2pix"].read_bytes())
    at = _sketch_page()
    assert "colour dab" not in at.radio(key="sketch.tool").options
    assert any("trained on edges alone" in c.value for c in at.caption)
    at.radio(key="sketch.source").set_value("Upload a drawing or a photo").run()
    assert not at.get("file_uploader") or all(u.key != "sketch.hint_upload" for u in at.get("file_uploader"))


def test_sketch_page_hair_and_eye_pickers_steer_a_tag_generator(folders, media):
    """The shipped tag generator (pix2pix-tags) takes the tags: the page shows Generate's hair and eye pickers
    (with random) and the picture follows them; an edges-only generator gets no pickers."""
    (folders / "faces_pix2pix_tags.safetensors").write_bytes(SHIPPED_TAGS.read_bytes())
    at = _sketch_page()
    hair = at.selectbox(key="sketch.tag.hair")
    assert hair.options[0] == "random hair" and at.selectbox(key="sketch.tag.eye").options[0] == "random eye"
    at.selectbox(key="sketch.tag.hair").set_value(8).run()                  # blue
    assert not at.exception
    blue = _picture(at, media, "pix2pix output").astype(int)
    at.selectbox(key="sketch.tag.hair").set_value(11).run()                 # blonde
    blonde = _picture(at, media, "pix2pix output").astype(int)
    bluish = lambda a: (a[..., 2] - a[..., 0]).mean()                       # noqa: E731
    assert bluish(blue) > bluish(blonde) + 10, (bluish(blue), bluish(blonde))


def test_sketch_page_edges_only_generator_has_no_tag_pickers(exports, folders):
    (folders / "faces_pix2pix.safetensors").write_bytes(exports["pix2pix"].read_bytes())
    at = _sketch_page()
    assert not [s for s in at.selectbox if s.key and s.key.startswith("sketch.tag.")]

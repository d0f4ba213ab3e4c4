"""The ``hf`` data source (Hugging Face ``datasets``) on small datasets built here: never the network.

The datasets are made with ``Dataset.from_dict`` (an Image column, a ClassLabel column, a text column
and columns that cannot be tags), saved with ``save_to_disk`` and as parquet, and loaded through
``gan_core.data.load_dataset`` like any other source. The Hub is simulated by monkeypatching
``datasets.load_dataset`` (a stream, a wrong name, the library's offline errors).
"""
from __future__ import annotations

import io
import os

os.environ["HF_HUB_OFFLINE"] = "1"        # before datasets / huggingface_hub read them
os.environ["HF_DATASETS_OFFLINE"] = "1"

import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

datasets = pytest.importorskip("datasets")
from PIL import Image  # noqa: E402

from gan_core.config import RunConfig  # noqa: E402
from gan_core.data import DataError, LabelGroup, load_dataset  # noqa: E402
from gan_core.data import hf as hfmod  # noqa: E402
from gan_core.data import hf_columns  # noqa: E402
from gan_core.data.tags import EYE_COLORS, HAIR_COLORS, format_tags_for, parse_tags, parse_tags_for  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ANIMALS = ["cat", "dog", "bird"]
N = 12            # rows of the train split; row 5 has a corrupt image, row 7 no label
BAD_IMAGE, NO_LABEL = 5, 7


def _png(colour: tuple[int, int, int], w: int = 24, h: int = 20) -> bytes:
    b = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), colour, np.uint8)).save(b, "PNG")
    return b.getvalue()


def _colour(i: int) -> tuple[int, int, int]:
    return (10 * i, 200 - 10 * i, 60 + 5 * i)


def _features():
    return datasets.Features({
        "img": datasets.Image(), "label": datasets.ClassLabel(names=ANIMALS), "color": datasets.Value("string"),
        "score": datasets.Value("float32"), "caption": datasets.Value("string"),
    })


def _rows(n: int, offset: int = 0) -> dict:
    imgs = [{"bytes": _png(_colour(i + offset)), "path": None} for i in range(n)]
    labels = [(i + offset) % 3 for i in range(n)]
    if offset == 0:
        imgs[BAD_IMAGE] = {"bytes": b"this is not an image", "path": None}
        labels[NO_LABEL] = -1  # ClassLabel's missing value
    return {"img": imgs, "label": labels, "color": ["red" if i % 2 else "blue" for i in range(n)],
            "score": [0.5] * n, "caption": ["a picture " * 20] * n}


GOOD = [i for i in range(N) if i not in (BAD_IMAGE, NO_LABEL)]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection attempt fails the test; offline mode also as module constants (read at import)."""
    def refuse(*a, **k):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def hf_data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf")
    train = datasets.Dataset.from_dict(_rows(N), features=_features())
    test = datasets.Dataset.from_dict(_rows(4, offset=N), features=_features())
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(root / "saved"))
    (root / "pq").mkdir()
    train.to_parquet(str(root / "pq" / "train-00000.parquet"))
    test.to_parquet(str(root / "pq" / "test-00000.parquet"))
    no_img = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})
    no_img.save_to_disk(str(root / "noimg"))
    return {"saved": root / "saved", "pq": root / "pq", "file": root / "pq" / "train-00000.parquet",
            "noimg": root / "noimg", "train": train}


def _cfg(path, cache, **data):
    return RunConfig().replace(data={"dataset": "hf", "path": str(path), "image_size": 16, "cache_dir": str(cache),
                                     **data})


def _expected_mean(i: int) -> np.ndarray:
    return np.array(_colour(i), np.float64)


@pytest.mark.parametrize("which", ["saved", "pq", "file"])
def test_local_dataset_loads_with_tags(hf_data, tmp_path, which):
    msgs = []
    cfg = _cfg(hf_data[which], tmp_path, hf_label_columns="label, color")
    ds = load_dataset(cfg.data, lambda f, m: msgs.append((f, m)))
    assert ds.images.dtype == torch.uint8 and tuple(ds.images.shape) == (len(GOOD), 3, 16, 16)
    # each image is its row's solid colour, in row order, corrupt image and unlabelled row skipped
    means = ds.images.double().mean(dim=(2, 3)).numpy()
    np.testing.assert_allclose(means, np.stack([_expected_mean(i) for i in GOOD]), atol=1.0)
    assert ds.label_groups == [LabelGroup("label", tuple(ANIMALS)), LabelGroup("color", ("blue", "red"))]
    assert ds.labels.tolist() == [[i % 3, 1 if i % 2 else 0] for i in GOOD]
    assert ds.skipped == 2
    notes = " | ".join(ds.notes)
    assert "unreadable" in notes and "no value in label column 'label'" in notes
    assert msgs and all(0.0 <= f <= 1.0 for f, _ in msgs) and msgs[-1][0] == 1.0
    assert "opening" in msgs[0][1]


def test_cache_is_reused_and_max_images(hf_data, tmp_path):
    cfg = _cfg(hf_data["saved"], tmp_path, hf_label_columns="label")
    first = load_dataset(cfg.data)
    msgs = []
    again = load_dataset(cfg.data, lambda f, m: msgs.append(m))
    assert "from the cache" in msgs[-1]
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert again.label_groups == first.label_groups and again.skipped == first.skipped
    # a corrupt cache file is ignored and rewritten
    cache = next((tmp_path / "hf").glob("*.npz"))
    cache.write_bytes(b"garbage")
    assert torch.equal(load_dataset(cfg.data).images, first.images)
    few = load_dataset(_cfg(hf_data["saved"], tmp_path, hf_label_columns="label", max_images=3).data)
    assert len(few) == 3 and torch.equal(few.images, first.images[:3])


def test_unlabelled_and_split(hf_data, tmp_path):
    ds = load_dataset(_cfg(hf_data["saved"], tmp_path).data)
    assert ds.labels is None and ds.label_groups == [] and len(ds) == N - 1  # only the corrupt image skipped
    test = load_dataset(_cfg(hf_data["pq"], tmp_path, hf_split="test", hf_label_columns="label").data)
    assert len(test) == 4 and test.labels[:, 0].tolist() == [(N + i) % 3 for i in range(4)]
    for path in ("saved", "pq"):
        with pytest.raises(DataError, match=r"no split 'valid'.*data.hf_split"):
            load_dataset(_cfg(hf_data[path], tmp_path, hf_split="valid").data)


@pytest.mark.parametrize("setting,pattern", [
    (dict(hf_label_columns="hair"), r"data.hf_label_columns: .* no column 'hair'; tag columns: label \(class label\), "
                                    r"color \(text\), caption \(text\)"),
    (dict(hf_label_columns="score"), r"column 'score' .* holds float32 values and cannot be a tag"),
    (dict(hf_label_columns="img"), r"column 'img' .* cannot be a tag"),
    (dict(hf_label_columns="label,label"), r"names label twice"),
    (dict(hf_label_columns="caption"), r"label column 'caption' holds text of \d+ characters"),
    (dict(hf_image_column="picture"), r"data.hf_image_column: .* no column 'picture'; its columns: img \(image\)"),
    (dict(hf_image_column="label"), r"column 'label' .* holds class label values, not images"),
])
def test_bad_columns_name_the_setting(hf_data, tmp_path, setting, pattern):
    with pytest.raises(DataError, match=pattern):
        load_dataset(_cfg(hf_data["saved"], tmp_path, **setting).data)


def test_not_an_image_dataset_and_bad_paths(hf_data, tmp_path):
    with pytest.raises(DataError, match=r"has no image column \(its columns: text \(text\), label \(integer\)\)"):
        load_dataset(_cfg(hf_data["noimg"], tmp_path).data)
    with pytest.raises(DataError, match="neither an existing file or folder nor a Hugging Face dataset name"):
        load_dataset(_cfg(tmp_path / "missing" / "x" / "y", tmp_path).data)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(DataError, match="is not a parquet file"):
        load_dataset(_cfg(text, tmp_path).data)


def test_pixel_limits_of_folders_apply(hf_data, tmp_path, monkeypatch):
    from gan_core.data import folder

    monkeypatch.setattr(folder, "MAX_PIXELS", 100)  # every 24 x 20 image is over it
    with pytest.raises(DataError, match=r"no usable images in .*skipped 12: .*too many pixels"):
        load_dataset(_cfg(hf_data["saved"], tmp_path, hf_label_columns="label").data)
    monkeypatch.setattr(folder, "MAX_PIXELS", 4096 * 4096)
    monkeypatch.setattr(folder, "MAX_TOTAL_PIXELS", 3 * 24 * 20)  # room for three images in all
    ds = load_dataset(_cfg(hf_data["saved"], tmp_path / "other").data)
    assert len(ds) == 3 and any("decoded-pixel budget" in n for n in ds.notes)


def test_string_tags_get_too_many_classes(tmp_path, monkeypatch):
    monkeypatch.setattr(hf_columns, "MAX_CLASSES", 3)
    feats = datasets.Features({"img": datasets.Image(), "kind": datasets.Value("string")})
    ds = datasets.Dataset.from_dict({"img": [{"bytes": _png(_colour(i)), "path": None} for i in range(5)],
                                     "kind": [f"k{i}" for i in range(5)]}, features=feats)
    ds.save_to_disk(str(tmp_path / "d"))
    with pytest.raises(DataError, match=r"'kind' has more than 3 distinct values"):
        load_dataset(_cfg(tmp_path / "d", tmp_path, hf_label_columns="kind").data)


# ---- the Hub, simulated ---------------------------------------------------------------------------------
def test_offline_hub_name_is_one_clear_line(tmp_path):
    """No monkeypatching: the library itself refuses in offline mode."""
    with pytest.raises(DataError) as e:
        load_dataset(_cfg("huggan/anime-faces", tmp_path).data)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("could not reach the Hugging Face Hub to load 'huggan/anime-faces'")
    assert "save_to_disk" in msg and "'faces'" in msg


@pytest.mark.parametrize("exc,pattern", [
    (lambda: datasets.exceptions.DatasetNotFoundError("Dataset 'nobody/nothing' doesn't exist on the Hub or cannot "
                                                       "be accessed."),
     r"^no dataset 'nobody/nothing' on the Hugging Face Hub.*check the OWNER/NAME spelling"),
    (lambda: ConnectionError("Couldn't reach 'nobody/nothing' on the Hub (LocalEntryNotFoundError)"),
     r"^could not reach the Hugging Face Hub to load 'nobody/nothing' \(ConnectionError\)"),
    (lambda: __import__("huggingface_hub").errors.OfflineModeIsEnabled("offline"),
     r"^could not reach the Hugging Face Hub .*\(OfflineModeIsEnabled\)"),
    (lambda: ValueError('Bad split: valid. Available splits: ["train"]'), r"has no split 'train'"),
    (lambda: RuntimeError("something odd\nsecond line"),
     r"could not load nobody/nothing .*RuntimeError: something odd\)$"),
])
def test_library_errors_become_one_line(tmp_path, monkeypatch, exc, pattern):
    def fail(*a, **k):
        raise exc()

    monkeypatch.setattr(datasets, "load_dataset", fail)
    with pytest.raises(DataError, match=pattern) as e:
        load_dataset(_cfg("nobody/nothing", tmp_path).data)
    assert "\n" not in str(e.value)


def test_hub_stream_is_read_and_cached_for_offline_use(hf_data, tmp_path, monkeypatch):
    calls = []

    def stream(name, split=None, streaming=False, **k):
        calls.append((name, split, streaming))
        return hf_data["train"].to_iterable_dataset()  # a stream of unknown length, as from the Hub

    monkeypatch.setattr(datasets, "load_dataset", stream)
    cfg = _cfg("someone/pets", tmp_path, hf_label_columns="label")
    ds = load_dataset(cfg.data)
    assert calls == [("someone/pets", "train", True)]
    assert ds.name == "hf:someone/pets" and len(ds) == len(GOOD) and ds.label_groups[0].classes == tuple(ANIMALS)
    assert not any("stopped after" in n for n in ds.notes)

    def offline(*a, **k):
        raise ConnectionError("Couldn't reach 'someone/pets' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    again = load_dataset(cfg.data)  # from the cache, no network
    assert torch.equal(again.images, ds.images) and torch.equal(again.labels, ds.labels)
    no_dl = _cfg("someone/other", tmp_path, download=False)
    with pytest.raises(DataError, match=r"not in the cache .* downloads are off \(data.download is false\)"):
        load_dataset(no_dl.data)


def test_stream_failing_midway(hf_data, tmp_path, monkeypatch):
    def rows():
        for i in range(3):
            yield {"img": {"bytes": _png(_colour(i)), "path": None}, "label": 0}
        raise ConnectionError("connection reset while streaming")

    feats = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=ANIMALS)})
    monkeypatch.setattr(datasets, "load_dataset",
                        lambda *a, **k: datasets.IterableDataset.from_generator(rows, features=feats))
    with pytest.raises(DataError, match=r"^could not reach the Hugging Face Hub to load 'someone/pets'"):
        load_dataset(_cfg("someone/pets", tmp_path).data)


def test_cli_offline_exits_2_with_one_error_line(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    r = subprocess.run([sys.executable, "-m", "gan_core", "train", "--dataset", "hf", "--data-path",
                        "huggan/anime-faces", "--steps", "1", "--out", str(tmp_path / "run"), "--set",
                        f"data.cache_dir={tmp_path}"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1 and "could not reach the Hugging Face Hub" in errors[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "run" / "last.pt").exists()


# ---- preview --------------------------------------------------------------------------------------------
def test_preview(hf_data, tmp_path):
    p = hfmod.preview(str(hf_data["saved"]), "train", "", "label,color", n=4, cache_dir=str(tmp_path))
    assert p.images.dtype == np.uint8 and p.images.shape == (4, 64, 64, 3)
    assert p.image_column == "img" and p.num_rows == N and set(p.splits) == {"train", "test"}
    assert [(c.name, c.kind) for c in p.columns] == [("img", "image"), ("label", "class label"), ("color", "text"),
                                                     ("score", "other"), ("caption", "text")]
    assert p.columns[1].detail.startswith("3 classes: cat, dog, bird")
    assert p.label_groups[0] == LabelGroup("label", tuple(ANIMALS))
    assert p.labels.tolist() == [[0, 0], [1, 1], [2, 0], [0, 1]]
    assert p.captions() == ["label=cat, color=blue", "label=dog, color=red", "label=bird, color=blue",
                            "label=cat, color=red"]
    full = hfmod.preview(str(hf_data["file"]), n=16)
    assert full.images.shape[0] == N - 1 and full.labels is None and full.captions() == [""] * (N - 1)
    with pytest.raises(DataError, match="no column 'hair'"):
        hfmod.preview(str(hf_data["saved"]), label_columns="hair")
    with pytest.raises(DataError, match="could not reach the Hugging Face Hub"):
        hfmod.preview("huggan/anime-faces")


def test_preview_panel_renders(hf_data):
    from streamlit.testing.v1 import AppTest

    def app(path):
        from apps.streamlit.hf_preview import hf_preview_panel

        hf_preview_panel(path, "train", "", "label")

    at = AppTest.from_function(app, args=(str(hf_data["saved"]),), default_timeout=60).run()
    assert not at.exception and not at.error
    at.button[0].click().run()
    assert not at.exception and not at.error
    text = " ".join(m.value for m in at.markdown)
    assert "Tag group **label** (3 classes): cat, dog, bird" in text and "`img`" in text
    assert len(at.dataframe) == 1
    bad = AppTest.from_function(app, args=("huggan/anime-faces",), default_timeout=60).run()
    bad.button[0].click().run()
    assert not bad.exception and "could not reach the Hugging Face Hub" in bad.error[0].value


# ---- tags by class name -----------------------------------------------------------------------------------
def test_parse_tags_for():
    cifar = [LabelGroup("label", ("airplane", "automobile", "bird", "cat"))]
    assert parse_tags_for(cifar, "cat") == (3,) and parse_tags_for(cifar, " Cat ") == (3,)
    assert parse_tags_for(cifar, "label=bird") == (2,)
    with pytest.raises(ValueError, match="unknown label 'dog'; choose from airplane, automobile, bird, cat"):
        parse_tags_for(cifar, "dog")
    faces = [("hair", HAIR_COLORS), ("eye", EYE_COLORS)]
    for text in ("blue hair, red eyes", "hair=blue, eye=red", "eye: red; hair: blue"):
        assert parse_tags_for(faces, text) == parse_tags("blue hair, red eyes")
    with pytest.raises(ValueError, match="'blue' is a class of hair, eye: write hair=blue"):
        parse_tags_for(faces, "blue")
    with pytest.raises(ValueError, match="give a class for eye"):
        parse_tags_for(faces, "hair=blue")
    assert parse_tags_for(faces, "hair=blue", require_all=False) == (HAIR_COLORS.index("blue"), None)
    with pytest.raises(ValueError, match="unknown tag group 'nose' in 'nose=red'; the groups are hair, eye"):
        parse_tags_for(faces, "nose=red")
    with pytest.raises(ValueError, match="unknown hair 'teal'"):
        parse_tags_for(faces, "hair=teal, eye=red")
    assert format_tags_for(faces, (8, 9)) == "hair=blue, eye=red" and format_tags_for(cifar, (3,)) == "cat"
    with pytest.raises(ValueError, match="no tags"):
        parse_tags_for([], "cat")


# ---- a conditional model on a Hugging Face dataset ---------------------------------------------------------
def test_train_conditional_and_sample_by_class_name(hf_data, tiny_cfg, tmp_path):
    from gan_core.storage.checkpoint import generator_from_state, load_checkpoint
    from gan_core.cli import main
    from gan_core.train.events import DoneEvent, ErrorEvent
    from gan_core.models.latent import generate, sample_z
    from gan_core.train.trainer import Trainer

    cfg = tiny_cfg(arch="cgan", steps=2, data={"dataset": "hf", "path": str(hf_data["saved"]),
                                                "hf_label_columns": "label", "cache_dir": str(tmp_path / "cache")})
    events = list(Trainer(cfg, tmp_path / "run").run())
    assert not [e for e in events if isinstance(e, ErrorEvent)], events
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "steps"
    G, cfg2, spec = generator_from_state(load_checkpoint(tmp_path / "run" / "last.pt"))
    assert spec.group_names == ("label",) and spec.class_names == (tuple(ANIMALS),)
    y = torch.tensor(parse_tags_for(zip(spec.group_names, spec.class_names), "dog")).repeat(3, 1)
    assert y.tolist() == [[1]] * 3
    x = generate(G, sample_z(3, cfg2.model.z_dim, seed=0), y)
    assert x.shape == (3, 3, 16, 16) and torch.isfinite(x).all()
    out = tmp_path / "dogs.png"
    assert main(["sample", "--checkpoint", str(tmp_path / "run" / "last.pt"), "--n", "4", "--tags", "dog",
                 "--out", str(out), "--quiet"]) == 0
    assert Image.open(out).size[0] > 16
    assert main(["sample", "--checkpoint", str(tmp_path / "run" / "last.pt"), "--n", "4", "--tags", "cow",
                 "--out", str(tmp_path / "cows.png"), "--quiet"]) == 2
    assert not (tmp_path / "cows.png").exists()


def test_empty_sources_say_no_usable_images(tmp_path):
    # issue 23 item 17: these gave "IndexError: list index out of range", an AttributeError or
    # 'Instruction "train" corresponds to no data!' inside the message
    empty = datasets.Dataset.from_dict({"img": [], "label": []}, features=datasets.Features(
        {"img": datasets.Image(), "label": datasets.Value("int64")}))
    empty.save_to_disk(str(tmp_path / "empty_ds"))
    datasets.DatasetDict({}).save_to_disk(str(tmp_path / "empty_dict"))
    empty.to_parquet(str(tmp_path / "empty.parquet"))
    (tmp_path / "empty_pq").mkdir()
    empty.to_parquet(str(tmp_path / "empty_pq" / "train-00000.parquet"))
    for name in ("empty_ds", "empty_dict", "empty.parquet", "empty_pq"):
        with pytest.raises(DataError) as e:
            load_dataset(_cfg(tmp_path / name, tmp_path / "cache").data)
        assert str(e.value) == f"no usable images in {tmp_path / name} (split train): it holds no rows"


def test_a_split_name_on_a_single_split_source_is_refused(hf_data, tmp_path):
    # issue 23 item 17: data.hf_split=test on a saved Dataset or one parquet file trained on all of it
    single = tmp_path / "single"
    hf_data["train"].save_to_disk(str(single))
    for path in (single, hf_data["file"]):
        with pytest.raises(DataError, match=r"has a single split \(no split names\): data.hf_split 'test' cannot "
                                            r"choose part of it; set data.hf_split to 'train'"):
            load_dataset(_cfg(path, tmp_path / "cache", hf_split="test").data)
        assert len(load_dataset(_cfg(path, tmp_path / "cache").data)) == N - 1   # "train": all of it

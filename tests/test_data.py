"""Tests of gan_core.data: procedural faces, digits, torchvision sets (offline), folders/zips,
2D toy data, augmentation and the image helpers. CPU only, no network."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.config import DataConfig
from gan_core.data import DataError, load_dataset
from gan_core.data import faces as faces_mod
from gan_core.data import folder as folder_mod
from gan_core.data.augment import augment
from gan_core.data.digits import load_digits
from gan_core.data.faces import EYE_RGB, HAIR_RGB, draw_face, generate_faces, load_faces
from gan_core.data.images import (load_npz_cache, make_grid_uint8, resize_uint8, save_npz_atomic, save_png,
                                  scatter_image, to_float, to_uint8)
from gan_core.data.toy2d import load_toy2d
from gan_core.data.torchvision_sets import load_torchvision
from gan_core.data.tags import EYE_COLORS, HAIR_COLORS


def _cfg(tmp_path: Path, **kw) -> DataConfig:
    return DataConfig(cache_dir=str(tmp_path / "cache"), **kw)


# ---- faces ---------------------------------------------------------------------------------------
def test_faces_deterministic_and_prefix_stable():
    a, la = generate_faces(24, 16, seed=3)
    b, lb = generate_faces(24, 16, seed=3)
    c, _ = generate_faces(24, 16, seed=4)
    small, ls = generate_faces(10, 16, seed=3)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, c)
    assert np.array_equal(a[:10], small) and np.array_equal(la[:10], ls)  # image i depends on (seed, i) only


@pytest.mark.parametrize("size", [16, 32, 64])
def test_faces_shapes_and_labels(tmp_path, size):
    progress = []
    ds = load_dataset(_cfg(tmp_path, dataset="faces", image_size=size, num_samples=64),
                      lambda f, m: progress.append(f))
    assert ds.images.shape == (64, 3, size, size) and ds.images.dtype == torch.uint8
    assert ds.labels.shape == (64, 2) and ds.labels.dtype == torch.long
    assert 0 <= ds.labels[:, 0].min() and ds.labels[:, 0].max() < len(HAIR_COLORS)
    assert 0 <= ds.labels[:, 1].min() and ds.labels[:, 1].max() < len(EYE_COLORS)
    assert len(set(ds.labels[:, 0].tolist())) > 5  # hair tags are spread over the classes
    assert [g.name for g in ds.label_groups] == ["hair", "eye"]
    assert [g.num_classes for g in ds.label_groups] == [12, 11]
    assert ds.images.float().std() > 20  # not blank
    assert progress and progress[-1] == pytest.approx(1.0) and progress == sorted(progress)


def test_faces_cache_hit_and_corrupt_cache(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path, dataset="faces", image_size=16, num_samples=20, seed=7)
    first = load_faces(cfg)
    files = list(Path(cfg.cache_dir).glob("*.npz"))
    assert len(files) == 1 and not list(Path(cfg.cache_dir).glob("*.tmp"))

    def no_drawing(*a, **k):
        raise AssertionError("cache was not used")

    with monkeypatch.context() as m:
        m.setattr(faces_mod, "generate_faces", no_drawing)
        second = load_faces(cfg)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)

    files[0].write_bytes(b"PK\x03\x04 this is not a valid npz")
    third = load_faces(cfg)
    assert torch.equal(first.images, third.images) and torch.equal(first.labels, third.labels)
    assert load_npz_cache(files[0], {"images": ((20, 3, 16, 16), np.uint8)}) is not None  # rewritten


def _nearest(colour: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    return min(palette, key=lambda k: float(((np.asarray(palette[k]) - colour) ** 2).sum()))


def test_hair_colour_is_visible():
    """With the same rng seed (same geometry), the top of the head takes each hair tag's colour."""
    for seed in range(6):
        for hair, name in enumerate(HAIR_COLORS):
            img = np.asarray(draw_face(hair, 0, 32, np.random.default_rng(seed)), dtype=np.float64)
            top = np.median(img[7:10, 13:19].reshape(-1, 3), axis=0)  # top of the head, above the bangs' tips
            assert _nearest(top, HAIR_RGB) == name, (seed, name, top)
    red = np.asarray(draw_face(HAIR_COLORS.index("red"), 0, 32, np.random.default_rng(0)), np.float64)
    blue = np.asarray(draw_face(HAIR_COLORS.index("blue"), 0, 32, np.random.default_rng(0)), np.float64)
    assert red[7:10, 13:19, 0].mean() > red[7:10, 13:19, 2].mean() + 80
    assert blue[7:10, 13:19, 2].mean() > blue[7:10, 13:19, 0].mean() + 80


def test_eye_colour_is_visible():
    """At 64 px the most saturated pixels of the eye band are nearest to the eye tag's colour."""
    for eye, name in enumerate(EYE_COLORS):
        if name in ("gray", "black"):
            continue  # unsaturated: checked through the saturated ones not winning instead
        img = np.asarray(draw_face(HAIR_COLORS.index("white"), eye, 64, np.random.default_rng(1)), np.float64)
        band = img[30:44, 14:50].reshape(-1, 3)
        sat = band.max(1) - band.min(1)
        top = band[np.argsort(sat)[-12:]].mean(0)
        assert _nearest(top, EYE_RGB) == name, (name, top)


# ---- digits / torchvision -------------------------------------------------------------------------
def test_digits(tmp_path):
    ds = load_digits(_cfg(tmp_path, dataset="digits", image_size=32), None)
    assert ds.images.shape == (1797, 1, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.labels.shape == (1797, 1) and set(ds.labels[:, 0].tolist()) == set(range(10))
    assert ds.images.max() > 200 and ds.images.min() == 0
    assert ds.label_groups[0].classes == tuple("0123456789")


def test_torchvision_offline_without_download(tmp_path):
    cfg = _cfg(tmp_path, dataset="mnist", download=False)
    with pytest.raises(DataError) as err:
        load_torchvision(cfg, None)
    msg = str(err.value)
    assert "MNIST" in msg and "download" in msg and "'digits'" in msg
    assert str(Path(cfg.cache_dir) / "torchvision" / "MNIST" / "raw") in msg


def test_torchvision_download_failure(tmp_path, monkeypatch):
    import torchvision.datasets

    class Offline:
        def __init__(self, root, train, download):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried ...")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    with pytest.raises(DataError, match="could not download MNIST: no internet connection"):
        load_torchvision(_cfg(tmp_path, dataset="mnist", download=True), None)


def test_torchvision_conversion(tmp_path, monkeypatch):
    import torchvision.datasets

    class FakeCifar:
        classes = ["airplane", "automobile", "bird"]

        def __init__(self, root, train, download):
            assert Path(root) == tmp_path / "cache" / "torchvision" and train
            self.data = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
            self.targets = [0, 1, 2, 1, 0]

    class FakeFashion:
        classes = ["T-shirt/top", "Trouser"]

        def __init__(self, root, train, download):
            self.data = torch.full((4, 28, 28), 200, dtype=torch.uint8)
            self.targets = torch.tensor([0, 1, 1, 0])

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCifar)
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeFashion)
    cifar = load_torchvision(_cfg(tmp_path, dataset="cifar10", image_size=32), None)
    assert cifar.images.shape == (5, 3, 32, 32) and cifar.images.dtype == torch.uint8
    assert torch.equal(cifar.images[1].permute(1, 2, 0), torch.from_numpy(FakeCifar(tmp_path / "cache" / "torchvision", True, False).data[1]))
    assert cifar.labels[:, 0].tolist() == [0, 1, 2, 1, 0] and cifar.label_groups[0].classes[2] == "bird"
    small = load_torchvision(_cfg(tmp_path, dataset="cifar10", image_size=16), None)
    assert small.images.shape == (5, 3, 16, 16)
    fashion = load_torchvision(_cfg(tmp_path, dataset="fashion-mnist", image_size=64), None)
    assert fashion.images.shape == (4, 1, 64, 64) and int(fashion.images.min()) == 200
    assert fashion.labels.shape == (4, 1) and fashion.label_groups[0].classes[1] == "Trouser"


# ---- folders and zips -----------------------------------------------------------------------------
def _png_bytes(w: int, h: int, colour=(200, 30, 30), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), colour if mode == "RGB" else colour + (255,)).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg_bytes(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _huge_png_header(w: int, h: int) -> bytes:
    """A PNG whose header claims w x h pixels (no real pixel data)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _make_folder(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "a.png").write_bytes(_png_bytes(40, 20, (250, 0, 0)))
    (root / "b.png").write_bytes(_png_bytes(16, 16, (0, 0, 250), mode="RGBA"))
    (root / "sub" / "c.jpg").write_bytes(_jpeg_bytes(64, 48))
    (root / "broken.jpg").write_bytes(_jpeg_bytes(64, 64)[:400])  # truncated
    (root / "readme.txt").write_text("not an image")
    (root / "tags.csv").write_text("filename,tags\n"
                                   "a.png,\"red hair, blue eyes\"\n"
                                   "b.png,blue hair, green eyes\n"      # unquoted commas are tolerated
                                   "sub/c.jpg,\"black hair, red eyes\"\n"
                                   "broken.jpg,\"pink hair, red eyes\"\n")


def test_folder_with_tags_and_a_broken_image(tmp_path):
    root = tmp_path / "imgs"
    _make_folder(root)
    seen = []
    ds = load_dataset(_cfg(tmp_path, dataset="folder", path=str(root), image_size=16), lambda f, m: seen.append(f))
    assert ds.images.shape == (3, 3, 16, 16) and ds.images.dtype == torch.uint8
    assert ds.skipped == 1 and any("broken.jpg" in n for n in ds.notes)
    assert any("ignored 1 file" in n for n in ds.notes)
    hair, eye = HAIR_COLORS.index, EYE_COLORS.index
    assert ds.labels.tolist() == [[hair("red"), eye("blue")], [hair("blue"), eye("green")], [hair("black"), eye("red")]]
    assert [g.name for g in ds.label_groups] == ["hair", "eye"]
    red = ds.images[0].float().mean((1, 2))  # a.png is red; center crop keeps it red
    assert red[0] > 200 and red[2] < 40
    assert ds.images[1, 2].float().mean() > 200  # b.png (RGBA) blue
    assert seen and seen[-1] == pytest.approx(1.0)


def test_folder_incomplete_tags_give_no_labels(tmp_path):
    root = tmp_path / "imgs"
    _make_folder(root)
    (root / "tags.csv").write_text("filename,tags\na.png,red hair, blue eyes\nb.png,teal hair, red eyes\n")
    ds = load_folder_cfg(tmp_path, root)
    assert ds.labels is None and ds.label_groups == []
    note = next(n for n in ds.notes if "tags" in n)
    assert "1 have no row" in note and "1 have unreadable tags" in note and "teal" in note


def test_folder_explicit_tags_csv_and_max_images(tmp_path):
    root = tmp_path / "imgs"
    _make_folder(root)
    (root / "tags.csv").unlink()
    csv_path = tmp_path / "my_tags.csv"
    csv_path.write_text("filename,tags\na.png,red hair, blue eyes\nb.png,blue hair, green eyes\n")
    ds = load_folder_cfg(tmp_path, root, tags_csv=str(csv_path), max_images=2)
    assert len(ds) == 2 and ds.labels.shape == (2, 2)
    with pytest.raises(DataError, match="does not exist"):
        load_folder_cfg(tmp_path, root, tags_csv=str(tmp_path / "nope.csv"))


def load_folder_cfg(tmp_path: Path, path: Path, **kw):
    return folder_mod.load_folder(_cfg(tmp_path, dataset="folder", path=str(path), image_size=16, **kw), None)


def test_zip_slip_entries_are_refused(tmp_path):
    zpath = tmp_path / "inner" / "faces.zip"
    zpath.parent.mkdir()
    good = _png_bytes(20, 20)
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("set/x.png", good)
        z.writestr("set/y.png", good)
        z.writestr("set/tags.csv", "filename,tags\nx.png,red hair, red eyes\ny.png,aqua hair, gray eyes\n")
        z.writestr("../evil.png", good)
        z.writestr("/abs/evil2.png", good)
        z.writestr("set/..\\..\\evil3.png", good)
        z.writestr("__MACOSX/set/._x.png", b"\0\5\26\7")
    before = sorted(p for p in tmp_path.rglob("*"))
    ds = load_folder_cfg(tmp_path, zpath)
    assert len(ds) == 2 and ds.skipped == 3
    assert ds.labels.tolist() == [[HAIR_COLORS.index("red"), EYE_COLORS.index("red")],
                                  [HAIR_COLORS.index("aqua"), EYE_COLORS.index("gray")]]
    unsafe = next(n for n in ds.notes if "unsafe path" in n)
    assert "../evil.png" in unsafe and "/abs/evil2.png" in unsafe
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing was extracted anywhere
    assert not (tmp_path / "evil.png").exists()


def test_decompression_bombs_and_big_files_are_refused(tmp_path, monkeypatch):
    root = tmp_path / "imgs"
    root.mkdir()
    (root / "ok.png").write_bytes(_png_bytes(32, 32))
    (root / "bomb.png").write_bytes(_huge_png_header(100_000, 100_000))  # 10 gigapixels claimed
    (root / "medium.png").write_bytes(_huge_png_header(8000, 8000))      # over MAX_PIXELS (50 MP)
    ds = load_folder_cfg(tmp_path, root)
    assert len(ds) == 1 and ds.skipped == 2
    note = next(n for n in ds.notes if "too many pixels" in n)
    assert "bomb.png" in note and "medium.png" in note

    monkeypatch.setattr(folder_mod, "MAX_PIXELS", 32 * 32 - 1)  # a real image just over a lowered limit
    with pytest.raises(DataError, match=r"skipped 3: 3 too many pixels"):
        load_folder_cfg(tmp_path, root)
    monkeypatch.setattr(folder_mod, "MAX_PIXELS", 50_000_000)
    (root / "big.jpg").write_bytes(_jpeg_bytes(64, 64))  # noise: several kB
    monkeypatch.setattr(folder_mod, "MAX_FILE_BYTES", 2000)
    ds = load_folder_cfg(tmp_path, root)
    assert len(ds) == 1 and any("file too large" in n and "big.jpg" in n for n in ds.notes)


def test_zip_bomb_archive_is_refused(tmp_path, monkeypatch):
    zpath = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.png", _png_bytes(8, 8))
        z.writestr("zeros.bmp", b"\0" * 2_000_000)  # ratio ~1000:1
    monkeypatch.setattr(folder_mod, "RATIO_CHECK_BYTES", 1_000_000)
    with pytest.raises(DataError, match="zip bomb"):
        load_folder_cfg(tmp_path, zpath)
    monkeypatch.setattr(folder_mod, "RATIO_CHECK_BYTES", 10**9)
    monkeypatch.setattr(folder_mod, "MAX_ARCHIVE_BYTES", 1_000_000)
    with pytest.raises(DataError, match="would unpack to"):
        load_folder_cfg(tmp_path, zpath)
    monkeypatch.setattr(folder_mod, "MAX_ARCHIVE_BYTES", 10**10)
    monkeypatch.setattr(folder_mod, "MAX_FILE_BYTES", 1_000_000)  # per-member limit: the big member is skipped
    ds = load_folder_cfg(tmp_path, zpath)
    assert len(ds) == 1 and ds.skipped == 1 and any("file too large" in n and "zeros.bmp" in n for n in ds.notes)


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_folder_cfg(tmp_path, tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no usable images.*found 0 image file"):
        load_folder_cfg(tmp_path, empty)
    (empty / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match="skipped 1: 1 unreadable"):
        load_folder_cfg(tmp_path, empty)
    (tmp_path / "notzip.dat").write_bytes(b"hello")
    with pytest.raises(DataError, match="neither a folder nor a .zip"):
        load_folder_cfg(tmp_path, tmp_path / "notzip.dat")


# ---- toy 2D ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["8gaussians", "25gaussians", "ring", "spiral"])
def test_toy2d(tmp_path, shape):
    cfg = _cfg(tmp_path, dataset="toy2d", toy_shape=shape, num_samples=2000, seed=1)
    ds = load_toy2d(cfg, None)
    assert ds.images.shape == (2000, 2) and ds.images.dtype == torch.float32 and ds.is_points
    assert ds.labels is None
    assert torch.equal(ds.images, load_toy2d(cfg, None).images)
    assert not torch.equal(ds.images, load_toy2d(_cfg(tmp_path, dataset="toy2d", toy_shape=shape, num_samples=2000, seed=2), None).images)
    assert ds.images.abs().max() < 2.6 and ds.images.abs().max() > 1.5
    if shape in ("8gaussians", "ring"):
        assert torch.allclose(ds.images.norm(dim=1).mean(), torch.tensor(2.0), atol=0.05)


# ---- augmentation ----------------------------------------------------------------------------------
def _batch() -> torch.Tensor:
    return torch.rand(64, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_augment_noop_and_determinism():
    x = _batch()
    assert augment(x, False, 0.0, torch.Generator().manual_seed(1)) is x
    a = augment(x, True, 15.0, torch.Generator().manual_seed(1))
    b = augment(x, True, 15.0, torch.Generator().manual_seed(1))
    c = augment(x, True, 15.0, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype


def test_augment_flip_really_flips():
    x = _batch()
    y = augment(x, True, 0.0, torch.Generator().manual_seed(0))
    flipped = (y == x.flip(-1)).flatten(1).all(1)
    same = (y == x).flatten(1).all(1)
    assert bool((flipped | same).all()) and 10 < int(flipped.sum()) < 54
    # a (near-)zero rotation through the affine path agrees with the exact flips
    z = augment(x, True, 1e-6, torch.Generator().manual_seed(0))
    ok = torch.where(flipped.view(-1, 1, 1, 1), x.flip(-1), x)
    assert torch.allclose(z, ok, atol=1e-4)


def test_augment_rotation():
    x = torch.zeros(1, 1, 15, 15)
    x[..., 7, :] = 1.0  # horizontal bar
    y = augment(x.repeat(16, 1, 1, 1), False, 30.0, torch.Generator().manual_seed(0))
    assert not torch.allclose(y, x.expand_as(y))
    assert y[:, 0, 7, 7].min() > 0.9  # the center stays on the bar
    assert (y.sum((1, 2, 3)) - x.sum()).abs().max() < 4  # the bar is rotated, not destroyed


# ---- helpers ---------------------------------------------------------------------------------------
def test_image_helpers(tmp_path):
    u = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    f = to_float(u)
    assert f.min() >= -1 and f.max() <= 1 and torch.equal(to_uint8(f), u)
    grid = make_grid_uint8(f, nrow=3)
    assert grid.shape == (2 * 10 + 2, 3 * 10 + 2, 3) and grid.dtype == np.uint8
    assert np.array_equal(grid[2:10, 2:10, 0], u[0, 0].numpy()) and np.array_equal(grid[..., 0], grid[..., 2])
    assert resize_uint8(u, 16).shape == (5, 1, 16, 16)
    pic = scatter_image(torch.tensor([[0.0, 0.0], [2.0, 2.0]]), np.array([[-2.0, -2.0]]), size=128)
    assert pic.shape == (128, 128, 3)
    assert (pic == (230, 80, 30)).all(-1).sum() == 8 and (pic == (120, 170, 235)).all(-1).sum() == 4
    save_png(pic, tmp_path / "out" / "p.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "p.png")), pic)
    assert save_npz_atomic(tmp_path / "c.npz", a=np.arange(3))
    assert load_npz_cache(tmp_path / "c.npz", {"a": ((3,), np.int64)})["a"].tolist() == [0, 1, 2]
    assert load_npz_cache(tmp_path / "c.npz", {"a": ((4,), np.int64)}) is None


def test_make_grid_takes_uint8_images_as_they_are():
    from gan_core.data.images import make_grid_uint8, to_float

    x = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    grid = make_grid_uint8(x, nrow=3, padding=1)
    assert grid.shape == (2 * 9 + 1, 3 * 9 + 1, 3)
    assert (grid[1:9, 1:9] == x[0].permute(1, 2, 0).numpy()).all()
    assert (grid == make_grid_uint8(to_float(x), nrow=3, padding=1)).all()  # same picture as from floats


# ---- DiffAugment -------------------------------------------------------------------------------------------
def test_diffaugment_ops_shapes_determinism_and_gradients():
    from gan_core.data.augment import diff_augment, parse_policy

    assert parse_policy(" color, translation ,cutout") == ("color", "translation", "cutout")
    assert parse_policy("") == ()
    with pytest.raises(ValueError, match="unknown DiffAugment op"):
        parse_policy("colour")
    x = torch.rand(6, 3, 16, 16, requires_grad=True)
    out1 = diff_augment(x, ("color", "translation", "cutout"), torch.Generator().manual_seed(3))
    out2 = diff_augment(x, ("color", "translation", "cutout"), torch.Generator().manual_seed(3))
    assert out1.shape == x.shape and torch.equal(out1, out2)            # randomness from the generator only
    out1.sum().backward()                                                 # differentiable: G learns through it
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert diff_augment(x, (), torch.Generator()) is x


def test_diffaugment_translation_and_cutout_by_hand(monkeypatch):
    from gan_core.data import augment as A

    x = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4) + 1
    # translation ratio 0.25 on 4 px: shifts of -1..1; force dy = +1 (rows move up), dx = -1 (columns move right)
    draws = iter([torch.tensor([[[0.99]]]), torch.tensor([[[0.0]]])])
    monkeypatch.setattr(A, "_rand", lambda shape, g, like: next(draws))
    out = A._translation(x, torch.Generator(), ratio=0.25)
    expect = torch.tensor([[0, 5, 6, 7], [0, 9, 10, 11], [0, 13, 14, 15], [0, 0, 0, 0]], dtype=torch.float32)
    assert torch.equal(out[0, 0], expect)
    # cutout ratio 0.5 on 4 px: a 2x2 square of zeros centred at (cy, cx) = (2, 1)
    draws = iter([torch.tensor([[[0.5]]]), torch.tensor([[[0.3]]])])
    monkeypatch.setattr(A, "_rand", lambda shape, g, like: next(draws))
    cut = A._cutout(x, torch.Generator(), ratio=0.5)
    zeros = (cut[0, 0] == 0).nonzero().tolist()
    assert zeros == [[1, 0], [1, 1], [2, 0], [2, 1]]


def test_diffaugment_in_config_and_training(tiny_cfg):
    from gan_core.config import ConfigError
    from gan_core.train.trainer import Trainer

    with pytest.raises(ConfigError, match="data.diffaugment"):
        tiny_cfg(data={"diffaugment": "color,zoom"}).validate()
    cfg = tiny_cfg(steps=2, data={"diffaugment": "color,translation,cutout"})
    t = Trainer(cfg, None)
    events = list(t.run())
    assert t.diffaug == ("color", "translation", "cutout") and events[-1].reason == "steps"


def test_rgb_on_white_turns_a_picture_upright_and_puts_transparency_on_paper():
    """One helper for every picture the app reads (datasets, A|B pairs, sketches, style): a transparent pixel
    becomes white (not black) and a photo whose EXIF says "rotated" comes out upright."""
    from PIL import Image
    from gan_core.data.images import rgb_on_white

    clear = Image.new("RGBA", (4, 2), (255, 0, 0, 0))
    assert rgb_on_white(clear).mode == "RGB" and rgb_on_white(clear).getpixel((0, 0)) == (255, 255, 255)
    la = Image.new("LA", (2, 2), (0, 255))
    assert rgb_on_white(la).getpixel((1, 1)) == (0, 0, 0)   # opaque black stays black
    wide = Image.new("RGB", (4, 2), (0, 0, 255))
    exif = wide.getexif()
    exif[0x0112] = 6   # orientation: rotate 90 degrees to view
    buf = __import__("io").BytesIO()
    wide.save(buf, "JPEG", exif=exif.tobytes())
    assert Image.open(buf).size == (4, 2) and rgb_on_white(Image.open(buf)).size == (2, 4)

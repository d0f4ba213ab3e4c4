"""pix2pix building blocks: U-Net G and PatchGAN D (gan_core/models/pix2pix.py), paired data
(gan_core/data/edges.py) and translation helpers (gan_core/img2img/translate.py), on tiny images."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.config import DataConfig
from gan_core.data import DataError
from gan_core.data import edges as E
from gan_core.models.pix2pix import (LAMBDA_L1, PatchDiscriminator, UNetGenerator, build_pix2pix, l1_term,
                                     receptive_field)
from gan_core.img2img.translate import edges_of_photo, sketch_to_edges, translate


# ---- networks ------------------------------------------------------------------------------------
@pytest.mark.parametrize("size,patches", [(32, 6), (64, 14)])
def test_shapes(size, patches):
    torch.manual_seed(0)
    G, D = build_pix2pix(size, g_width=8, d_width=8)
    x = torch.rand(3, 1, size, size) * 2 - 1
    y = G(x)
    assert y.shape == (3, 3, size, size)
    assert y.min() >= -1 and y.max() <= 1
    logits = D(x, y)
    assert logits.shape == (3, 1, patches, patches) == (3, 1, D.output_size(), D.output_size())
    assert D.net[0].in_channels == 4  # D sees the (input, output) pair
    # D's verdict depends on the input half of the pair, not only on the output
    assert not torch.allclose(D(x.flip(0), y), logits)
    assert len(G.encoder) == size.bit_length() - 1  # down to 1x1: 5 stages for 32 px, 6 for 64 px
    with pytest.raises(ValueError, match="expected inputs"):
        G(torch.zeros(1, 3, size, size))


def test_patch_sizes_and_bad_sizes():
    assert (receptive_field(3), receptive_field(2), receptive_field(1)) == (70, 34, 16)
    assert PatchDiscriminator(64, width=8, n_layers=3)(torch.zeros(1, 1, 64, 64), torch.zeros(1, 3, 64, 64)).shape \
        == (1, 1, 6, 6)
    for bad in (24, 4, 512):
        with pytest.raises(ValueError, match="power of two"):
            UNetGenerator(bad)
    with pytest.raises(ValueError, match="n_layers"):
        PatchDiscriminator(32, n_layers=4)


def _zero_bottleneck(G: UNetGenerator):
    return G.encoder[-1].register_forward_hook(lambda m, inp, out: torch.zeros_like(out))


def test_generator_uses_its_skips():
    torch.manual_seed(0)
    G = UNetGenerator(32, width=8, dropout=0.0).eval()
    a, b = torch.rand(2, 1, 1, 32, 32) * 2 - 1
    # decoder blocks after the innermost take [previous, encoder skip]: twice the channels
    assert G.decoder[1][1].in_channels == 2 * G.decoder[0][1].out_channels
    assert G.decoder[-1][1].in_channels == 2 * 8
    hook = _zero_bottleneck(G)  # nothing passes through the 1x1 bottleneck ...
    with torch.no_grad():
        assert (G(a) - G(b)).abs().mean() > 1e-3  # ... and the input still reaches the output: the skips
        # a local change of the input changes the output around it (the outermost skip carries positions)
        a2 = a.clone()
        a2[..., 4:8, 4:8] = -a2[..., 4:8, 4:8]
        d = (G(a2) - G(a)).abs().sum(1)[0]
        assert d[2:10, 2:10].mean() > 10 * d[20:, 20:].mean()
    hook.remove()
    plain = UNetGenerator(32, width=8, dropout=0.0, skips=False).eval()  # the encoder-decoder baseline
    _zero_bottleneck(plain)
    with torch.no_grad():
        assert torch.equal(plain(a), plain(b))


def test_dropout_is_the_noise_at_test_time():
    torch.manual_seed(0)
    G = UNetGenerator(32, width=8).eval()
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        assert not torch.equal(G(x), G(x))
    edges = torch.randint(0, 2, (2, 1, 32, 32), dtype=torch.uint8) * 255
    assert torch.equal(translate(G, edges, seed=3), translate(G, edges, seed=3))
    assert not torch.equal(translate(G, edges, seed=3), translate(G, edges, seed=4))
    quiet = UNetGenerator(32, width=8, dropout_at_test=False).eval()
    with torch.no_grad():
        assert torch.equal(quiet(x), quiet(x))


def test_l1_term():
    fake, real = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    assert l1_term(fake, real).item() == pytest.approx(LAMBDA_L1 * 0.5)


# ---- edges and paired data -----------------------------------------------------------------------
def test_canny_finds_the_border_of_a_square():
    img = torch.zeros(2, 3, 24, 24, dtype=torch.uint8)
    img[0, :, 6:18, 6:18] = 255
    e = E.canny(img)
    assert e.shape == (2, 1, 24, 24) and e.dtype == torch.uint8
    assert set(e.unique().tolist()) <= {0, 255}
    edge = e[0, 0] == 0
    assert edge.sum() > 30  # the square's outline ...
    assert not edge[9:15, 9:15].any() and not edge[:3].any()  # ... and nothing inside or far outside
    assert edge[5:8, 6:18].any(1).all() and edge[6:18, 16:19].any(1).all()  # top and right sides
    assert (e[1] == 255).all()  # a flat image has no edges
    with pytest.raises(ValueError):
        E.canny(img.float())


def _cfg(tmp_path, **kw) -> DataConfig:
    base = dict(dataset="faces", image_size=32, num_samples=16, cache_dir=str(tmp_path / "cache"))
    base.update(kw)
    return DataConfig(**base)


def test_faces_edges(tmp_path):
    ds = E.load_faces_edges(_cfg(tmp_path))
    assert isinstance(ds, E.PairedDataset) and ds.name == "faces-edges"
    assert ds.images.shape == (16, 3, 32, 32) and ds.inputs.shape == (16, 1, 32, 32)
    assert ds.inputs.dtype == torch.uint8 and ds.labels.shape == (16, 2)
    share = (ds.inputs == 0).float().mean(dim=(1, 2, 3))
    assert (share > 0.05).all() and (share < 0.4).all()  # outlines, not blank and not noise
    assert torch.equal(ds.inputs, E.canny(ds.images))
    assert list((tmp_path / "cache").glob("faces_edges_*.npz"))
    again = E.load_paired(_cfg(tmp_path), "faces-edges")  # from the cache
    assert torch.equal(again.inputs, ds.inputs)


def _write_pairs(folder, n=3, size=20):
    folder.mkdir()
    rng = np.random.default_rng(0)
    pairs = []
    for i in range(n):
        a = np.full((size, size, 3), 255, np.uint8)
        a[5:15, 5 + i] = 0
        b = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        (folder / f"p{i}.png").write_bytes(E.write_pair_image(a, b))
        pairs.append((a, b))
    Image.new("RGB", (size, size), (9, 9, 9)).save(folder / "square.png")  # not an A|B pair
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return pairs


def test_pairs_folder(tmp_path):
    pairs = _write_pairs(tmp_path / "ab", size=16)
    ds = E.load_pairs_folder(_cfg(tmp_path, path=str(tmp_path / "ab"), image_size=16))
    assert ds.images.shape == (3, 3, 16, 16) and ds.inputs.shape == (3, 1, 16, 16)
    for i, (a, b) in enumerate(pairs):  # same size: no resampling, exact halves
        assert torch.equal(ds.images[i], torch.from_numpy(b).permute(2, 0, 1))
        assert torch.equal(ds.inputs[i, 0], torch.from_numpy(a[..., 0]))
    assert ds.skipped == 2 and any("not A|B pairs" in n for n in ds.notes)
    swapped = E.load_pairs_folder(_cfg(tmp_path, path=str(tmp_path / "ab"), image_size=8), a_side="right",
                                  input_channels=3)
    assert swapped.inputs.shape == (3, 3, 8, 8) and swapped.images.shape == (3, 3, 8, 8)
    assert (swapped.images.float().mean() > 200)  # the white edge halves are now the targets
    with pytest.raises(DataError, match="does not exist"):
        E.load_pairs_folder(_cfg(tmp_path, path=str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no usable A|B pairs"):
        E.load_paired(_cfg(tmp_path, path=str(tmp_path / "empty")), "pairs")


def test_edges_of_a_plain_folder(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    for i in range(3):
        img = np.full((40, 40, 3), 30, np.uint8)
        img[10:30, 8 + i:28 + i] = (250, 200, 20)
        Image.fromarray(img).save(folder / f"{i}.png")
    ds = E.load_paired(_cfg(tmp_path, dataset="folder", path=str(folder)), "edges")
    assert ds.images.shape == (3, 3, 32, 32) and ds.inputs.shape == (3, 1, 32, 32)
    assert torch.equal(ds.inputs, E.canny(ds.images))
    assert ((ds.inputs == 0).sum(dim=(1, 2, 3)) > 20).all()
    with pytest.raises(DataError, match="unknown paired data"):
        E.load_paired(_cfg(tmp_path), "sketches")


# ---- translation ---------------------------------------------------------------------------------
def test_translate_and_edges_of_photo():
    torch.manual_seed(0)
    G = UNetGenerator(32, width=8)
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 256, (50, 40, 3), dtype=np.uint8))
    e = edges_of_photo(photo, size=32)
    assert e.shape == (1, 32, 32) and e.dtype == torch.uint8
    out = translate(G, e, seed=0)
    assert out.shape == (3, 32, 32) and out.dtype == torch.uint8
    batch = translate(G, torch.full((4, 1, 64, 64), 255, dtype=torch.uint8))  # resized to G's 32 px
    assert batch.shape == (4, 3, 32, 32)
    assert G.training  # translate leaves G's mode as it was
    assert edges_of_photo(torch.zeros(2, 3, 16, 16, dtype=torch.uint8)).shape == (2, 1, 16, 16)
    with pytest.raises(ValueError):
        translate(G, torch.zeros(1, 1, 32, 32))


def test_sketch_to_edges_keeps_thin_strokes():
    canvas = np.full((256, 256, 4), 255, np.uint8)
    canvas[100:103, 20:230, :3] = 0  # a 3-pixel line drawn on a 256 px canvas
    e = sketch_to_edges(canvas, 32)
    assert e.shape == (1, 32, 32)
    rows = (e[0] == 0).any(1).nonzero().flatten().tolist()
    assert rows and all(11 <= r <= 13 for r in rows)
    assert (e[0] == 0).sum() >= 20


def test_generator_learns_faces_from_edges(tmp_path):
    """A few L1 steps on faces-edges: the U-Net's error to the true faces goes down."""
    torch.manual_seed(0)
    ds = E.load_faces_edges(_cfg(tmp_path, num_samples=32))
    G = UNetGenerator(32, width=8, dropout=0.0)
    opt = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    x = ds.inputs.float() / 127.5 - 1
    y = ds.images.float() / 127.5 - 1
    with torch.no_grad():
        G.eval()
        before = (G(x) - y).abs().mean().item()
    G.train()
    for _ in range(40):
        opt.zero_grad()
        l1_term(G(x), y, 1.0).backward()
        opt.step()
    G.eval()
    with torch.no_grad():
        after = (G(x) - y).abs().mean().item()
    assert after < 0.6 * before


# ---- integration: config, registry, trainer, checkpoints, metrics, CLI, view helpers ----------------------
from gan_core.train import pix2pix_step as P  # noqa: E402
from gan_core.config.checks import check_config  # noqa: E402
from gan_core.config import ConfigError, RunConfig  # noqa: E402
from gan_core.data.edges import PairedDataset  # noqa: E402
from gan_core.train.events import DoneEvent, ErrorEvent, SampleEvent, StepEvent  # noqa: E402
from gan_core.train.trainer import Trainer  # noqa: E402


def _p2p_cfg(tiny_cfg, steps=2, **sections):
    return tiny_cfg(dataset="faces-edges", arch="pix2pix", steps=steps, **sections)


def test_config_and_registry_pair_pix2pix_with_paired_data(tiny_cfg, tmp_path):
    from gan_core.models import ARCHITECTURES, is_conditional, is_translator
    from gan_core.train.recipes import PIX2PIX_RECIPE, apply_preset
    from gan_core.studio import relevant_fields

    cfg = check_config(_p2p_cfg(tiny_cfg))
    assert cfg.loss.l1_weight == 100.0 and ARCHITECTURES["pix2pix"].conditioning == "image"
    assert is_translator("pix2pix") and not is_conditional("pix2pix")
    for bad, field in ((dict(dataset="faces", arch="pix2pix"), "model.arch"),
                       (dict(dataset="faces-edges", arch="dcgan"), "model.arch")):
        with pytest.raises(ConfigError) as e:
            check_config(tiny_cfg(**bad))
        assert e.value.field == field and "pair" in str(e.value)
    with pytest.raises(ConfigError) as e:
        RunConfig().replace(data={"dataset": "faces", "pairs": "ab"}).validate()
    assert e.value.field == "data.pairs"
    with pytest.raises(ConfigError) as e:
        RunConfig().replace(data={"dataset": "folder", "path": "x", "pairs": "abc"}).validate()
    assert e.value.field == "data.pairs"
    folder = RunConfig().replace(data={"dataset": "folder", "path": str(tmp_path), "pairs": "edges"},
                                 model={"arch": "pix2pix"})
    assert check_config(folder) is folder
    assert apply_preset(RunConfig().replace(data={"dataset": "faces-edges"}), "tiny").model.arch == "pix2pix"
    assert apply_preset(folder, "tiny").loss.l1_weight == PIX2PIX_RECIPE["loss"]["l1_weight"]
    f = relevant_fields("faces-edges", "pix2pix", "ns")
    assert "loss.l1_weight" in f and "model.g_dropout" not in f and "model.embed_dim" not in f
    assert "loss.l1_weight" not in relevant_fields("faces", "dcgan", "ns")
    assert "data.pairs" in relevant_fields("folder", "pix2pix", "ns")


def test_trainer_logs_both_terms_and_draws_input_output_target_grids(tiny_cfg, tmp_path):
    cfg = _p2p_cfg(tiny_cfg, steps=3, train={"sample_every": 3, "grid_size": 4})
    trainer = Trainer(cfg, tmp_path)
    events = list(trainer.run())
    assert not [e for e in events if isinstance(e, ErrorEvent)], events
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert all({"g_adv", "l1", "d_adv"} <= set(s.extra) for s in steps)
    # G's loss is its GAN term plus lambda * L1
    last = steps[-1]
    assert last.g_loss == pytest.approx(last.extra["g_adv"] + 100.0 * last.extra["l1"], rel=1e-4)
    assert isinstance(trainer.G, UNetGenerator) and isinstance(trainer.D, PatchDiscriminator)
    grid = [e for e in events if isinstance(e, SampleEvent)][-1].image
    s = 16 + 2  # tile and padding: 4 pairs = 2 triples per row, 2 rows
    assert grid.shape == (2 * s + 2, 6 * s + 2, 3)
    inputs, targets = trainer.strategy.grid_pairs
    tile = lambda r, c: grid[2 + r * s:2 + r * s + 16, 2 + c * s:2 + c * s + 16]  # noqa: E731
    assert np.array_equal(tile(0, 0)[..., 0], inputs[0, 0].numpy())          # input column: the edges
    assert np.array_equal(tile(0, 2), targets[0].permute(1, 2, 0).numpy())   # target column: the true face
    assert not np.array_equal(tile(0, 1), tile(0, 2))                        # output: G's picture
    # the grid shows held-out pairs: 64 faces -> the last 6 are never trained on
    assert trainer.strategy.n_train == 58 and P.split(64) == (slice(0, 58), slice(58, 64))
    assert isinstance(events[-1], DoneEvent) and (tmp_path / "last.pt").exists()


def test_held_out_pairs_are_never_in_a_batch(tiny_cfg):
    n = 40
    targets = torch.full((n, 3, 16, 16), 200, dtype=torch.uint8)
    targets[P.split(n)[1]] = 0                       # the held-out targets are black
    inputs = torch.full((n, 1, 16, 16), 255, dtype=torch.uint8)
    ds = PairedDataset("pairs", targets, inputs=inputs)
    trainer = Trainer(_p2p_cfg(tiny_cfg, steps=1), dataset=ds)
    list(trainer.run())
    assert P.held_out_count(n) == 4 and trainer.strategy.n_train == 36
    for _ in range(30):
        y, x, lab, ask = trainer._batch()
        assert y.shape == (8, 3, 16, 16) and x.shape == (8, 1, 16, 16) and lab is None
        assert bool((y.flatten(1).amin(1) > 0).all())  # no black (held-out) target was drawn
    assert P.held_out_count(19) == 0 and P.held_out_count(100_000) == P.MAX_HELD_OUT


def test_pix2pix_needs_pairs_and_refuses_z_sampling(tiny_cfg):
    from gan_core.models import latent
    from gan_core.data import load_dataset

    faces = load_dataset(tiny_cfg().data)
    events = list(Trainer(_p2p_cfg(tiny_cfg), dataset=faces).run())
    assert isinstance(events[-2], ErrorEvent) and "paired images" in events[-2].message
    G, _ = build_pix2pix(16, g_width=8, d_width=8)
    with pytest.raises(ValueError, match="image-to-image"):
        latent.sample(G, 4, seed=0)


@pytest.fixture(scope="module")
def p2p_run(tmp_path_factory, cache_dir):
    """A 4-step pix2pix run on faces-edges (16 px), exported to safetensors through the CLI."""
    from gan_core.cli import main

    out = tmp_path_factory.mktemp("p2p")
    cfg = RunConfig().replace(
        data={"dataset": "faces-edges", "image_size": 16, "num_samples": 64, "cache_dir": cache_dir},
        model={"arch": "pix2pix", "g_width": 8, "d_width": 8},
        train={"steps": 4, "batch_size": 8, "log_every": 2, "sample_every": 0, "checkpoint_every": 2,
               "device": "cpu", "grid_size": 4})
    events = list(Trainer(cfg, out / "run").run())
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "steps"
    assert main(["export", "--checkpoint", str(out / "run" / "last.pt"), "--out", str(out / "g.safetensors")]) == 0
    return out


def test_checkpoint_export_and_load_translator(p2p_run):
    from gan_core.storage.checkpoint import checkpoint_summary, load_checkpoint
    from gan_core.img2img.translate import TranslateError, load_translator

    state = load_checkpoint(p2p_run / "run" / "last.pt")
    assert checkpoint_summary(state)["arch"] == "pix2pix" and not checkpoint_summary(state)["conditional"]
    a, b = load_translator(p2p_run / "run" / "last.pt"), load_translator(p2p_run / "g.safetensors")
    assert isinstance(b, UNetGenerator) and b.image_size == 16 and not b.training
    e = torch.zeros(2, 1, 16, 16, dtype=torch.uint8)
    assert torch.equal(translate(a, e), translate(b, e))
    with pytest.raises(TranslateError, match="does not exist"):
        load_translator(p2p_run / "nope.pt")


def test_cli_translate(p2p_run, tmp_path, capsys):
    from gan_core.cli import main

    ckpt = str(p2p_run / "g.safetensors")
    sketch = np.full((100, 120, 3), 255, np.uint8)
    sketch[30:70, 40:44] = 0
    Image.fromarray(sketch).save(tmp_path / "edges.png")
    photo = np.zeros((64, 64, 3), np.uint8)
    photo[16:48, 16:48] = (250, 200, 30)
    Image.fromarray(photo).save(tmp_path / "photo.jpg")
    assert main(["translate", "--checkpoint", ckpt, "--input", str(tmp_path / "edges.png"),
                 "--out", str(tmp_path / "out.png")]) == 0
    assert Image.open(tmp_path / "out.png").size == (16, 16) and "wrote" in capsys.readouterr().out
    assert main(["translate", "--checkpoint", ckpt, "--input", str(tmp_path / "photo.jpg"), "--from-photo",
                 "--edges-out", str(tmp_path / "e.png"), "--out", str(tmp_path / "o.jpg"), "--quiet"]) == 0
    edges = np.asarray(Image.open(tmp_path / "e.png"))
    assert edges.shape == (16, 16) and (edges == 0).sum() > 8 and set(np.unique(edges)) <= {0, 255}
    assert Image.open(tmp_path / "o.jpg").size == (16, 16)
    capsys.readouterr()
    bad = [(["--input", str(tmp_path / "missing.png")], "does not exist"),
           (["--input", str(tmp_path / "edges.png"), "--edges-out", str(tmp_path / "x.png")], "--from-photo"),
           (["--input", str(tmp_path / "out.png"), "--out", str(tmp_path / "x.gif")], "must end in"),
           (["--input", str(p2p_run / "g.safetensors")], "not a readable picture")]
    for extra, msg in bad:
        args = ["translate", "--checkpoint", ckpt, "--out", str(tmp_path / "x.png"), *extra]
        if "--out" in extra:
            args = ["translate", "--checkpoint", ckpt, *extra]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, err
    assert main(["translate", "--checkpoint", str(tmp_path / "nope.pt"), "--input", str(tmp_path / "edges.png"),
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_translate_refuses_a_noise_generator(tiny_cfg, tmp_path, capsys):
    from gan_core.cli import main

    list(Trainer(tiny_cfg(steps=1), tmp_path / "r").run())
    Image.fromarray(np.full((16, 16), 255, np.uint8)).save(tmp_path / "e.png")
    assert main(["translate", "--checkpoint", str(tmp_path / "r" / "last.pt"), "--input", str(tmp_path / "e.png"),
                 "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert "'dcgan' generator" in err and "pix2pix" in err and err.count("\n") == 1


def test_paired_metrics_and_listener(p2p_run, tmp_path):
    from types import SimpleNamespace

    from gan_core import metrics as M
    from gan_core.data import load_dataset
    from gan_core.train.events import CheckpointEvent
    from gan_core.img2img.translate import load_translator

    state_cfg = RunConfig.from_json((p2p_run / "run" / "config.json").read_text())
    ds = load_dataset(state_cfg.data)
    G = load_translator(p2p_run / "run" / "last.pt")
    ref = M.paired_reference(ds, "faces", 6)
    assert ref.held_out and torch.equal(ref.targets, ds.images[58:64])
    row = M.evaluate_translator(G, ref, "faces")
    assert row["n_pairs"] == 6 and row["l1"] > 0 and row["l1_mean_face"] > 0
    assert row["l1_ratio"] == pytest.approx(row["l1"] / row["l1_mean_face"])
    assert np.isfinite(row["fid"]) and row["features"] and "held-out" in row["label"]
    # a perfect translator scores 0; the mean picture scores l1_mean_face
    assert M.paired.mean_abs_error(ref.targets, ref.targets) == 0.0
    # the metrics listener judges a pix2pix checkpoint through this path
    extras: dict = {}
    job = SimpleNamespace(id=7, run_dir=tmp_path, cfg=state_cfg,
                          add_extra=lambda k, r: extras.setdefault(k, []).append(r))
    M.MetricsListener(every_n_steps=1, n_samples=8)(job, CheckpointEvent(4, str(p2p_run / "run" / "last.pt")))
    assert not extras.get("metrics_status"), extras
    (m,) = extras["metrics"]
    assert m["step"] == 4 and m["l1"] > 0 and np.isfinite(m["fid"]) and m["n_pairs"] == 6
    from gan_core.studio import quality_rows   # Compare's quality table
    rows = quality_rows([SimpleNamespace(name="p2p", path=tmp_path)])
    assert rows[0]["evaluated at step"] == 4 and any(k.startswith("L1") for k in rows[0])


def test_sketch_view_helpers():
    from gan_core.img2img.translate import compose_drawing, enlarge, random_face_edges, sketch_view

    face, edges = random_face_edges(3, 32)
    assert face.shape == (3, 32, 32) and edges.shape == (1, 32, 32) and (edges == 0).sum() > 20
    face2, _ = random_face_edges(3, 32)
    assert torch.equal(face, face2)
    big = enlarge(edges, 8)
    assert big.shape == (256, 256, 3)
    strokes = np.zeros((256, 256, 4), np.uint8)
    strokes[100:110, :, :3], strokes[100:110, :, 3] = 0, 255          # a black line across
    strokes[:, :40, :3], strokes[:, :40, 3] = 255, 255                # white paint erases the left side
    drawn = compose_drawing(big, strokes)
    assert drawn.shape == (256, 256, 3) and (drawn[:, :40] == 255).all() and (drawn[100:110, 40:] == 0).all()
    assert (compose_drawing(None, strokes)[200:, 50:] == 255).all()
    torch.manual_seed(0)
    G = UNetGenerator(32, width=8)
    v = sketch_view(G, drawn, seed=1)
    assert v["edges"].shape == (32, 32) and v["picture"].shape == (32, 32, 3) and v["picture_big"].shape == (256, 256, 3)
    assert (v["edges"][12:14, 5:] == 0).all() and (v["edges"][:, :4] == 255).all()
    assert np.array_equal(sketch_view(G, drawn, seed=1)["picture"], v["picture"])


def test_cli_evaluate_and_sample_on_a_pix2pix_generator(p2p_run, tmp_path, capsys):
    import json

    from gan_core.cli import main

    ckpt = str(p2p_run / "g.safetensors")
    assert main(["evaluate", "--checkpoint", ckpt, "--n", "8"]) == 0
    out = capsys.readouterr()
    row = json.loads(out.out)
    assert row["n_pairs"] == 6 and row["held_out"] and row["l1"] > 0 and row["fid"] >= 0  # 6 held-out of 64
    assert "held-out pairs" in out.err and "FID" in out.err
    assert main(["sample", "--checkpoint", ckpt, "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert "pix2pix generator" in err and "translate" in err and err.count("\n") == 1

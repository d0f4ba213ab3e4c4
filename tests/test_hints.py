"""Colour hints for pix2pix (gan_core/data/hints.py): making dabs of the true colours, hint pictures and
drawings with coloured strokes, a U-Net with 4 more input channels, training and exporting it, and every
path that translates (translate, sketch_view, the translate CLI, the paired metrics); edges-only
generators, old files included, keep working."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.config import RunConfig
from gan_core.data import hints as H
from gan_core.train.events import DoneEvent, ErrorEvent, SampleEvent
from gan_core.models.pix2pix import build_pix2pix
from gan_core.train.trainer import Trainer
from gan_core.img2img.translate import sketch_view, takes_hints, translate


def _faces(n=20, size=16):
    from gan_core.data.faces import generate_faces

    return torch.from_numpy(generate_faces(n, size, seed=5)[0])


# ---- making hints -----------------------------------------------------------------------------------
def test_make_hints_counts_masks_colours_and_seed():
    y = _faces(40, 32)
    h = H.make_hints(y, torch.Generator().manual_seed(0), 6, min_dabs=2, p_none=0.0, sizes=(1, 1))
    assert h.shape == (40, 4, 32, 32) and h.dtype == torch.uint8
    mask = h[:, 3] > 0
    assert set(h[:, 3].unique().tolist()) <= {0, 255}
    n = mask.flatten(1).sum(1)
    assert bool(((n >= 1) & (n <= 6)).all()) and n.float().mean() > 3     # 2..6 one-pixel dabs (rarely on one spot)
    on = mask[:, None].expand(-1, 3, -1, -1)
    assert torch.equal(h[:, :3][on], y[on]) and bool((h[:, :3][~on] == 0).all())   # the true colours, 0 elsewhere
    # the same generator state gives the same hints; another seed others
    again = H.make_hints(y, torch.Generator().manual_seed(0), 6, min_dabs=2, p_none=0.0, sizes=(1, 1))
    assert torch.equal(h, again)
    assert not torch.equal(h, H.make_hints(y, torch.Generator().manual_seed(1), 6, min_dabs=2, p_none=0.0, sizes=(1, 1)))
    # one 3x3 dab: a square of 9 pixels inside the picture
    sq = H.make_hints(y[:5], torch.Generator().manual_seed(2), 1, min_dabs=1, p_none=0.0, sizes=(3, 3))[:, 3] > 0
    for m in sq:
        rows, cols = m.nonzero(as_tuple=True)
        assert m.sum() == 9 and rows.max() - rows.min() == 2 and cols.max() - cols.min() == 2
    # p_none: that share of pictures gets no dab at all; max_dabs 0: never any
    some = H.make_hints(_faces(400, 16), torch.Generator().manual_seed(3), 8)
    none = (some[:, 3].flatten(1).amax(1) == 0).float().mean()
    assert abs(float(none) - H.P_NONE) < 0.08
    assert not H.make_hints(y, torch.Generator(), 0).any()
    # the judging hints: exactly 8 dabs of 2x2 (they may overlap), fixed by the seed
    e = H.eval_hints(y, seed=4)
    cover = (e[:, 3] > 0).flatten(1).sum(1)
    assert bool((cover <= 32).all()) and bool((cover >= 8).all()) and torch.equal(e, H.eval_hints(y, seed=4))
    with pytest.raises(ValueError):
        H.make_hints(y[:, :1], torch.Generator(), 3)


def test_hint_pictures_round_trip_and_drawings_split_into_lines_and_dabs():
    h = torch.zeros(4, 16, 16, dtype=torch.uint8)
    h[:, 2:4, 2:4] = torch.tensor([255, 255, 255, 255])[:, None, None]    # a white dab
    h[:, 8:10, 5:7] = torch.tensor([0, 0, 0, 255])[:, None, None]         # a black one
    h[:, 12, 12] = torch.tensor([30, 70, 225, 255])                       # a blue pixel
    pic = H.hint_picture(h)
    assert pic.shape == (16, 16, 4)
    assert torch.equal(H.hints_from_picture(pic, 16), h)
    big = np.repeat(np.repeat(pic, 8, 0), 8, 1)                            # on a 128 px canvas
    assert torch.equal(H.hints_from_picture(big, 16), h)
    # an opaque picture: white is paper, any other colour a dab, in the mean colour of what covers a pixel
    opaque = np.full((64, 64, 3), 255, np.uint8)
    opaque[0:8, 0:8] = (200, 30, 30)
    got = H.hints_from_picture(opaque, 16)
    assert got[3, :2, :2].eq(255).all() and got[3].gt(0).sum() == 4 and tuple(got[:3, 0, 0].tolist()) == (200, 30, 30)
    assert H.hints_from_picture(Image.fromarray(opaque), 16).equal(got)
    # a drawing: black lines stay lines; a coloured stroke is a dab that leaves the line beneath it
    bg = np.full((128, 128, 3), 255, np.uint8)
    bg[60:64, :] = 0
    strokes = np.zeros((128, 128, 4), np.uint8)
    strokes[50:80, 10:40] = (40, 90, 220, 255)                             # a blue dab over the line
    strokes[10:14, 10:120] = (0, 0, 0, 255)                                # a new black line
    strokes[100:128, 100:128] = (255, 255, 255, 255)                       # eraser
    lines, hp = H.split_drawing(bg, strokes)
    assert (lines[60:64, 10:40] == 0).all() and (lines[10:14, 10:120] == 0).all() and (lines[55, 20] == 255).all()
    assert (hp[50:80, 10:40, 3] == 255).all() and tuple(hp[60, 20, :3]) == (40, 90, 220) and hp[..., 3].sum() == 30 * 30 * 255
    assert (lines[100:, 100:] == 255).all()
    # coloured pixels of the background are dabs too, and the eraser or the pen covers them
    bg2 = bg.copy()
    bg2[100:110, 100:110] = (250, 130, 0)
    lines2, hp2 = H.split_drawing(bg2, strokes)
    assert not hp2[100:110, 100:110, 3].any() and (lines2[100:110, 100:110] == 255).all()
    lines3, hp3 = H.split_drawing(bg2, None)
    assert (hp3[100:110, 100:110, 3] == 255).all() and (lines3[100:110, 100:110] == 255).all()
    # a separate hint picture can carry black dabs, which a drawing cannot
    sep = np.zeros((128, 128, 4), np.uint8)
    sep[20:36, 50:66] = (20, 20, 25, 255)
    sep[8:16, 20:28] = (20, 20, 25, 255)                                   # ... under the new black line
    _, hp4 = H.split_drawing(bg, strokes, hints=sep)
    assert (hp4[20:36, 50:66, 3] == 255).all() and (hp4[20:36, 50:66, 0] == 20).all()
    assert (hp4[8:10, 20:28, 3] == 255).all() and not hp4[10:14, 20:28, 3].any()   # the pen covers a dab
    # the overlay shows the dabs over the edges
    e = torch.full((1, 16, 16), 255, dtype=torch.uint8)
    ov = H.hint_overlay(e, h)
    assert ov.shape == (3, 16, 16) and tuple(ov[:, 12, 12].tolist()) == (30, 70, 225) and ov[:, 0, 0].eq(255).all()
    assert torch.equal(H.hint_overlay(e, None), e.expand(3, -1, -1))


# ---- networks and translation ------------------------------------------------------------------------
def test_a_hint_generator_takes_four_more_channels_and_works_without_hints():
    torch.manual_seed(0)
    G, D = build_pix2pix(16, g_width=8, d_width=8, hint_channels=4)
    assert (G.in_channels, G.hint_channels, D.in_channels) == (5, 4, 5) and D.net[0].in_channels == 8
    assert G(torch.zeros(2, 5, 16, 16)).shape == (2, 3, 16, 16) and D(torch.zeros(2, 5, 16, 16), torch.zeros(2, 3, 16, 16)).shape[:2] == (2, 1)
    G.eval()
    y = _faces(3, 16)
    edges = torch.full((3, 1, 16, 16), 255, dtype=torch.uint8)
    hints = H.eval_hints(y, 4)
    a = translate(G, edges, seed=0, hints=hints)
    assert a.shape == (3, 3, 16, 16) and takes_hints(G)
    assert torch.equal(translate(G, edges, seed=0), translate(G, edges, seed=0, hints=H.no_hints(3, 16)))
    assert not torch.equal(a, translate(G, edges, seed=0))
    # hints of another size are cropped and resized like the edges; one set of hints serves a batch
    big = hints.repeat_interleave(4, 2).repeat_interleave(4, 3)
    assert torch.equal(translate(G, edges, seed=0, hints=big), a)
    assert translate(G, edges[0], seed=0, hints=hints[0]).shape == (3, 16, 16)
    assert translate(G, edges, seed=0, hints=hints[:1]).shape == (3, 3, 16, 16)
    with pytest.raises(ValueError, match="hints for 1 or 3"):
        translate(G, edges, hints=hints[:2])
    old, _ = build_pix2pix(16, g_width=8, d_width=8)
    assert not takes_hints(old) and old.in_channels == 1
    with pytest.raises(ValueError, match="no colour hints"):
        translate(old, edges, hints=hints)
    with pytest.raises(ValueError, match="hint_channels"):
        build_pix2pix(16, in_channels=1, hint_channels=-1)


@pytest.fixture(scope="module")
def hint_run(tmp_path_factory, cache_dir):
    """A 4-step pix2pix run with up to 4 colour dabs per pair (16 px), exported."""
    from gan_core.storage.checkpoint import export_generator, load_checkpoint
    from gan_core.data import load_dataset

    out = tmp_path_factory.mktemp("hints")
    cfg = RunConfig().replace(
        data={"dataset": "faces-edges", "image_size": 16, "num_samples": 64, "cache_dir": cache_dir, "hints": 4},
        model={"arch": "pix2pix", "g_width": 8, "d_width": 8},
        train={"steps": 4, "batch_size": 8, "log_every": 2, "sample_every": 4, "checkpoint_every": 0,
               "device": "cpu", "grid_size": 4})
    assert load_dataset(cfg.data).hints == 4   # data.hints reaches the paired set
    tr = Trainer(cfg, out / "run")
    events = list(tr.run())
    assert not [e for e in events if isinstance(e, ErrorEvent)] and isinstance(events[-1], DoneEvent)
    export_generator(load_checkpoint(out / "run" / "last.pt"), out / "g.safetensors")
    return {"dir": out, "trainer": tr, "events": events, "export": out / "g.safetensors"}


def test_training_with_hints_feeds_dabs_of_the_true_colours_and_records_them(hint_run):
    from gan_core.storage.checkpoint import load_generator

    tr = hint_run["trainer"]
    assert (tr.spec.hint_channels, tr.spec.hint_dabs, tr.G.in_channels) == (4, 4, 5)
    y, x, lab, ask = tr._batch()
    assert lab is None                                          # plain pix2pix: no tags
    assert x.shape == (8, 5, 16, 16) and y.shape == (8, 3, 16, 16)
    m = x[:, 4:5] > 0                                           # the mask channel ([-1, 1]: 1 on a dab)
    assert m.any() and torch.allclose(x[:, 1:4][m.expand(-1, 3, -1, -1)], y[m.expand(-1, 3, -1, -1)])
    assert bool((x[:, 1:4][~m.expand(-1, 3, -1, -1)] == -1).all())
    # the grid's input column shows the dabs in colour over the edges
    grid = [e for e in hint_run["events"] if isinstance(e, SampleEvent)][-1].image
    inputs = grid[2:2 + 2 * 18, 2:2 + 16]
    assert (inputs.max(2).astype(int) - inputs.min(2)).max() > 24
    # the checkpoint and the export say so, and load as hint generators
    for path in (hint_run["dir"] / "run" / "last.pt", hint_run["export"]):
        G, _, spec = load_generator(path)
        assert (spec.input_channels, spec.hint_channels, spec.hint_dabs) == (1, 4, 4)
        assert takes_hints(G) and G.in_channels == 5


def test_old_edges_only_files_load_and_translate(tmp_path, tiny_cfg):
    """An export written before hints existed (no input/hint fields in its data spec) is an edges-only G."""
    from safetensors.torch import load_file, save_file

    from gan_core.storage.checkpoint import export_generator, load_checkpoint, load_generator

    cfg = tiny_cfg(dataset="faces-edges", arch="pix2pix", steps=1)
    list(Trainer(cfg, tmp_path / "r").run())
    new = export_generator(load_checkpoint(tmp_path / "r" / "last.pt"), tmp_path / "new.safetensors")
    from safetensors import safe_open

    with safe_open(str(new), "pt") as f:
        meta = dict(f.metadata())
    spec = json.loads(meta["data_spec"])
    assert (spec["input_channels"], spec["hint_channels"], spec["hint_dabs"]) == (1, 0, 0)
    for k in ("input_channels", "hint_channels", "hint_dabs"):
        del spec[k]
    meta["data_spec"] = json.dumps(spec)
    save_file(load_file(str(new)), str(tmp_path / "old.safetensors"), metadata=meta)
    G, _, s = load_generator(tmp_path / "old.safetensors")
    assert (s.input_channels, s.hint_channels) == (1, 0) and G.in_channels == 1 and not takes_hints(G)
    out = translate(G, torch.full((2, 1, 16, 16), 255, dtype=torch.uint8), seed=0)
    assert out.shape == (2, 3, 16, 16)
    # a data spec with impossible channels is refused with one line
    spec["hint_channels"] = 3
    meta["data_spec"] = json.dumps(spec)
    save_file(load_file(str(new)), str(tmp_path / "bad.safetensors"), metadata=meta)
    from gan_core.storage.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="hint_channels"):
        load_generator(tmp_path / "bad.safetensors")


def test_cli_translate_with_a_hints_picture(hint_run, tmp_path, capsys, tiny_cfg):
    from gan_core.cli import main

    ckpt = str(hint_run["export"])
    sketch = np.full((64, 64, 3), 255, np.uint8)
    sketch[20:44, 30:34] = 0
    Image.fromarray(sketch).save(tmp_path / "edges.png")
    dabs = np.zeros((64, 64, 4), np.uint8)
    dabs[0:16, 0:16] = (30, 70, 225, 255)
    dabs[48:64, 48:64] = (20, 20, 20, 255)                       # black: fine in a separate hints picture
    Image.fromarray(dabs).save(tmp_path / "hints.png")
    args = ["translate", "--checkpoint", ckpt, "--input", str(tmp_path / "edges.png")]
    assert main(args + ["--out", str(tmp_path / "plain.png")]) == 0
    assert main(args + ["--hints", str(tmp_path / "hints.png"), "--out", str(tmp_path / "hinted.png")]) == 0
    assert "32 pixels of colour dabs" in capsys.readouterr().out       # 2 dabs of 4 x 4 pixels at 16 px
    plain, hinted = (np.asarray(Image.open(tmp_path / f)) for f in ("plain.png", "hinted.png"))
    assert plain.shape == hinted.shape == (16, 16, 3) and not np.array_equal(plain, hinted)
    # coloured strokes in the drawing itself are dabs too, with a photo's edges the hints file
    both = sketch.copy()
    both[0:16, 0:16] = (30, 70, 225)
    Image.fromarray(both).save(tmp_path / "both.png")
    assert main(["translate", "--checkpoint", ckpt, "--input", str(tmp_path / "both.png"), "--out",
                 str(tmp_path / "both_out.png")]) == 0
    assert "16 pixels of colour dabs" in capsys.readouterr().out
    assert main(["translate", "--checkpoint", ckpt, "--input", str(tmp_path / "both.png"), "--from-photo",
                 "--hints", str(tmp_path / "hints.png"), "--out", str(tmp_path / "p.png"), "--quiet"]) == 0
    # one-line errors: a missing hints file; hints for an edges-only generator
    assert main(args + ["--hints", str(tmp_path / "nope.png"), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "--hints" in err and "does not exist" in err and err.count("\n") == 1
    cfg = tiny_cfg(dataset="faces-edges", arch="pix2pix", steps=1)
    list(Trainer(cfg, tmp_path / "old").run())
    assert main(["translate", "--checkpoint", str(tmp_path / "old" / "last.pt"), "--input", str(tmp_path / "edges.png"),
                 "--hints", str(tmp_path / "hints.png"), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "takes no colour hints" in err and err.count("\n") == 1


def test_sketch_view_and_metrics_with_hints(hint_run):
    from gan_core import metrics as M
    from gan_core.data import load_dataset
    from gan_core.img2img.translate import enlarge, face_hints, load_translator, random_face_edges

    G = load_translator(hint_run["export"])
    face, edges = random_face_edges(3, 16)
    lines = enlarge(edges, 8)
    strokes = np.zeros((128, 128, 4), np.uint8)
    strokes[0:32, 0:32] = (30, 70, 225, 255)                     # a blue dab in a corner
    v0 = sketch_view(G, lines, seed=0)
    v1 = sketch_view(G, lines, seed=0, strokes=strokes)
    assert v0["dabs"] == 0 and v1["dabs"] == 16 and v1["hints"].shape == (4, 16, 16) and not v1["note"]
    assert np.array_equal(v1["edges"], v0["edges"]) and not np.array_equal(v1["picture"], v0["picture"])
    assert tuple(v1["seen"][1, 1]) == (30, 70, 225) and v1["seen_big"].shape == (128, 128, 3)
    # the dabs of a random face's true colours, given as a hint picture
    from gan_core.data.hints import hint_picture

    fh = face_hints(face, 5, seed=3)
    assert fh.shape == (4, 16, 16) and torch.equal(fh, face_hints(face, 5, seed=3))
    v2 = sketch_view(G, lines, seed=0, hints=hint_picture(fh))
    assert v2["dabs"] == int((fh[3] > 0).sum()) > 0
    # an edges-only generator ignores dabs and says so
    old, _ = build_pix2pix(16, g_width=8, d_width=8)
    v3 = sketch_view(old.eval(), lines, seed=0, strokes=strokes)
    assert v3["dabs"] == 0 and v3["hints"] is None and "no colour hints" in v3["note"]
    # the paired metrics judge a hint generator from edges alone and with 8 true-colour dabs
    from gan_core.storage.checkpoint import load_generator

    _, cfg, _ = load_generator(hint_run["export"])
    ref = M.paired_reference(load_dataset(cfg.data), None, 6)
    row = M.evaluate_translator(G, ref)
    assert row["hint_dabs"] == H.EVAL_DABS and row["l1_hints"] > 0 and "colour dabs" in row["label"]
    assert row["l1_hints_ratio"] == pytest.approx(row["l1_hints"] / row["l1_mean_face"])
    assert "l1_hints" not in M.evaluate_translator(old, ref)


def test_hints_setting_is_for_image_to_image_only_and_resume_checks_the_channels(hint_run, cache_dir, tmp_path):
    from gan_core.config.checks import check_config
    from gan_core.config import ConfigError
    from gan_core.studio import form_fields

    with pytest.raises(ConfigError, match="data.hints"):
        check_config(RunConfig().replace(data={"dataset": "faces", "hints": 2}, model={"arch": "acgan"}))
    assert "data.hints" in {f.key for f in form_fields("faces-edges", "pix2pix", "ns")}
    assert "data.hints" not in {f.key for f in form_fields("faces", "acgan", "ns")}
    # a hint checkpoint resumed on edges-only data says why instead of failing on a weight shape
    from gan_core.data import load_dataset

    cfg = hint_run["trainer"].cfg.replace(train={"steps": 6})
    plain = load_dataset(cfg.replace(data={"hints": 0}).data)   # the same faces, edges only
    events = list(Trainer(cfg, tmp_path / "r", resume=hint_run["dir"] / "run" / "last.pt", dataset=plain).run())
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert errors and "trained on data shaped" in errors[0].message

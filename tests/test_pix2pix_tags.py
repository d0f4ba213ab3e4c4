"""Tag-conditional pix2pix (issue 21): the U-Net G that also takes the hair and eye tags (arch
pix2pix-tags, model.g_cond as for the DCGAN), trained with the true tags; translate / sketch_view / the CLI
with tags ("random" = a random pick); and the sketch measures (edge F1, tag faithfulness)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.config import ConfigError, RunConfig
from gan_core.train.events import DoneEvent, ErrorEvent
from gan_core.metrics.paired import edge_f1, edge_faithfulness, tag_faithfulness
from gan_core.models.common import ConditionalBatchNorm2d
from gan_core.models.pix2pix import UNetGenerator
from gan_core.train.trainer import Trainer
from gan_core.img2img.translate import sketch_view, tag_labels, takes_tags, translate


# ---- the network -----------------------------------------------------------------------------------
@pytest.mark.parametrize("g_cond", ["concat", "cbn", "both"])
def test_unet_takes_tags_as_the_dcgan_does(g_cond):
    torch.manual_seed(0)
    G = UNetGenerator(16, in_channels=5, width=8, dropout=0.0, hint_channels=4, num_classes=(3, 4), g_cond=g_cond,
                      embed_dim=4)
    cbn = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert bool(cbn) == (g_cond != "concat")
    assert G.encoder[0].in_channels == 5 + (8 if g_cond != "cbn" else 0)    # tag maps on the input
    for m in G.modules():   # the tags' effect starts at zero in conditional BN: push it so it shows
        if isinstance(m, ConditionalBatchNorm2d):
            torch.nn.init.normal_(m.bias.weight, 0, 1.0)
    G.eval()
    x = torch.rand(2, 5, 16, 16) * 2 - 1
    a = G(x, torch.tensor([[0, 1], [2, 3]]))
    b = G(x, torch.tensor([[1, 1], [2, 0]]))
    assert a.shape == (2, 3, 16, 16) and not torch.allclose(a, b)
    assert torch.equal(a, G(x, torch.tensor([[0, 1], [2, 3]])))
    with pytest.raises(ValueError, match="takes tags"):
        G(x)
    assert takes_tags(G) and not takes_tags(UNetGenerator(16, width=8))


def test_the_plain_unet_keeps_its_layers_and_refuses_tags():
    """Old edges-only and edges + hints files load into the same layers (state-dict keys unchanged)."""
    G = UNetGenerator(16, width=8)
    keys = set(G.state_dict())
    assert {"encoder.0.weight", "encoder.1.1.weight", "encoder.1.2.running_mean", "decoder.0.1.weight",
            "decoder.0.2.running_var", "decoder.3.1.bias"} <= keys and not any("embed" in k for k in keys)
    with pytest.raises(ValueError, match="takes no tags"):
        G(torch.zeros(1, 1, 16, 16), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="takes no tags"):
        tag_labels(G, 1, [1, None])
    assert tag_labels(G, 1, None) is None and tag_labels(G, 1, [None, None]) is None


# ---- training, files, translate, CLI -----------------------------------------------------------------
@pytest.fixture(scope="module")
def tag_run(tmp_path_factory, cache_dir):
    """A 3-step pix2pix-tags run (16 px, conditional BN, up to 2 dabs), exported through the CLI."""
    from gan_core.cli import main

    out = tmp_path_factory.mktemp("p2ptags")
    cfg = RunConfig().replace(
        data={"dataset": "faces-edges", "image_size": 16, "num_samples": 64, "cache_dir": cache_dir, "hints": 2},
        model={"arch": "pix2pix-tags", "g_width": 8, "d_width": 8, "g_cond": "cbn", "embed_dim": 4},
        train={"steps": 3, "batch_size": 8, "log_every": 1, "sample_every": 3, "checkpoint_every": 0,
               "device": "cpu", "grid_size": 4})
    tr = Trainer(cfg, out / "run")
    events = list(tr.run())
    assert not [e for e in events if isinstance(e, ErrorEvent)] and isinstance(events[-1], DoneEvent)
    assert main(["export", "--checkpoint", str(out / "run" / "last.pt"), "--out", str(out / "g.safetensors")]) == 0
    return {"dir": out, "trainer": tr, "export": out / "g.safetensors"}


def test_training_feeds_the_true_tags_and_files_record_them(tag_run):
    from gan_core.storage.checkpoint import checkpoint_summary, load_checkpoint, load_generator

    tr = tag_run["trainer"]
    tr.gen.manual_seed(5)
    idx = torch.randint(tr.strategy.n_train, (8,), generator=torch.Generator().manual_seed(0))
    tr.gen.manual_seed(5)
    y, x, lab, ask = tr._batch()
    assert lab.shape == (8, 2) and lab.dtype == torch.long and ask is lab   # no tag heads: asked = true
    g = torch.Generator(device=tr.data_device).manual_seed(5)
    idx = torch.randint(tr.strategy.n_train, (8,), generator=g, device=tr.data_device)
    assert torch.equal(lab.cpu(), tr.dataset.labels[idx.cpu()])            # each pair's own tags
    assert torch.equal(tr.strategy.grid_tags, tr.dataset.labels[P_grid(tr)])
    assert checkpoint_summary(load_checkpoint(tag_run["dir"] / "run" / "last.pt"))["conditional"]
    for path in (tag_run["dir"] / "run" / "last.pt", tag_run["export"]):
        G, cfg, spec = load_generator(path)
        assert takes_tags(G) and G.num_classes == (12, 11) and G.g_cond == "cbn" and G.hint_channels == 4
        assert cfg.model.arch == "pix2pix-tags" and spec.group_names == ("hair", "eye")


def P_grid(tr):
    from gan_core.train import pix2pix_step as P

    return P.grid_indices(len(tr.dataset), len(tr.strategy.grid_tags))


def test_translate_follows_the_tags_and_random_picks_come_from_the_seed(tag_run):
    from gan_core.img2img.translate import load_translator, random_face_edges

    G = load_translator(tag_run["export"])
    for m in G.modules():   # 3 steps barely move the tag gains: make the tags' effect visible
        if isinstance(m, ConditionalBatchNorm2d):
            torch.nn.init.normal_(m.bias.weight, 0, 1.0)
    _, edges = random_face_edges(1, 16)
    a = translate(G, edges, seed=0, tags=[8, 9])
    assert torch.equal(a, translate(G, edges, seed=0, tags=torch.tensor([8, 9])))
    assert not torch.equal(a, translate(G, edges, seed=0, tags=[1, 9]))
    r = [translate(G, edges, seed=s, tags=[None, 9]) for s in (0, 0, 1, 2, 3)]
    assert torch.equal(r[0], r[1]) and any(not torch.equal(r[0], o) for o in r[2:])
    with pytest.raises(ValueError, match="out of range"):
        translate(G, edges, tags=[12, 0])
    v = sketch_view(G, np.full((64, 64, 3), 255, np.uint8), seed=4, tags=[8, None])
    assert v["tags"][0] == 8 and 0 <= v["tags"][1] < 11
    assert np.array_equal(v["picture"], sketch_view(G, np.full((64, 64, 3), 255, np.uint8), seed=4,
                                                    tags=v["tags"])["picture"])


def test_cli_translate_tags(tag_run, tmp_path, capsys):
    from gan_core.cli import main

    sketch = np.full((64, 64, 3), 255, np.uint8)
    sketch[20:40, 30:33] = 0
    Image.fromarray(sketch).save(tmp_path / "e.png")
    base = ["translate", "--checkpoint", str(tag_run["export"]), "--input", str(tmp_path / "e.png")]
    for tags in ("blue hair, red eyes", "random hair, red eyes", "hair=pink", "random hair, random eyes"):
        assert main(base + ["--out", str(tmp_path / "o.png"), "--tags", tags, "--quiet"]) == 0, tags
        assert Image.open(tmp_path / "o.png").size == (16, 16)
    assert main(base + ["--out", str(tmp_path / "p.png"), "--from-photo", "--tags", "black hair", "--quiet"]) == 0
    capsys.readouterr()
    assert main(base + ["--out", str(tmp_path / "o.png"), "--tags", "tartan hair"]) == 2
    err = capsys.readouterr().err
    assert "unknown hair 'tartan'" in err and err.count("\n") == 1


def test_cli_translate_tags_refused_by_a_generator_without_them(tmp_path, tiny_cfg, capsys):
    from gan_core.cli import main

    list(Trainer(tiny_cfg(dataset="faces-edges", arch="pix2pix", steps=1), tmp_path / "r").run())
    Image.fromarray(np.full((16, 16), 255, np.uint8)).save(tmp_path / "e.png")
    assert main(["translate", "--checkpoint", str(tmp_path / "r" / "last.pt"), "--input", str(tmp_path / "e.png"),
                 "--out", str(tmp_path / "o.png"), "--tags", "blue hair"]) == 2
    err = capsys.readouterr().err
    assert "takes no tags" in err and err.count("\n") == 1


def test_config_needs_tagged_pairs_and_the_form_shows_g_cond():
    from gan_core.models import check_model_config, is_conditional, is_translator
    from gan_core.studio.form import relevant_fields

    assert is_translator("pix2pix-tags") and is_conditional("pix2pix-tags") and not is_conditional("pix2pix")
    cfg = RunConfig().replace(data={"dataset": "faces-edges"}, model={"arch": "pix2pix-tags"})
    check_model_config(cfg.model, "faces-edges", True, paired=True)
    with pytest.raises(ConfigError, match="needs labelled data"):
        check_model_config(cfg.model, "folder", False, paired=True)
    f = relevant_fields("faces-edges", "pix2pix-tags", "ns")
    assert {"model.g_cond", "model.embed_dim", "data.hints", "loss.l1_weight"} <= f
    assert "model.g_cond" not in relevant_fields("faces-edges", "pix2pix", "ns")


def test_tag_parser_random():
    from gan_core.data.tags import parse_tags_for

    groups = [("hair", ("blue", "red")), ("eye", ("red", "green"))]
    assert parse_tags_for(groups, "random hair, red eyes", allow_random=True) == (None, 0)
    assert parse_tags_for(groups, "hair=random, eye: random", allow_random=True) == (None, None)
    with pytest.raises(ValueError, match="unknown hair 'random'"):
        parse_tags_for(groups, "random hair, red eyes")              # sample --tags: no random
    with pytest.raises(ValueError, match="given twice"):
        parse_tags_for(groups, "random hair, blue hair, red eyes", allow_random=True)
    with pytest.raises(ValueError, match="give a class for eye"):
        parse_tags_for(groups, "random hair", allow_random=True)


# ---- the measures ------------------------------------------------------------------------------------
def test_edge_f1_on_hand_made_maps():
    a = torch.full((1, 1, 12, 12), 255, dtype=torch.uint8)
    a[0, 0, 5, 2:10] = 0                                     # a horizontal line (black on white)
    shift1, shift3 = torch.roll(a, 1, 2), torch.roll(a, 3, 2)
    empty = torch.full_like(a, 255)
    assert edge_f1(a, a).tolist() == [1.0]
    assert edge_f1(a, shift1).tolist() == [1.0]              # one pixel off: within the tolerance
    assert edge_f1(a, shift1, tolerance=0).tolist() == [0.0]
    assert edge_f1(a, shift3).tolist() == [0.0]              # disjoint
    assert edge_f1(empty, empty).tolist() == [1.0] and edge_f1(a, empty).tolist() == [0.0]
    half = a.clone()
    half[0, 0, 5, 6:10] = 255                                # half the line: precision 1, recall 4/8 exactly,
    assert edge_f1(half, a, tolerance=0).item() == pytest.approx(2 * 0.5 / 1.5)
    assert edge_f1(half, a).item() == pytest.approx(2 * 0.625 / 1.625)   # 5/8 within a pixel of it
    both = torch.cat([a, shift3])                            # per image
    assert edge_f1(both, torch.cat([a, a])).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="shape"):
        edge_f1(a, a[:, :, :8])


def test_edge_and_tag_faithfulness_of_true_faces():
    from gan_core.data.edges import canny
    from gan_core.data.faces import generate_faces

    imgs, labels = generate_faces(24, 32, seed=7)
    faces, labels = torch.from_numpy(imgs), torch.from_numpy(labels)
    edges = canny(faces)
    assert edge_faithfulness(faces, edges) == 1.0             # a face's own edges
    # another face's edges: the faces share a layout, so at 32 px a 1-pixel tolerance forgives much of it
    assert edge_faithfulness(faces, torch.roll(edges, 1, 0), tolerance=0) < 0.5
    assert edge_faithfulness(faces, torch.roll(edges, 1, 0)) < 0.95
    right = tag_faithfulness(faces, labels)
    wrong = tag_faithfulness(faces, (labels + 1) % torch.tensor([12, 11]))
    assert right["hair_accuracy"] > 0.9 and right["tag_accuracy"] > 0.7
    assert wrong["hair_accuracy"] < 0.2 and wrong["tag_accuracy"] < 0.1

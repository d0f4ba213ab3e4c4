"""pix2pix-acgan (issue 21): the tag pix2pix G with tag heads on D (ACGAN-style, on the picture alone), asked
for random tags on part of each batch (no L1 and no dabs there); and fine-tuning a new run from a saved G
(``Trainer(init_g=...)``, ``train --init-g``)."""
from __future__ import annotations

import pytest
import torch

from gan_core.config import RunConfig
from gan_core.models.pix2pix import PatchDiscriminator, TagClassifier, build_pix2pix
from gan_core.train import pix2pix_step as P
from gan_core.train.events import DoneEvent, ErrorEvent
from gan_core.train.trainer import Trainer


def test_patch_d_with_tag_heads_reads_the_picture_alone():
    torch.manual_seed(0)
    plain = PatchDiscriminator(16, in_channels=5, width=8, n_layers=1)
    D = PatchDiscriminator(16, in_channels=5, width=8, n_layers=1, num_classes=(3, 4))
    assert set(plain.state_dict()) < set(D.state_dict())            # the plain D's keys are unchanged
    assert all(k.startswith("tags.") for k in set(D.state_dict()) - set(plain.state_dict()))
    x, y = torch.rand(2, 5, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    logits, aux = D(x, y)
    assert logits.shape == plain(x, y).shape and [a.shape for a in aux] == [(2, 3), (2, 4)]
    _, aux2 = D(-x, y)                                               # other edges and dabs: same tag logits
    assert all(torch.equal(a, b) for a, b in zip(aux, aux2))
    assert not torch.equal(D(x, -y)[1][0], aux[0])                   # another picture: other tag logits
    assert isinstance(D.tags, TagClassifier) and len(D.tags.heads) == 2
    g, d = build_pix2pix(16, 1, 3, 8, 8, hint_channels=4, num_classes=(3, 4), g_cond="cbn", embed_dim=4)
    assert d.tags is None                                            # pix2pix-tags: D without heads
    assert build_pix2pix(16, 1, 3, 8, 8, num_classes=(3, 4), d_tag_heads=True)[1].tags is not None


def _cfg(cache_dir, arch, steps):
    return RunConfig().replace(
        data={"dataset": "faces-edges", "image_size": 16, "num_samples": 64, "cache_dir": cache_dir, "hints": 2},
        model={"arch": arch, "g_width": 8, "d_width": 8, "g_cond": "cbn", "embed_dim": 4},
        loss={"aux_weight": 2.0},
        train={"steps": steps, "batch_size": 16, "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
               "device": "cpu", "grid_size": 4, "amp": False, "channels_last": False})


@pytest.fixture(scope="module")
def acgan_run(tmp_path_factory, cache_dir):
    """A 2-step pix2pix-tags run exported, then a 3-step pix2pix-acgan run started from its G."""
    from gan_core.cli import main

    out = tmp_path_factory.mktemp("p2pacgan")
    first = Trainer(_cfg(cache_dir, "pix2pix-tags", 2), out / "tags")
    assert isinstance(list(first.run())[-1], DoneEvent)
    assert main(["export", "--checkpoint", str(out / "tags" / "last.pt"), "--out", str(out / "g.safetensors")]) == 0
    tr = Trainer(_cfg(cache_dir, "pix2pix-acgan", 3), out / "acgan", init_g=out / "g.safetensors")
    tr._setup()
    start = {k: v.clone() for k, v in tr.G.state_dict().items()}
    tr = Trainer(_cfg(cache_dir, "pix2pix-acgan", 3), out / "acgan", init_g=out / "g.safetensors")
    events = list(tr.run())
    assert not [e for e in events if isinstance(e, ErrorEvent)] and isinstance(events[-1], DoneEvent)
    return {"dir": out, "trainer": tr, "start": start, "events": events}


def test_init_g_starts_from_the_saved_generator(acgan_run):
    from gan_core.storage.checkpoint import load_generator

    saved, _, _ = load_generator(acgan_run["dir"] / "g.safetensors")
    for k, v in saved.state_dict().items():
        assert torch.equal(acgan_run["start"][k], v), k              # every weight, the BN statistics too
    G, cfg, _ = load_generator(acgan_run["dir"] / "acgan" / "last.pt")
    assert cfg.model.arch == "pix2pix-acgan" and G.num_classes == (12, 11)
    assert set(G.state_dict()) == set(saved.state_dict())            # the same G as pix2pix-tags


def test_batches_ask_for_other_tags_without_l1_or_dabs_there(acgan_run):
    tr = acgan_run["trainer"]
    seen_other = seen_dropped = 0
    for _ in range(4):
        y, x, lab, ask = tr._batch()
        dropped = ask < 0                                            # unknown tags (-1), only on true-tag pairs
        other = ((ask != lab) & ~dropped).any(1)
        seen_other += int(other.sum())
        seen_dropped += int(dropped.sum())
        assert not bool(dropped[other].any())
        assert bool((x[other, 1:] == -1).all())                     # no dab (mask and colours at 0 = -1)
        assert torch.equal(ask[~other][~dropped[~other]], lab[~other][~dropped[~other]])
        assert bool((ask[:, 0] < 12).all() and (ask[:, 1] < 11).all() and (ask >= -1).all())
    assert 0 < seen_other < 64 and 0 < seen_dropped < 64             # about ASK_OTHER of the pairs; loss.drop_tags
    cfg = tr.cfg
    try:
        for rate in (0.0, 1.0):                                      # loss.drop_tags says how often
            tr.cfg = cfg.replace(loss={"drop_tags": rate})
            y, x, lab, ask = tr._batch()
            other = ((ask != lab) & (ask >= 0)).any(1)
            assert bool((ask[~other] == (-1 if rate else lab[~other])).all()) and other.any()
    finally:
        tr.cfg = cfg
    steps = [e for e in acgan_run["events"] if type(e).__name__ == "StepEvent"]
    extra = steps[-1].extra
    assert {"aux_d", "aux_g", "l1", "g_adv", "d_adv"} <= set(extra)
    assert all(torch.isfinite(torch.as_tensor(float(extra[k]))) for k in ("aux_d", "aux_g"))


def test_g_loss_has_no_l1_on_pairs_asked_for_other_tags(acgan_run, monkeypatch):
    """The L1 term averages over the pairs asked for their true tags only: changing the target of a pair
    asked for other tags does not change it."""
    tr = acgan_run["trainer"]
    y, x, lab, ask = tr._batch()
    ask = lab.clone()
    ask[:4] = (lab[:4] + 1) % 11                                     # asked for other tags
    ask[4:6, 0] = -1                                                 # hair dropped: still a true-tag pair
    y2, y3 = y.clone(), y.clone()
    y2[:4] = -y2[:4]
    y3[4:6] = -y3[4:6]
    logs = []
    for target in (y, y2, y3):
        torch.manual_seed(0)
        monkeypatch.setattr(tr, "_batch", lambda target=target: (target, x, lab, ask))
        logs.append(P.Pix2PixStep.g_step(tr.strategy, _NoUpdate(tr)))
    assert torch.equal(logs[0]["l1"], logs[1]["l1"]) and "aux_g" in logs[0]
    assert not torch.equal(logs[0]["l1"], logs[2]["l1"])            # the dropped-tag pairs keep their L1


def test_dropped_tags_are_a_zero_embedding_and_count_nothing_in_the_tag_term():
    from gan_core.losses import aux_loss
    from gan_core.models.common import LabelEmbedding

    emb = LabelEmbedding((3, 4), 2)
    out = emb(torch.tensor([[1, -1], [-1, 3]]))
    assert torch.equal(out[0, 2:], torch.zeros(2)) and torch.equal(out[1, :2], torch.zeros(2))
    assert torch.equal(out[0, :2], emb.embeds[0].weight[1]) and torch.equal(out[1, 2:], emb.embeds[1].weight[3])
    logits = [torch.randn(3, 3), torch.randn(3, 4)]
    full = aux_loss(logits, torch.tensor([[0, 1], [2, 3], [1, 0]]))
    part = aux_loss(logits, torch.tensor([[0, 1], [2, 3], [-1, 0]]))
    ce = torch.nn.functional.cross_entropy
    assert torch.allclose(part, ce(logits[0][:2], torch.tensor([0, 2])) + ce(logits[1], torch.tensor([1, 3, 0])))
    assert not torch.allclose(full, part)


class _NoUpdate:
    """The trainer seen by a G step that computes its loss but updates nothing."""

    def __init__(self, tr):
        self._tr = tr
        self._stash = None
        self.ema = None

    def __getattr__(self, name):
        return getattr(self._tr, name)

    def _backward_step(self, loss, opt):
        pass


def test_init_g_refuses_a_generator_of_another_shape(acgan_run, cache_dir, tmp_path):
    cfg = _cfg(cache_dir, "pix2pix-acgan", 1).replace(model={"g_width": 4})
    tr = Trainer(cfg, tmp_path / "x", init_g=acgan_run["dir"] / "g.safetensors")
    with pytest.raises(ValueError, match="does not fit this run's G"):
        tr._setup()
    with pytest.raises(ValueError, match="resumed run"):
        Trainer(cfg, tmp_path / "y", init_g=acgan_run["dir"] / "g.safetensors",
                resume=acgan_run["dir"] / "acgan" / "last.pt")


def test_cli_train_init_g_says_what_is_wrong(tmp_path, capsys):
    from gan_core.cli import main

    rc = main(["train", "--dataset", "faces-edges", "--arch", "pix2pix-acgan", "--steps", "1", "--out",
               str(tmp_path / "run"), "--init-g", str(tmp_path / "missing.safetensors")])
    assert rc == 2 and "missing.safetensors does not exist" in capsys.readouterr().err

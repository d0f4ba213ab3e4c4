"""The architecture and dataset registries carry behaviour: each entry is complete and consistent, and a new
backbone or dataset needs only its module and its registry entry (shown by registering one here, then
training it and seeing it in the form)."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from gan_core.metrics.classifiers import CLASSIFIER_NAMES
from gan_core.config import ConfigError, DataConfig, RunConfig, all_fields
from gan_core.data import ImageDataset, LabelGroup, dataset_is_labelled, dataset_is_paired, load_dataset
from gan_core.data.registry import DATASETS, DatasetSpec
from gan_core.train.events import DoneEvent, StepEvent
from gan_core.models import ARCHITECTURES, DataSpec, build_models
from gan_core.models.registry import BACKBONES, CONDITIONINGS, ArchSpec, Backbone
from gan_core.train.recipes import RECIPES, recipe_for
from gan_core.studio.form import field_spec, relevant_fields
from gan_core.train.trainer import STEPS, Trainer

FIELDS = {k for k, _ in all_fields()}


# ---- architectures -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_every_arch_is_complete(name):
    a = ARCHITECTURES[name]
    assert a.backbone in BACKBONES and a.conditioning in CONDITIONINGS and a.step in STEPS
    assert a.fields <= FIELDS and a.cond.drops <= FIELDS
    if a.conditional and a.paired:                     # a translator that takes tags (pix2pix-tags): only G does;
        assert not a.cond.projection and a.tag_heads <= 1   # its D judges (input, picture) pairs as pix2pix's,
        if a.tag_heads:                                     # with ACGAN heads at most (pix2pix-acgan)
            d = build_models(RunConfig().replace(model={"arch": name, "g_width": 8, "d_width": 8}).model,
                             DataSpec(channels=3, image_size=16, num_classes=(3, 2), input_channels=1))[1]
            assert [h.out_features for h in d.tags.heads] == [3, 2]
    assert a.tag_heads == 0 or a.conditional           # tag heads need tags
    assert (a.step == "pix2pix") == a.paired           # paired archs train with the pix2pix step


@pytest.mark.parametrize("name", [n for n, a in ARCHITECTURES.items() if not a.points and not a.paired])
def test_tag_heads_are_what_the_spec_says(name):
    a = ARCHITECTURES[name]
    spec = DataSpec(channels=3, image_size=16, num_classes=(3, 2))
    cfg = RunConfig().replace(model={"arch": name, "g_width": 8, "d_width": 8, "res_blocks": 1}).model
    g, d = build_models(cfg, spec)
    y = torch.tensor([[0, 1], [2, 0]])
    adv, aux = d(torch.zeros(2, 3, 16, 16), y if a.conditional else None)
    assert adv.shape == (2,) and len(aux) == a.tag_heads * 2   # one head per tag group, twice for TAC-GAN
    assert (g.num_classes == (3, 2)) == a.conditional


def build(cfg, spec, num_classes, conditioning, d_norm):   # a new backbone's builder (the registry's signature)
    from gan_core.models.common import DHead

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.z_dim, self.num_classes = cfg.z_dim, num_classes
            self.net = nn.Linear(cfg.z_dim, spec.channels * spec.image_size ** 2)

        def forward(self, z, labels=None):
            return torch.tanh(self.net(z)).view(len(z), spec.channels, spec.image_size, spec.image_size)

    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Flatten(), nn.Linear(spec.channels * spec.image_size ** 2, 8))
            self.head = DHead(8, num_classes, conditioning)

        def forward(self, x, labels=None):
            return self.head(self.features(x), labels)

    return G(), D()


@pytest.fixture
def linear_backbone(monkeypatch):
    """A backbone added the way a contributor would: its module (this file's ``build``) and registry entries."""
    monkeypatch.setitem(BACKBONES, "linear", Backbone("linear", f"{__name__}:build", fields=frozenset({"model.d_width"})))
    monkeypatch.setitem(ARCHITECTURES, "linear", ArchSpec("linear", "none", "A linear G and D."))
    monkeypatch.setitem(ARCHITECTURES, "linear-acgan", ArchSpec("linear", "acgan", "Linear with tag heads."))


@pytest.mark.parametrize("arch", ["linear", "linear-acgan"])
def test_a_new_backbone_needs_only_its_module_and_registry_entries(linear_backbone, tiny_cfg, arch):
    events = list(Trainer(tiny_cfg(arch=arch, steps=2, train={"amp": False, "channels_last": False}), None).run())
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.reason == "steps", events
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert ("aux_d" in steps[-1].extra) == (arch == "linear-acgan")   # the tag heads train, from the spec
    assert "linear" in field_spec("model.arch").choices                # the form lists it
    assert "model.d_width" in relevant_fields("faces", arch, "ns") and "model.g_width" not in relevant_fields("faces", arch, "ns")


# ---- datasets --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_is_complete(name):
    s = DATASETS[name]
    assert s.name == name and s.title
    assert callable(_loader(s))                         # the loader resolves (nothing is loaded)
    assert s.recipe in RECIPES and (s.classifier is None or s.classifier in CLASSIFIER_NAMES)
    assert s.relevant_fields() <= FIELDS and (not s.labels_field or f"data.{s.labels_field}" in FIELDS)
    assert not (s.paired and s.pairable) and not (s.points and (s.paired or s.pairable))
    cfg = DataConfig(dataset=name, path="somewhere" if s.needs_path else None)
    cfg.validate()
    assert dataset_is_paired(cfg) == s.paired and dataset_is_labelled(cfg) == s.labelled


def _loader(s: DatasetSpec):
    import importlib

    module, _, fn = s.loader.partition(":")
    return getattr(importlib.import_module(module, "gan_core.data"), fn)


def test_dataset_rules_come_from_the_spec():
    with pytest.raises(ConfigError, match="data.dataset must be one of faces"):
        DataConfig(dataset="imagenet").validate()
    with pytest.raises(ConfigError, match="data.path is required when data.dataset is 'hf'"):
        DataConfig(dataset="hf").validate()
    with pytest.raises(ConfigError, match="data.pairs applies to dataset 'folder' only"):
        DataConfig(dataset="digits", pairs="ab").validate()
    DataConfig(dataset="toy2d", image_size=48).validate()   # points: no picture size
    # tags given by a setting
    assert dataset_is_labelled(DataConfig(dataset="folder", path="x")) is None
    assert dataset_is_labelled(DataConfig(dataset="folder", path="x", tags_csv="t.csv")) is True
    assert dataset_is_labelled(DataConfig(dataset="hf", path="x")) is False
    assert dataset_is_labelled(DataConfig(dataset="hf", path="x", hf_label_columns="label")) is True
    assert dataset_is_paired(DataConfig(dataset="folder", path="x", pairs="edges"))
    # recipes by the spec
    assert recipe_for("faces")["model"]["arch"] == "acgan" and recipe_for("digits")["model"]["arch"] == "cgan"
    assert recipe_for("mnist")["model"]["arch"] == "dcgan" and recipe_for("mnist", True)["model"]["arch"] == "acgan"
    assert recipe_for("faces-edges")["model"]["arch"] == "pix2pix"


def load_squares(cfg, progress=None):   # a new dataset's loader
    g = torch.Generator().manual_seed(cfg.seed)
    n, s = 40, cfg.image_size
    images = torch.zeros(n, 1, s, s, dtype=torch.uint8)
    labels = torch.randint(2, (n, 1), generator=g)
    for i in range(n):   # a bright square, left (class 0) or right (class 1)
        x0 = 0 if labels[i, 0] == 0 else s // 2
        images[i, 0, s // 4: 3 * s // 4, x0: x0 + s // 2] = 255
    return ImageDataset("squares", images, labels, [LabelGroup("side", ("left", "right"))])


def test_a_new_dataset_needs_only_its_loader_and_registry_entry(monkeypatch, tiny_cfg):
    monkeypatch.setitem(DATASETS, "squares", DatasetSpec("squares", "Squares", f"{__name__}:load_squares",
                                                         channels=1, tagged_by_default=True))
    assert "squares" in field_spec("data.dataset").choices                       # the form lists it
    assert recipe_for("squares")["model"]["arch"] == "acgan"                      # tagged: the tag recipe
    cfg = tiny_cfg(dataset="squares", arch="acgan", steps=2, train={"amp": False, "channels_last": False})
    ds = load_dataset(cfg.data)
    assert ds.name == "squares" and ds.channels == 1
    events = list(Trainer(cfg, None).run())
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "steps", events
    assert dataclasses.asdict(DATASETS["squares"])["loader"].endswith(":load_squares")

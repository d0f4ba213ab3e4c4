import json

import pytest

from gan_core.config import ConfigError, RunConfig


def test_json_round_trip_preserves_every_field():
    cfg = RunConfig().replace(data={"dataset": "digits", "augment_flip": True}, train={"lr_g": 1e-4, "steps": 7},
                              loss={"name": "hinge"}, model={"arch": "cgan"})
    back = RunConfig.from_json(cfg.to_json())
    assert back == cfg
    assert back.train.lr_g == 1e-4 and back.data.augment_flip is True and back.model.arch == "cgan"


@pytest.mark.parametrize("section,field,value,expect", [
    ("train", "batch_size", 0, "train.batch_size must be between 1"),
    ("train", "lr_d", -1.0, "train.lr_d must be between"),
    ("train", "n_critic", 2.5, "train.n_critic must be an integer"),
    ("loss", "name", "wgan-typo", "loss.name must be one of"),
    ("model", "arch", "gpt", "model.arch must be one of"),
    ("data", "image_size", 48, "data.image_size must be 16, 32 or 64"),
    ("data", "dataset", "imagenet", "data.dataset must be one of"),
    ("loss", "label_noise", 0.9, "loss.label_noise must be between"),
    ("train", "amp", "yes", "train.amp must be true or false"),
])
def test_bad_values_name_the_field(section, field, value, expect):
    with pytest.raises(ConfigError) as e:
        RunConfig.from_dict({section: {field: value}}).validate()
    assert expect in str(e.value)
    assert e.value.field == f"{section}.{field}"


def test_unknown_field_and_section_are_refused():
    with pytest.raises(ConfigError, match="train.lr is not a known field"):
        RunConfig.from_dict({"train": {"lr": 1}})
    with pytest.raises(ConfigError, match="optim is not a config section"):
        RunConfig.from_dict({"optim": {}})
    with pytest.raises(ConfigError, match="not valid JSON"):
        RunConfig.from_json("{nope")


def test_cross_field_checks():
    with pytest.raises(ConfigError, match="'mlp' arch is for 'toy2d'"):
        RunConfig().replace(model={"arch": "mlp"}).validate()
    with pytest.raises(ConfigError, match="data.path is required"):
        RunConfig().replace(data={"dataset": "folder"}).validate()
    with pytest.raises(ConfigError, match="both 0"):
        RunConfig().replace(train={"steps": 0, "seconds": 0}).validate()


def test_ints_accepted_for_floats_and_json_is_plain():
    cfg = RunConfig.from_dict({"train": {"lr_g": 1, "seconds": 5}})
    assert isinstance(cfg.train.lr_g, float) and cfg.train.seconds == 5.0
    assert json.loads(cfg.to_json())["train"]["lr_g"] == 1.0

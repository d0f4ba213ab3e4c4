import json

import pytest

from gan_core.config.checks import check_config
from gan_core.config import ConfigError, RunConfig, all_fields, bounds


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
        check_config(RunConfig.from_dict({section: {field: value}}))
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
        check_config(RunConfig().replace(model={"arch": "mlp"}))
    with pytest.raises(ConfigError, match="conditional and needs labelled data"):
        check_config(RunConfig().replace(data={"dataset": "hf", "path": "owner/name"}, model={"arch": "acgan"}))
    with pytest.raises(ConfigError, match="data.path is required"):
        RunConfig().replace(data={"dataset": "hf"}).validate()
    with pytest.raises(ConfigError, match="data.path is required"):
        RunConfig().replace(data={"dataset": "folder"}).validate()
    with pytest.raises(ConfigError, match="both 0"):
        RunConfig().replace(train={"steps": 0, "seconds": 0}).validate()


def test_ints_accepted_for_floats_and_json_is_plain():
    cfg = RunConfig.from_dict({"train": {"lr_g": 1, "seconds": 5}})
    assert isinstance(cfg.train.lr_g, float) and cfg.train.seconds == 5.0
    assert json.loads(cfg.to_json())["train"]["lr_g"] == 1.0


def test_every_field_declares_its_form_metadata():
    """One home for each setting: label, range or choices come from the field's metadata, and the
    generated validate() enforces exactly that range."""
    for key, f in all_fields():
        md = f.metadata
        assert md["label"], key
        if isinstance(f.default, (int, float)) and not isinstance(f.default, bool) and md["choices"] is None:
            lo, hi = bounds(key)
            assert lo is not None and hi is not None and lo <= f.default <= hi, key
            sec, name = key.split(".")
            for bad in (lo - 1, hi * 2 + 1):
                with pytest.raises(ConfigError) as e:
                    RunConfig().replace(**{sec: {name: type(f.default)(bad)}}).validate()
                assert e.value.field == key


def test_live_settings_share_the_config_range():
    from gan_core.train.control import TrainControl
    c = TrainControl()
    lo, hi = bounds("train.lr_g")
    c.set_lr(lr_g=lo)
    c.set_lr(lr_g=hi)
    for bad in (lo / 10, hi * 2):
        with pytest.raises(ValueError, match="between"):
            c.set_lr(lr_g=bad)
    with pytest.raises(ValueError, match="between"):
        c.set_n_critic(bounds("train.n_critic")[1] + 1)

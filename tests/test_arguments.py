"""The explore tools' arguments (gan_core.config.arguments): one declaration, one check, one message, used by the
CLI, the HTTP API and the UI fields (issue 23 items 12 and 13)."""
from __future__ import annotations

import math

import pytest
import torch

from gan_core.models import latent
from gan_core.config.arguments import MAX_WIDGET_INT, arg_spec, check_arg, check_args
from gan_core.cli import main
from gan_core.config import SEED_MAX, ConfigError, TrainConfig, field_info

SEED_MSG = f"seed must be between 0 and {SEED_MAX}"


@pytest.mark.parametrize("bad, msg", [
    (-5, SEED_MSG + ", got -5"),
    (2**70, SEED_MSG + f", got {2**70}"),
    (1e300, SEED_MSG + ", got 1e+300"),
    (2.5, "seed must be an integer, got 2.5"),
    (math.nan, "seed must be an integer, got nan"),
    (True, "seed must be an integer, got True"),
])
def test_bad_seeds_have_one_clear_message(bad, msg):
    with pytest.raises(ConfigError) as e:
        check_arg("seed", bad)
    assert str(e.value) == msg
    with pytest.raises(ConfigError, match="seed_a must be"):   # every seed argument has the seed's range
        check_arg("seed_a", bad)


def test_the_seed_range_is_trains():
    assert (field_info("train.seed").metadata["lo"], field_info("train.seed").metadata["hi"]) == (0, SEED_MAX)
    assert check_arg("seed", SEED_MAX) == SEED_MAX and check_arg("seed", 0) == 0
    TrainConfig(seed=SEED_MAX).validate()
    with pytest.raises(ConfigError, match=r"train.seed must be between 0 and 9223372036854775807, got -5"):
        TrainConfig(seed=-5).validate()


def test_numbers_from_a_client_are_converted_or_refused():
    assert check_args(seed=3.0, n=64.0, fps=10, method="lerp") == {"seed": 3, "n": 64, "fps": 10.0, "method": "lerp"}
    assert type(check_arg("seed", 3.0)) is int and type(check_arg("fps", 10)) is float
    with pytest.raises(ConfigError, match="n must be an integer, got 2.5"):   # not silently cut to 2
        check_arg("n", 2.5)
    for n in (0, 65):
        with pytest.raises(ConfigError, match=f"n must be between 1 and 64, got {n}"):
            check_arg("n", n)
    for fps in (0, -1, 1e9):
        with pytest.raises(ConfigError, match="fps must be between 1 and 30"):
            check_arg("fps", fps)
    with pytest.raises(ConfigError, match="method must be one of slerp, lerp"):
        check_arg("method", "cubic")
    with pytest.raises(ConfigError, match="frames must be between 2 and 64, got 1"):
        check_arg("frames", 1)


def test_widget_spec_comes_from_the_declaration():
    s = arg_spec("seed_b")
    assert (s.lo, s.hi, s.step) == (0, MAX_WIDGET_INT, 1)    # a browser's number box holds no more
    f = arg_spec("fps")
    assert (f.lo, f.hi, f.default, f.label) == (1.0, 30.0, 10.0, "GIF frames / s")


def test_latent_rng_refuses_bad_seeds_and_wraps_offsets():
    with pytest.raises(ConfigError, match=SEED_MSG):
        latent.rng(2**70)          # was torch's "Overflow when unpacking long long"
    with pytest.raises(ConfigError, match=SEED_MSG):
        latent.sample_z(2, 4, seed=-5)   # was silently seed 2**64 - 5
    g = latent.rng(SEED_MAX, latent.GRID_SEED_OFFSET)    # the largest seed still has a grid
    assert torch.equal(torch.randn(3, generator=g), torch.randn(3, generator=latent.rng(latent.GRID_SEED_OFFSET - 1)))
    assert torch.equal(latent.sample_z(2, 4, seed=7), torch.randn(2, 4, generator=torch.Generator().manual_seed(7)))


@pytest.mark.parametrize("seed", ["1180591620717411303424", "-5", "2.5"])
def test_cli_sample_refuses_a_bad_seed_without_a_traceback(seed, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["sample", "--checkpoint", "checkpoints/faces.safetensors", "--seed", seed, "--out", str(tmp_path / "x.png")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "argument --seed: seed must be" in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()

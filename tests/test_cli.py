import json
import subprocess
import sys

import numpy as np
from PIL import Image

from gan_core.storage.checkpoint import load_checkpoint
from gan_core.cli import main


def _train_args(out, cache, *extra):
    return ["train", "--dataset", "faces", "--image-size", "16", "--num-samples", "64", "--g-width", "8",
            "--d-width", "8", "--z-dim", "8", "--batch-size", "8", "--quiet", "--out", str(out),
            "--set", f'data.cache_dir="{cache}"', *extra]


def test_train_sample_export_info(tmp_path, cache_dir, capsys):
    run = tmp_path / "run"
    assert main(_train_args(run, cache_dir, "--arch", "acgan", "--loss", "wgan-gp", "--steps", "3")) == 0
    st = load_checkpoint(run / "last.pt")
    cfg = st["run_config"]
    # the loss's recommended optimiser settings were applied (WGAN-GP: Adam 1e-4, betas (0, 0.9), n_critic 5)
    assert (cfg.train.lr_g, cfg.train.beta1, cfg.train.beta2, cfg.train.n_critic) == (1e-4, 0.0, 0.9, 5)
    # resume continues to a higher step count
    assert main(["train", "--resume", str(run / "last.pt"), "--out", str(run), "--steps", "5", "--quiet"]) == 0
    assert load_checkpoint(run / "last.pt")["step"] == 5

    grid, npy = tmp_path / "grid.png", tmp_path / "s.npy"
    assert main(["sample", "--checkpoint", str(run / "last.pt"), "--n", "6", "--seed", "1",
                 "--tags", "blue hair, red eyes", "--out", str(grid), "--npy", str(npy), "--quiet"]) == 0
    arr = np.load(npy)
    assert arr.shape == (6, 3, 16, 16) and arr.min() >= -1 and arr.max() <= 1
    assert Image.open(grid).size[0] > 16
    assert main(["sample", "--checkpoint", str(run / "last.pt"), "--n", "6", "--seed", "1",
                 "--tags", "blue hair, red eyes", "--npy", str(tmp_path / "s2.npy"), "--quiet"]) == 0
    assert np.array_equal(arr, np.load(tmp_path / "s2.npy"))  # same seed -> same samples

    assert main(["export", "--checkpoint", str(run / "last.pt"), "--out", str(tmp_path / "g.safetensors")]) == 0
    capsys.readouterr()
    assert main(["info", "--checkpoint", str(run / "last.pt")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["step"] == 5 and info["loss"] == "wgan-gp" and info["arch"] == "acgan"


def test_cli_errors_are_clear(tmp_path, cache_dir, capsys):
    assert main(_train_args(tmp_path / "r", cache_dir, "--loss", "wgan-typo")) == 2
    assert "loss.name must be one of" in capsys.readouterr().err
    assert main(_train_args(tmp_path / "r", cache_dir, "--batch-size", "0")) == 2
    assert "train.batch_size must be between 1" in capsys.readouterr().err
    assert main(["sample", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    run = tmp_path / "u"
    assert main(_train_args(run, cache_dir, "--arch", "dcgan", "--steps", "1")) == 0
    assert main(["sample", "--checkpoint", str(run / "last.pt"), "--tags", "blue hair,red eyes",
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "unconditional" in capsys.readouterr().err


def test_module_entry_point_shows_progress_bar(tmp_path, cache_dir):
    args = [a for a in _train_args(tmp_path / "m", cache_dir, "--steps", "2") if a != "--quiet"]
    p = subprocess.run([sys.executable, "-m", "gan_core", *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "2/2" in p.stderr and "done: 2 steps" in p.stdout


def test_evaluate_reports_diversity_and_warns_on_a_generator_that_ignores_z(tmp_path, capsys):
    import json as _json
    from pathlib import Path as _Path

    fixture = _Path(__file__).parent / "fixtures" / "faces_ignores_z.safetensors"
    assert main(["evaluate", "--checkpoint", str(fixture), "--n", "200", "--cache-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    row = _json.loads(out)
    assert row["n_real"] == row["n_fake"] == 200
    assert row["diversity_ratio"] < 0.15 and row["tag_accuracy"] > 0.7
    assert {"precision", "recall", "density", "coverage", "fid"} <= set(row)
    assert "ignores z" in err and "200 real vs 200 generated" in err
    assert main(["evaluate", "--checkpoint", str(fixture), "--n", "3"]) == 2

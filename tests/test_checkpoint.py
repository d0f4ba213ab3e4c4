import os

import pytest
import torch

from gan_core.storage.checkpoint import (CheckpointError, checkpoint_summary, export_generator, load_checkpoint,
                                 load_generator, save_checkpoint)
from gan_core.storage.fileio import atomic_write_bytes
from gan_core.models.latent import sample_z
from gan_core.train.trainer import Trainer


@pytest.fixture
def trained(tiny_cfg, tmp_path):
    cfg = tiny_cfg(arch="acgan", steps=2, train={"ema_decay": 0.9})
    list(Trainer(cfg, tmp_path / "run").run())
    return tmp_path / "run" / "last.pt"


def test_full_state_round_trip(trained):
    st = load_checkpoint(trained)
    for key in ("G", "D", "G_ema", "opt_g", "opt_d", "rng", "fixed_z", "config", "data_spec"):
        assert st[key] is not None, key
    assert st["step"] == 2 and st["run_config"].model.arch == "acgan"
    summ = checkpoint_summary(st)
    assert summ["conditional"] and summ["label_groups"] == ["hair", "eye"] and summ["ema"]


def test_generator_export_to_safetensors_matches_checkpoint(trained, tmp_path):
    G1, cfg, spec = load_generator(trained)
    out = export_generator(load_checkpoint(trained), tmp_path / "g.safetensors")
    G2, cfg2, spec2 = load_generator(out)
    z = sample_z(4, cfg.model.z_dim, seed=0)
    y = torch.tensor([[1, 2]] * 4)
    assert cfg2 == cfg and spec2 == spec
    assert torch.equal(G1(z, y), G2(z, y))
    from safetensors import safe_open

    with safe_open(str(out), framework="pt") as f:
        assert '"arch": "acgan"' in f.metadata()["config"]


def test_refuses_missing_truncated_foreign_and_pickled(trained, tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    data = trained.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a GAN Studio checkpoint"):
        load_checkpoint(tmp_path / "other.pt")

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    torch.save({"format": "gan-studio-checkpoint", "evil": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint((tmp_path / "evil.pt").read_bytes())
    assert not (tmp_path / "pwned").exists()


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    p = tmp_path / "f.bin"
    atomic_write_bytes(p, lambda f: f.write(b"old"))

    def broken(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write_bytes(p, broken)
    assert p.read_bytes() == b"old" and [x.name for x in tmp_path.iterdir()] == ["f.bin"]
    bad = '{"train": {"batch_size": 0}}'
    save_checkpoint({"config": bad, "data_spec": {}, "step": 0, "G": {}}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="invalid config: train.batch_size"):
        load_checkpoint(tmp_path / "c.pt")


def test_atomic_writes_get_normal_file_permissions(tmp_path):
    import os

    from gan_core.storage.fileio import _FILE_MODE, atomic_write_text

    atomic_write_text(tmp_path / "a.json", "{}")  # not mkstemp's 0o600: a Docker app user must read it
    assert (os.stat(tmp_path / "a.json").st_mode & 0o777) == _FILE_MODE

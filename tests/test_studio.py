"""Unit tests of gan_core.studio: checkpoint files and uploads, the training form, pictures,
generation helpers, curves, runs and evaluator rows."""
from __future__ import annotations

import io
import os
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core import studio
from gan_core.storage.checkpoint import export_generator, load_checkpoint, load_generator
from gan_core.config import ConfigError, RunConfig
from gan_core.losses import LOSSES
from gan_core.train.trainer import Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 3-step 16 px conditional (ACGAN) faces run: its folder, last.pt and a safetensors export."""
    base = tmp_path_factory.mktemp("studio")
    cfg = RunConfig().replace(
        data={"dataset": "faces", "image_size": 16, "num_samples": 64, "cache_dir": str(base / "cache")},
        model={"arch": "acgan", "z_dim": 16, "g_width": 8, "d_width": 8, "embed_dim": 4},
        train={"steps": 3, "batch_size": 8, "log_every": 1, "sample_every": 1, "checkpoint_every": 0,
               "device": "cpu", "grid_size": 4},
    )
    run = base / "runs" / "r1"
    for _ in Trainer(cfg, run).run():
        pass
    ck = base / "checkpoints"
    ck.mkdir()
    st = export_generator(load_checkpoint(run / "last.pt"), ck / "tiny.safetensors")
    G, gcfg, spec = load_generator(st)
    return {"base": base, "run": run, "last": run / "last.pt", "st": st, "ck": ck, "G": G, "cfg": gcfg,
            "spec": spec}


# ---- where things live -------------------------------------------------------------------------------
def test_dirs_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(studio.CHECKPOINTS_ENV, raising=False)
    assert str(studio.checkpoints_dir()) == "checkpoints"
    monkeypatch.setenv(studio.CHECKPOINTS_ENV, str(tmp_path / "ck"))
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    assert studio.checkpoints_dir() == tmp_path / "ck"
    assert studio.runs_dir() == tmp_path / "runs"


# ---- checkpoint files -------------------------------------------------------------------------------
def test_list_checkpoints_and_generators(trained, tmp_path):
    (trained["ck"] / "notes.txt").write_text("x")
    (trained["ck"] / ".hidden.pt").write_bytes(b"x")
    files = studio.list_checkpoints(trained["ck"])
    assert [f.name for f in files] == ["tiny.safetensors"]
    assert files[0].kind == "safetensors" and files[0].source == "checkpoints" and files[0].size > 0
    gens = studio.list_generators(trained["ck"], trained["run"].parent)
    assert [(g.source, g.name) for g in gens] == [("checkpoints", "tiny.safetensors"), ("run", "last.pt")]
    assert gens[1].run == "r1" and gens[1].label.startswith("run r1 / last.pt")
    assert studio.list_checkpoints(tmp_path / "missing") == []


def test_describe_checkpoint_both_formats(trained):
    d = studio.describe_checkpoint(trained["st"])
    assert (d["dataset"], d["arch"], d["loss"], d["step"], d["image_size"]) == ("faces", "acgan", "ns", 3, 16)
    assert d["label_groups"] == ["hair", "eye"] and d["kind"].startswith("generator export")
    p = studio.describe_checkpoint(trained["last"])
    assert p["step"] == 3 and p["arch"] == "acgan" and p["kind"].startswith("training checkpoint")


def test_sanitize_filename():
    assert studio.sanitize_filename("../../etc/x.pt") == "x.pt"
    assert studio.sanitize_filename("my model (1).SafeTensors") == "my_model_1.safetensors"
    assert studio.sanitize_filename("C:\\a\\b.pt") == "b.pt"
    with pytest.raises(studio.UploadError, match="not a checkpoint"):
        studio.sanitize_filename("evil.py")


class _Boom:
    def __reduce__(self):  # would run code when unpickled without weights_only
        return (print, ("pwned",))


def test_validate_upload_refuses_bad_files(trained):
    with pytest.raises(studio.UploadError, match="empty"):
        studio.validate_upload("a.pt", b"")
    with pytest.raises(studio.UploadError, match="limit"):
        studio.validate_upload("a.pt", b"x" * 100, max_bytes=10)
    with pytest.raises(studio.UploadError, match="refused"):
        studio.validate_upload("junk.pt", b"definitely not a torch file")
    with pytest.raises(studio.UploadError, match="refused"):
        studio.validate_upload("junk.safetensors", b"\x00\x01 not safetensors")
    buf = io.BytesIO()
    torch.save({"x": _Boom()}, buf)
    with pytest.raises(studio.UploadError, match="refused") as e:
        studio.validate_upload("pickle.pt", buf.getvalue())
    # said once, about the file (issue 23 item 20: was "was refused: checkpoint was refused")
    assert str(e.value).startswith("'pickle.pt' was refused: it contains pickled Python objects")
    assert str(e.value).count("refused") == 1
    with pytest.raises(studio.UploadError) as e:
        studio.validate_upload("junk.pt", b"definitely not a torch file")
    assert str(e.value).startswith("'junk.pt' was refused: it ") and str(e.value).count("refused") == 1
    with pytest.raises(studio.UploadError) as e:
        studio.validate_upload("junk.safetensors", b"\x00\x01 not safetensors")
    assert str(e.value).startswith("'junk.safetensors' was refused: it ") and "checkpoint" not in str(e.value)[:40]
    # a real tensor file that is not a GAN Studio checkpoint
    buf = io.BytesIO()
    torch.save({"weights": torch.zeros(3)}, buf)
    with pytest.raises(studio.UploadError):
        studio.validate_upload("other.pt", buf.getvalue())


def test_save_upload_validates_then_writes_without_overwriting(trained, tmp_path):
    data = trained["st"].read_bytes()
    dest, summary = studio.save_upload("My Gen.safetensors", data, tmp_path)
    assert dest == tmp_path / "My_Gen.safetensors" and dest.read_bytes() == data
    assert summary["arch"] == "acgan" and summary["file"] == "My_Gen.safetensors"
    dest2, _ = studio.save_upload("My Gen.safetensors", data, tmp_path)
    assert dest2.name == "My_Gen-1.safetensors"
    pt, s = studio.save_upload("run.pt", trained["last"].read_bytes(), tmp_path)
    assert s["step"] == 3 and pt.exists()
    with pytest.raises(studio.UploadError):
        studio.save_upload("bad.pt", b"nope", tmp_path)
    assert not (tmp_path / "bad.pt").exists()  # refused uploads are never written


def test_delete_checkpoint_only_inside_the_folder(tmp_path):
    (tmp_path / "a.pt").write_bytes(b"x")
    (tmp_path / "readme.txt").write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.pt"
    outside.write_bytes(b"x")
    assert studio.delete_checkpoint("a.pt", tmp_path) == (tmp_path / "a.pt").resolve()
    assert not (tmp_path / "a.pt").exists()
    with pytest.raises(studio.UploadError):
        studio.delete_checkpoint("readme.txt", tmp_path)
    with pytest.raises(studio.UploadError, match="does not exist"):
        studio.delete_checkpoint("a.pt", tmp_path)
    with pytest.raises(studio.UploadError):
        studio.delete_checkpoint(f"../{outside.name}", tmp_path)
    assert outside.exists()


def test_export_run_generator(trained, tmp_path):
    p = studio.export_run_generator(trained["last"], "exported", tmp_path)
    assert p == tmp_path / "exported.safetensors"
    assert studio.describe_checkpoint(p)["step"] == 3
    assert studio.export_run_generator(trained["last"], "exported", tmp_path).name == "exported-1.safetensors"


# ---- the training form ---------------------------------------------------------------------------------
def test_optimizer_settings_follow_the_loss_registry():
    for name, spec in LOSSES.items():
        s = studio.optimizer_settings(name)
        assert set(s) == set(studio.OPTIMIZER_FIELDS)
        for k, v in spec.recommended.items():
            if k in studio.OPTIMIZER_FIELDS:
                assert s[k] == v
    assert studio.optimizer_settings("wgan-gp")["n_critic"] == LOSSES["wgan-gp"].recommended.get("n_critic", 1)


def test_config_from_flat_and_checks():
    cfg = studio.config_from_flat({"data.dataset": "digits", "loss.name": "hinge", "train.steps": 7,
                                   "data.path": "  "})
    assert (cfg.data.dataset, cfg.loss.name, cfg.train.steps, cfg.data.path) == ("digits", "hinge", 7, None)
    with pytest.raises(ConfigError):
        studio.config_from_flat({"nodot": 1})
    with pytest.raises(ConfigError):
        studio.config_from_flat({"train.steps": -1})
    with pytest.raises(ConfigError, match="model.arch"):
        studio.config_from_flat({"data.dataset": "toy2d", "model.arch": "acgan"})


def test_presets_are_valid_configs():
    for key, p in studio.PRESETS.items():
        cfg = studio.config_from_flat(studio.flatten(p.sections))
        assert cfg.train.steps > 0 or cfg.train.seconds > 0, key
    assert studio.PRESETS["tiny"].sections["data"]["image_size"] == 16
    # the time presets are time budgets named for their length, with a grid every few seconds
    for key, seconds in (("1min", 60), ("5min", 300)):
        cfg = studio.config_from_flat(studio.flatten(studio.preset_sections(key, "faces")))
        assert cfg.train.seconds == seconds and cfg.train.steps == 0 and 0 < cfg.train.sample_seconds <= 5
        assert cfg.model.arch == studio.recipe_for("faces")["model"]["arch"]      # tagged data: the recipe
        assert cfg.data.num_samples >= 20000                                     # a pool D cannot memorise
    plain = studio.config_from_flat(studio.flatten(studio.preset_sections("1min", "cifar10")))
    assert plain.model.arch == "dcgan" and plain.train.seconds == 60


def test_relevant_fields():
    f = studio.relevant_fields("faces", "acgan", "wgan-gp")
    assert {"data.image_size", "model.embed_dim", "loss.aux_weight", "loss.gp_lambda"} <= f
    assert "loss.clip_value" not in f and "data.toy_shape" not in f
    g = studio.relevant_fields("toy2d", "mlp", "wgan-clip")
    assert {"data.toy_shape", "model.mlp_hidden", "loss.clip_value"} <= g and "data.image_size" not in g


def test_format_helpers():
    assert studio.format_duration(75.2) == "1 min 15 s"
    assert studio.format_duration(5) == "5 s"
    assert studio.format_duration(3 * 3600 + 120) == "3 h 02 min"
    assert studio.format_duration(None) == "?"
    assert studio.format_bytes(512) == "512 B" and studio.format_bytes(2048) == "2.0 KB"


def test_curve_help_uses_the_loss_explanations():
    for name, spec in LOSSES.items():
        h = studio.curve_help(name)
        assert spec.curve_help in h["losses"] and h["outputs"]
    assert "probabilities" in studio.curve_help("ns")["outputs"]
    assert "raw" in studio.curve_help("wgan-gp")["outputs"]


# ---- pictures --------------------------------------------------------------------------------------------
def test_png_bytes_and_upscale():
    img = np.zeros((4, 6, 3), np.uint8)
    img[0, 0] = (255, 0, 0)
    big = studio.upscale(img, min_size=16)
    assert big.shape == (16, 24, 3) and (big[:4, :4] == (255, 0, 0)).all() and (big[4:, 4:] == 0).all()
    assert studio.upscale(img, min_size=2) is img
    back = np.asarray(Image.open(io.BytesIO(studio.png_bytes(big))))
    assert np.array_equal(back, big)


def test_frames_to_gif():
    frames = [np.full((8, 8, 3), v, np.uint8) for v in (0, 128, 255)]
    gif = Image.open(io.BytesIO(studio.frames_to_gif(frames, fps=5, min_size=32)))
    assert gif.format == "GIF" and gif.n_frames == 3 and gif.size == (32, 32)
    assert gif.info["duration"] == 200
    assert Image.open(io.BytesIO(studio.frames_to_gif(frames, boomerang=True))).n_frames == 4
    with pytest.raises(ValueError):
        studio.frames_to_gif([])


def test_annotate_columns_adds_a_header():
    grid = np.zeros((20, 40, 3), np.uint8)
    out = studio.annotate_columns(grid, ["a", "b"], header=12)
    assert out.shape == (32, 40, 3) and (out[12:] == 0).all() and (out[:12] != 255).any()


# ---- generation ------------------------------------------------------------------------------------------
def test_label_groups_and_make_labels(trained):
    cfg, spec = trained["cfg"], trained["spec"]
    groups = studio.label_groups(cfg, spec)
    assert [g for g, _ in groups] == ["hair", "eye"] and "blue" in groups[0][1]
    y = studio.make_labels(cfg, spec, 5, [2, None], seed=1)
    assert y.shape == (5, 2) and (y[:, 0] == 2).all()
    assert torch.equal(y, studio.make_labels(cfg, spec, 5, [2, None], seed=1))
    with pytest.raises(ValueError):
        studio.make_labels(cfg, spec, 5, [2])
    with pytest.raises(ValueError, match="out of range"):
        studio.make_labels(cfg, spec, 5, [99, 0])
    uncond = cfg.replace(model={"arch": "dcgan"})
    assert studio.label_groups(uncond, spec) == [] and studio.make_labels(uncond, spec, 3) is None


def test_sample_grid_is_seeded_and_tags_change_it(trained):
    G, cfg, spec = trained["G"], trained["cfg"], trained["spec"]
    a = studio.sample_grid(G, cfg, spec, n=4, seed=0, tags=[0, 0], nrow=2)
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    assert np.array_equal(a, studio.sample_grid(G, cfg, spec, n=4, seed=0, tags=[0, 0], nrow=2))
    assert not np.array_equal(a, studio.sample_grid(G, cfg, spec, n=4, seed=1, tags=[0, 0], nrow=2))
    assert not np.array_equal(a, studio.sample_grid(G, cfg, spec, n=4, seed=0, tags=[3, 0], nrow=2))


def test_tag_sweep(trained):
    G, cfg, spec = trained["G"], trained["cfg"], trained["spec"]
    grid, classes = studio.tag_sweep(G, cfg, spec, group=1, rows=2, seed=0, base=[0, 0])
    assert classes == studio.label_groups(cfg, spec)[1][1]
    side = 16 + 2  # 16 px tiles with 2 px padding
    assert grid.shape[1] == len(classes) * side + 2 and grid.shape[0] == 2 * side + 2
    with pytest.raises(ValueError, match="out of range"):
        studio.tag_sweep(G, cfg, spec, group=5)
    with pytest.raises(ValueError, match="unconditional"):
        studio.tag_sweep(G, cfg.replace(model={"arch": "dcgan"}), spec, group=0)


def test_interpolation_frames_and_arithmetic(trained):
    G, cfg, spec = trained["G"], trained["cfg"], trained["spec"]
    fr = studio.interpolation_frames(G, cfg, spec, 0, 1, steps=5, method="slerp", tags_a=[0, 0], tags_b=[1, 1])
    assert len(fr) == 5 and fr[0].shape == (16, 16, 3)
    again = studio.interpolation_frames(G, cfg, spec, 0, 1, steps=5, method="slerp", tags_a=[0, 0], tags_b=[1, 1])
    assert all(np.array_equal(x, y) for x, y in zip(fr, again))
    assert not np.array_equal(fr[0], fr[-1])
    lerp = studio.interpolation_frames(G, cfg, spec, 0, 1, steps=5, method="lerp", tags_a=[0, 0], tags_b=[1, 1])
    assert np.array_equal(lerp[0], fr[0]) and not np.array_equal(lerp[2], fr[2])
    strip = studio.frames_strip(fr, per_row=5)
    assert strip.shape[1] == 5 * 18 + 2
    imgs = studio.arithmetic_images(G, cfg, spec, (1, 2, 3), tags=[0, 0])
    assert len(imgs) == 4 and all(i.shape == (16, 16, 3) for i in imgs)
    with pytest.raises(ValueError):
        studio.arithmetic_images(G, cfg, spec, (1, 2))


# ---- curves, runs, metrics ---------------------------------------------------------------------------------
HIST = [{"step": 1, "d_loss": 1.0, "g_loss": 2.0, "extra": {"gp": 0.5}},
        {"step": 2, "d_loss": float("nan"), "g_loss": 1.5},
        {"step": 3, "d_loss": 0.5, "g_loss": True, "extra": {"gp": 0.25}}]


def test_history_helpers():
    assert studio.history_keys(HIST) == ["d_loss", "g_loss", "extra.gp"]
    assert studio.history_series(HIST, "d_loss") == ([1, 3], [1.0, 0.5])  # NaN skipped
    assert studio.history_series(HIST, "extra.gp") == ([1, 3], [0.5, 0.25])
    assert studio.curve_label("d_real") == "D(x)" and studio.curve_label("extra.gp") == "gp"
    rows = list(range(10_000))
    d = studio.downsample(rows, 100)
    assert len(d) == 100 and d[0] == 0 and d[-1] == 9999
    assert studio.smooth([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])
    assert studio.smooth([0.0, 10.0], 0.0) == [0.0, 10.0]
    with pytest.raises(ValueError):
        studio.smooth([1.0], 1.0)


def test_runs_listing_and_metrics(trained, tmp_path):
    runs = studio.list_runs(trained["run"].parent)
    assert [r.name for r in runs] == ["r1"]
    r = runs[0]
    assert r.step == 3 and r.checkpoint == trained["last"] and r.sample is not None
    assert "faces/acgan/ns" in r.label
    rows = studio.load_metrics(r.path)
    assert [x["step"] for x in rows] == [1, 2, 3]
    broken = tmp_path / "b"
    broken.mkdir()
    (broken / "metrics.jsonl").write_text(json.dumps({"step": 1, "d_loss": 1}) + "\n{\"step\": 2, \"d_lo")
    assert [x["step"] for x in studio.load_metrics(broken)] == [1]
    assert studio.list_runs(tmp_path / "none") == []


def test_config_differences():
    a = RunConfig().to_dict()
    b = RunConfig().replace(loss={"name": "lsgan"}, data={"cache_dir": "elsewhere"}).to_dict()
    rows = studio.config_differences({"a": a, "b": b})
    assert rows == [{"field": "loss.name", "a": "ns", "b": "lsgan"}]
    assert studio.config_differences({"a": a, "b": a}) == []


def test_metrics_overview_reads_the_listener_rows():
    extras = {
        "metrics": [
            {"step": 10, "n_real": 64, "n_fake": 64, "features": "faces-classifier", "fid": 100.0, "kid": 0.5,
             "tag_accuracy": 0.25, "label": "FID 100.00 ..."},
            {"step": 20, "n_real": 64, "n_fake": 64, "features": "faces-classifier", "fid": 80.0, "kid": 0.4,
             "tag_accuracy": 0.5, "diversity_ratio": 0.12, "label": "FID 80.00 ..."},
        ],
        "alerts": [{"step": 20, "kind": "mode_collapse", "message": "possible mode collapse at step 20"}],
        "metrics_status": [{"step": 0, "message": "metrics off: nothing"}],
    }
    ov = studio.metrics_overview(extras)
    assert ov["latest"]["step"] == 20 and ov["previous"]["step"] == 10
    assert ov["series"] == ["tag_accuracy", "diversity_ratio", "fid", "kid"]   # most telling first
    assert ov["table"][1] == {"step": 20, "FID": 80.0, "KID": 0.4, "tag accuracy %": 50.0,
                              "same-tag diversity": 0.12, "real images": 64, "generated images": 64,
                              "features": "faces-classifier"}
    assert ov["alerts"][0]["message"].startswith("possible mode collapse")
    assert ov["status"] == "metrics off: nothing"
    empty = studio.metrics_overview({})
    assert empty["latest"] is None and empty["series"] == [] and empty["alerts"] == [] and empty["status"] is None
    assert studio.format_metric("tag_accuracy", 0.715) == "71.5%"
    assert studio.format_metric("kid", 0.01234) == "0.0123"
    assert studio.format_metric("fid", None) == "-"


def test_quality_rows_show_the_newest_evaluation_with_its_sample_sizes(tmp_path):
    import json
    from types import SimpleNamespace

    run = tmp_path / "r1"
    run.mkdir()
    rows = [{"step": 10, "tag_accuracy": 0.5, "diversity_ratio": 0.1, "fid": 9.0, "n_real": 64, "n_fake": 64,
             "features": "faces-classifier"},
            {"step": 20, "tag_accuracy": 0.925, "diversity_ratio": 0.957, "fid": 3.07, "recall": 0.99,
             "precision": 0.79, "coverage": 0.6, "n_real": 256, "n_fake": 256, "features": "faces-classifier"}]
    (run / "eval_metrics.jsonl").write_text("".join(json.dumps({"extra": "metrics", "row": r}) + "\n" for r in rows))
    empty = tmp_path / "r2"
    empty.mkdir()
    got = studio.quality_rows([SimpleNamespace(name="r1", path=run), SimpleNamespace(name="r2", path=empty)])
    assert got[0] == {"run": "r1", "evaluated at step": 20, "tag accuracy %": 92.5, "same-tag diversity": 0.957,
                      "FID": 3.07, "recall": 0.99, "precision": 0.79, "samples (real / generated)": "256 / 256",
                      "features": "faces-classifier"}
    assert got[1] == {"run": "r2", "evaluated at step": None}
    caption = studio.quality_caption(got)   # says what each shown column means, and nothing else
    assert "**tag accuracy**" in caption and "**FID**" in caption and "L1" not in caption


# ---- live.py / tools.py: the view logic both fronts share (issue 19) ------------------------------------
def test_metrics_view_before_and_after_an_evaluation():
    assert studio.metrics_view({}, 250)["intro"].startswith("Quality metrics (FID, KID, tag accuracy)")
    assert studio.metrics_view({}, 0)["intro"] == ""
    off = studio.metrics_view({"metrics_status": [{"message": "metrics are off"}]}, 250)
    assert off["intro"] == "Quality metrics: metrics are off" and off["cards"] == []
    rows = [{"step": 10, "fid": 80.0, "n_real": 64, "n_fake": 64, "features": "tiny"},
            {"step": 20, "fid": 60.5, "n_real": 64, "n_fake": 64, "features": "tiny"}]
    v = studio.metrics_view({"metrics": rows, "alerts": [{"step": 20, "message": "mode collapse"}]}, 250)
    assert v["alerts"] == ["**Alert at step 20:** mode collapse"] and v["intro"] == ""
    (card,) = v["cards"]
    assert card["name"] == "fid" and card["delta"] == "-19.5" and card["lower_is_better"]
    assert v["summary"] == "Quality at step 20 (64 real vs 64 generated images, tiny features)"
    assert card["label"] in v["values"] and len(v["table"]) == 2
    md = studio.metrics_markdown({"metrics": rows, "alerts": [{"step": 20, "message": "mode collapse"}]}, 250)
    assert md.startswith("**Alert at step 20:** mode collapse") and v["summary"] in md and v["help"] in md


def test_chart_groups_hold_every_curve_once_and_loss_terms_only_when_logged():
    hist = [{"step": 1, "d_loss": 1.0, "g_loss": 2.0, "d_real": .6, "d_fake": .4, "grad_norm_d": 1, "grad_norm_g": 1,
             "lr_d": 2e-4, "lr_g": 2e-4}]
    groups = studio.chart_groups(hist, "ns", "dcgan")
    assert [g["title"] for g in groups] == ["Losses", "D outputs", "Gradient norms", "Learning rates"]
    assert [g["main"] for g in groups] == [True, True, False, False] and all(g["help"] for g in groups)
    with_terms = studio.chart_groups([{**hist[0], "extra": {"gp": 0.1}}], "wgan-gp", "dcgan")
    assert with_terms[-1]["title"] == "Loss terms" and with_terms[-1]["keys"] == ["extra.gp"]


def test_status_queue_and_field_note_strings():
    assert studio.owner_label(True, False) == "yours" and studio.owner_label(False, True) == "admin"
    assert studio.owner_label(False, False).startswith("view only")
    assert studio.queued_text(2, 75.0) == ("Queued: your run starts when a training slot is free (position 2, "
                                           "expected in about 1 min 15 s).")
    assert studio.queued_text(1, 0.0).endswith("(position 1, next).")
    row = {"position": 1, "whose": "yours", "dataset": "faces", "arch": "dcgan", "loss": "ns", "length": "400 steps",
           "expected start": "next"}
    assert studio.queue_row_text(row) == "**#1** · your run · faces · dcgan · ns · 400 steps · expected start next"
    assert studio.queue_header(3, 1) == "**Queue** · 3 waiting · 1 run(s) train at once"
    assert studio.no_run_text([], "/r").startswith("No run yet")
    wgan = [k for k, s in LOSSES.items() if not s.uses_targets][0]
    assert "not used" in studio.field_note("loss.name", "faces", "dcgan", wgan)
    assert "not used" not in studio.field_note("loss.name", "faces", "dcgan", "ns")
    assert studio.field_note("model.arch", "faces", "dcgan", "ns") and studio.field_note("data.path", "faces",
                                                                                            "dcgan", "ns") is None


def test_grid_labels_name_the_tags_of_each_row_and_column():
    """#23 item 4: the Train grid's rows (first tag group) and columns (second) are labelled, as the
    trainer draws them (gan_core.train.steplog.grid_labels)."""
    from gan_core.train.steplog import grid_labels

    spec = {"kind": "image", "channels": 3, "image_size": 16, "num_classes": [3, 2],
            "group_names": ["hair", "eye"], "class_names": [["red", "blue", "green"], ["brown", "grey"]]}
    cfg = {"model": {"arch": "acgan"}, "train": {"grid_size": 9}}
    v = studio.grid_labels_view(cfg, spec, 9)
    labels = grid_labels((3, 2), 9)
    assert v["rows"] == [spec["class_names"][0][int(labels[r * 3, 0])] for r in range(3)]
    assert v["columns"] == [spec["class_names"][1][int(labels[c, 1])] for c in range(3)]
    assert v["caption"] == "rows: hair · columns: eye"
    assert studio.grid_labels_view({"model": {"arch": "dcgan"}}, spec, 9)["rows"] == []      # unconditional
    grid = np.zeros((50, 50, 3), np.uint8)
    img, caption = studio.labelled_grid(grid, cfg, spec, min_size=100)
    assert caption and img.shape[1] > 100 and img.shape[0] > 100   # a strip of row labels and a header
    assert (img[:, :studio.panel.ROW_LABEL_PX] < 100).any()         # dark text in the row strip
    plain, none = studio.labelled_grid(grid, {"model": {"arch": "dcgan"}, "train": {"grid_size": 9}}, spec, 100)
    assert none == "" and plain.shape[:2] == (100, 100)


def test_lab_shape_names_presets_and_form_config():
    from gan_core import lab2d

    g, s = studio.shape_names("gradio"), studio.shape_names("streamlit")
    assert set(g) == set(lab2d.LAB_SHAPES) == set(s)
    assert g[lab2d.DRAWN] != s[lab2d.DRAWN] and {k: v for k, v in g.items() if k != lab2d.DRAWN} == \
        {k: v for k, v in s.items() if k != lab2d.DRAWN}
    keys = [k for _, k in studio.lab_preset_choices()]
    assert keys[-1] == studio.CUSTOM_PRESET and keys[:-1] == list(lab2d.LAB_PRESETS)
    assert studio.lab_preset_note("ns-collapse").startswith("**What it should show:**")
    assert studio.lab_preset_note(studio.CUSTOM_PRESET).startswith("Custom")
    p = lab2d.LAB_PRESETS["ns-collapse"]
    values = studio.lab_form_values(p.config())
    values.update(n_critic=2.0, lr_g="0.001")
    cfg = studio.lab_form_config("ns-collapse", values, [(0.5, 1)])
    assert cfg.train.n_critic == 2 and cfg.train.lr_g == 1e-3 and cfg.drawn == ((0.5, 1.0),)
    assert cfg.train.steps == p.steps
    assert studio.lab_form_config(studio.CUSTOM_PRESET, values).train.steps == 100_000_000


def test_sketch_start_and_export_as(trained, tmp_path):
    from gan_core.jobs import sharing
    from gan_core.img2img import translate

    class G:   # an edges-only generator: no dabs whatever is asked
        image_size = 16

    s = studio.sketch_start(G(), 3, 8, 4)
    assert s["lines"].shape == (64, 64, 3) and s["hints"] is None and s["shown"] is s["lines"]
    _, edges = translate.random_face_edges(3, 16)
    assert (s["lines"] == translate.enlarge(edges, 4)).all()
    folder = tmp_path / "ck"
    folder.mkdir()
    p = studio.export_generator_as(trained["last"], "  ", folder, "visitor-a")   # an empty name: the run's name
    assert p.parent == folder and p.stem == trained["run"].name
    assert sharing.file_origin(folder, p.name, "visitor-a") == "yours"


def test_vgg_loader_remembers_a_failure_and_tries_again_when_a_file_appears(monkeypatch, tmp_path):
    from gan_core.img2img import style as S

    monkeypatch.delenv(S.ENV_VAR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    now = [0.0]
    calls = []

    def offline(*a, **k):
        calls.append(1)
        raise S.WeightsUnavailable("offline <urlopen error x>")

    monkeypatch.setattr(S, "load_vgg19", offline)
    vgg = studio.VggLoader(retry_s=60, clock=lambda: now[0])
    assert vgg.will_download() and vgg.notice()[0] == "info"
    for _ in range(2):
        with pytest.raises(S.WeightsUnavailable, match="urlopen"):
            vgg.network()
    assert len(calls) == 1 and vgg.notice() == ("error", "offline <urlopen error x>")
    now[0] = 61.0                                              # after retry_s: one more try
    with pytest.raises(S.WeightsUnavailable):
        vgg.network()
    assert len(calls) == 2
    net = S.make_vgg_features((4, "M"))                          # a local file appears: it is used at once
    path = tmp_path / "vgg.pth"
    torch.save(net.state_dict(), path)
    monkeypatch.setenv(S.ENV_VAR, str(path))
    assert vgg.notice() is None and not vgg.will_download()
    a = vgg.network()
    assert vgg.network() is a and len(calls) == 2              # loaded once per file version


def test_queue_rows_say_a_time_limited_runs_length():
    # issue 23 item 22: a time-limited queued run read "lsgan · - steps"
    from types import SimpleNamespace

    from gan_core.config import RunConfig

    def job(i, **train):
        cfg = RunConfig().to_dict()
        cfg["train"].update(train)
        return SimpleNamespace(id=f"j{i}", owner="me", snapshot=lambda: SimpleNamespace(config=cfg))

    jobs = [job(0, steps=0, seconds=60.0), job(1, steps=200, seconds=0.0), job(2, steps=5000, seconds=600.0)]
    mgr = SimpleNamespace(queued_jobs=lambda: jobs, expected_wait=lambda q: 0, queue_position=lambda q: jobs.index(q) + 1)
    rows = studio.queue_rows(mgr, "me")
    assert [r["length"] for r in rows] == ["60 s", "200 steps", "5,000 steps or 10 min 00 s"]
    assert studio.run_length({"steps": 0, "seconds": 0}) == "no limit"


def test_compare_lists_a_live_change_made_before_the_first_logged_step():
    # issue 23 item 21: lr set to 1e-4 while the run loaded its data; every logged step has 1e-4
    from gan_core.config import RunConfig
    from gan_core.studio import RunInfo, changed_while_training, mid_run_changes

    cfg = RunConfig().replace(train={"lr_g": 2e-4, "lr_d": 2e-4, "n_critic": 1}).to_dict()
    hist = [{"step": 10, "lr_g": 1e-4, "lr_d": 2e-4, "n_critic": 1},
            {"step": 20, "lr_g": 1e-4, "lr_d": 2e-4, "n_critic": 1}]
    assert mid_run_changes(hist, config=cfg) == [{"step": 10, "lr_g": "2.0e-04 -> 1.0e-04"}]
    run = RunInfo("r1", Path("/nowhere/r1"), cfg, hist[-1], None, None, 0.0)
    assert changed_while_training([run], {"r1": hist}) == [{"run": "r1", "step": "10", "lr_g": "2.0e-04 -> 1.0e-04"}]


def test_the_live_box_is_offered_only_while_the_run_trains():
    from gan_core.jobs.job import JobSnapshot
    from gan_core.studio import can_steer

    def snap(status):
        return JobSnapshot(1, "me", "/tmp/r", {}, status, 0, 10, 0.0, None, 0.0, [], None, 0, [], None, [], 0.0,
                           None, {})

    offered = {s: can_steer(snap(s), True) for s in ("queued", "starting", "loading data", "running", "paused",
                                                      "stopping", "done")}
    assert offered == {"queued": False, "starting": False, "loading data": False, "running": True, "paused": True,
                       "stopping": False, "done": False}
    assert not can_steer(snap("running"), False)     # another visitor's run



def test_learning_rates_are_drawn_on_a_log_axis_with_scientific_ticks():
    # issue 23 item 3: a constant lr 2e-4 was drawn flat at 0 on a -1..1 linear axis
    assert studio.curve_axis(["lr_d", "lr_g"]) == {"log": True, "tickformat": ".1e"}
    for keys in (["d_loss", "g_loss"], ["d_real", "d_fake"], ["extra.penalty"], []):
        assert studio.curve_axis(keys) == {"log": False, "tickformat": None}


def test_no_run_message_lists_the_runs_folder_again_only_when_it_changed(tmp_path, monkeypatch):
    """Every visitor without a run asks at each tick: the folder is listed again only when a run folder came or
    went (or after NO_RUN_MAX_AGE_S), and the message always names the runs there."""
    from gan_core.studio import panel
    calls = []
    real = panel.list_runs
    monkeypatch.setattr(panel, "list_runs", lambda r: calls.append(r) or real(r))
    root = tmp_path / "runs"
    assert studio.no_run_message(root).startswith("No run yet") and studio.no_run_message(root).startswith("No run yet")
    root.mkdir()
    assert studio.no_run_message(root).startswith("No run yet")   # the folder now exists: listed again
    n = len(calls)
    assert studio.no_run_message(root).startswith("No run yet") and len(calls) == n   # nothing changed: no listing
    run = root / "20261203-070000-faces-dcgan-ns"
    run.mkdir()
    (run / "config.json").write_text("{}")
    os.utime(root, ns=(root.stat().st_atime_ns, root.stat().st_mtime_ns + 1_000_000))   # coarse clocks
    msg = studio.no_run_message(root)
    assert len(calls) == n + 1 and "1 earlier run(s)" in msg and run.name in msg
    monkeypatch.setattr(panel, "NO_RUN_MAX_AGE_S", 0.0)   # a config.json written after its folder is seen in time
    studio.no_run_message(root)
    assert len(calls) == n + 2

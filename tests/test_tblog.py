"""TensorBoard event files beside metrics.jsonl: read back with tensorboard's EventAccumulator, they hold
the same scalars at the same steps, the sample grids and the hyper-parameters; a missing package or a
failing write turns TensorBoard off with one note and never stops training."""
import sys

import numpy as np
from PIL import Image

from gan_core.storage import rundir
from gan_core.train import tblog
from gan_core.train.events import DoneEvent, ErrorEvent, SampleEvent, StartEvent, StatusEvent, StepEvent
from gan_core.train.trainer import Trainer
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2


FP32 = {"amp": False, "channels_last": False}   # one precision option: no speed probe to time


def _accumulator(run_dir):
    acc = EventAccumulator(str(rundir.tensorboard_dir(run_dir)), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def _assert_scalars_match_metrics(acc, run_dir):
    rows = rundir.step_rows(run_dir)
    assert rows, "metrics.jsonl is empty"
    by_tag: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for field, tag in tblog.SCALARS.items():
            by_tag.setdefault(tag, []).append((row["step"], row[field]))
        for name, v in row["extra"].items():
            by_tag.setdefault("extra/" + name, []).append((row["step"], v))
    assert set(acc.Tags()["scalars"]) == set(by_tag)
    for tag, expected in by_tag.items():
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        # TensorBoard stores scalars as float32
        assert got == [(s, float(np.float32(v))) for s, v in expected], tag


def test_run_writes_scalars_grids_and_hparams_that_tensorboard_reads_back(tiny_cfg, tmp_path):
    cfg = tiny_cfg(loss="wgan-gp", steps=4, train={"sample_every": 2, "n_critic": 2, **FP32})
    events = list(Trainer(cfg, tmp_path).run())
    assert not [e for e in events if isinstance(e, ErrorEvent)]
    assert not [n for n in events[1].notes if "TensorBoard" in n]
    acc = _accumulator(tmp_path)
    _assert_scalars_match_metrics(acc, tmp_path)
    tags = acc.Tags()["scalars"]
    assert {"loss/D", "loss/G", "D_output/real", "D_output/fake", "grad_norm/D", "grad_norm/G", "lr/G", "lr/D",
            "train/n_critic", "train/img_per_s", "extra/penalty"} <= set(tags)
    assert [e.value for e in acc.Scalars("train/n_critic")] == [2.0] * 4
    # the grids: every SampleEvent's image, as the PNG beside it
    samples = [e for e in events if isinstance(e, SampleEvent)]
    images = acc.Images(tblog.IMAGE_TAG)
    assert [i.step for i in images] == [s.step for s in samples] == [0, 2, 4]   # the last grid once (issue 23 item 15)
    h, w, _ = samples[-1].image.shape
    assert (images[-1].height, images[-1].width) == (h, w)
    png = np.asarray(Image.open(rundir.sample_path(tmp_path, 4)).convert("RGB"))
    assert png.shape == samples[-1].image.shape
    # the hyper-parameters: the flattened config, and the two losses as the HParams dashboard's metrics
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hp = start.session_start_info.hparams
    assert hp["loss.name"].string_value == "wgan-gp" and hp["train.steps"].number_value == 4
    assert hp["train.n_critic"].number_value == 2 and hp["model.arch"].string_value == "dcgan"
    assert len(hp) == len(tblog.hparam_values(cfg))
    exp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert [m.name.tag for m in exp.metric_infos] == list(tblog.HPARAM_METRICS)


def test_resumed_run_purges_the_old_steps_after_its_checkpoint(tiny_cfg, tmp_path):
    cfg = tiny_cfg(steps=6, train={"checkpoint_every": 3, "keep_checkpoints": 2, **FP32})
    list(Trainer(cfg, tmp_path).run())
    assert len(rundir.step_rows(tmp_path)) == 6
    resumed = list(Trainer(cfg, tmp_path, resume=rundir.step_checkpoint(tmp_path, 3)).run())
    assert isinstance(resumed[1], StartEvent) and resumed[1].start_step == 3
    assert [r["step"] for r in rundir.step_rows(tmp_path)] == [1, 2, 3, 4, 5, 6]
    acc = _accumulator(tmp_path)
    assert len(list(rundir.tensorboard_dir(tmp_path).glob("events.out.tfevents.*"))) == 2
    _assert_scalars_match_metrics(acc, tmp_path)   # each step once, as in metrics.jsonl
    # a fresh run in the same folder starts the TensorBoard files over, as metrics.jsonl
    list(Trainer(tiny_cfg(steps=2, train=FP32), tmp_path).run())
    assert [e.step for e in _accumulator(tmp_path).Scalars("loss/D")] == [1, 2]


def test_missing_tensorboard_package_turns_it_off_with_one_note(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)   # import fails
    events = list(Trainer(tiny_cfg(steps=3, train=FP32), tmp_path).run())
    start = events[1]
    notes = [n for n in start.notes if "TensorBoard" in n]
    assert len(notes) == 1 and "ModuleNotFoundError" in notes[0], start.notes
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "steps"
    assert [r["step"] for r in rundir.step_rows(tmp_path)] == [1, 2, 3]
    assert not list(tmp_path.rglob("events.out.tfevents.*"))


def test_failing_write_turns_tensorboard_off_with_one_note_and_training_goes_on(tiny_cfg, tmp_path, monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    calls = []

    def broken(self, *a, **kw):
        calls.append(a[0])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SummaryWriter, "add_scalar", broken)
    events = list(Trainer(tiny_cfg(steps=4, train={"sample_every": 1, **FP32}), tmp_path).run())
    notes = [e for e in events if isinstance(e, StatusEvent) and "TensorBoard" in e.message]
    assert len(notes) == 1 and notes[0].step == 1 and "No space left" in notes[0].message
    assert notes[0].status == "running"
    assert len(calls) == 1   # off after the first failure: nothing more is tried
    assert [e.step for e in events if isinstance(e, StepEvent)] == [1, 2, 3, 4]
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "steps"
    assert [r["step"] for r in rundir.step_rows(tmp_path)] == [1, 2, 3, 4]
    assert len(list((tmp_path / rundir.SAMPLES).glob("*.png"))) == 5   # grids at steps 0-4, as before


def test_no_run_folder_or_switched_off_writes_nothing(tiny_cfg, tmp_path, monkeypatch):
    assert not tblog.TBLog(None).on
    monkeypatch.setenv(tblog.ENV, "0")
    events = list(Trainer(tiny_cfg(steps=2, train=FP32), tmp_path).run())
    assert events[-1].reason == "steps" and not rundir.tensorboard_dir(tmp_path).exists()


def test_a_job_keeps_the_trainers_running_note(tiny_cfg, tmp_path):
    from gan_core.jobs.job import Job

    job = Job(1, "owner", tiny_cfg(steps=2), tmp_path, None, [], mode="thread")
    job._on_event(StatusEvent("running", 3, "TensorBoard logging is off: could not write the scalars (OSError)"))
    job._on_event(StatusEvent("paused", 4))
    job._on_event(StatusEvent("running", 4))   # resumed: no note
    assert job.notes == ["TensorBoard logging is off: could not write the scalars (OSError)"]

import math
import threading

import pytest
import torch

from gan_core.storage import rundir
from gan_core.storage.checkpoint import load_checkpoint
from gan_core.train.events import CheckpointEvent, DoneEvent, ErrorEvent, SampleEvent, StartEvent, StatusEvent, StepEvent
from gan_core.losses import LOSSES
from gan_core.models import ARCHITECTURES
from gan_core.train.control import TrainControl
from gan_core.train.trainer import Trainer


def _steps(events):
    return [e for e in events if isinstance(e, StepEvent)]


# pix2pix-acgan shares pix2pix-tags' networks and losses: two losses (no penalty, a gradient penalty through its
# tag-head D) keep the suite short
COMBOS = [(arch, loss) for arch in ARCHITECTURES for loss in LOSSES
          if arch != "pix2pix-acgan" or loss in ("ns", "wgan-gp")]


@pytest.mark.parametrize("arch,loss", COMBOS, ids=[f"{a}-{l}" for a, l in COMBOS])
def test_every_loss_and_arch_trains(tiny_cfg, tmp_path, arch, loss):
    dataset = "toy2d" if arch == "mlp" else "faces-edges" if ARCHITECTURES[arch].paired else "faces"
    cfg = tiny_cfg(dataset=dataset, arch=arch, loss=loss, steps=2)
    trainer = Trainer(cfg, tmp_path)
    events = list(trainer.run())
    assert not [e for e in events if isinstance(e, ErrorEvent)], events
    steps = _steps(events)
    assert [s.step for s in steps] == [1, 2]
    assert all(math.isfinite(s.d_loss) and math.isfinite(s.g_loss) for s in steps)
    assert all(s.grad_norm_g > 0 and s.img_per_s > 0 for s in steps)
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "steps"
    if LOSSES[loss].d_constraint is not None:  # weight clipping
        assert max(p.abs().max().item() for p in trainer.D.parameters()) <= cfg.loss.clip_value + 1e-7
    if LOSSES[loss].penalty:
        assert "penalty" in steps[-1].extra
    if ARCHITECTURES[arch].conditioning in ("acgan", "image-acgan"):
        assert "aux_d" in steps[-1].extra and "aux_g" in steps[-1].extra
    if ARCHITECTURES[arch].conditioning in ("image", "image-acgan"):  # pix2pix: the GAN term and the L1 term of G
        assert {"g_adv", "l1"} <= set(steps[-1].extra) and steps[-1].extra["l1"] > 0
    sample = [e for e in events if isinstance(e, SampleEvent)][-1]
    assert sample.image.dtype.name == "uint8" and sample.image.shape[2] == 3
    assert (tmp_path / "last.pt").exists() and (tmp_path / "metrics.jsonl").exists()


def test_event_sequence_and_files(tiny_cfg, tmp_path):
    cfg = tiny_cfg(arch="acgan", steps=4, train={"sample_every": 2, "checkpoint_every": 2, "keep_checkpoints": 1})
    events = list(Trainer(cfg, tmp_path).run())
    kinds = [e.kind for e in events]
    assert kinds[0] == "status" and kinds[1] == "start" and kinds[-1] == "done"
    assert [e.step for e in events if isinstance(e, SampleEvent)] == [0, 2, 4]   # the last grid once (issue 23 item 15)
    assert sorted(p.name for p in tmp_path.glob("step_*.pt")) == ["step_0000004.pt"]  # keep_checkpoints=1
    assert len(list((tmp_path / "samples").iterdir())) == 3  # steps 0, 2, 4
    start = events[1]
    assert isinstance(start, StartEvent) and start.dataset_size == 64 and start.params_g > 0


RESUME_CASES = {  # name: (tiny_cfg kwargs, config sections)
    "acgan-ns-tricks": (dict(arch="acgan", loss="ns"),
                        dict(model={"g_dropout": 0.2}, loss={"name": "ns", "real_label": 0.9, "label_noise": 0.1},
                             train={"ema_decay": 0.9}, data={"augment_flip": True, "augment_rotate": 5.0})),
    "dcgan-wgan-gp": (dict(arch="dcgan", loss="wgan-gp"), dict(train={"n_critic": 2})),
    "mlp-dragan": (dict(arch="mlp", loss="dragan", dataset="toy2d"), {}),
    "pix2pix-ns-flips": (dict(arch="pix2pix", loss="ns", dataset="faces-edges"),   # dropout is G's noise
                         dict(data={"augment_flip": True}, train={"ema_decay": 0.9})),
}


@pytest.fixture
def untimed_precision(monkeypatch):
    """Every trainer takes the first allowed precision / layout option (or the one a resumed checkpoint
    names) without timing: runs compared step by step must not differ by what a busy machine's timing
    picked, and the probe's own steps must not count in tests that count calls."""
    import gan_core.train.trainer as T
    from gan_core.train import speed

    def pick(trainer, keep=None):
        tc = trainer.cfg.train
        options = speed.candidate_options(trainer.device, tc.amp, tc.channels_last, trainer.conv)
        chosen = next((o for o in options if o.label == keep), options[0])
        return speed.ProbeResult(chosen, {}, "test", kept=chosen.label == keep)

    monkeypatch.setattr(T, "probe_trainer", pick)
    return pick


def test_a_resumed_run_keeps_its_precision(tiny_cfg, tmp_path, monkeypatch):
    import gan_core.train.trainer as T
    from gan_core.train import speed

    real = T.probe_trainer
    list(Trainer(tiny_cfg(steps=2), tmp_path).run())
    label = load_checkpoint(tmp_path / "last.pt")["precision"]

    def prefer_another(trainer, keep=None):   # a probe that now finds another option faster
        if keep is not None:
            return real(trainer, keep=keep)
        tc = trainer.cfg.train
        options = speed.candidate_options(trainer.device, tc.amp, tc.channels_last, trainer.conv)
        return speed.ProbeResult(next((o for o in options if o.label != label), options[0]), {}, "test")

    monkeypatch.setattr(T, "probe_trainer", prefer_another)
    resumed = Trainer(tiny_cfg(steps=4), tmp_path, resume=tmp_path / "last.pt")
    events = list(resumed.run())
    assert resumed.speed.chosen.label == label and resumed.speed.kept
    start = next(e for e in events if isinstance(e, StartEvent))
    assert any("kept from the checkpoint" in n for n in start.notes), start.notes


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_resume_gives_same_losses_as_uninterrupted_run(tiny_cfg, tmp_path, case, untimed_precision):
    kwargs, sections = RESUME_CASES[case]
    base = tiny_cfg(steps=6, **kwargs)
    base = base.replace(**sections) if sections else base
    full = list(Trainer(base.replace(train={"checkpoint_every": 3}), tmp_path / "a").run())
    part = list(Trainer(base.replace(train={"steps": 3}), tmp_path / "b").run())
    resumed = list(Trainer(base, tmp_path / "b", resume=tmp_path / "b" / "last.pt").run())
    assert isinstance(resumed[1], StartEvent) and resumed[1].start_step == 3
    a = [(s.step, s.d_loss, s.g_loss, s.d_real, s.d_fake) for s in _steps(full)]
    b = [(s.step, s.d_loss, s.g_loss, s.d_real, s.d_fake) for s in _steps(part) + _steps(resumed)]
    assert a == b  # bit-identical on CPU
    ca, cb = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    assert all(torch.equal(ca["G"][k], cb["G"][k]) for k in ca["G"])
    # metrics.jsonl of the resumed run has each step once
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 6


def test_control_changes_lr_and_n_critic_mid_run_and_stops(tiny_cfg, tmp_path):
    ctl = TrainControl()
    cfg = tiny_cfg(steps=50)
    seen = []
    for ev in Trainer(cfg, tmp_path, control=ctl).run():
        if isinstance(ev, StepEvent):
            seen.append(ev)
            if ev.step == 2:
                ctl.set_lr(lr_g=1e-3, lr_d=5e-4)
                ctl.set_n_critic(3)
            if ev.step == 4:
                ctl.stop()
        last = ev
    assert seen[1].lr_g == 2e-4 and seen[2].lr_g == 1e-3 and seen[2].lr_d == 5e-4 and seen[2].n_critic == 3
    assert isinstance(last, DoneEvent) and last.reason == "stopped" and last.step == 4
    st = load_checkpoint(tmp_path / "last.pt")
    assert st["step"] == 4 and st["lr_g"] == 1e-3 and st["n_critic"] == 3
    with pytest.raises(ValueError):
        ctl.set_n_critic(0)
    with pytest.raises(ValueError):
        ctl.set_lr(lr_g=-1.0)


def test_lr_decay_schedule_in_steps_and_seconds():
    from gan_core.train.schedule import lr_scale, progress

    assert progress(30, 100, 0.0, 0.0) == 0.3 and progress(0, 0, 15.0, 60.0) == 0.25
    assert progress(30, 100, 45.0, 60.0) == 0.75 and progress(0, 0, 99.0, 60.0) == 1.0   # the first limit reached
    assert progress(5, 0, 1.0, 0.0) == 0.0                                               # no limit: no decay
    assert [lr_scale("linear", 0.6, f) for f in (0.0, 0.6, 0.8, 1.0)] == pytest.approx([1.0, 1.0, 0.5, 0.0])
    assert [lr_scale("cosine", 0.5, f) for f in (0.25, 0.75, 1.0)] == pytest.approx([1.0, 0.5, 0.0])
    assert lr_scale("cosine", 0.5, 0.6) > lr_scale("linear", 0.5, 0.6)    # cosine keeps more at first
    assert lr_scale("none", 0.0, 0.9) == 1.0
    with pytest.raises(ValueError):
        lr_scale("step", 0.5, 0.9)


def test_lr_decay_scales_the_steered_lr_and_resumes(tiny_cfg, tmp_path):
    """train.lr_decay: the optimisers get lr x the schedule's factor; a live change sets the base that goes on
    decaying; the log and the checkpoint hold the base, so a resumed run decays from where it was."""
    from gan_core.config import ConfigError

    with pytest.raises(ConfigError):
        tiny_cfg(train={"lr_decay": "step"}).validate()
    ctl = TrainControl()
    cfg = tiny_cfg(steps=10, train={"lr_decay": "linear", "lr_decay_start": 0.5, "checkpoint_every": 8})
    tr = Trainer(cfg, tmp_path, control=ctl)
    seen, used = [], []
    for ev in tr.run():
        if isinstance(ev, StepEvent):   # the factor used in the step: from the share done before it
            seen.append(ev)
            used.append(tr.opt_g.param_groups[0]["lr"])
            if ev.step == 6:
                ctl.set_lr(lr_g=1e-3)
    assert [e.lr_scale for e in seen] == pytest.approx([1.0] * 6 + [0.8, 0.6, 0.4, 0.2])
    assert used[5] == 2e-4 and used[6] == pytest.approx(1e-3 * 0.8) and used[9] == pytest.approx(1e-3 * 0.2)
    assert seen[5].lr_g == 2e-4 and seen[6].lr_g == 1e-3 and seen[9].lr_g == 1e-3   # the base, as steered
    assert tr.opt_d.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.2)
    st = load_checkpoint(rundir.step_checkpoint(tmp_path, 8))
    assert st["lr_g"] == 1e-3 and st["lr_d"] == 2e-4                       # the base, not 1e-3 x 0.6
    resumed = Trainer(cfg, tmp_path / "r", resume=rundir.step_checkpoint(tmp_path, 8))
    steps = [e for e in resumed.run() if isinstance(e, StepEvent)]
    assert [e.step for e in steps] == [9, 10] and steps[0].lr_g == 1e-3
    assert [e.lr_scale for e in steps] == pytest.approx([0.4, 0.2])
    assert resumed.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.2)


def test_pause_and_resume_from_another_thread(tiny_cfg):
    ctl = TrainControl()
    statuses = []
    for ev in Trainer(tiny_cfg(steps=4), None, control=ctl).run():
        if isinstance(ev, StepEvent) and ev.step == 1:
            ctl.pause()
            threading.Timer(0.3, ctl.resume).start()
        if isinstance(ev, StatusEvent):
            statuses.append(ev.status)
        last = ev
    assert statuses[-2:] == ["paused", "running"]
    assert last.reason == "steps" and last.step == 4


def test_time_limit_and_ema(tiny_cfg, tmp_path):
    cfg = tiny_cfg(steps=0, train={"seconds": 0.5, "ema_decay": 0.5})
    events = list(Trainer(cfg, tmp_path).run())
    done = events[-1]
    assert done.reason == "time" and done.step >= 1
    st = load_checkpoint(tmp_path / "last.pt")
    assert st["G_ema"] is not None
    assert any(not torch.equal(st["G_ema"][k], st["G"][k]) for k in st["G"] if st["G"][k].is_floating_point())


def test_bad_data_gives_error_event_not_exception(tiny_cfg, tmp_path):
    cfg = tiny_cfg(dataset="folder", data={"path": str(tmp_path / "missing")})
    events = list(Trainer(cfg, tmp_path / "run").run())
    assert isinstance(events[-2], ErrorEvent) and "does not exist" in events[-2].message
    assert events[-1].reason == "error"


def test_run_yields_samples_and_trains_channels_last(tiny_cfg):
    seen = list(Trainer(tiny_cfg(steps=2), None).run())
    assert any(isinstance(e, SampleEvent) for e in seen) and isinstance(seen[-1], DoneEvent)
    t = Trainer(tiny_cfg(steps=1), None)
    list(t.run())
    conv = next(m for m in t.D.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.shape[-1] > 1)
    # the layout the timed probe chose is the one the networks train in
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) == t.speed.chosen.channels_last
    assert t.speed.chosen.label in t.speed.ms_per_step


def test_speed_probe_picks_the_fastest_option_and_caches_it(tiny_cfg, tmp_path, monkeypatch):
    import time as _time

    import gan_core.train.speed as speed
    from gan_core.train.speed import Option, probe

    monkeypatch.setattr(speed, "MAX_SPREAD", 1e9)   # tiny steps jitter: caching itself is what is tested here

    opts = [Option("fp32", False), Option("bf16", True)]
    slow = {"fp32": 0.004, "bf16": 0.0}
    calls = []
    res = probe(opts, lambda o: (calls.append(o.label), _time.sleep(slow[o.precision])), torch.device("cpu"),
                warmup=1, rounds=3)
    assert res.chosen == Option("bf16", True) and res.ms_per_step["fp32"] >= 4.0
    assert calls.count("fp32") == calls.count("bf16 + channels_last") == 4     # interleaved, same count
    cfg = tiny_cfg(steps=1, data={"cache_dir": str(tmp_path)})
    first = Trainer(cfg, None)
    list(first.run())
    assert not first.speed.cached and (tmp_path / "speed_probe.json").is_file()
    second = Trainer(cfg, None)
    list(second.run())
    assert second.speed.cached and second.speed.chosen == first.speed.chosen
    assert "cached for this machine" in second.speed.describe()
    fp32 = Trainer(tiny_cfg(steps=1, train={"amp": False, "channels_last": False}), None)
    list(fp32.run())
    assert fp32.speed.chosen == Option("fp32", False) and fp32.amp_dtype is None and fp32.mem_format is None


def test_time_cadence_gives_grids_and_checkpoints_by_the_clock(tiny_cfg, tmp_path, monkeypatch):
    import gan_core.train.trainer as T

    clock = [0.0]
    monkeypatch.setattr(T.time, "perf_counter", lambda: clock[0])
    orig = T.Trainer._g_step

    def tick(self):  # every step takes 0.5 s of (fake) time
        clock[0] += 0.5
        return orig(self)

    monkeypatch.setattr(T.Trainer, "_g_step", tick)
    cfg = tiny_cfg(steps=0, train={"seconds": 5.0, "sample_every": 0, "sample_seconds": 2.0,
                                   "checkpoint_every": 0, "checkpoint_seconds": 2.5, "log_every": 100})
    events = list(Trainer(cfg, tmp_path / "run").run())
    samples = [e.step for e in events if isinstance(e, SampleEvent)]
    ckpts = [e.step for e in events if isinstance(e, CheckpointEvent)]
    assert samples == [0, 4, 8, 10]          # at start, at 2 s and 4 s of training, and the final grid at 5 s
    assert ckpts == [5, 10]                  # at 2.5 s, then the end-of-run one (not twice at 5 s)


@pytest.mark.parametrize("on_fake", [False, True])
def test_acgan_tag_heads_train_on_fakes_only_when_asked(tiny_cfg, monkeypatch, on_fake, untimed_precision):
    import gan_core.train.steps as S   # the GAN step strategy computes the tag heads' loss

    calls = []
    real_aux_loss = S.aux_loss
    monkeypatch.setattr(S, "aux_loss", lambda logits, y: calls.append(logits[0].shape[0]) or real_aux_loss(logits, y))
    cfg = tiny_cfg(arch="acgan", steps=1).replace(loss={"aux_on_fake": on_fake})
    for _ in Trainer(cfg, device="cpu").run():
        pass
    # one D step and one G step: D uses the real batch (and the fake batch when asked), G its fakes
    assert len(calls) == (3 if on_fake else 2)


def test_ema_warms_up_so_a_short_run_follows_g(tiny_cfg):
    cfg = tiny_cfg(steps=2, train={"ema_decay": 0.999})
    tr = Trainer(cfg, device="cpu")
    init = None
    for ev in tr.run():
        if isinstance(ev, StartEvent):  # models are built, no step taken yet
            init = {k: v.clone() for k, v in tr.G_ema.state_dict().items()}
    assert init is not None
    g, ema = tr.G.state_dict(), tr.G_ema.state_dict()
    moved = [k for k in g if g[k].is_floating_point() and not torch.equal(g[k], init[k])]
    assert moved
    for k in moved:  # with a plain 0.999 decay the average would still sit at 0.2% of the way to G
        frac = float((ema[k] - init[k]).norm() / (g[k] - init[k]).norm())
        assert frac > 0.5, (k, frac)


def test_final_checkpoint_is_not_written_twice_when_the_periodic_one_just_was(tiny_cfg, tmp_path, monkeypatch):
    saved = []
    real_save = Trainer.save
    monkeypatch.setattr(Trainer, "save", lambda self, path: saved.append((self.step, path.name)) or real_save(self, path))
    events = list(Trainer(tiny_cfg(steps=4, train={"checkpoint_every": 2, "keep_checkpoints": 5}), tmp_path).run())
    assert [e.step for e in events if isinstance(e, CheckpointEvent)] == [2, 4]
    assert saved == [(2, "last.pt"), (2, "step_0000002.pt"), (4, "last.pt"), (4, "step_0000004.pt")]
    # a run that stops between periodic checkpoints still saves where it stopped
    events = list(Trainer(tiny_cfg(steps=5, train={"checkpoint_every": 2}), tmp_path / "b").run())
    assert [e.step for e in events if isinstance(e, CheckpointEvent)] == [2, 4, 5]


def test_speed_probe_on_a_busy_machine_is_not_cached(tmp_path):
    import itertools

    from gan_core.train.speed import Option, load_cached, probe, store_cached

    opts = [Option("fp32", False), Option("bf16", False)]
    fake_times = itertools.cycle([0.0, 0.0])
    res = probe(opts, lambda o: next(fake_times), torch.device("cpu"), warmup=0, rounds=2)
    res.ms_per_step = {"fp32": 10.0, "bf16": 5.0}
    res.stable = False                                   # e.g. one round took 3x another
    store_cached(tmp_path / "p.json", torch.device("cpu"), "shape", res)
    assert not (tmp_path / "p.json").exists() and "not cached" in res.describe()
    res.stable = True
    store_cached(tmp_path / "p.json", torch.device("cpu"), "shape", res)
    back = load_cached(tmp_path / "p.json", torch.device("cpu"), "shape")
    assert back is not None and back.cached and back.chosen == res.chosen

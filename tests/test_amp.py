"""The trainer's fp16 + GradScaler branch, run on the CPU (torch.amp.GradScaler("cpu") and fp16 autocast),
so that the code a T4-class GPU takes runs in CI without a GPU: the speed probe's choice is forced to fp16."""
import dataclasses
import math

import pytest
import torch

from gan_core.train import trainer as trainer_mod
from gan_core.storage.checkpoint import load_checkpoint
from gan_core.train.events import ErrorEvent, StepEvent
from gan_core.train.speed import Option, ProbeResult
from gan_core.train.trainer import Trainer

GradScaler = torch.amp.GradScaler


@pytest.fixture
def fp16(monkeypatch):
    """Every Trainer made in the test takes fp16 autocast + a grad scaler (what the probe picks on a T4)."""
    monkeypatch.setattr(trainer_mod, "probe_trainer",
                        lambda t, keep=None: ProbeResult(Option("fp16", False), {}, "fp16 forced by the test"))


class RecordingScaler(GradScaler):
    """A CPU grad scaler that starts low and grows every step (so its state moves), counting scale() calls."""

    def __init__(self, device: str = "cpu", **kw):
        super().__init__(device, init_scale=2.0 ** 10, growth_interval=1)
        self.scaled = 0

    def scale(self, outputs):
        self.scaled += 1
        return super().scale(outputs)


def _spy_penalty(trainer, seen):
    """Wrap the loss's penalty: record the scale it gets and the scaler's scale at that moment."""
    spec = trainer.loss_spec
    inner = spec.penalty

    def spy(*args, scale=None):
        seen.append((scale, trainer.scaler.get_scale()))
        return inner(*args, scale=scale)

    trainer.loss_spec = dataclasses.replace(spec, penalty=spy)


@pytest.mark.parametrize("loss", ["wgan-gp", "ns"])
def test_fp16_grad_scaler_branch_trains_and_its_state_round_trips(tiny_cfg, tmp_path, fp16, monkeypatch, loss):
    monkeypatch.setattr(torch.amp, "GradScaler", RecordingScaler)
    cfg = tiny_cfg(loss=loss, steps=4, train={"n_critic": 2, "checkpoint_every": 2, "keep_checkpoints": 2})
    t = Trainer(cfg, tmp_path)
    seen: list = []
    if t.loss_spec.penalty is not None:
        _spy_penalty(t, seen)
    events = list(t.run())
    assert not [e for e in events if isinstance(e, ErrorEvent)], events
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [s.step for s in steps] == [1, 2, 3, 4]
    assert all(math.isfinite(v) for s in steps for v in (s.d_loss, s.g_loss, *s.extra.values()))
    # the grad-scaler branch ran: fp16 autocast, a CPU scaler, every backward through scaler.scale
    assert t.amp_dtype == torch.float16 and isinstance(t.scaler, RecordingScaler) and t.scaler.is_enabled()
    assert t.scaler.scaled == 4 * (2 + 1)   # 4 steps of (n_critic D steps + 1 G step)
    assert t.scaler.get_scale() != 2.0 ** 10   # the scale moved (grew, or backed off after an overflow)
    if loss == "wgan-gp":
        # the penalty got the scaler's current scale, every D step, as the scale changed
        assert len(seen) == 4 * 2 and all(s == current for s, current in seen)
        assert seen[0][0] == 2.0 ** 10 and len({s for s, _ in seen}) > 1
        # a step's logged penalty is its last D step's: > 0, or 0 where 2**16 overflowed fp16 (step skipped)
        last_scales = [seen[2 * k + 1][0] for k in range(4)]
        assert [s.extra["penalty"] > 0 for s in steps] == [sc < 2.0 ** 16 for sc in last_scales]
        assert any(sc < 2.0 ** 16 for sc in last_scales)
    else:
        assert seen == []
    # checkpoints carry the scaler's state; a resumed run starts from it
    saved = load_checkpoint(tmp_path / "last.pt")["scaler"]
    assert saved == t.scaler.state_dict() and saved["scale"] == t.scaler.get_scale()
    mid = load_checkpoint(tmp_path / "step_0000002.pt")["scaler"]
    assert mid["scale"] != 2.0 ** 10   # not the initial state: the round trip below means something
    again = Trainer(cfg, tmp_path / "again", resume=tmp_path / "step_0000002.pt")
    again._setup()
    assert again.scaler.state_dict() == mid
    resumed = Trainer(cfg.replace(train={"steps": 6}), tmp_path, resume=tmp_path / "step_0000002.pt")
    seen2: list = []
    if resumed.loss_spec.penalty is not None:
        _spy_penalty(resumed, seen2)
    events2 = list(resumed.run())
    assert not [e for e in events2 if isinstance(e, ErrorEvent)], events2
    assert [e.step for e in events2 if isinstance(e, StepEvent)] == [3, 4, 5, 6]
    if loss == "wgan-gp":
        assert seen2[0][0] == mid["scale"]   # the first scaled penalty of the resumed run uses the saved scale


def test_default_scaler_skips_an_overflowing_penalty_step_instead_of_stopping(tiny_cfg, tmp_path, fp16):
    # GradScaler's first scale, 2**16, overflows fp16 in the penalty's gradients: the step is skipped and the
    # scale halved, as in the AMP recipe; the run goes on with finite losses
    t = Trainer(tiny_cfg(loss="wgan-gp", steps=3), tmp_path)
    events = list(t.run())
    assert not [e for e in events if isinstance(e, ErrorEvent)], events
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [s.step for s in steps] == [1, 2, 3] and all(math.isfinite(s.d_loss) for s in steps)
    assert type(t.scaler) is GradScaler and t.scaler.get_scale() < 2.0 ** 16
    assert steps[0].extra["penalty"] == 0.0 and steps[-1].extra["penalty"] > 0   # skipped, then penalised


def test_cuda_candidates_time_fp16_and_bf16(monkeypatch):
    """On a GPU the probe times fp16 (with a grad scaler) against bf16 where the card offers it at all, so a
    T4-class card, whose bf16 is emulated, can end up on fp16 + scaler; without bf16, fp16 is the only AMP."""
    from gan_core.train import speed

    cuda = torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    labels = [o.label for o in speed.candidate_options(cuda, True, True, True)]
    assert labels[0] == "fp32" and {"fp16", "bf16", "fp16 + channels_last", "bf16 + channels_last"} <= set(labels)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert [o.precision for o in speed.candidate_options(cuda, True, False, True)] == ["fp32", "fp16"]
    assert [o.precision for o in speed.candidate_options(cuda, False, False, True)] == ["fp32"]   # amp off

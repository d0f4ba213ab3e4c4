"""The GAN trainer: a generator of typed events.

    trainer = Trainer(cfg, out_dir="runs/x")
    for ev in trainer.run():          # StartEvent, StepEvent, SampleEvent, CheckpointEvent, ...
        ...

Device and RNG are explicit: ``device=`` (default from ``cfg.train.device``) and one
``torch.Generator`` seeded from ``cfg.train.seed`` drives data order, z, label noise, augmentation
and penalties; the global torch RNG (used by dropout) is seeded too and saved in checkpoints, so a
resumed run reproduces the uninterrupted one. A :class:`TrainControl` (thread-safe) pauses, stops,
and changes learning rates / n_critic while the run goes on.
"""
from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

from . import latent, pix2pix_step, rundir, tblog
from .checkpoint import load_checkpoint, save_checkpoint
from .checks import check_config
from .config import RunConfig
from .control import TrainControl, resolve_device
from .data import ImageDataset, load_dataset
from .data.augment import augment, diff_augment, parse_policy
from .data.images import make_grid_uint8, save_png, scatter_image
from .events import CheckpointEvent, DoneEvent, ErrorEvent, Event, SampleEvent, StartEvent, StatusEvent
from .losses import LossSpec, aux_loss, get_loss, loss_scale, make_targets, mode_seeking_ratio
from .models import ARCHITECTURES, DataSpec, build_models, count_params, is_conditional
from .speed import Option, probe_trainer
from .steplog import EMA, StepLog, due, grid_labels, weights_finite

SMALL_DATA = 2000   # fewer training images than this: suggest DiffAugment


class Trainer:
    # The G step reuses the last critic step's fake batch and graph (as pytorch/examples' DCGAN): one G forward less.
    reuse_fake: bool = True

    def __init__(self, cfg: RunConfig, out_dir: Optional[Union[str, os.PathLike]] = None, *,
                 device: Optional[Union[str, torch.device]] = None, dataset: Optional[ImageDataset] = None,
                 resume: Optional[Union[str, os.PathLike]] = None, control: Optional[TrainControl] = None,
                 generator: Optional[torch.Generator] = None) -> None:
        """``resume``: a checkpoint path; its config is used, except ``train.steps``/``train.seconds``
        and the sampling/checkpoint intervals, which come from ``cfg``."""
        self.resume_state = load_checkpoint(resume) if resume is not None else None
        if self.resume_state is not None:
            saved: RunConfig = self.resume_state["run_config"]
            keep = {k: getattr(cfg.train, k) for k in ("steps", "seconds", "log_every", "sample_every",
                                                        "checkpoint_every", "keep_checkpoints", "device")}
            cfg = saved.replace(train=keep)
        self.cfg = check_config(cfg)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.device = torch.device(device) if device is not None else resolve_device(cfg.train.device)
        self.dataset = dataset
        self.control = control or TrainControl()
        self.loss_spec: LossSpec = get_loss(cfg.loss.name)
        self._user_generator = generator
        self.step = 0
        self.elapsed = 0.0
        self.last_checkpoint: Optional[str] = None
        self._saved_step = -1  # step of the newest checkpoint written by this run

    # ---- setup ---------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg, dev = self.cfg, self.device
        tc = cfg.train
        if self.dataset is None:
            self.dataset = load_dataset(cfg.data)
        ds = self.dataset
        if len(ds) == 0:
            raise ValueError("the dataset is empty")
        self.spec = DataSpec.from_dataset(ds)
        tag_notes = [n for n in ds.notes if n.startswith("tags from")]
        if is_conditional(cfg.model.arch) and not self.spec.num_classes and tag_notes:  # say why
            raise ValueError(f"model.arch '{cfg.model.arch}' is conditional but the images have no labels: {tag_notes[0]}")
        if self.resume_state is not None:
            saved_spec = DataSpec.from_dict(self.resume_state["data_spec"])
            if (saved_spec.kind, saved_spec.channels, saved_spec.image_size, saved_spec.num_classes) != (
                    self.spec.kind, self.spec.channels, self.spec.image_size, self.spec.num_classes):
                raise ValueError(f"the checkpoint was trained on data shaped {saved_spec}, but the data is {self.spec}")
        self.conditional = is_conditional(cfg.model.arch)
        conditioning = ARCHITECTURES[cfg.model.arch].conditioning
        self.acgan = conditioning in ("acgan", "tacgan")   # D has tag heads
        self.twin = conditioning == "tacgan"                # ... and twin heads trained on fakes
        self.n_groups = len(self.spec.num_classes)
        torch.manual_seed(tc.seed)  # init weights + dropout stream
        self.G, self.D = build_models(cfg.model, self.spec, gradient_penalty=self.loss_spec.penalty is not None)
        self.params_g, self.params_d = count_params(self.G), count_params(self.D)
        self.conv = self.spec.kind == "image"
        self.diffaug = parse_policy(cfg.data.diffaugment) if self.conv else ()
        self.mem_format = None
        self.amp_dtype: Optional[torch.dtype] = None
        self.autocast: Callable[[], Any] = nullcontext
        self.scaler: Optional[torch.amp.GradScaler] = None
        for m in (self.G, self.D):
            m.to(dev)
        self.ema: Optional[EMA] = None
        self.n_critic = tc.n_critic
        self._stash: Optional[tuple[Tensor, Optional[Tensor], Tensor]] = None
        # data stays where it is small enough to live: on the GPU when there is one
        on_dev = dev.type != "cpu" and ds.images.numel() * ds.images.element_size() < 2 * 1024**3
        self.data_device = dev if on_dev else torch.device("cpu")
        self.images = ds.images.to(self.data_device)
        self.labels = ds.labels.to(self.data_device) if (ds.labels is not None and self.conditional) else None
        self.gen = self._user_generator or torch.Generator(device=self.data_device)
        if self._user_generator is None:
            self.gen.manual_seed(tc.seed)
        self.dev_gen = self.gen if self.gen.device == dev else torch.Generator(device=dev).manual_seed(tc.seed + 1)
        pix2pix_step.adopt(self)   # image-to-image archs: paired batches, their own steps and grid
        # precision and memory layout: the fastest of the allowed options, timed on this machine
        self.speed = probe_trainer(self, keep=(self.resume_state or {}).get("precision"))
        self._use_option(self.speed.chosen)
        if self.mem_format is not None:
            for m in (self.G, self.D):
                m.to(memory_format=self.mem_format)
        self.opt_g = self._make_opt(self.G, tc.lr_g)   # after the layout change: it may replace the parameters
        self.opt_d = self._make_opt(self.D, tc.lr_d)
        self.ema = EMA(self.G, tc.ema_decay) if tc.ema_decay > 0 else None
        n_grid = 512 if self.spec.kind == "points" else tc.grid_size   # same grid z for every run with this seed
        self.fixed_z = latent.sample_z(n_grid, cfg.model.z_dim, seed=tc.seed + latent.GRID_SEED_OFFSET)
        self.fixed_labels = grid_labels(self.spec.num_classes, n_grid) if self.conditional else None
        if self.resume_state is not None:
            self._load_state(self.resume_state)

    def _use_option(self, opt: Option) -> None:
        """Switch this trainer to a precision / layout option (autocast, grad scaler, memory format)."""
        dev = self.device
        self.mem_format = torch.channels_last if opt.channels_last else None
        amp_dtype = self.amp_dtype = opt.dtype
        self.autocast = (lambda: torch.autocast(dev.type, dtype=amp_dtype)) if amp_dtype is not None else nullcontext
        self.scaler = torch.amp.GradScaler(dev.type) if amp_dtype == torch.float16 else None

    def _make_opt(self, m: nn.Module, lr: float) -> torch.optim.Optimizer:
        tc = self.cfg.train
        if tc.optimizer == "rmsprop":
            return torch.optim.RMSprop(m.parameters(), lr=lr)
        return torch.optim.Adam(m.parameters(), lr=lr, betas=(tc.beta1, tc.beta2))

    # ---- state -----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        rng: dict[str, Any] = {"torch": torch.get_rng_state(), "gen": self.gen.get_state()}
        if self.dev_gen is not self.gen:
            rng["dev_gen"] = self.dev_gen.get_state()
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "config": self.cfg.to_json(), "data_spec": self.spec.to_dict(), "step": self.step,
            "elapsed": self.elapsed, "G": self.G.state_dict(), "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "n_critic": self.n_critic, "lr_g": self._lr(self.opt_g), "lr_d": self._lr(self.opt_d),
            "rng": rng, "fixed_z": self.fixed_z, "precision": self.speed.chosen.label,
            "fixed_labels": self.fixed_labels,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.G_ema is not None and state.get("G_ema") is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.elapsed = int(state["step"]), float(state.get("elapsed", 0.0))
        self.n_critic = int(state.get("n_critic", self.n_critic))
        self._set_lr(self.opt_g, float(state.get("lr_g", self._lr(self.opt_g))))
        self._set_lr(self.opt_d, float(state.get("lr_d", self._lr(self.opt_d))))
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        self.gen.set_state(rng["gen"])
        if "dev_gen" in rng and self.dev_gen is not self.gen:
            self.dev_gen.set_state(rng["dev_gen"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        self.fixed_z = state["fixed_z"]
        self.fixed_labels = state.get("fixed_labels")

    @staticmethod
    def _lr(opt: torch.optim.Optimizer) -> float:
        return float(opt.param_groups[0]["lr"])

    @staticmethod
    def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
        for g in opt.param_groups:
            g["lr"] = lr

    # ---- one step ------------------------------------------------------------------------------
    def _batch(self) -> tuple[Tensor, Optional[Tensor]]:
        """A random batch (with replacement) from the in-memory data: x float on device, labels."""
        B = self.cfg.train.batch_size
        idx = torch.randint(len(self.images), (B,), generator=self.gen, device=self.data_device)
        x = self.images[idx].to(self.device, non_blocking=True)
        y = self.labels[idx].to(self.device, non_blocking=True) if self.labels is not None else None
        if self.conv:
            x = x.float().div_(127.5).sub_(1.0)   # uint8 -> [-1, 1]
            dc = self.cfg.data
            if dc.augment_flip or dc.augment_rotate > 0:
                x = augment(x, dc.augment_flip, dc.augment_rotate, self.dev_gen)
            if self.mem_format is not None:
                x = x.contiguous(memory_format=self.mem_format)
        return x, y

    def _z(self, n: int) -> Tensor:
        return torch.randn(n, self.cfg.model.z_dim, generator=self.dev_gen, device=self.device)

    def _backward_step(self, loss: Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            opt.step()

    def _D(self, x: Tensor, y: Optional[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """D on DiffAugment-ed inputs (plain D when data.diffaugment is off); real and fake alike."""
        if self.diffaug:
            x = diff_augment(x, self.diffaug, self.dev_gen)
        return self.D(x, y)

    def _fake_inputs(self, B: int, y: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        """z (B, z_dim) and the tags to ask G for. With the mode-seeking term on, the second half of
        the batch repeats the first half's tags, so samples i and i + B/2 differ only by z."""
        z = self._z(B)
        if self.cfg.loss.ms_weight > 0 and y is not None and B >= 2:
            h = B // 2
            y = torch.cat([y[:h], y[:h], y[2 * h:]])
        return z, y

    def _d_step(self, keep_fake: bool = False) -> dict[str, Tensor]:
        """One D update. With ``keep_fake`` the fake batch keeps its graph and is stashed (with its
        labels and z) so the following G step reuses it instead of running G again."""
        lc, spec = self.cfg.loss, self.loss_spec
        x, y = self._batch()
        B = x.shape[0]
        z, y_fake = self._fake_inputs(B, y)
        with torch.set_grad_enabled(keep_fake), self.autocast():
            fake_g = self.G(z, y_fake)
        self._stash = (fake_g, y_fake, z) if keep_fake else None
        fake = fake_g.detach()
        with self.autocast():
            real_out, real_aux = self._D(x, y)
            fake_out, fake_aux = self._D(fake, y_fake)
        real_out, fake_out = real_out.float(), fake_out.float()
        real_t, fake_t = make_targets(spec, lc, B, self.device, self.dev_gen)
        loss = adv = spec.d_loss(real_out, fake_out, real_t, fake_t)
        out = {"d_adv": adv.detach()}
        if spec.penalty is not None:
            with self.autocast():
                pen = spec.penalty(self._D, x, fake, y, lc, self.dev_gen, scale=loss_scale(self.scaler))
            loss = loss + spec.penalty_weight(lc) * pen.float()
            out["penalty"] = pen.detach()
        if self.acgan:
            G = self.n_groups
            aux = aux_loss(real_aux[:G], y)
            if lc.aux_on_fake:
                aux = aux + aux_loss(fake_aux[:G], y_fake)
            if self.twin:  # the twin heads learn the tags of fakes (TAC-GAN)
                twin = aux_loss(fake_aux[G:], y_fake)
                aux = aux + twin
                out["twin_d"] = twin.detach()
            loss = loss + lc.aux_weight * aux
            out["aux_d"] = aux.detach()
        return self._finish_d_step(loss, real_out, fake_out, out)

    def _finish_d_step(self, loss: Tensor, real_out: Tensor, fake_out: Tensor, out: dict) -> dict[str, Tensor]:
        """D's update, the loss's constraint (weight clipping), and what the curves show of D's outputs."""
        spec = self.loss_spec
        self._backward_step(loss, self.opt_d)
        if spec.d_constraint is not None:
            spec.d_constraint(self.D, self.cfg.loss)
        return {**out, "d_loss": loss.detach(), "d_real": spec.output_summary(real_out.detach()),
                "d_fake": spec.output_summary(fake_out.detach())}

    def _g_step(self) -> dict[str, Tensor]:
        lc = self.cfg.loss
        B = self.cfg.train.batch_size
        stash, self._stash = self._stash, None
        y = stash[1] if stash is not None else None
        if stash is None and self.labels is not None:
            idx = torch.randint(len(self.labels), (B,), generator=self.gen, device=self.data_device)
            y = self.labels[idx].to(self.device, non_blocking=True)
        self.D.requires_grad_(False)  # no D weight grads needed in the G step
        try:
            with self.autocast():
                if stash is not None:
                    fake, z = stash[0], stash[2]
                else:
                    z, y = self._fake_inputs(B, y)
                    fake = self.G(z, y)
                if self.mem_format is not None:
                    fake = fake.contiguous(memory_format=self.mem_format)
                out, aux = self._D(fake, y)
            loss = self.loss_spec.g_loss(out.float(), lc)
            res = {"g_adv": loss.detach()}
            if self.acgan:
                G = self.n_groups
                a = aux_loss(aux[:G], y)
                if self.twin:  # TAC-GAN: match the real tag heads, not the twin (fake) heads
                    a = a - aux_loss(aux[G:], y)
                loss = loss + lc.aux_weight * a
                res["aux_g"] = a.detach()
            if lc.ms_weight > 0 and B >= 2:
                ms = mode_seeking_ratio(fake, z)
                loss = loss + lc.ms_weight / (ms + 1e-5)
                res["ms"] = ms.detach()
            self._backward_step(loss, self.opt_g)
        finally:
            self.D.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.G, self.step)
        res["g_loss"] = loss.detach()
        return res

    # ---- sampling ------------------------------------------------------------------------------
    @property
    def G_ema(self) -> Optional[nn.Module]:
        """The EMA generator (None when train.ema_decay is 0)."""
        return self.ema.model if self.ema is not None else None

    def sample_image(self) -> np.ndarray:
        """Fixed-noise sample grid (images) or scatter plot (2D points) as (H, W, 3) uint8."""
        g = self.G_ema if self.G_ema is not None else self.G
        with self.autocast():
            x = latent.sample(g, len(self.fixed_z), z=self.fixed_z, labels=self.fixed_labels).images
        if self.spec.kind == "points":
            return scatter_image(x.numpy(), self.images[:2000].float().cpu().numpy())
        return make_grid_uint8(x, nrow=int(math.ceil(math.sqrt(len(x)))))

    # ---- checkpoints ----------------------------------------------------------------------------
    def save(self, path: Union[str, os.PathLike]) -> str:
        save_checkpoint(self.state_dict(), path)
        return str(path)

    def _checkpoint(self) -> str:
        assert self.out_dir is not None
        tc = self.cfg.train
        last = self.out_dir / rundir.LAST
        self.save(last)
        if tc.keep_checkpoints > 0:
            self.save(rundir.step_checkpoint(self.out_dir, self.step))
            rundir.rotate_checkpoints(self.out_dir, tc.keep_checkpoints)
        self.last_checkpoint, self._saved_step = str(last), self.step
        return str(last)

    def _prepare_out_dir(self) -> None:
        if self.out_dir is not None:
            rundir.prepare(self.out_dir, self.cfg.to_json(), self.step)
        self.tb = tblog.TBLog(self.out_dir, self.cfg, self.step)   # TensorBoard files (off without out_dir)

    # ---- the loop -------------------------------------------------------------------------------
    def run(self) -> Iterator[Event]:
        """Train, yielding events. Never raises for training errors: yields ErrorEvent then DoneEvent."""
        try:
            yield StatusEvent("loading data", message=f"loading {self.cfg.data.dataset}")
            self._setup()
            self._prepare_out_dir()
        except Exception as e:  # bad data, bad checkpoint, no device ...
            yield ErrorEvent(self.step, f"could not start training: {e}", "data")
            yield DoneEvent(self.step, "error", str(self.out_dir) if self.out_dir else None)
            return
        notes = list(self.dataset.notes) + [self.speed.describe()] + self.tb.take_notes()
        if self.conv and len(self.dataset) < SMALL_DATA and not self.diffaug:
            notes.append(f"only {len(self.dataset):,} training images: D may memorise them; DiffAugment "
                         "(data.diffaugment = color,translation,cutout) usually helps such small sets")
        tc = self.cfg.train
        if tc.seconds and self.speed.ms_per_step:
            plan = int(tc.seconds * 1000 / self.speed.best_ms)
            notes.append(f"time budget {tc.seconds:g} s: about {plan:,} steps at the probed speed "
                         f"({self.speed.best_ms:.1f} ms per step with n_critic {self.n_critic})"
                         + (f", capped at {tc.steps:,} steps" if tc.steps else ""))
        yield StartEvent(str(self.out_dir) if self.out_dir else None, self.cfg.to_dict(), self.spec.to_dict(),
                         str(self.device), len(self.dataset), self.params_g, self.params_d, self.step, notes)
        reason = "error"
        try:
            reason = yield from self._loop()
        except Exception as e:
            msg = str(e)
            if "out of memory" in msg.lower():
                msg = f"out of memory: lower train.batch_size or the model width ({msg.splitlines()[0]})"
            yield ErrorEvent(self.step, f"training failed at step {self.step}: {msg}", "exception")
        if reason != "error" and not self._weights_finite():  # NaN is only seen in logged steps
            yield self._nonfinite_error()
            reason = "error"
        if reason != "error":
            yield from self._emit_sample()
            if self.out_dir is not None and self._saved_step != self.step:  # not when checkpoint_every just did
                yield CheckpointEvent(self.step, self._checkpoint())
        self.tb.close()
        yield DoneEvent(self.step, reason, str(self.out_dir) if self.out_dir else None, self.last_checkpoint)

    def _emit_sample(self) -> Iterator[Event]:
        img = self.sample_image()
        path = None
        if self.out_dir is not None:
            path = str(rundir.sample_path(self.out_dir, self.step))
            save_png(img, path)
            self.tb.image(self.step, img)
        yield SampleEvent(self.step, img, path)

    def _loop(self) -> Iterator[Event]:
        tc = self.cfg.train
        self.G.train()
        self.D.train()
        log = StepLog(tc, self.step, self.elapsed, self.out_dir, self.tb)
        next_sample = tc.sample_seconds if tc.sample_seconds else math.inf   # run-time marks (s)
        next_ckpt = tc.checkpoint_seconds if tc.checkpoint_seconds else math.inf
        try:
            if self.step == 0 and (tc.sample_every or tc.sample_seconds):
                yield from self._emit_sample()
            while True:
                self.elapsed = log.elapsed0 + log.run_time
                if tc.steps and self.step >= tc.steps:
                    return "steps"
                if tc.seconds and log.run_time >= tc.seconds:
                    return "time"
                if self.control.stop_requested:
                    return "stopped"
                if self.control.paused:
                    yield StatusEvent("paused", self.step)
                    t_p = time.perf_counter()
                    while not self.control.wait_resumed(0.1):
                        pass
                    log.add_pause(time.perf_counter() - t_p)
                    if self.control.stop_requested:
                        return "stopped"
                    yield StatusEvent("running", self.step)
                self._apply_updates()

                # --- one G step after n_critic D steps ---
                for i in range(self.n_critic):
                    d_out = self._d_step(keep_fake=self.reuse_fake and i == self.n_critic - 1)
                g_out = self._g_step()
                self.step += 1
                log.add({**d_out, **g_out}, tc.batch_size * self.n_critic)

                # --- events ---
                if self.step % tc.log_every == 0 or (tc.steps and self.step >= tc.steps):
                    ev = log.event(self.step, self.D, self.G, self._lr(self.opt_g), self._lr(self.opt_d),
                                   self.n_critic)
                    if not all(math.isfinite(v) for v in (ev.d_loss, ev.g_loss)):
                        yield ErrorEvent(self.step, (
                            f"training diverged at step {self.step}: the losses became NaN/inf "
                            f"(D {ev.d_loss}, G {ev.g_loss}). The run was stopped; the last good checkpoint "
                            f"is {self._last_good() or 'none (no checkpoint was saved yet)'}. Try a lower "
                            "learning rate, another loss (e.g. wgan-gp or hinge) or spectral norm."), "nan")
                        return "error"
                    log.write(ev)
                    yield ev
                    yield from self.tb.note_events(self.step)
                run_time = log.run_time
                due_sample, next_sample = due(self.step, tc.sample_every, run_time, next_sample, tc.sample_seconds)
                if due_sample:
                    yield from self._emit_sample()
                due_ckpt, next_ckpt = due(self.step, tc.checkpoint_every, run_time, next_ckpt,
                                          tc.checkpoint_seconds, end=tc.seconds)
                if self.out_dir is not None and due_ckpt:
                    if not self._weights_finite():
                        yield self._nonfinite_error()
                        return "error"
                    yield CheckpointEvent(self.step, self._checkpoint())
        finally:
            log.close()

    def _weights_finite(self) -> bool:
        """G, D (and EMA) weights all finite: checked before every checkpoint and at the end."""
        return weights_finite([self.G, self.D, self.G_ema])

    def _last_good(self) -> Optional[str]:
        """The newest checkpoint of this run, or the one it resumed from (nothing non-finite is ever saved)."""
        if self.last_checkpoint is None and self.out_dir is not None and (self.out_dir / rundir.LAST).is_file():
            return str(self.out_dir / rundir.LAST)
        return self.last_checkpoint

    def _nonfinite_error(self) -> ErrorEvent:
        return ErrorEvent(self.step, (
            f"training diverged by step {self.step}: the weights became NaN/inf, so no checkpoint was written "
            f"over the last good one ({self._last_good() or 'none: no checkpoint was saved yet'}). Try a lower learning "
            "rate, another loss (e.g. wgan-gp or hinge) or spectral norm."), "nan")

    def _apply_updates(self) -> None:
        u = self.control.take_updates()
        if "lr_g" in u:
            self._set_lr(self.opt_g, u["lr_g"])
        if "lr_d" in u:
            self._set_lr(self.opt_d, u["lr_d"])
        if "n_critic" in u:
            self.n_critic = u["n_critic"]

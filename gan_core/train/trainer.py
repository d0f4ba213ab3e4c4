"""The GAN trainer: a generator of typed events.

    for ev in Trainer(cfg, out_dir="runs/x").run():   # StartEvent, StepEvent, SampleEvent, CheckpointEvent, ...
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
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

from gan_core.train import distributed, schedule, tblog, timeplan
from gan_core.models import latent
from gan_core.storage import rundir
from gan_core.storage.checkpoint import load_checkpoint, lr_of, restore_trainer, save_checkpoint, set_lr, trainer_state
from gan_core.config.checks import check_config
from gan_core.config import RunConfig
from gan_core.train.control import TrainControl, resolve_device
from gan_core.data import ImageDataset, load_dataset
from gan_core.data.augment import parse_policy
from gan_core.data.images import save_png
from gan_core.train.events import CheckpointEvent, DoneEvent, ErrorEvent, Event, SampleEvent, StartEvent, StatusEvent
from gan_core.train.recipes import steps_needed
from gan_core.losses import LossSpec, get_loss
from gan_core.models import ARCHITECTURES, DataSpec, build_models, count_params
from gan_core.train.distributed import Dist
from gan_core.train.pix2pix_step import Pix2PixStep
from gan_core.train.speed import Option, probe_trainer
from gan_core.train.steplog import EMA, StepLog, due, grid_labels, weights_finite
from gan_core.train.steps import GanStep, Step

SMALL_DATA = 2000   # fewer training images than this: suggest DiffAugment
STEPS: dict[str, type[Step]] = {"gan": GanStep, "pix2pix": Pix2PixStep}   # ArchSpec.step -> strategy
SPEC_KEYS = ("kind", "channels", "image_size", "num_classes", "input_channels", "hint_channels")   # resume: same


class Trainer:
    # The G step reuses the last critic step's fake batch and graph (as pytorch/examples' DCGAN): one G forward less.
    reuse_fake: bool = True

    def __init__(self, cfg: RunConfig, out_dir: Optional[Union[str, os.PathLike]] = None, *,
                 device: Optional[Union[str, torch.device]] = None, dataset: Optional[ImageDataset] = None,
                 resume: Optional[Union[str, os.PathLike]] = None, control: Optional[TrainControl] = None,
                 generator: Optional[torch.Generator] = None, dist: Optional[Dist] = None,
                 init_g: Optional[Union[str, os.PathLike]] = None) -> None:
        """``resume``: a checkpoint path; its config is used, except ``train.steps``/``train.seconds``
        and the sampling/checkpoint intervals, which come from ``cfg``. ``init_g``: a checkpoint or generator
        export whose G (its EMA copy where there is one) this new run starts from (fine-tuning); its G must
        have the same shapes as this config's, and D starts afresh. ``dist``: this process's place in a
        data-parallel run (gan_core.train.distributed; None: one process); only rank 0 writes ``out_dir``."""
        self.resume_state = load_checkpoint(resume) if resume is not None else None
        if init_g is not None and resume is not None:
            raise ValueError("init_g starts a new run from a generator; a resumed run already has one")
        self.init_state = load_checkpoint(init_g) if init_g is not None else None
        if self.resume_state is not None:
            saved: RunConfig = self.resume_state["run_config"]
            keep = {k: getattr(cfg.train, k) for k in ("steps", "seconds", "log_every", "sample_every",
                                                        "checkpoint_every", "keep_checkpoints", "device")}
            cfg = saved.replace(train=keep)
        self.dist, self.world = dist, dist.world if dist is not None else 1
        self.cfg, self._world_note = distributed.fit_world(check_config(cfg), self.world, resume is not None)
        self.out_dir = Path(out_dir) if out_dir is not None and (dist is None or dist.is_main) else None
        self.device = (dist.device if dist is not None else torch.device(device) if device is not None
                       else resolve_device(cfg.train.device))
        self._shard: Callable[[Any], Any] = dist.shard if dist is not None else (lambda t: t)
        self._ddp: Optional[tuple[nn.Module, nn.Module]] = None   # DistributedDataParallel(G), (D)
        self._noise_gen: Optional[torch.Generator] = None          # data-parallel: this process's in-step noise
        self._abort = False   # rank 0 found non-finite weights: every process stops at the next step
        self.dataset = dataset
        self.control = control or TrainControl()
        self.loss_spec: LossSpec = get_loss(cfg.loss.name)
        self._user_generator = generator
        self.step = 0
        self.elapsed = 0.0
        self.last_checkpoint: Optional[str] = None
        self._saved_step = self._sampled_step = -1  # steps of the newest checkpoint / sample grid of this run

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
        self.arch = ARCHITECTURES[cfg.model.arch]
        tag_notes = [n for n in ds.notes if n.startswith("tags from")]
        if self.arch.conditional and not self.spec.num_classes and tag_notes:  # say why
            raise ValueError(f"model.arch '{cfg.model.arch}' is conditional but the images have no labels: {tag_notes[0]}")
        if self.resume_state is not None:
            saved_spec = DataSpec.from_dict(self.resume_state["data_spec"])
            if any(getattr(saved_spec, k) != getattr(self.spec, k) for k in SPEC_KEYS):
                raise ValueError(f"the checkpoint was trained on data shaped {saved_spec}, but the data is {self.spec}")
        self.conditional = self.arch.conditional
        self.n_groups = len(self.spec.num_classes)
        torch.manual_seed(tc.seed)  # init weights + dropout stream
        self.G, self.D = build_models(cfg.model, self.spec, gradient_penalty=self.loss_spec.penalty is not None)
        if self.init_state is not None:
            self._init_g(self.init_state)
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
        self.strategy: Step = STEPS[self.arch.step]()   # how a step draws, trains D and G, and draws the grid
        self.strategy.prepare(self)
        # precision and memory layout: the fastest of the allowed options, timed on this machine
        self.speed = distributed.agreed_speed(self, probe_trainer(self, keep=(self.resume_state or {}).get("precision")))
        self._use_option(self.speed.chosen)
        if self.mem_format is not None:
            for m in (self.G, self.D):
                m.to(memory_format=self.mem_format)
        self.opt_g = self._make_opt(self.G, tc.lr_g)   # after the layout change: it may replace the parameters
        self.opt_d = self._make_opt(self.D, tc.lr_d)
        self.ema = EMA(self.G, tc.ema_decay) if tc.ema_decay > 0 else None
        n_grid = 512 if self.spec.kind == "points" else tc.grid_size   # same grid z for every run with this seed
        self.fixed_z = latent.sample_z(n_grid, cfg.model.z_dim, generator=latent.rng(tc.seed, latent.GRID_SEED_OFFSET))
        self.fixed_labels = grid_labels(self.spec.num_classes, n_grid) if self.conditional else None
        if self.resume_state is not None:
            restore_trainer(self, self.resume_state)
        # the steered learning rates (config, checkpoint or a live change); train.lr_decay scales them
        self.lr_base = {"g": lr_of(self.opt_g), "d": lr_of(self.opt_d)}
        self.lr_scale = 1.0
        distributed.adopt(self)   # data-parallel: global-batch BatchNorm, DDP wrappers, per-process noise

    def _init_g(self, state: dict[str, Any]) -> None:
        """Load a saved G's weights (its EMA copy where there is one) into this run's G: fine-tuning."""
        w = state.get("G_ema") if state.get("G_ema") is not None else state["G"]
        try:
            self.G.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in w.items()})
        except RuntimeError as e:
            first = str(e).splitlines()[0][:200]
            raise ValueError(f"init_g: that generator does not fit this run's G ({first}); it must be the "
                             "same arch family, size and tags") from None

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
        return trainer_state(self)

    # ---- one step ------------------------------------------------------------------------------
    @property
    def G_fwd(self) -> nn.Module:
        """G for the forward passes that train it: its DDP wrapper in a data-parallel run, else G."""
        return self._ddp[0] if self._ddp is not None else self.G

    @property
    def D_fwd(self) -> nn.Module:
        return self._ddp[1] if self._ddp is not None else self.D

    @property
    def noise_gen(self) -> torch.Generator:
        """In-step noise of this process's slice (penalty points, DiffAugment): its own stream under DDP."""
        return self._noise_gen if self._noise_gen is not None else self.dev_gen

    @contextmanager
    def _frozen_d(self) -> Iterator[None]:
        """The G step: no D weight gradients (D runs as the plain module, outside DDP's gradient sync)."""
        self.D.requires_grad_(False)
        try:
            yield
        finally:
            self.D.requires_grad_(True)

    def _backward_step(self, loss: Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            opt.step()

    # the step itself is the strategy's (gan_core.train.steps): a batch, D on it, one D update, one G update
    def _batch(self) -> tuple[Tensor, Optional[Tensor]]:
        return self.strategy.batch(self)

    def _D(self, x: Tensor, y: Optional[Tensor], net: Optional[nn.Module] = None) -> tuple[Tensor, list[Tensor]]:
        return self.strategy.D(self, x, y, net)

    def _d_step(self, keep_fake: bool = False) -> dict[str, Tensor]:
        return self.strategy.d_step(self, keep_fake)

    def _g_step(self) -> dict[str, Tensor]:
        return self.strategy.g_step(self)

    # ---- sampling ------------------------------------------------------------------------------
    @property
    def G_ema(self) -> Optional[nn.Module]:
        """The EMA generator (None when train.ema_decay is 0)."""
        return self.ema.model if self.ema is not None else None

    def sample_image(self) -> np.ndarray:
        """The sample grid (images), scatter plot (2D points) or (input | output | target) triples, (H, W, 3) uint8."""
        return self.strategy.sample_image(self)

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
        if self.dist is not None or self._world_note:
            notes += [n for n in (self._world_note, self.dist and self.dist.describe(self.cfg.train.batch_size * self.world)) if n]
        if self.conv and len(self.dataset) < SMALL_DATA and not self.diffaug:
            notes.append(f"only {len(self.dataset):,} training images: D may memorise them; DiffAugment "
                         "(data.diffaugment = color,translation,cutout) usually helps such small sets")
        tc = self.cfg.train
        if tc.seconds and self.speed.ms_per_step:   # the step plan: steps the budget gives vs what the preset needs
            notes.append(timeplan.plan_line(tc.seconds, self.speed.best_ms, steps_needed(self.cfg), tc.steps))
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
        if reason != "error" and not weights_finite([self.G, self.D, self.G_ema]):  # NaN is only seen in logged steps
            yield self._nonfinite_error()
            reason = "error"
        if reason != "error":
            yield from self._emit_sample()
            if self.out_dir is not None and self._saved_step != self.step:  # not when checkpoint_every just did
                yield CheckpointEvent(self.step, self._checkpoint())
        self.tb.close()
        yield DoneEvent(self.step, reason, str(self.out_dir) if self.out_dir else None, self.last_checkpoint,
                        timeplan.shortfall_note(self.step, steps_needed(self.cfg), tc.seconds, reason))

    def _emit_sample(self) -> Iterator[Event]:
        if (self.dist is not None and not self.dist.is_main) or self._sampled_step == self.step:
            return   # only rank 0 shows and saves grids, once a step (the end of a run may follow a due grid)
        self._sampled_step = self.step
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
        log = StepLog(tc, self.step, self.elapsed, self.out_dir, self.tb,
                      reduce=self.dist.mean if self.dist is not None else None)
        next_sample = tc.sample_seconds if tc.sample_seconds else math.inf   # run-time marks (s)
        next_ckpt = tc.checkpoint_seconds if tc.checkpoint_seconds else math.inf
        try:
            if self.step == 0 and (tc.sample_every or tc.sample_seconds):
                yield from self._emit_sample()
            while True:
                reason = yield from self._gate(log)
                if reason is not None:
                    return reason

                # --- one G step after n_critic D steps ---
                for i in range(self.n_critic):
                    d_out = self._d_step(keep_fake=self.reuse_fake and i == self.n_critic - 1)
                g_out = self._g_step()
                self.step += 1
                log.add({**d_out, **g_out}, tc.batch_size * self.n_critic * self.world)

                # --- events ---
                if self.step % tc.log_every == 0 or (tc.steps and self.step >= tc.steps):
                    ev = log.event(self.step, self.D, self.G, self.lr_base["g"], self.lr_base["d"],
                                   self.n_critic, self.lr_scale)
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
                    if weights_finite([self.G, self.D, self.G_ema]):   # never save NaN weights
                        yield CheckpointEvent(self.step, self._checkpoint())
                    else:   # every process stops at the next step's gate
                        yield self._nonfinite_error()
                        self._abort = True
        finally:
            log.close()

    def _gate(self, log: StepLog) -> Iterator[Event]:
        """Before each step: returns why to stop (None: go on), waits here while paused, applies live
        lr / n_critic changes. In a data-parallel run rank 0 decides and every process follows."""
        tc = self.cfg.train
        t_pause: Optional[float] = None
        while True:
            paused_s = time.perf_counter() - t_pause if t_pause is not None else 0.0
            self.elapsed = log.elapsed0 + log.run_time - paused_s
            reason = ("error" if self._abort else "steps" if tc.steps and self.step >= tc.steps
                      else "time" if tc.seconds and log.run_time - paused_s >= tc.seconds
                      else "stopped" if self.control.stop_requested else None)
            paused = reason is None and self.control.paused
            updates = dict(self.control.take_updates()) if reason is None and not paused else {}
            if reason is None and not paused and tc.lr_decay != "none":
                # share of the budget spent (rank 0's, like the stop decision): the lr decay's position
                updates["progress"] = schedule.progress(self.step, tc.steps, log.run_time - paused_s, tc.seconds)
            if self.dist is not None:
                reason, paused, updates = self.dist.agree(reason, paused, updates)
            if not paused:
                if t_pause is not None:
                    log.add_pause(time.perf_counter() - t_pause)
                    if reason is None:
                        yield StatusEvent("running", self.step)
                self._apply_updates(updates)
                return reason
            if t_pause is None:
                t_pause = time.perf_counter()
                yield StatusEvent("paused", self.step)
            self.control.wait_resumed(0.25)   # the other processes wait in ``agree`` meanwhile

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

    def _decay_lr(self, frac: float) -> None:
        """train.lr_decay: the steered learning rates times the schedule's factor at ``frac`` of the budget."""
        tc = self.cfg.train
        self.lr_scale = schedule.lr_scale(tc.lr_decay, tc.lr_decay_start, frac)
        set_lr(self.opt_g, self.lr_base["g"] * self.lr_scale)
        set_lr(self.opt_d, self.lr_base["d"] * self.lr_scale)

    def _apply_updates(self, u: dict[str, Any]) -> None:
        """Live changes; a new lr is the base rate that train.lr_decay goes on scaling."""
        for k, opt in (("g", self.opt_g), ("d", self.opt_d)):
            if f"lr_{k}" in u:
                self.lr_base[k] = float(u[f"lr_{k}"])
                set_lr(opt, self.lr_base[k] * self.lr_scale)
        if "progress" in u:
            self._decay_lr(u["progress"])
        if "n_critic" in u:
            self.n_critic = u["n_critic"]
